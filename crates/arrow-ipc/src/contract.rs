//! The scalar-call contract: one batch in whose columns are the arguments, one column out of
//! the declared type with the same number of rows.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, Field, FieldRef, Schema};

use crate::{IpcError, Limits, decode_one};

/// Builds a scalar call's input batch: one nullable column per argument, named `arg0`,
/// `arg1`, ... Every argument must have `rows` rows; a function without arguments gets a
/// batch with no columns and `rows` rows.
pub fn input_batch(args: &[ArrayRef], rows: usize) -> Result<RecordBatch, IpcError> {
    if let Some(bad) = args.iter().find(|a| a.len() != rows) {
        return Err(IpcError::RowCount { expected: rows, found: bad.len() });
    }
    let fields: Vec<Field> =
        args.iter().enumerate().map(|(i, a)| Field::new(format!("arg{i}"), a.data_type().clone(), true)).collect();
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), args.to_vec(), &options).map_err(IpcError::Encode)
}

/// Checks a scalar call's output batch and returns its one column.
///
/// The column must be of `declared` type, compared with [`DataType::equals_datatype`]
/// (nested field names may differ, nested nullability may not); it may contain nulls whatever
/// the field says. It must have exactly `input_rows` rows.
pub fn scalar_result(batch: &RecordBatch, declared: &DataType, input_rows: usize) -> Result<ArrayRef, IpcError> {
    if batch.num_columns() != 1 {
        return Err(IpcError::SchemaMismatch {
            expected: "exactly one output column".into(),
            found: format!("{} columns", batch.num_columns()),
        });
    }
    let column = batch.column(0);
    if !column.data_type().equals_datatype(declared) {
        return Err(IpcError::SchemaMismatch { expected: declared.to_string(), found: column.data_type().to_string() });
    }
    if column.len() != input_rows {
        return Err(IpcError::RowCount { expected: input_rows, found: column.len() });
    }
    Ok(column.clone())
}

/// Decodes a scalar call's output stream (exactly one batch, within `limits`) and checks it
/// with [`scalar_result`].
pub fn decode_scalar_result(
    bytes: impl Into<Buffer>,
    limits: &Limits,
    declared: &DataType,
    input_rows: usize,
) -> Result<ArrayRef, IpcError> {
    scalar_result(&decode_one(bytes, limits)?, declared, input_rows)
}

/// Checks an aggregate step's output states (`update`, `merge`): one column per declared state
/// field, each of its declared type (compared as [`scalar_result`] compares), exactly `groups`
/// rows. Returns the batch under the declared schema (the guest's column names do not count;
/// every state field is nullable, so any nulls are allowed).
pub fn state_result(batch: &RecordBatch, declared: &[FieldRef], groups: usize) -> Result<RecordBatch, IpcError> {
    if batch.num_columns() != declared.len() {
        return Err(IpcError::SchemaMismatch {
            expected: format!("{} state column(s)", declared.len()),
            found: format!("{} columns", batch.num_columns()),
        });
    }
    for (column, field) in batch.columns().iter().zip(declared) {
        if !column.data_type().equals_datatype(field.data_type()) {
            return Err(IpcError::SchemaMismatch {
                expected: format!("state field `{}` of type {}", field.name(), field.data_type()),
                found: column.data_type().to_string(),
            });
        }
    }
    if batch.num_rows() != groups {
        return Err(IpcError::RowCount { expected: groups, found: batch.num_rows() });
    }
    let schema = Arc::new(Schema::new(declared.to_vec()));
    let options = RecordBatchOptions::new().with_row_count(Some(groups));
    RecordBatch::try_new_with_options(schema, batch.columns().to_vec(), &options).map_err(IpcError::Encode)
}

/// Decodes an aggregate step's output stream (exactly one batch, within `limits`) and checks it
/// with [`state_result`].
pub fn decode_state_result(
    bytes: impl Into<Buffer>,
    limits: &Limits,
    declared: &[FieldRef],
    groups: usize,
) -> Result<RecordBatch, IpcError> {
    state_result(&decode_one(bytes, limits)?, declared, groups)
}
