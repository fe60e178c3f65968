//! Batch calls against arrow's native kernel, side by side in one run: the C guest's `add_one`
//! (Int64, every 10th row null) through a default `plugrt` runtime, for each flavour, on 8,192
//! rows (DataFusion's batch) and on 1,000,000 rows, beside arrow's `unary` doing the same; and
//! the throughput of 2 threads against 1 on 8,192-row batches (component flavour).
//!
//! `cargo xtask bench` prints the ratios; `breakdown.rs` says where each call's time goes.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use criterion::{Criterion, criterion_group, criterion_main};
use plugrt::{Plugin, Runtime};

fn fixture(flavour: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/out/{flavour}/c_udf.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; build the fixtures with `cargo xtask fixtures`"))
}

/// `rows` Int64 values, every 10th null, and the one-column batch a call takes.
fn input(rows: usize) -> (Int64Array, RecordBatch) {
    let values = Int64Array::from_iter((0..rows as i64).map(|i| (i % 10 != 0).then_some(i)));
    let column: ArrayRef = Arc::new(values.clone());
    (values, plugrt_arrow_ipc::input_batch(&[column], rows).expect("batch"))
}

/// The C guest of `flavour` in a runtime of its own (both flavours are named `c_udf`).
fn c_udf(flavour: &str) -> (Runtime, Plugin) {
    let runtime = Runtime::builder().build().expect("runtime");
    let plugin = runtime.load(&fixture(flavour)).expect("load c_udf");
    (runtime, plugin)
}

fn add_one(c: &mut Criterion) {
    let plugins = [("component", c_udf("component")), ("extism", c_udf("extism"))];
    for (label, rows) in [("8k", 8_192usize), ("1m", 1_000_000)] {
        let (values, batch) = input(rows);
        let mut g = c.benchmark_group(format!("plugrt_add_one_{label}"));
        if rows > 100_000 {
            g.sample_size(20);
        }
        g.bench_function("arrow_native", |b| b.iter(|| black_box(values.unary::<_, Int64Type>(|v| v.wrapping_add(1)))));
        for (flavour, (_runtime, plugin)) in &plugins {
            g.bench_function(*flavour, |b| b.iter(|| black_box(plugin.call("add_one", &batch).unwrap())));
        }
        g.finish();
    }
}

fn threads(c: &mut Criterion) {
    let (_runtime, plugin) = c_udf("component");
    let (_, batch) = input(8_192);
    let mut g = c.benchmark_group("plugrt_add_one_8k_threads");
    for threads in [1usize, 2] {
        g.bench_function(format!("{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads as u64);
                let start = Arc::new(Barrier::new(threads + 1));
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        let (plugin, batch, start) = (plugin.clone(), batch.clone(), start.clone());
                        std::thread::spawn(move || {
                            start.wait();
                            for _ in 0..per_thread {
                                black_box(plugin.call("add_one", &batch).unwrap());
                            }
                        })
                    })
                    .collect();
                start.wait();
                let started = Instant::now();
                for h in handles {
                    h.join().unwrap();
                }
                // Time per call of the whole group: lower is more throughput.
                started.elapsed().mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = add_one, threads
}
criterion_main!(benches);
