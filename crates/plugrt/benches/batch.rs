//! Batch calls against arrow's native kernel, side by side in one run: the C guest's `add_one`
//! (Int64, every 10th row null) through a default `plugrt` runtime, for each flavour, on 8,192
//! rows (DataFusion's batch) and on 1,000,000 rows, beside arrow's `unary` doing the same.
//! (Two threads against one on 8,192-row batches: plugrt-wasmtime's `call` bench.) And `upper`
//! on 8,192 short strings for each guest language on the component loader, C and JS, beside a
//! native loop over the same buffers.
//!
//! `cargo xtask bench` prints the ratios; `breakdown.rs` says where each call's time goes.

use std::hint::black_box;
use std::time::Duration;

use arrow_array::types::Int64Type;
use arrow_array::{Array, StringArray};
use common::{c_udf, guest, input, words};
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

/// The native baseline: offsets and validity shared, the bytes mapped in one pass.
fn native_upper(values: &StringArray) -> StringArray {
    let bytes: Vec<u8> = values.values().iter().map(u8::to_ascii_uppercase).collect();
    StringArray::new(values.offsets().clone(), bytes.into(), values.nulls().cloned())
}

fn upper(c: &mut Criterion) {
    let plugins = [("c", guest("component", "c_udf")), ("js", guest("component", "js_udf"))];
    let (values, batch) = words(8_192);
    let mut g = c.benchmark_group("plugrt_upper_8k");
    g.bench_function("arrow_native", |b| b.iter(|| black_box(native_upper(&values))));
    for (language, (_runtime, plugin)) in &plugins {
        let got = plugin.call("upper", &batch).unwrap_or_else(|e| panic!("{language} upper: {e}"));
        assert_eq!(got.to_data(), native_upper(&values).to_data(), "{language} upper differs from the native loop");
        g.bench_function(*language, |b| b.iter(|| black_box(plugin.call("upper", &batch).unwrap())));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = add_one, upper
}
criterion_main!(benches);
