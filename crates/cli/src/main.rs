//! `plugrt-run PLUGIN FUNCTION [--rows N]`: loads a plugin of either flavour through the
//! `plugrt` runtime, builds a sample batch for the function's declared argument types, calls it
//! and prints input and output as tables.
//!
//! `cargo xtask run [--extism] FIXTURE FUNCTION [--rows N]` builds the fixtures and runs this.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_cast::pretty::pretty_format_batches;
use arrow_schema::DataType;

/// Sample values for one argument: row numbers in the argument's type, every fifth null.
fn sample(ty: &DataType, rows: usize, arg: usize) -> Result<ArrayRef, String> {
    let value = |i: usize| (i % 5 != 4).then_some(i + arg);
    Ok(match ty {
        DataType::Int64 => Arc::new(Int64Array::from_iter((0..rows).map(|i| value(i).map(|v| v as i64)))),
        DataType::Int32 => Arc::new(Int32Array::from_iter((0..rows).map(|i| value(i).map(|v| v as i32)))),
        DataType::Float64 => Arc::new(Float64Array::from_iter((0..rows).map(|i| value(i).map(|v| v as f64 * 0.5)))),
        DataType::Boolean => Arc::new(BooleanArray::from_iter((0..rows).map(|i| value(i).map(|v| v % 2 == 0)))),
        DataType::Utf8 => {
            let words = ["hello", "wörld", "plugrt", "arrow", "wasm"];
            Arc::new(StringArray::from_iter((0..rows).map(|i| value(i).map(|v| words[v % words.len()]))))
        }
        other => return Err(format!("cannot make sample values of type {other} (yet)")),
    })
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: plugrt-run PLUGIN FUNCTION [--rows N]";
    let (path, function) = match (args.first(), args.get(1)) {
        (Some(p), Some(f)) => (p, f),
        _ => return Err(usage.into()),
    };
    let rows = match args.get(2).map(String::as_str) {
        None => 5,
        Some("--rows") => args.get(3).and_then(|n| n.parse().ok()).ok_or(usage)?,
        Some(_) => return Err(usage.into()),
    };
    let started = Instant::now();
    let runtime = plugrt::Runtime::builder().build().map_err(|e| e.to_string())?;
    let plugin = runtime.load_file(path).map_err(|e| e.to_string())?;
    let loaded = started.elapsed();
    let description = plugin.description();
    let signature = description.function(function).ok_or_else(|| {
        let known: Vec<_> = description.functions.iter().map(|f| f.name.as_str()).collect();
        format!("plugin `{}` has no function `{function}`; it has {known:?}", plugin.name())
    })?;
    let columns = signature.args.iter().enumerate().map(|(i, t)| sample(t, rows, i)).collect::<Result<Vec<_>, _>>()?;
    let input = plugrt_arrow_ipc::input_batch(&columns, rows).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let output = plugin.call(function, &input).map_err(|e| e.to_string())?;
    let called = started.elapsed();
    let output = RecordBatch::try_from_iter([("result", output)]).map_err(|e| e.to_string())?;
    let table =
        |b: &RecordBatch| pretty_format_batches(std::slice::from_ref(b)).map(|t| t.to_string()).unwrap_or_default();
    println!(
        "plugin {} {} ({}, {:?}), loaded in {loaded:.2?}",
        plugin.name(),
        description.version,
        plugin.flavour(),
        plugin.allocator()
    );
    println!(
        "{function}({}) -> {}",
        signature.args.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
        signature.returns
    );
    println!("input:\n{}", table(&input));
    println!("output (call took {called:.2?}):\n{}", table(&output));
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("plugrt-run: {e}");
        std::process::exit(1);
    }
}
