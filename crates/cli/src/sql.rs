//! `plugrt sql [--plugin PATH]... [--plugins DIR]... [--table NAME=FILE]... [--metrics] [--ballista] SQL`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use clap::Args;
use plugrt::Outcome;
use plugrt::datafusion::datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use plugrt::datafusion::{CodecOptions, Naming};

use crate::{Ceilings, show};

/// Run SQL in DataFusion with the plugins' functions registered as scalar UDFs.
#[derive(Args)]
pub struct SqlArgs {
    /// The query (or any statement DataFusion runs, such as `COPY ... TO 'file.parquet'`).
    query: String,
    /// A plugin file whose functions SQL may call (repeatable).
    #[arg(long = "plugin", value_name = "PATH")]
    plugins: Vec<PathBuf>,
    /// A folder whose `*.wasm` plugins SQL may call (repeatable; files that fail are reported).
    #[arg(long = "plugins", value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// A table from a file: NAME=FILE, FILE ending in .csv (with a header) or .parquet.
    #[arg(long = "table", value_name = "NAME=FILE")]
    tables: Vec<String>,
    /// Register functions as PLUGIN_FUNCTION instead of their declared names.
    #[arg(long)]
    prefixed: bool,
    /// Partitions DataFusion plans with (default: its own, the number of cores).
    #[arg(long, value_name = "N")]
    partitions: Option<usize>,
    /// After the result, print each function's calls, outcomes and times.
    #[arg(long)]
    metrics: bool,
    /// Run the query on Ballista (a scheduler and an executor started in this process): the
    /// plans travel through plugrt's codecs, the UDFs run on the executor.
    #[arg(long)]
    ballista: bool,
}

pub fn run(ceilings: Ceilings, args: SqlArgs) -> Result<(), String> {
    let runtime = ceilings.runtime()?;
    for path in &args.plugins {
        runtime.load_file(path).map_err(|e| e.to_string())?;
    }
    for dir in &args.dirs {
        let report = runtime.load_dir(dir).map_err(|e| e.to_string())?;
        for (file, error) in &report.failed {
            eprintln!("plugrt: skipped {}: {error}", file.display());
        }
    }
    let mut config = SessionConfig::new();
    if let Some(n) = args.partitions {
        config = config.with_target_partitions(n.max(1));
    }
    let naming = if args.prefixed { Naming::Prefixed } else { Naming::Declared };
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let ctx = if args.ballista {
        let session = runtime.ballista_standalone(config, naming, CodecOptions::default());
        tokio.block_on(session).map_err(|e| format!("cannot start Ballista: {e}"))?
    } else {
        let ctx = SessionContext::new_with_config(config);
        runtime.register_udfs(&ctx, naming);
        ctx
    };

    let started = Instant::now();
    let result = tokio.block_on(collect(&ctx, &args.tables, &args.query))?;
    let took = started.elapsed();
    println!("{}", show::table(&result));
    println!("{} in {}", show::rows(result.num_rows()), show::duration(took));
    if args.metrics {
        print_metrics(&runtime, took);
    }
    Ok(())
}

/// Runs `query` on a local DataFusion session with every function of `runtime`'s plugins
/// under its declared name and the `tables` (`NAME=FILE`); the result as one batch.
pub fn query(runtime: &plugrt::Runtime, tables: &[String], query: &str) -> Result<RecordBatch, String> {
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let ctx = SessionContext::new();
    runtime.register_udfs(&ctx, Naming::Declared);
    tokio.block_on(collect(&ctx, tables, query))
}

/// Registers `tables`, runs `query`, and concatenates its batches.
async fn collect(ctx: &SessionContext, tables: &[String], query: &str) -> Result<RecordBatch, String> {
    for table in tables {
        register_table(ctx, table).await?;
    }
    let frame = ctx.sql(query).await.map_err(|e| e.to_string())?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let batches = plugrt::datafusion::collect(frame).await.map_err(|e| e.to_string())?;
    let schema = batches.first().map_or(schema, RecordBatch::schema);
    arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| e.to_string())
}

/// `NAME=FILE.csv` or `NAME=FILE.parquet`.
async fn register_table(ctx: &SessionContext, spec: &str) -> Result<(), String> {
    let (name, file) = spec.split_once('=').ok_or_else(|| format!("--table takes NAME=FILE, not `{spec}`"))?;
    let path = std::path::Path::new(file);
    if !path.exists() {
        return Err(format!("table `{name}`: no file {file}"));
    }
    let registered = match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => ctx.register_csv(name, file, CsvReadOptions::new()).await,
        Some("parquet") => ctx.register_parquet(name, file, ParquetReadOptions::default()).await,
        _ => return Err(format!("table `{name}`: {file} is neither .csv nor .parquet")),
    };
    registered.map_err(|e| format!("table `{name}` from {file}: {e}"))
}

/// Per function that was called: calls by outcome, rows, mean call time and mean wait; then
/// the rows per second of the busiest function over the whole statement.
fn print_metrics(runtime: &plugrt::Runtime, took: std::time::Duration) {
    let mut busiest = 0;
    println!("\n{:<24} {:>8} {:>10} {:>10} {:>10}  outcomes", "function", "calls", "rows", "mean call", "mean wait");
    for name in runtime.plugins() {
        let Some(plugin) = runtime.plugin(&name) else { continue };
        for f in plugin.function_metrics() {
            let calls = f.total_calls();
            if calls == 0 {
                continue;
            }
            busiest = busiest.max(f.rows);
            let mean = |h: &plugrt::HistogramSnapshot| {
                show::duration(h.sum / u32::try_from(h.count.max(1)).unwrap_or(u32::MAX))
            };
            let outcomes: Vec<String> = Outcome::ALL
                .iter()
                .filter(|o| f.calls_with(**o) > 0)
                .map(|o| format!("{} {o}", f.calls_with(*o)))
                .collect();
            println!(
                "{:<24} {calls:>8} {:>10} {:>10} {:>10}  {}",
                format!("{name}.{}", f.function),
                f.rows,
                mean(&f.duration),
                mean(&f.wait),
                outcomes.join(", ")
            );
        }
    }
    let per_second = busiest as f64 / took.as_secs_f64();
    println!("the busiest function saw {busiest} rows: {per_second:.0} rows/s over the whole statement");
}
