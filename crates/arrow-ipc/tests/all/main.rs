//! plugrt-arrow-ipc's integration tests: one binary, one module per concern.

mod batches;
mod craft;

mod arrow_panic_sites;
mod contract;
mod limits;
mod malformed;
mod properties;
mod roundtrip;
