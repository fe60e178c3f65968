//! plugrt-wasmtime's integration tests, against the fixtures `cargo xtask fixtures` builds.

mod common;

mod cache;
mod edge_cases;
mod isolation;
mod load_errors;
mod realistic;
mod reload;
