//! plugrt-wasmtime's integration tests, against the fixtures `cargo xtask fixtures` builds.

/// The loader under test: the shared files (common, edge_cases, isolation, load_errors,
/// realistic, reload) name its types and settings through this module, so plugrt-extism's
/// tests can include them unchanged.
mod api {
    pub use plugrt_wasmtime::*;

    /// Where `cargo xtask fixtures` puts this loader's fixtures (`fixtures/out/<FLAVOUR>`).
    pub const FLAVOUR: &str = "component";
    /// The test runtime's memory limit.
    pub const MEMORY_LIMIT: usize = 32 << 20;

    /// The test runtime's settings around `limits` (engine creation and the pooling
    /// reservation are per runtime: one for the whole binary).
    pub fn config(limits: Limits) -> RuntimeConfig {
        RuntimeConfig { limits, total_instances: 128, ..RuntimeConfig::default() }
    }
}
mod common;

mod cache;
mod edge_cases;
mod engine;
mod isolation;
mod js_guest;
mod load_errors;
mod realistic;
mod reload;
