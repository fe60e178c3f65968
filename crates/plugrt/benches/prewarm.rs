//! The pre-warm default against pre-warm off, side by side in one run, for each flavour: a
//! trivial call (the probe fixture) through the `plugrt` runtime. `PreWarm::Auto` must never
//! be slower than `PreWarm::Off` (`cargo xtask bench` prints the ratio).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use plugrt::{LoadOptions, PreWarm, Runtime};

fn fixture(flavour: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/out/{flavour}/probe.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; run `cargo xtask fixtures`"))
}

fn prewarm(c: &mut Criterion) {
    let batch = plugrt_arrow_ipc::input_batch(&[], 1).unwrap(); // the probe takes no arguments
    let mut group = c.benchmark_group("plugrt_prewarm");
    for flavour in ["component", "extism"] {
        for (label, pre_warm) in [("default", PreWarm::Auto), ("off", PreWarm::Off)] {
            let runtime = Runtime::builder().build().unwrap();
            let plugin =
                runtime.load_with(&fixture(flavour), LoadOptions { pre_warm, ..LoadOptions::default() }).unwrap();
            // Let the default decide (4 creations) and fill before measuring.
            for _ in 0..8 {
                plugin.call("calls", &batch).unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
            group.bench_function(format!("{flavour}_{label}"), |b| b.iter(|| plugin.call("calls", &batch).unwrap()));
        }
    }
    group.finish();
}

criterion_group!(benches, prewarm);
criterion_main!(benches);
