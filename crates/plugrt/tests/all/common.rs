//! Fixtures and runtimes for the façade's tests.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use plugrt::{Flavour, Limits, Runtime};

/// Every flavour this build loads.
pub fn flavours() -> Vec<Flavour> {
    [Flavour::Component, Flavour::Extism].into_iter().filter(|f| Runtime::supports(*f)).collect()
}

pub fn dir(flavour: Flavour) -> &'static str {
    match flavour {
        Flavour::Component => "component",
        Flavour::Extism => "extism",
    }
}

pub fn fixture_path(flavour: Flavour, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/out/{}/{name}.wasm", dir(flavour)))
}

/// The built fixture; fails (never skips) if it was not built.
pub fn fixture(flavour: Flavour, name: &str) -> Vec<u8> {
    let path = fixture_path(flavour, name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; build the fixtures with `cargo xtask fixtures`", path.display()))
}

/// The probe fixture under another five-character name (patched in its `describe` document),
/// so that many distinct plugins can be loaded.
pub fn probe_named(flavour: Flavour, name: &str) -> Vec<u8> {
    assert_eq!(name.len(), 5, "the probe's name is patched in place");
    let mut bytes = fixture(flavour, "probe");
    let at = bytes.windows(14).position(|w| w == br#""name":"probe""#).expect("the probe's describe document");
    bytes[at + 8..at + 13].copy_from_slice(name.as_bytes());
    bytes
}

/// Small ceilings so that the bad fixtures hit them quickly.
pub fn limits() -> Limits {
    Limits {
        timeout: Duration::from_millis(200),
        memory_bytes: 64 << 20,
        output_bytes: 1 << 20,
        instances: 4,
        ..Limits::default()
    }
}

pub fn runtime() -> Runtime {
    Runtime::builder().limits(limits()).max_instances(64).build().unwrap()
}

pub fn batch(args: Vec<ArrayRef>) -> RecordBatch {
    let rows = args.first().map_or(1, |a| a.len());
    batch_of(args, rows)
}

/// The argument batch of a call: these columns, this many rows (zero columns are allowed).
fn batch_of(args: Vec<ArrayRef>, rows: usize) -> RecordBatch {
    plugrt_arrow_ipc::input_batch(&args, rows).unwrap()
}

pub fn one_int() -> RecordBatch {
    batch(vec![Arc::new(Int64Array::from(vec![1]))])
}

pub fn no_args(rows: usize) -> RecordBatch {
    batch_of(vec![], rows)
}

/// The probe's answer: how many calls its instance has seen (1 in a fresh instance).
pub fn calls_seen(out: &ArrayRef) -> i64 {
    out.as_any().downcast_ref::<Int64Array>().expect("Int64").value(0)
}

/// Polls `cond` every millisecond for up to 10 s; panics if it never holds.
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "condition never held");
        std::thread::sleep(Duration::from_millis(1));
    }
}
