//! `plugrt call PLUGIN FUNCTION [LITERAL... | --rows N | --input FILE]`.

use std::path::PathBuf;
use std::time::Instant;

use arrow_array::RecordBatch;
use clap::Args;

use crate::{Ceilings, input, load, show, signature};

/// Call one function and print its input, output and timings.
#[derive(Args)]
pub struct CallArgs {
    /// The plugin file (.wasm).
    plugin: PathBuf,
    /// The function to call.
    function: String,
    /// One value per argument, parsed as the declared type (`null` for a null): one row.
    #[arg(conflicts_with_all = ["rows", "input"])]
    literals: Vec<String>,
    /// Sample rows in the declared argument types (default: 5, when no literals or file).
    #[arg(long, value_name = "N", conflicts_with = "input")]
    rows: Option<usize>,
    /// Rows from a file: Arrow IPC (.arrow, .arrows, .ipc), CSV with a header (.csv) or
    /// Parquet (.parquet); its first columns are the arguments, cast to the declared types.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
}

pub fn run(ceilings: Ceilings, args: CallArgs) -> Result<(), String> {
    let runtime = ceilings.runtime()?;
    let (plugin, loaded) = load(&runtime, &args.plugin)?;
    let signature = signature(&plugin, &args.function)?;
    let batch = match (&args.input, args.literals.is_empty()) {
        (Some(file), _) => input::file(file, &signature.args)?,
        (None, false) => input::literals(&signature.args, &args.literals)?,
        (None, true) => input::samples(&signature.args, args.rows.unwrap_or(5))?,
    };
    let description = plugin.description();
    println!(
        "plugin {} {} ({}), loaded in {}",
        description.name,
        description.version,
        plugin.flavour(),
        show::duration(loaded)
    );
    println!("{}", show::signature(&signature));
    println!("input ({}):\n{}", show::rows(batch.num_rows()), show::table(&batch));
    let started = Instant::now();
    let (result, report) = plugin.call_reported(&args.function, &batch, &plugrt::CallOptions::default());
    let took = started.elapsed();
    let output = result.map_err(|e| e.to_string())?;
    let output = RecordBatch::try_from_iter([("result", output)]).map_err(|e| e.to_string())?;
    println!("output:\n{}", show::table(&output));
    let created = report.created.map_or("none (a ready instance)".to_owned(), show::duration);
    println!(
        "call took {} (waiting for an instance {}, creating it {created}; {} instance)",
        show::duration(took),
        show::duration(report.waited),
        report.instance()
    );
    Ok(())
}
