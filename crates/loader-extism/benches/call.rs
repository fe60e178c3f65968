//! Call latency of plugrt-extism, each beside its baselines measured in the same run, all on
//! the `probe` fixture (Extism flavour) with the same IPC encode, envelope and decode:
//! - plugrt-extism with pre-warm (the default), at a load its refill keeps up with: before
//!   each timed call the bench sleeps 1 ms, untimed;
//! - extism's own `Pool` (reused plugins: not isolated), back to back and paced like the
//!   pre-warmed call;
//! - a fresh `extism::Plugin::new_from_compiled` per call on extism's default engine;
//! - plugrt-extism without pre-warm, on its pooling engine and on an on-demand one (the
//!   measurement behind the engine choice).
//!
//! `cargo xtask bench` runs it (after building the fixtures) and prints the ratios.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Schema};
use criterion::{Criterion, criterion_group, criterion_main};
use extism::{Manifest, PluginBuilder, Wasm};
use plugrt_arrow_ipc::{Limits as IpcLimits, decode_scalar_result, encode};
use plugrt_extism::{LoadOptions, Plugin, PreWarm, Runtime, RuntimeConfig};

/// Untimed pause before each pre-warmed call.
const PACE: Duration = Duration::from_millis(1);

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/out/extism/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; build the fixtures with `cargo xtask fixtures`"))
}

fn no_args(rows: usize) -> RecordBatch {
    RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .unwrap()
}

/// What plugrt does around the guest call, done by hand for the raw extism baselines.
fn raw_call(plugin: &mut extism::Plugin, input: &RecordBatch) -> ArrayRef {
    let envelope = plugrt_contract::envelope("calls", &encode(input).unwrap());
    let output: Vec<u8> = plugin.call::<&[u8], &[u8]>("call", &envelope).unwrap().to_vec();
    decode_scalar_result(output, &IpcLimits::default(), &DataType::Int64, input.num_rows()).unwrap()
}

fn load(pooling: bool, min_ready: usize) -> Plugin {
    let runtime = Runtime::new(RuntimeConfig { pooling, ..RuntimeConfig::default() }).unwrap();
    runtime
        .load(
            &fixture("probe"),
            LoadOptions {
                pre_warm: if min_ready == 0 { PreWarm::Off } else { PreWarm::Ready(min_ready) },
                ..LoadOptions::default()
            },
        )
        .unwrap()
}

fn probe(c: &mut Criterion) {
    let input = no_args(1);
    let bytes = fixture("probe");
    let prewarmed = load(true, plugrt_contract::AUTO_READY);
    let pooled = load(true, 0);
    let on_demand = load(false, 0);
    let compiled = PluginBuilder::new(Manifest::new([Wasm::data(bytes)])).with_cache_disabled().compile().unwrap();
    let extism_pool = {
        let compiled = compiled.clone();
        extism::Pool::new(move || extism::Plugin::new_from_compiled(&compiled))
    };

    let mut g = c.benchmark_group("extism_probe_call");
    g.bench_function("plugrt_prewarmed", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Untimed: a load the refill keeps up with. 1 ms lets the pool's maintenance
                // thread replace the instance used and the reaper drop it, so that the
                // timed call meets neither (on 2 cores they would share the caller's).
                std::thread::sleep(PACE);
                let started = Instant::now();
                black_box(prewarmed.call("calls", &input).unwrap());
                total += started.elapsed();
            }
            total
        })
    });
    g.bench_function("extism_pool_reused", |b| {
        b.iter(|| {
            let mut plugin = extism_pool.get(Duration::from_secs(1)).unwrap().unwrap();
            black_box(raw_call(&mut plugin, &input))
        })
    });
    // The same, paced like the pre-warmed call: sleeping before a call costs the call too
    // (a cold core and caches), so this is the like-for-like baseline of the paced bench.
    g.bench_function("extism_pool_reused_paced", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                std::thread::sleep(PACE);
                let started = Instant::now();
                let mut plugin = extism_pool.get(Duration::from_secs(1)).unwrap().unwrap();
                black_box(raw_call(&mut plugin, &input));
                total += started.elapsed();
            }
            total
        })
    });
    g.bench_function("extism_new_from_compiled", |b| {
        b.iter(|| {
            let mut plugin = extism::Plugin::new_from_compiled(&compiled).unwrap();
            black_box(raw_call(&mut plugin, &input))
        })
    });
    g.bench_function("plugrt_no_prewarm_pooling", |b| b.iter(|| black_box(pooled.call("calls", &input).unwrap())));
    g.bench_function("plugrt_no_prewarm_on_demand", |b| b.iter(|| black_box(on_demand.call("calls", &input).unwrap())));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = probe
}
criterion_main!(benches);
