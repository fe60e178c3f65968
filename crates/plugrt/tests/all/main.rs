//! The `plugrt` façade's tests, against the fixtures `cargo xtask fixtures` builds. Cases
//! that need a loader are compiled with its feature; `cargo xtask test` runs this binary with
//! the default features and with all of them.

mod common;

mod concurrency;
mod edge_cases;
mod flavours;
mod scale;
