//! Ceilings applied to every decoded stream.

/// [`Limits::max_depth`]'s default: the deepest type a stream may carry. The contract's
/// declared types are bounded by the same number (`plugrt_contract::types::MAX_TYPE_DEPTH`).
pub const DEFAULT_MAX_DEPTH: usize = 16;

/// Ceilings for decoding. Always on: there is no way to decode without limits, only to raise
/// them. Defaults are sized for one UDF call's output; see each field.
///
/// Independently of these, no length in a stream may exceed the bytes actually present:
/// nothing is allocated or sliced on a header's word alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total stream size in bytes. Default 64 MiB.
    pub max_bytes: usize,
    /// Record batches in the stream. Default 64.
    pub max_batches: usize,
    /// Rows summed over all batches. Default 16 Mi (16,777,216).
    pub max_rows: usize,
    /// Top-level columns. Default 256.
    pub max_columns: usize,
    /// Fields counted through nesting (a struct of 3 fields counts 4). Default 1024.
    pub max_fields: usize,
    /// Nesting depth of types (a primitive column is depth 1, a list of it 2). Default 16.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 64 << 20,
            max_batches: 64,
            max_rows: 16 << 20,
            max_columns: 256,
            max_fields: 1024,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl Limits {
    /// The most values one array (including nested children) may claim: `max_rows` or 8 values
    /// per byte of input, whichever is larger. Arrays whose values take space are bounded by
    /// their buffers anyway; this bounds the ones that take none (the `Null` type).
    pub(crate) fn max_values(&self) -> usize {
        self.max_rows.max(self.max_bytes.saturating_mul(8))
    }
}
