//! Encoding record batches into IPC stream bytes with one copy of the data.
//!
//! arrow-ipc's sans-IO `StreamEncoder` describes a stream as a list of buffers: small
//! metadata pieces plus the arrays' own buffers, shared rather than copied. Summing their
//! lengths gives the exact stream size, so the output is allocated once and every byte of
//! array data is copied exactly once.

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::writer::StreamEncoder;
use arrow_schema::Schema;

use crate::IpcError;

/// An encoded stream not yet copied into one buffer: the pieces, in order.
///
/// Useful when the destination is not a `Vec` (for instance a guest's linear memory): size
/// it with [`len`](Encoded::len), then [`copy_to`](Encoded::copy_to).
#[derive(Debug, Clone)]
pub struct Encoded {
    parts: Vec<Buffer>,
    len: usize,
}

impl Encoded {
    /// Total stream size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the stream is empty (never: a stream has at least a schema and an end marker).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the stream into `dst`, which must be exactly [`len`](Encoded::len) bytes.
    ///
    /// # Panics
    /// If `dst.len() != self.len()` (a caller bug, not an input problem).
    pub fn copy_to(&self, dst: &mut [u8]) {
        assert_eq!(dst.len(), self.len, "Encoded::copy_to: destination has the wrong size");
        let mut at = 0;
        for part in &self.parts {
            dst[at..at + part.len()].copy_from_slice(part.as_slice());
            at += part.len();
        }
    }

    /// Appends the stream to `out`, reserving its exact size first.
    pub fn append_to(&self, out: &mut Vec<u8>) {
        out.reserve_exact(self.len);
        for part in &self.parts {
            out.extend_from_slice(part.as_slice());
        }
    }
}

/// Describes the IPC stream of `batches` (all with `schema`), without copying array data.
/// An empty `batches` gives a stream with the schema and no batch.
pub fn encode_parts(schema: &Schema, batches: &[RecordBatch]) -> Result<Encoded, IpcError> {
    let mut encoder = StreamEncoder::try_new(schema).map_err(IpcError::Encode)?;
    let mut parts = Vec::with_capacity(4 + 4 * batches.len());
    for batch in batches {
        if batch.schema_ref().fields() != schema.fields() {
            return Err(IpcError::SchemaMismatch {
                expected: format!("{:?}", schema.fields()),
                found: format!("{:?}", batch.schema_ref().fields()),
            });
        }
        parts.extend(encoder.encode(batch).map_err(IpcError::Encode)?);
    }
    parts.extend(encoder.finish().map_err(IpcError::Encode)?);
    let len = parts.iter().map(Buffer::len).sum();
    Ok(Encoded { parts, len })
}

/// Encodes one batch as a complete stream into `out`, replacing its contents. Reusing `out`
/// across calls avoids both reallocation and first-touch page faults.
pub fn encode_into(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), IpcError> {
    encode_batches_into(batch.schema_ref(), std::slice::from_ref(batch), out)
}

/// Encodes `batches` (all with `schema`) as one stream into `out`, replacing its contents.
pub fn encode_batches_into(schema: &Schema, batches: &[RecordBatch], out: &mut Vec<u8>) -> Result<(), IpcError> {
    let encoded = encode_parts(schema, batches)?;
    out.clear();
    encoded.append_to(out);
    Ok(())
}

/// Encodes one batch as a complete stream into a new, exactly sized `Vec`.
pub fn encode(batch: &RecordBatch) -> Result<Vec<u8>, IpcError> {
    let mut out = Vec::new();
    encode_into(batch, &mut out)?;
    Ok(out)
}
