//! The guest contract of plugrt, as the loaders share it (docs/src/guest-contract.md):
//!
//! - [`describe`]: the self-description a plugin returns, parsed and checked by one set of
//!   rules ([`parse_description`]), its size and counts bounded before it is parsed;
//! - [`types`]: the types a plugin may declare, an allow-list bounded in length, depth, field
//!   count and width ([`parse_type`], [`check_type`]);
//! - [`GuestError`]: a guest's `call-error`, and its JSON form in the Extism flavour;
//! - [`check_input`]: a batch against a function's declared arguments, before any guest runs;
//!   [`start_aggregate`]: the same for an aggregate step ([`AggregateOp`]);
//! - [`envelope`]: the Extism flavour's call input (function name, then the IPC stream);
//! - [`Error`]: what loading or calling can fail with, the same in every loader;
//! - [`GuestLog`]: the `log` import's budget and mapping to `tracing`;
//! - [`Versions`]: hot reload's atomic swap, and [`read_plugin_file`];
//! - [`Limits`], [`LoadOptions`], [`PreWarm`], [`Allocator`]: what every loader is configured
//!   with; [`CallOptions`] ([`CancelToken`], [`CallMemory`]): what a caller controls per call;
//! - [`Plugin`]: the plugin handle every loader returns, around a [`Loader`] that supplies
//!   only what differs between engines; it opens the `plugrt.call` and `plugrt.load` spans
//!   and fills a [`CallReport`] per call.
//!
//! # What it does not do
//! It runs no guest and links no engine: loaders depend on it, never on each other. The IPC
//! side of the contract (argument batches, checking a result) is in `plugrt-arrow-ipc`.

mod aggregate;
mod control;
pub mod describe;
mod envelope;
mod error;
mod guest_error;
mod input;
mod limits;
mod log;
mod plugin;
mod report;
pub mod types;
mod versions;

pub use aggregate::{AggregateOp, AggregateStart, AggregateStep, start_aggregate, write_aggregate_envelope};
pub use control::{CallMemory, CallOptions, CancelToken, HookGuard};
pub use describe::{
    AggregateSignature, CONTRACT, CONTRACTS, Description, GROUP_COLUMN, MAX_STATE_FIELDS, Signature, Volatility,
    parse as parse_description,
};
pub use envelope::{envelope, start_envelope};
pub use error::Error;
pub use guest_error::{GuestError, GuestErrorKind};
pub use input::check_input;
pub use limits::{AUTO_READY, Allocator, Limits, LoadOptions, PREWARM_THRESHOLD, PreWarm};
pub use log::{GUEST_TARGET, GuestLog, LOG_BUDGET, LogLevel, MAX_MESSAGE, cut_message};
pub use plugin::{Loaded, Loader, Parts, Plugin};
pub use plugrt_pool::Reuse;
pub use report::{CallReport, Outcome, Phases, lap};
pub use types::{check_type, parse_type};
pub use versions::{Version, Versions, read_plugin_file};
