//! plugrt's Extism loader: plugins compiled once, a fresh instance for every call, the cost
//! of creating one hidden by pre-warm.
//!
//! A [`Runtime`] holds the host's ceilings and loads plugins; [`Runtime::load`] compiles an
//! Extism plugin (a core module on the Extism kernel, the Extism flavour of the contract in
//! docs/src/guest-contract.md) into its own engine and returns a [`Plugin`]. Each
//! [`Plugin::call`] (and each aggregate step, `Plugin::aggregate`, through the module's
//! `aggregate` export) runs in a fresh `extism::Plugin` taken from the plugin's pool, which keeps
//! a few ready ahead of calls when creating one is costly (it is, here: see
//! [`PreWarm`]). The plugin handle, options, limits and errors are `plugrt-contract`'s, the
//! same as `plugrt-wasmtime`'s.
//!
//! # What it does not do
//! No WASI, no HTTP, no host filesystem: a plugin importing anything beyond the Extism kernel
//! and `plugrt_log` does not load. No on-disk cache of compiled plugins. Each loaded plugin has
//! an engine of its own (extism compiles per engine), so plugins share no pooling allocator.

mod canceller;
mod exports;
mod host;
mod plugin;
mod reaper;
mod runtime;

pub use plugin::{ModuleVersion, Plugin};
pub use plugrt_contract::{
    Allocator, CONTRACT, Description, Error, GuestErrorKind, Limits, LoadOptions, PreWarm, Reuse, Signature, Volatility,
};
pub use plugrt_pool::Budget;
pub use runtime::{Runtime, RuntimeConfig};
