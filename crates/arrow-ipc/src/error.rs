//! The crate's error type.

use arrow_schema::ArrowError;

/// Why bytes could not be encoded or decoded, or why a decoded batch breaks the scalar-call
/// contract. Decoding errors name what was wrong and where (byte offsets into the stream).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IpcError {
    /// The stream ends before something it announced (a length prefix, metadata, a body, or
    /// the end-of-stream marker).
    #[error("truncated IPC stream: {what} at byte {offset} needs {needed} bytes, {available} present")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes it claims.
        needed: u64,
        /// Bytes left in the input.
        available: u64,
    },
    /// A message's flatbuffer metadata failed verification.
    #[error("bad flatbuffer in IPC message at byte {offset}: {message}")]
    BadFlatbuffer {
        /// Where the metadata starts.
        offset: usize,
        /// The verifier's complaint.
        message: String,
    },
    /// The stream is well-formed flatbuffers but says something impossible (negative lengths,
    /// a buffer outside its body, a batch before the schema, bytes after the end marker, ...).
    #[error("malformed IPC stream at byte {offset}: {message}")]
    Malformed {
        /// Where the offending message starts.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// A configured [`Limits`](crate::Limits) ceiling was exceeded.
    #[error("IPC limit exceeded: {limit} is {value}, the limit is {max}")]
    LimitExceeded {
        /// Which limit (`bytes`, `batches`, `rows`, `columns`, `fields`, `depth`, `values`).
        limit: &'static str,
        /// The ceiling.
        max: u64,
        /// The value found.
        value: u64,
    },
    /// Valid Arrow IPC that this crate does not accept (dictionaries, unions, views,
    /// compression, big-endian data, metadata versions before V4).
    #[error("unsupported in plugrt IPC: {what}")]
    Unsupported {
        /// What was found.
        what: String,
    },
    /// arrow-rs rejected the data while decoding or validating it (bad offsets, invalid UTF-8,
    /// buffers too short for their arrays, ...).
    #[error("invalid Arrow data: {0}")]
    Arrow(#[source] ArrowError),
    /// arrow-rs failed to encode a batch.
    #[error("cannot encode batch: {0}")]
    Encode(#[source] ArrowError),
    /// The stream holds a different number of batches than the caller needs.
    #[error("expected exactly one record batch, the stream has {found}")]
    NotOneBatch {
        /// Batches in the stream.
        found: usize,
    },
    /// Batches or output columns do not have the schema or type that was declared.
    #[error("schema mismatch: expected {expected}, found {found}")]
    SchemaMismatch {
        /// What was declared.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A scalar call's output has the wrong number of rows.
    #[error("row count mismatch: the input has {expected} rows, the output {found}")]
    RowCount {
        /// Input rows.
        expected: usize,
        /// Output rows.
        found: usize,
    },
    /// arrow-rs panicked on input that passed this crate's checks. Always a bug in this crate
    /// (a check is missing); reported instead of unwinding into the host.
    #[error("internal error: arrow-rs panicked while decoding validated input: {0}")]
    Internal(String),
}

impl IpcError {
    pub(crate) fn malformed(offset: usize, message: impl Into<String>) -> Self {
        IpcError::Malformed { offset, message: message.into() }
    }

    pub(crate) fn unsupported(what: impl Into<String>) -> Self {
        IpcError::Unsupported { what: what.into() }
    }

    pub(crate) fn limit(limit: &'static str, max: usize, value: u64) -> Self {
        IpcError::LimitExceeded { limit, max: max as u64, value }
    }
}
