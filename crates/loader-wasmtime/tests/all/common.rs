//! Loading fixtures and building inputs. Shared with plugrt-extism's tests: what differs
//! between the loaders (fixture flavour, memory limit, runtime settings) comes from `api`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use crate::api::MEMORY_LIMIT;
use crate::api::{Error, FLAVOUR, Limits, LoadOptions, Plugin, Runtime};
use arrow_array::{ArrayRef, Int64Array, RecordBatch};

/// The built fixture `name` of the loader's flavour; fails (never skips) if it was not built.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/out/{FLAVOUR}/{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; build the fixtures with `cargo xtask fixtures`", path.display()))
}

/// One runtime for the whole test binary, with small limits so that the bad fixtures hit
/// them quickly.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let limits = Limits {
            timeout: Duration::from_millis(200),
            memory_bytes: MEMORY_LIMIT,
            output_bytes: 1 << 20,
            instances: 4,
            ..Limits::default()
        };
        Runtime::new(crate::api::config(limits)).unwrap()
    })
}

pub fn load(name: &str) -> Plugin {
    load_with(name, LoadOptions::default())
}

pub fn load_with(name: &str, options: LoadOptions) -> Plugin {
    let options = LoadOptions { label: Some(name.to_owned()), ..options };
    runtime().load(&fixture(name), options).unwrap_or_else(|e| panic!("{name} should load: {e}"))
}

pub fn load_err(name: &str) -> Error {
    runtime().load(&fixture(name), LoadOptions { label: Some(name.to_owned()), ..LoadOptions::default() }).unwrap_err()
}

/// A batch of the given argument columns.
pub fn batch(args: Vec<ArrayRef>) -> RecordBatch {
    let rows = args.first().map_or(1, |a| a.len());
    batch_of(args, rows)
}

/// The argument batch of a call: these columns, this many rows (zero columns are allowed).
fn batch_of(args: Vec<ArrayRef>, rows: usize) -> RecordBatch {
    plugrt_arrow_ipc::input_batch(&args, rows).unwrap()
}

/// One Int64 row: the input every edge-case fixture declares.
pub fn one_int() -> RecordBatch {
    batch(vec![Arc::new(Int64Array::from(vec![1]))])
}

/// A batch of `rows` rows and no columns (zero-argument functions).
pub fn no_args(rows: usize) -> RecordBatch {
    batch_of(vec![], rows)
}

/// Asserts that `plugin`'s pool holds no leased instance and still serves calls.
pub fn assert_pool_healthy(plugin: &Plugin) {
    let status = plugin.metrics().status;
    assert_eq!(status.leased, 0, "{}: a lease leaked: {status:?}", plugin.name());
    assert!(!status.closed);
}
