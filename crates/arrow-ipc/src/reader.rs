//! Decoding IPC streams the host received, after [`validate`](crate::validate) vouched for
//! their structure.

use std::panic::{AssertUnwindSafe, catch_unwind};

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_schema::SchemaRef;

use crate::validate::check_stream;
use crate::{IpcError, Limits};

/// A decoded stream: its schema and every batch, in order. A stream may legitimately hold no
/// batch (`batches` empty), one, or several; [`into_one`](Decoded::into_one) insists on one.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The stream's schema.
    pub schema: SchemaRef,
    /// The batches. Primitive columns point into the input buffer (no copy) when aligned.
    pub batches: Vec<RecordBatch>,
}

impl Decoded {
    /// The only batch, or [`IpcError::NotOneBatch`] for an empty or multi-batch stream.
    pub fn into_one(mut self) -> Result<RecordBatch, IpcError> {
        match self.batches.len() {
            1 => Ok(self.batches.pop().expect("one batch")),
            found => Err(IpcError::NotOneBatch { found }),
        }
    }

    /// Total rows over all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Decodes a complete stream (schema, batches, end-of-stream marker) held in `bytes`,
/// enforcing `limits` and validating all array data.
///
/// `bytes` is taken as an arrow [`Buffer`] (a `Vec<u8>` converts without copying); decoded
/// arrays share it instead of copying it. Nothing is allocated on the word of a length field:
/// every length is checked against the bytes present first. Dictionary-encoded fields,
/// unions, run-end encoding, view types, compression and big-endian streams are refused with
/// [`IpcError::Unsupported`]. It does not accept a partial stream to resume later.
pub fn decode(bytes: impl Into<Buffer>, limits: &Limits) -> Result<Decoded, IpcError> {
    decode_with(bytes.into(), limits, StreamDecoder::new())
}

/// [`decode`], then [`Decoded::into_one`].
pub fn decode_one(bytes: impl Into<Buffer>, limits: &Limits) -> Result<RecordBatch, IpcError> {
    decode(bytes, limits)?.into_one()
}

/// Like [`decode`], but skips arrow-rs's validation of array contents (offsets within bounds,
/// UTF-8 validity, null counts). Framing, types and limits are still checked.
///
/// # Safety
/// `bytes` must be a stream whose array data is valid Arrow, for example one this process
/// produced with [`encode`](crate::encode). Invalid data decoded this way leads to undefined
/// behaviour when the arrays are read. Never use it on guest output.
#[allow(unsafe_code)]
pub unsafe fn decode_trusted(bytes: impl Into<Buffer>, limits: &Limits) -> Result<Decoded, IpcError> {
    // SAFETY: the caller guarantees the array data is valid (see the function's contract).
    let decoder = unsafe { StreamDecoder::new().with_skip_validation(true) };
    decode_with(bytes.into(), limits, decoder)
}

fn decode_with(mut buffer: Buffer, limits: &Limits, mut decoder: StreamDecoder) -> Result<Decoded, IpcError> {
    let shape = check_stream(buffer.as_slice(), limits)?;
    let mut batches = Vec::with_capacity(shape.batches);
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        while let Some(batch) = decoder.decode(&mut buffer)? {
            batches.push(batch);
        }
        decoder.finish()?;
        Ok(decoder.schema())
    }));
    match decoded {
        Ok(Ok(Some(schema))) => Ok(Decoded { schema, batches }),
        Ok(Ok(None)) => Err(IpcError::Internal("validated stream decoded without a schema".into())),
        Ok(Err(e)) => Err(IpcError::Arrow(e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            tracing::error!(panic = what, "arrow-rs panicked on a validated IPC stream");
            Err(IpcError::Internal(what.to_owned()))
        }
    }
}
