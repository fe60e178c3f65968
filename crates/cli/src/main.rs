//! `plugrt`: the command a plugin author and an operator reach for first.
//!
//! For plugin authors (a guest project is a folder with `plugrt.toml`, see `project.rs`):
//! - `plugrt new --lang c|js NAME [DIR]`: a project with an example function and its test;
//! - `plugrt build [DIR] [--flavour F]`: builds both flavours (installing toolchains on first
//!   use into `$PLUGRT_TOOLS`, else `~/.cache/plugrt/tools`) and checks that they load;
//! - `plugrt test [DIR] [--bless]`: builds, runs `tests/*.sql`, compares with `tests/*.out`;
//! - `plugrt dev [DIR] [--sql SQL | --call FUNCTION]`: builds, loads, runs; rebuilds,
//!   reloads and reruns on every save.
//!
//! For everyone:
//! - `plugrt inspect PLUGIN...`: what a plugin declares and how it loads;
//! - `plugrt call PLUGIN FUNCTION [LITERAL... | --rows N | --input FILE]`: one call, input and
//!   output printed as tables, with its timings;
//! - `plugrt bench PLUGIN FUNCTION [--rows N] [--threads T] [--seconds S]`: calls per second
//!   and latency percentiles;
//! - `plugrt metrics PLUGIN... [--calls N]`: runs calls, prints the OpenMetrics text;
//! - `plugrt sql [--plugin PATH]... [--table NAME=FILE]... [--metrics] SQL`: DataFusion with
//!   the plugins' functions as scalar UDFs.
//!
//! Everything goes through the `plugrt` crate (both loaders and the `metrics` feature on).
//! Errors print as one line on stderr and exit with status 1; bad usage exits with 2.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

mod bench;
mod build;
mod call;
mod dev;
mod input;
mod inspect;
mod metrics;
mod new;
mod project;
mod show;
mod sql;
mod test;

/// Build, test and live-reload plugrt plugins (WebAssembly UDFs); inspect, call, benchmark and
/// monitor them; run SQL with them.
#[derive(Parser)]
#[command(name = "plugrt", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    ceilings: Ceilings,
}

/// The runtime's ceilings every plugin's own limits are clamped to.
#[derive(Args, Clone, Copy)]
struct Ceilings {
    /// Time limit of one call, creating its instance included, in milliseconds.
    #[arg(long, global = true, value_name = "MS", default_value_t = 1000)]
    timeout_ms: u64,
    /// Memory limit of one instance, in MiB.
    #[arg(long, global = true, value_name = "MIB", default_value_t = 64)]
    memory_mib: usize,
    /// Live instances per plugin.
    #[arg(long, global = true, value_name = "N", default_value_t = 8)]
    instances: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Create a guest project (C or JavaScript) with an example function and its test.
    New(new::NewArgs),
    /// Build a guest project (both flavours, or --flavour) and check that each plugin loads.
    Build(build::BuildArgs),
    /// Build a guest project and run its SQL checks (tests/NAME.sql against tests/NAME.out).
    Test(test::TestArgs),
    /// Build, load and run a guest project; rebuild, reload and rerun on every save.
    Dev(dev::DevArgs),
    /// Load plugins and print their flavour, name, version, functions, limits and load time.
    Inspect {
        /// Plugin files (.wasm): components or Extism modules.
        #[arg(required = true)]
        plugins: Vec<PathBuf>,
    },
    /// Call one function and print its input, output and timings.
    Call(call::CallArgs),
    /// Call one function again and again from several threads; print calls per second and
    /// latency percentiles.
    Bench(bench::BenchArgs),
    /// Run calls of every function of the plugins and print the metrics as OpenMetrics text.
    Metrics(metrics::MetricsArgs),
    /// Run SQL (DataFusion) that calls the plugins' functions; print the result.
    Sql(sql::SqlArgs),
}

impl Ceilings {
    /// A runtime with these ceilings (and plugrt's other defaults).
    fn runtime(self) -> Result<plugrt::Runtime, String> {
        let limits = plugrt::Limits {
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            memory_bytes: self.memory_mib.max(1) << 20,
            instances: self.instances.max(1),
            ..plugrt::Limits::default()
        };
        plugrt::Runtime::builder().limits(limits).build().map_err(|e| e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::New(args) => new::run(args),
        Command::Build(args) => build::run(cli.ceilings, args),
        Command::Test(args) => test::run(cli.ceilings, args),
        Command::Dev(args) => dev::run(cli.ceilings, args),
        Command::Inspect { plugins } => inspect::run(cli.ceilings, &plugins),
        Command::Call(args) => call::run(cli.ceilings, args),
        Command::Bench(args) => bench::run(cli.ceilings, args),
        Command::Metrics(args) => metrics::run(cli.ceilings, args),
        Command::Sql(args) => sql::run(cli.ceilings, args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("plugrt: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the plugin at `path` into `runtime`; returns it and how long loading took.
fn load(runtime: &plugrt::Runtime, path: &std::path::Path) -> Result<(plugrt::Plugin, Duration), String> {
    let started = std::time::Instant::now();
    let plugin = runtime.load_file(path).map_err(|e| e.to_string())?;
    Ok((plugin, started.elapsed()))
}

/// The declared signature of `function`, or an error listing what the plugin has.
fn signature(plugin: &plugrt::Plugin, function: &str) -> Result<plugrt::Signature, String> {
    let description = plugin.description();
    description.function(function).cloned().ok_or_else(|| {
        let known: Vec<_> = description.functions.iter().map(|f| f.name.as_str()).collect();
        format!("plugin `{}` has no function `{function}`; it has: {}", plugin.name(), known.join(", "))
    })
}
