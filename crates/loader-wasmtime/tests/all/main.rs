//! plugrt-wasmtime's integration tests, against the fixtures `cargo xtask fixtures` builds.

/// The loader under test: the shared case files (edge_cases, isolation, load_errors,
/// realistic, reload) name its types through this module, so plugrt-extism's tests can
/// include them unchanged.
mod api {
    pub use plugrt_wasmtime::*;
}
mod common;

mod cache;
mod edge_cases;
mod isolation;
mod js_guest;
mod load_errors;
mod realistic;
mod reload;
