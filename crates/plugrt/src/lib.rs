//! plugrt runs untrusted user-defined functions compiled to WebAssembly: every call in a
//! fresh sandbox, at the speed of a warm pool, with Arrow batches in and out.
//!
//! This is the crate to depend on. Pick the loaders with Cargo features:
//!
//! | feature | default | plugins it loads |
//! |---|---|---|
//! | `wasmtime` | yes | WebAssembly components of the `plugrt:udf` world |
//! | `extism` | no | Extism plugins (core modules on the Extism kernel) |
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `datafusion` | no | `plugrt::datafusion` and `Runtime::register_udfs`: every plugin function as a DataFusion scalar UDF, every aggregate as an aggregate UDF |
//! | `ballista` | no | `plugrt::datafusion::ballista` and `Runtime::ballista_standalone`: the same UDFs on Ballista, DataFusion's distributed engine (turns `datafusion` on) |
//! | `metrics` | no | `Runtime::encode_metrics` and `Runtime::metrics_collector`: every plugin's call and pool metrics as OpenMetrics text, through `prometheus_client` |
//!
//! A [`Runtime`] hosts any number of plugins of both flavours: it tells a plugin's flavour
//! from its bytes, registers it by the name its `describe` gives, lists a [catalog] of every
//! function, and owns one budget of live instances for all plugins. [`Plugin::call`] runs a
//! function on a `RecordBatch` in a brand-new instance. Without a loader's feature, plugins
//! of its flavour are refused with an error naming the feature.
//!
//! ```no_run
//! # fn main() -> Result<(), plugrt::Error> {
//! let runtime = plugrt::Runtime::builder().build()?;
//! let report = runtime.load_dir("plugins/")?;
//! for (file, error) in &report.failed {
//!     eprintln!("{}: {error}", file.display());
//! }
//! for entry in runtime.catalog() {
//!     println!("{}.{}{:?} -> {}", entry.plugin, entry.function, entry.args, entry.returns);
//! }
//! # Ok(()) }
//! ```
//!
//! The book's "Getting started" chapter walks through a complete example
//! (`crates/plugrt/examples/getting_started.rs`).
//!
//! # Observing it
//! Every call runs in a `plugrt.call` `tracing` span (target `plugrt`; fields `plugin`,
//! `function`, `rows`, `outcome`, `wait_us`, `create_us`, `instance`), with the guest's log
//! lines inside it (target [`GUEST_TARGET`]); every aggregate step in a `plugrt.aggregate`
//! span (the same fields and `op`); every load in a `plugrt.load` span. Each plugin
//! counts its calls per function ([`Plugin::function_metrics`]); the `metrics` feature exports
//! them. The book's "Operating plugrt" chapter lists every series and what to alert on.
//!
//! # What it does not do
//! No WASI and no host capabilities yet: a plugin importing anything beyond the contract's
//! `log` does not load. It does not watch folders for changes (call [`Runtime::reload`]), and
//! it runs no SQL engine itself.
//!
//! [catalog]: Runtime::catalog
#![forbid(unsafe_code)]

mod flavour;
mod loaders;
#[cfg(feature = "metrics")]
mod metrics;
mod plugin;
mod runtime;
#[cfg(feature = "datafusion")]
mod sql;
mod stats;

pub use flavour::Flavour;
pub use plugin::Plugin;
pub use plugrt_contract::{
    AUTO_READY, AggregateOp, AggregateSignature, Allocator, CONTRACT, CONTRACTS, CallMemory, CallOptions, CallReport,
    CancelToken, Description, Error, GUEST_TARGET, GuestErrorKind, Limits, LoadOptions, MAX_MESSAGE, Outcome,
    PREWARM_THRESHOLD, Phases, PreWarm, Reuse, Signature, Volatility,
};
pub use plugrt_pool::{BUCKET_BOUNDS_NS, BudgetStatus, CloseReport, HistogramSnapshot, MetricsSnapshot, RetireReason};
pub(crate) use runtime::Settings;
pub use runtime::{CatalogEntry, DEFAULT_MAX_INSTANCES, DirReport, FunctionKind, Runtime, RuntimeBuilder};
pub use stats::FunctionMetrics;

#[cfg(feature = "metrics")]
pub use metrics::MetricsCollector;
/// plugrt's plugins as DataFusion UDFs (feature `datafusion`): `register`, `udfs`, `udafs`,
/// `Naming`, and the `datafusion` crate itself, so a host uses the same version.
#[cfg(feature = "datafusion")]
pub use plugrt_datafusion as datafusion;
/// The `prometheus_client` crate plugrt's exporter is written against (feature `metrics`), so
/// a host registers the collector in a registry of the same version.
#[cfg(feature = "metrics")]
pub use prometheus_client;
