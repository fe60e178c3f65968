//! `plugrt-run PLUGIN FUNCTION [--rows N]`: loads a plugin through the loader of its flavour
//! (a component: plugrt-wasmtime; a core module: plugrt-extism), builds a sample batch for the
//! function's declared argument types, calls it and prints input and output as tables.
//!
//! `cargo xtask run [--extism] FIXTURE FUNCTION [--rows N]` builds the fixtures and runs this.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_cast::pretty::pretty_format_batches;
use arrow_schema::DataType;
use plugrt_wasmtime::Description;

/// A plugin loaded by the loader of its flavour.
enum Loaded {
    Component(plugrt_wasmtime::Plugin, plugrt_wasmtime::Allocator),
    Extism(plugrt_extism::Plugin),
}

impl Loaded {
    /// Loads `path`: a component through plugrt-wasmtime, a core module through plugrt-extism.
    fn load(path: &str) -> Result<Loaded, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        // The binary format's version field: 1 for core modules, 0x1000d for components.
        if bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
            let runtime = plugrt_extism::Runtime::new(Default::default()).map_err(|e| e.to_string())?;
            return runtime.load_file(path, Default::default()).map(Loaded::Extism).map_err(|e| e.to_string());
        }
        let runtime = plugrt_wasmtime::Runtime::new(Default::default()).map_err(|e| e.to_string())?;
        let plugin = runtime.load_file(path, Default::default()).map_err(|e| e.to_string())?;
        Ok(Loaded::Component(plugin, runtime.allocator()))
    }

    fn name(&self) -> Arc<str> {
        match self {
            Loaded::Component(p, _) => p.name(),
            Loaded::Extism(p) => p.name(),
        }
    }

    fn description(&self) -> Arc<Description> {
        match self {
            Loaded::Component(p, _) => p.description(),
            Loaded::Extism(p) => p.description(),
        }
    }

    /// The loader and its allocator, for the header line.
    fn loader(&self) -> String {
        match self {
            Loaded::Component(_, allocator) => format!("plugrt-wasmtime, {allocator:?}"),
            Loaded::Extism(p) => format!("plugrt-extism, {:?}", p.allocator()),
        }
    }

    fn call(&self, function: &str, input: &RecordBatch) -> Result<ArrayRef, String> {
        match self {
            Loaded::Component(p, _) => p.call(function, input).map_err(|e| e.to_string()),
            Loaded::Extism(p) => p.call(function, input).map_err(|e| e.to_string()),
        }
    }
}

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
    let plugin = Loaded::load(path)?;
    let loaded = started.elapsed();
    let description = plugin.description();
    let signature = description.function(function).ok_or_else(|| {
        let known: Vec<_> = description.functions.iter().map(|f| f.name.as_str()).collect();
        format!("plugin `{}` has no function `{function}`; it has {known:?}", plugin.name())
    })?;
    let columns = signature.args.iter().enumerate().map(|(i, t)| sample(t, rows, i)).collect::<Result<Vec<_>, _>>()?;
    let input = plugrt_arrow_ipc::input_batch(&columns, rows).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let output = plugin.call(function, &input)?;
    let called = started.elapsed();
    let output = RecordBatch::try_from_iter([("result", output)]).map_err(|e| e.to_string())?;
    let table =
        |b: &RecordBatch| pretty_format_batches(std::slice::from_ref(b)).map(|t| t.to_string()).unwrap_or_default();
    println!("plugin {} {} ({}), loaded in {loaded:.2?}", plugin.name(), plugin.description().version, plugin.loader());
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
