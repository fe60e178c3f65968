//! plugrt-pool's integration tests: one binary, one module per concern.
//!
//! Built with `--cfg plugrt_loom` only the loom models compile (loom's locks panic outside a
//! model); `cargo xtask test` runs both builds.

mod common;

#[cfg(not(plugrt_loom))]
mod async_acquire;
#[cfg(not(plugrt_loom))]
mod budget;
#[cfg(not(plugrt_loom))]
mod cap;
#[cfg(not(plugrt_loom))]
mod close;
#[cfg(not(plugrt_loom))]
mod fifo;
#[cfg(plugrt_loom)]
mod loom_models;
#[cfg(not(plugrt_loom))]
mod metrics;
#[cfg(not(plugrt_loom))]
mod poison;
#[cfg(not(plugrt_loom))]
mod prewarm;
#[cfg(not(plugrt_loom))]
mod reuse;
#[cfg(not(plugrt_loom))]
mod timeouts;
