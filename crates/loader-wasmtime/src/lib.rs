//! plugrt's Component Model loader on wasmtime: every call in a fresh sandbox, at the speed
//! of a warm pool.
//!
//! A [`Runtime`] owns one wasmtime `Engine` (pooling allocator sized from its own limits,
//! copy-on-write memory images, one epoch ticker thread). [`Runtime::load`] compiles a
//! component against the contract in `wit/udf.wit` and returns a [`Plugin`]; each
//! [`Plugin::call`] runs in a brand-new instance from the plugin's pool, with Arrow batches
//! in and out through `plugrt-arrow-ipc`, and so does each aggregate step (`Plugin::aggregate`,
//! contract 0.2.0). Components built against contract 0.1.0 load unchanged.
//!
//! # What it does not do (yet)
//! No WASI: a component importing anything beyond the contract's `log` does not load.
//! [`Plugin::reload`] swaps versions atomically; `RuntimeConfig::cache_dir` enables an on-disk
//! cache of compiled components that only loads files it wrote itself.

mod cache;
mod host;
mod plugin;
mod runtime;

pub use plugin::{ComponentVersion, Plugin};
pub use plugrt_contract::{
    Allocator, CONTRACT, Description, Error, GuestErrorKind, Limits, LoadOptions, PreWarm, Reuse, Signature, Volatility,
};
pub use plugrt_pool::Budget;
pub use runtime::{KEEP_RESIDENT_WITHOUT_SCAN, Runtime, RuntimeConfig, TABLE_KEEP_RESIDENT};
