//! plugrt-extism's integration tests, against the Extism flavour of the fixtures that
//! `cargo xtask fixtures` builds. The cases both loaders must pass are shared: they live in
//! plugrt-wasmtime's test directory and are included here unchanged, naming the loader's
//! types through `api`.

/// The loader under test.
mod api {
    pub use plugrt_extism::*;
}
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
