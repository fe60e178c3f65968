//! Batch calls against arrow's native kernel, side by side in one run: the C guest's `add_one`
//! (Int64, every 10th row null) through a default `plugrt` runtime, for each flavour, on 8,192
//! rows (DataFusion's batch) and on 1,000,000 rows, beside arrow's `unary` doing the same.
//! (Two threads against one on 8,192-row batches: plugrt-wasmtime's `call` bench.)
//!
//! `cargo xtask bench` prints the ratios; `breakdown.rs` says where each call's time goes.

use std::hint::black_box;
use std::time::Duration;

use arrow_array::types::Int64Type;
use common::{c_udf, input};
use criterion::{Criterion, criterion_group, criterion_main};

mod common;

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

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = add_one
}
criterion_main!(benches);
