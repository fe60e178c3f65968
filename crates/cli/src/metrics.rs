//! `plugrt metrics PLUGIN... [--calls N] [--rows N]`.

use std::path::PathBuf;

use clap::Args;

use crate::{Ceilings, input};

/// Run calls of every function of the plugins, then print the runtime's metrics.
#[derive(Args)]
pub struct MetricsArgs {
    /// Plugin files (.wasm), loaded into one runtime.
    #[arg(required = true)]
    plugins: Vec<PathBuf>,
    /// Calls of each scalar function, on sample rows (failed calls count in the metrics too);
    /// aggregates are listed with zero calls.
    #[arg(long, value_name = "N", default_value_t = 10)]
    calls: usize,
    /// Sample rows per call.
    #[arg(long, value_name = "N", default_value_t = 5)]
    rows: usize,
}

pub fn run(ceilings: Ceilings, args: MetricsArgs) -> Result<(), String> {
    let runtime = ceilings.runtime()?;
    for path in &args.plugins {
        runtime.load_file(path).map_err(|e| e.to_string())?;
    }
    for entry in runtime.catalog() {
        if entry.kind != plugrt::FunctionKind::Scalar {
            continue;
        }
        let Some(plugin) = runtime.plugin(&entry.plugin) else { continue };
        let batch = match input::samples(&entry.args, args.rows) {
            Ok(batch) => batch,
            Err(e) => {
                eprintln!("plugrt: skipping {}.{}: {e}", entry.plugin, entry.function);
                continue;
            }
        };
        for _ in 0..args.calls {
            // Failures are what the metrics are for: counted there, not fatal here.
            let _ = plugin.call(&entry.function, &batch);
        }
    }
    let mut text = String::new();
    runtime.encode_metrics(&mut text).map_err(|e| format!("cannot encode the metrics: {e}"))?;
    print!("{text}");
    Ok(())
}
