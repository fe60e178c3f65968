//! plugrt-extism's integration tests, against the Extism flavour of the fixtures that
//! `cargo xtask fixtures` builds. The cases both loaders must pass are shared: they live in
//! plugrt-wasmtime's test directory and are included here unchanged, naming the loader's
//! types through `api`.

/// The loader under test.
mod api {
    pub use plugrt_extism::*;

    /// Where `cargo xtask fixtures` puts this loader's fixtures.
    pub const FLAVOUR: &str = "extism";
    /// The test runtime's memory limit. Twice plugrt-wasmtime's: extism copies a call's output
    /// into its kernel's memory, which counts against the same limit, and `huge_output` must
    /// still hit the output limit rather than the memory limit.
    pub const MEMORY_LIMIT: usize = 64 << 20;

    /// The test runtime's settings around `limits`.
    pub fn config(limits: Limits) -> RuntimeConfig {
        RuntimeConfig { limits, ..RuntimeConfig::default() }
    }
}

#[path = "../../../loader-wasmtime/tests/all/common.rs"]
mod common;

#[path = "../../../loader-wasmtime/tests/all/edge_cases.rs"]
mod edge_cases;
#[path = "../../../loader-wasmtime/tests/all/isolation.rs"]
mod isolation;
#[path = "../../../loader-wasmtime/tests/all/load_errors.rs"]
mod load_errors;
#[path = "../../../loader-wasmtime/tests/all/realistic.rs"]
mod realistic;
#[path = "../../../loader-wasmtime/tests/all/reload.rs"]
mod reload;

mod extism_only;
