//! Aggregate functions (contract 0.2.0): the three whole-batch steps, the host's check of what
//! it sends, and the Extism flavour's envelope.

use std::sync::Arc;

use arrow_array::{Array, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, Field, Schema};
use plugrt_arrow_ipc::{Encoded, IpcError, Limits as IpcLimits, decode_scalar_result, decode_state_result};

use crate::{AggregateSignature, Description, Error};

/// One whole-batch step of an aggregate, for every group of the `states` batch at once.
///
/// Each step is one guest call in a fresh instance: the state of a group travels as Arrow
/// columns between steps, never inside the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    /// Folds argument rows into the states of their groups; answers the new states.
    Update,
    /// Folds partial states (from other accumulators) into the states of their groups;
    /// answers the new states.
    Merge,
    /// Turns each group's state into its result; answers one column of the return type.
    Finish,
}

impl AggregateOp {
    /// `update`, `merge` or `finish`, as the WIT enum names it.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Update => "update",
            AggregateOp::Merge => "merge",
            AggregateOp::Finish => "finish",
        }
    }

    /// Its number in the WIT enum `aggregate-op` and the Extism envelope: 0, 1, 2.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl std::fmt::Display for AggregateOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks what the host is about to send for one step of `signature` before any guest runs:
///
/// - `states` has one column per declared state field, of its type;
/// - for `update` and `merge`, `rows` is present, its first column is a UInt32 without nulls
///   whose every value is a row index of `states`, and the other columns are the arguments
///   (`update`) or the state fields (`merge`) by type;
/// - for `finish`, `rows` is absent.
///
/// The error says what is wrong; it does not name the plugin (the loader's error does).
pub(crate) fn check_aggregate(
    signature: &AggregateSignature,
    op: AggregateOp,
    states: &RecordBatch,
    rows: Option<&RecordBatch>,
) -> Result<(), String> {
    let state_types = || signature.state.iter().map(|f| f.data_type());
    check_types("states", states, state_types(), 0)?;
    let rows = match (op, rows) {
        (AggregateOp::Finish, None) => return Ok(()),
        (AggregateOp::Finish, Some(_)) => return Err("finish takes no rows".into()),
        (_, None) => return Err(format!("{op} needs rows (a group column, then values)")),
        (_, Some(rows)) => rows,
    };
    let values = match op {
        AggregateOp::Update => signature.args.len(),
        _ => signature.state.len(),
    };
    if rows.num_columns() != values + 1 {
        return Err(format!(
            "{op} rows must have a group column and {values} value column(s), got {} column(s)",
            rows.num_columns()
        ));
    }
    let groups = rows
        .column(0)
        .as_any()
        .downcast_ref::<UInt32Array>()
        .ok_or_else(|| format!("the group column must be UInt32, got {}", rows.column(0).data_type()))?;
    if groups.null_count() > 0 {
        return Err("the group column has nulls".into());
    }
    if let Some(bad) = groups.values().iter().find(|&&g| g as usize >= states.num_rows()) {
        return Err(format!("group {bad} is not a row of the {} state row(s)", states.num_rows()));
    }
    match op {
        AggregateOp::Update => check_types("rows", rows, signature.args.iter(), 1),
        _ => check_types("rows", rows, state_types(), 1),
    }
}

/// Checks that `batch` has `skip` leading columns and then one of each `declared` type.
fn check_types<'a>(
    what: &str,
    batch: &RecordBatch,
    declared: impl ExactSizeIterator<Item = &'a DataType>,
    skip: usize,
) -> Result<(), String> {
    if batch.num_columns() != declared.len() + skip {
        return Err(format!("{what} must have {} column(s), got {}", declared.len() + skip, batch.num_columns()));
    }
    for (i, (column, declared)) in batch.columns().iter().skip(skip).zip(declared).enumerate() {
        if !column.data_type().equals_datatype(declared) {
            return Err(format!("{what} column {} must be {declared}, got {}", i + skip, column.data_type()));
        }
    }
    Ok(())
}

/// A step both loaders have looked up and checked ([`start_aggregate`]): what it runs, and how
/// its errors are named.
#[derive(Debug)]
pub struct AggregateStep<'a> {
    /// The declared aggregate.
    pub signature: &'a AggregateSignature,
    /// What its errors name as the function: `AGGREGATE/OP` (`sum_i64/update`).
    pub label: String,
    /// The step.
    pub op: AggregateOp,
    plugin: &'a str,
}

impl AggregateStep<'_> {
    /// The caller's input could not be sent (an encoding failure): `Error::InvalidInput`.
    pub fn bad_input(&self, message: String) -> Error {
        Error::InvalidInput { plugin: self.plugin.to_owned(), function: self.label.clone(), message }
    }

    /// Decodes and checks the guest's answer for `groups` groups (the declared states for
    /// `update` and `merge`, one result column for `finish`); a broken answer is
    /// `Error::Contract`.
    pub fn decode(&self, bytes: impl Into<Buffer>, limits: &IpcLimits, groups: usize) -> Result<RecordBatch, Error> {
        decode_aggregate_output(bytes, limits, self.signature, self.op, groups).map_err(|source| Error::Contract {
            plugin: self.plugin.to_owned(),
            function: self.label.clone(),
            source,
        })
    }
}

/// How an aggregate step begins in a loader, before any instance is taken.
#[derive(Debug)]
pub enum AggregateStart<'a> {
    /// Run it in a guest.
    Run(AggregateStep<'a>),
    /// Nothing to run (zero groups): this is the answer.
    Answered(RecordBatch),
}

/// Looks aggregate `function` of `plugin` up in `description` and checks what the host sends,
/// as both loaders do first (see [`AggregateOp`] for the shapes): an unknown name is
/// `Error::UnknownFunction` (a scalar function's name too), a bad input `Error::InvalidInput`;
/// a step over zero groups is answered here, without a guest.
pub fn start_aggregate<'a>(
    description: &'a Description,
    plugin: &'a str,
    function: &str,
    op: AggregateOp,
    states: &RecordBatch,
    rows: Option<&RecordBatch>,
) -> Result<AggregateStart<'a>, Error> {
    let signature = description
        .aggregate(function)
        .ok_or_else(|| Error::UnknownFunction { plugin: plugin.to_owned(), function: function.to_owned() })?;
    let step = AggregateStep { signature, label: format!("{function}/{op}"), op, plugin };
    check_aggregate(signature, op, states, rows).map_err(|message| step.bad_input(message))?;
    if states.num_rows() == 0 {
        return Ok(AggregateStart::Answered(empty_aggregate_output(signature, op)));
    }
    Ok(AggregateStart::Run(step))
}

/// The schema of a `finish` step's answer: one nullable column `result` of the return type.
fn finish_schema(signature: &AggregateSignature) -> Arc<Schema> {
    Arc::new(Schema::new(vec![Field::new("result", signature.returns.clone(), true)]))
}

/// What a step over zero groups answers, without a guest call: no states, or no results.
fn empty_aggregate_output(signature: &AggregateSignature, op: AggregateOp) -> RecordBatch {
    match op {
        AggregateOp::Finish => RecordBatch::new_empty(finish_schema(signature)),
        _ => RecordBatch::new_empty(Arc::new(Schema::new(signature.state.clone()))),
    }
}

/// Decodes and checks a guest's answer to step `op` over `groups` groups (a stream of one
/// batch within `limits`): the declared states, or one result column, with `groups` rows.
fn decode_aggregate_output(
    bytes: impl Into<Buffer>,
    limits: &IpcLimits,
    signature: &AggregateSignature,
    op: AggregateOp,
    groups: usize,
) -> Result<RecordBatch, IpcError> {
    match op {
        AggregateOp::Finish => {
            let column = decode_scalar_result(bytes, limits, &signature.returns, groups)?;
            let options = RecordBatchOptions::new().with_row_count(Some(groups));
            RecordBatch::try_new_with_options(finish_schema(signature), vec![column], &options)
                .map_err(IpcError::Encode)
        }
        _ => decode_state_result(bytes, limits, &signature.state, groups),
    }
}

/// Writes the Extism flavour's `aggregate` input into `out` (cleared first), each stream
/// copied once, straight from its encoded parts: a head of four `u32` little-endian words (the
/// name's length, the operation's code, the states stream's length, the rows stream's length),
/// then the states stream, the rows stream (empty for `finish`) and the name. Both streams
/// start at offsets that are multiples of 8 (IPC stream lengths are), so a guest can decode
/// them in place.
///
/// # Panics
/// If the function name or a stream is 4 GiB or longer (names are at most 64 bytes; streams
/// are bounded by the plugin's memory limit first).
pub fn write_aggregate_envelope(
    function: &str,
    op: AggregateOp,
    states: &Encoded,
    rows: Option<&Encoded>,
    out: &mut Vec<u8>,
) {
    let word = |n: usize| u32::try_from(n).expect("names and streams are under 4 GiB").to_le_bytes();
    let rows_len = rows.map_or(0, Encoded::len);
    out.clear();
    out.reserve(16 + states.len() + rows_len + function.len());
    for head in [word(function.len()), word(op.code() as usize), word(states.len()), word(rows_len)] {
        out.extend_from_slice(&head);
    }
    states.append_to(out);
    if let Some(rows) = rows {
        rows.append_to(out);
    }
    out.extend_from_slice(function.as_bytes());
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array};
    use arrow_schema::{Field, Schema};

    use super::*;
    use crate::Volatility;

    fn avg() -> AggregateSignature {
        AggregateSignature {
            name: "avg".into(),
            args: vec![DataType::Float64],
            returns: DataType::Float64,
            state: vec![
                Arc::new(Field::new("sum", DataType::Float64, true)),
                Arc::new(Field::new("count", DataType::Int64, true)),
            ],
            volatility: Volatility::Immutable,
        }
    }

    fn batch(columns: Vec<ArrayRef>) -> RecordBatch {
        let fields: Vec<Field> =
            columns.iter().enumerate().map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true)).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn what_the_host_sends_is_checked_before_a_guest_runs() {
        let states =
            batch(vec![Arc::new(Float64Array::from(vec![None, None])), Arc::new(Int64Array::from(vec![None, None]))]);
        let rows = |groups: Vec<Option<u32>>| {
            let n = groups.len();
            batch(vec![Arc::new(UInt32Array::from(groups)), Arc::new(Float64Array::from(vec![1.0; n]))])
        };
        assert_eq!(check_aggregate(&avg(), AggregateOp::Update, &states, Some(&rows(vec![Some(0), Some(1)]))), Ok(()));
        assert_eq!(check_aggregate(&avg(), AggregateOp::Finish, &states, None), Ok(()));
        let cases = [
            (AggregateOp::Update, Some(rows(vec![Some(0), Some(2)])), "group 2 is not a row"),
            (AggregateOp::Update, Some(rows(vec![None])), "has nulls"),
            (AggregateOp::Update, None, "needs rows"),
            (AggregateOp::Finish, Some(rows(vec![Some(0)])), "takes no rows"),
            (AggregateOp::Merge, Some(rows(vec![Some(0)])), "2 value column(s)"),
        ];
        for (op, rows, needle) in cases {
            let err = check_aggregate(&avg(), op, &states, rows.as_ref()).unwrap_err();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
        let wrong_state = batch(vec![Arc::new(Float64Array::from(vec![None::<f64>]))]);
        let err = check_aggregate(&avg(), AggregateOp::Finish, &wrong_state, None).unwrap_err();
        assert!(err.contains("states must have 2 column(s)"), "{err}");
    }

    #[test]
    fn envelope_layout_is_four_words_then_states_rows_and_name() {
        let encoded =
            |batch: &RecordBatch| plugrt_arrow_ipc::encode_parts(&batch.schema(), std::slice::from_ref(batch)).unwrap();
        let states = batch(vec![Arc::new(Int64Array::from(vec![7]))]);
        let rows = batch(vec![Arc::new(Float64Array::from(vec![9.0, 9.5]))]);
        let (states_bytes, rows_bytes) =
            (plugrt_arrow_ipc::encode(&states).unwrap(), plugrt_arrow_ipc::encode(&rows).unwrap());
        let mut bytes = vec![1, 2, 3]; // cleared first
        write_aggregate_envelope("ab", AggregateOp::Merge, &encoded(&states), Some(&encoded(&rows)), &mut bytes);
        let word = |n: usize| (n as u32).to_le_bytes();
        let mut expected = [word(2), word(1), word(states_bytes.len()), word(rows_bytes.len())].concat();
        expected.extend(&states_bytes);
        expected.extend(&rows_bytes);
        expected.extend(*b"ab");
        assert_eq!(bytes, expected);
        assert_eq!(states_bytes.len() % 8, 0, "the rows stream starts 8-byte aligned too");
    }
}
