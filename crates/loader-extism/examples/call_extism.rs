//! Loads the C fixture through `plugrt_extism` alone (no façade) and calls `add_one`; the book's
//! "Running Extism plugins" chapter includes it, and `cargo xtask test` runs it:
//! `cargo run -p plugrt-extism --example call_extism -- fixtures/out/extism/c_udf.wasm`

use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch};
use plugrt_extism::{LoadOptions, Runtime, RuntimeConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: call_extism PLUGIN.wasm")?;
    // ANCHOR: load_and_call
    let runtime = Runtime::new(RuntimeConfig::default())?; // ceilings only; every Extism plugin gets an engine of its own
    let plugin = runtime.load_file(&path, LoadOptions::default())?;
    let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2, 41])) as _)])?;
    let column = plugin.call("add_one", &batch)?; // an ArrayRef of the declared type
    // ANCHOR_END: load_and_call
    let column = column.as_any().downcast_ref::<Int64Array>().ok_or("add_one returns Int64")?;
    assert_eq!(column.values(), &[2, 3, 42]);
    println!("{}: add_one([1, 2, 41]) = {:?}", plugin.name(), column.values());
    Ok(())
}
