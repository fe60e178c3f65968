//! The scalar-call contract: one batch in whose columns are the arguments, one column out of
//! the declared type with the same number of rows.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, Field, Schema};

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
