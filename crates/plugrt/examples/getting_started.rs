//! Getting started with plugrt: build a runtime, load a folder of plugins, read the catalog,
//! call a function, handle a typed error, and step an aggregate.
//!
//! Run it from the repository's root after `cargo xtask fixtures`:
//! `cargo run -p plugrt --features extism --example getting_started -- fixtures/out/component`

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array, new_null_array};
use arrow_schema::Schema;
use plugrt::AggregateOp;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fixtures/out/component".into());

    // 1. One runtime for every plugin. Each call gets a brand-new sandbox; these are the
    //    ceilings every plugin runs under (a plugin may ask for less, never more).
    let runtime = plugrt::Runtime::builder()
        .limits(plugrt::Limits { timeout: Duration::from_millis(500), ..plugrt::Limits::default() })
        .max_instances(64) // live instances of all plugins together
        .build()?;

    // 2. Load a folder. The flavour of each file (component or Extism module) is told from its
    //    bytes; a file that fails is reported and the others still load.
    let report = runtime.load_dir(&dir)?;
    println!("loaded {} plugins from {dir}, {} files refused", report.loaded.len(), report.failed.len());
    for (file, error) in &report.failed {
        println!("  refused {}: {error}", file.display());
    }

    // 3. The catalog: every function with its Arrow signature, as an engine registers them.
    for entry in runtime.catalog() {
        let args: Vec<String> = entry.args.iter().map(|a| a.to_string()).collect();
        println!(
            "  {}.{}({}) -> {} [{:?}, {}]",
            entry.plugin,
            entry.function,
            args.join(", "),
            entry.returns,
            entry.volatility,
            entry.flavour
        );
    }

    // 4. Call a function: the batch's columns are its arguments, the result is one column.
    let plugin = runtime.plugin("c_udf").ok_or("the folder has no `c_udf` plugin: run `cargo xtask fixtures`")?;
    let numbers = Int64Array::from(vec![Some(1), None, Some(41)]);
    let batch = RecordBatch::try_from_iter([("x", Arc::new(numbers) as Arc<dyn Array>)])?;
    let result = plugin.call("add_one", &batch)?;
    let result = result.as_any().downcast_ref::<Int64Array>().ok_or("add_one returns Int64")?;
    println!("add_one([1, null, 41]) = {:?}", result.iter().collect::<Vec<_>>());
    assert_eq!(result.iter().collect::<Vec<_>>(), [Some(2), None, Some(42)]);

    // 5. Errors are typed and name the plugin and the function.
    let words = RecordBatch::try_from_iter([("x", Arc::new(StringArray::from(vec!["a"])) as Arc<dyn Array>)])?;
    match plugin.call("add_one", &words) {
        Err(e @ plugrt::Error::InvalidInput { .. }) => println!("as expected: {e}"),
        other => return Err(format!("a Utf8 argument to add_one should be refused, got {other:?}").into()),
    }

    // 6. An aggregate: the host holds each group's state (here two groups that have seen
    //    nothing: null states), and one call folds a whole batch of rows into them.
    let sum = plugin.description().aggregate("sum_i64").cloned().ok_or("c_udf declares sum_i64")?;
    let nothing_yet: Vec<ArrayRef> = sum.state.iter().map(|f| new_null_array(f.data_type(), 2)).collect();
    let states = RecordBatch::try_new(Arc::new(Schema::new(sum.state.clone())), nothing_yet)?;
    let rows = RecordBatch::try_from_iter([
        ("group", Arc::new(UInt32Array::from(vec![0, 1, 0])) as ArrayRef),
        ("x", Arc::new(Int64Array::from(vec![1, 10, 2])) as ArrayRef),
    ])?;
    let states = plugin.aggregate("sum_i64", AggregateOp::Update, &states, Some(&rows))?;
    let sums = plugin.aggregate("sum_i64", AggregateOp::Finish, &states, None)?;
    let sums = sums.column(0).as_any().downcast_ref::<Int64Array>().ok_or("sum_i64 returns Int64")?;
    println!("sum_i64 of [1, 10, 2] in groups [0, 1, 0] = {:?}", sums.values());
    assert_eq!(sums.values(), &[3, 10]);
    Ok(())
}
