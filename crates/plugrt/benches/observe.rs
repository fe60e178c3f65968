//! What observing a call costs: a trivial component call (the probe fixture) through the
//! `plugrt` runtime with no `tracing` subscriber (the default: the span is disabled, the call
//! statistics are still counted) against the same call with a subscriber that records every
//! `plugrt.call` span and formats it (to a sink).
//! `cargo xtask bench` prints the ratios.

use criterion::{Criterion, criterion_group, criterion_main};
use plugrt::Runtime;
use tracing_subscriber::layer::SubscriberExt;

fn fixture() -> Vec<u8> {
    let path = format!("{}/../../fixtures/out/component/probe.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; run `cargo xtask fixtures`"))
}

fn observe(c: &mut Criterion) {
    let batch = plugrt_arrow_ipc::input_batch(&[], 1).unwrap(); // the probe takes no arguments
    let runtime = Runtime::builder().build().unwrap();
    let plugin = runtime.load(&fixture()).unwrap();
    let mut group = c.benchmark_group("plugrt_observe");
    group.bench_function("no_subscriber", |b| b.iter(|| plugin.call("calls", &batch).unwrap()));
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("plugrt=info"))
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink));
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("info_subscriber", |b| b.iter(|| plugin.call("calls", &batch).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, observe);
criterion_main!(benches);
