//! The guest contract of plugrt, as the loaders share it (docs/src/guest-contract.md):
//!
//! - [`describe`]: the self-description a plugin returns, parsed and checked by one set of
//!   rules ([`parse_description`]);
//! - [`GuestError`]: a guest's `call-error`, and its JSON form in the Extism flavour;
//! - [`check_input`]: a batch against a function's declared arguments, before any guest runs;
//! - [`envelope`]: the Extism flavour's call input (function name, then the IPC stream).
//!
//! # What it does not do
//! It runs no guest and links no engine: loaders depend on it, never on each other. The IPC
//! side of the contract (argument batches, checking a result) is in `plugrt-arrow-ipc`.

pub mod describe;
mod envelope;
mod guest_error;
mod input;

pub use describe::{CONTRACT, Description, Signature, Volatility, parse as parse_description};
pub use envelope::{envelope, envelope_into};
pub use guest_error::{GuestError, GuestErrorKind};
pub use input::check_input;
