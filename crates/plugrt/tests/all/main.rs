//! The `plugrt` façade's tests, against the fixtures `cargo xtask fixtures` builds. Cases
//! that need a loader are compiled with its feature; `cargo xtask test` runs this binary with
//! the default features and with all of them.

#[cfg(any(feature = "wasmtime", feature = "extism"))]
mod aggregates;
mod common;

#[cfg(any(feature = "wasmtime", feature = "extism"))]
mod concurrency;
#[cfg(any(feature = "wasmtime", feature = "extism"))]
mod edge_cases;
mod flavours;
#[cfg(any(feature = "wasmtime", feature = "extism"))]
mod hostile;
#[cfg(any(feature = "wasmtime", feature = "extism"))]
mod observability;
#[cfg(any(feature = "wasmtime", feature = "extism"))]
mod scale;
#[cfg(all(feature = "datafusion", any(feature = "wasmtime", feature = "extism")))]
mod sql;
