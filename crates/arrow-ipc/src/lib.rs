//! The Arrow IPC bridge between plugrt hosts and guests: fast to write, zero-copy to read, and
//! distrustful of everything it reads.
//!
//! Every plugin call sends a [`RecordBatch`](arrow_array::RecordBatch) into a guest as an IPC
//! stream and reads the guest's answer back the same way. That answer is untrusted input: it
//! may be truncated, malformed, enormous, of the wrong type or length. This crate:
//!
//! - **encodes** with one copy of the array data into an exactly sized buffer
//!   ([`encode`], [`encode_into`] to reuse a buffer, [`encode_parts`] to copy into memory you
//!   manage);
//! - **decodes** from bytes the host owns without copying primitive columns ([`decode`],
//!   [`decode_one`]);
//! - **refuses** before arrow-rs sees them streams whose framing, flatbuffers, types or sizes
//!   are wrong or beyond [`Limits`], so a malformed stream is an [`IpcError`], never a panic
//!   or an allocation sized by an attacker's header;
//! - **checks the scalar-call contract** ([`scalar_result`]: one column, declared type, same
//!   rows) and an aggregate step's states ([`state_result`]: the declared state fields, one
//!   row per group), and builds input batches ([`input_batch`]).
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Int64Array, ArrayRef};
//! use arrow_schema::DataType;
//! use plugrt_arrow_ipc::{Limits, decode_scalar_result, encode, input_batch};
//!
//! let args: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]))];
//! let input = input_batch(&args, 3)?;
//! let bytes = encode(&input)?;                       // what a guest would receive...
//! let column = decode_scalar_result(bytes, &Limits::default(), &DataType::Int64, 3)?; // ...and answer
//! assert_eq!(column.len(), 3);
//! # Ok::<(), plugrt_arrow_ipc::IpcError>(())
//! ```
//!
//! # What it does not do
//! No dictionary encoding, unions, run-end encoding, view types (`Utf8View`, ...), compression
//! or big-endian data: such streams are refused as [`IpcError::Unsupported`] (cast views to
//! `Utf8`/`Binary` before sending). No streaming or partial input: a stream is decoded whole.
//! It never skips validation of guest data; only the `unsafe` [`decode_trusted`] does, for
//! bytes this process produced itself.
//!
//! # Measured
#![doc = include_str!("../../../docs/src/figures/arrow-ipc.md")]

mod contract;
mod error;
mod limits;
mod reader;
mod validate;
mod writer;

pub use contract::{conform, decode_scalar_result, decode_state_result, input_batch, scalar_result, state_result};
pub use error::IpcError;
pub use limits::{DEFAULT_MAX_DEPTH, Limits};
pub use reader::{Decoded, decode, decode_one, decode_trusted};
pub use writer::{Encoded, encode, encode_batches_into, encode_into, encode_parts};
