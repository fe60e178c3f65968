//! What the batch benches share: the guests in a runtime of their own, and their inputs.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use plugrt::{Plugin, Runtime};

fn fixture(flavour: &str, name: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/out/{flavour}/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; build the fixtures with `cargo xtask fixtures`"))
}

/// `rows` Int64 values, every 10th null, and the one-column batch a call takes.
pub fn input(rows: usize) -> (Int64Array, RecordBatch) {
    let values = Int64Array::from_iter((0..rows as i64).map(|i| (i % 10 != 0).then_some(i)));
    let column: ArrayRef = Arc::new(values.clone());
    (values, plugrt_arrow_ipc::input_batch(&[column], rows).expect("batch"))
}

/// `rows` short words (`item-0`, `item-1`, ...), every 10th null, and the one-column batch.
#[allow(dead_code)] // the breakdown bench has no string function
pub fn words(rows: usize) -> (StringArray, RecordBatch) {
    let values = StringArray::from_iter((0..rows).map(|i| (i % 10 != 0).then(|| format!("item-{i}"))));
    let column: ArrayRef = Arc::new(values.clone());
    (values, plugrt_arrow_ipc::input_batch(&[column], rows).expect("batch"))
}

/// The C guest of `flavour` in a default runtime of its own (both flavours are named `c_udf`).
pub fn c_udf(flavour: &str) -> (Runtime, Plugin) {
    guest(flavour, "c_udf")
}

/// The fixture `name` of `flavour` in a default runtime of its own.
pub fn guest(flavour: &str, name: &str) -> (Runtime, Plugin) {
    let runtime = Runtime::builder().build().expect("runtime");
    let plugin = runtime.load(&fixture(flavour, name)).unwrap_or_else(|e| panic!("load {name}: {e}"));
    (runtime, plugin)
}
