//! The scalar-call contract: one batch in whose columns are the arguments, one column out of
//! the declared type with the same number of rows.

use std::sync::Arc;

use arrow_array::types::{Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type, DecimalType};
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch, RecordBatchOptions, make_array};
use arrow_buffer::Buffer;
use arrow_data::ArrayData;
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
/// the field says. It must have exactly `input_rows` rows. It is returned as the declared
/// type ([`conform`]): the guest's nested field names and metadata are dropped, and decimals
/// must fit their declared precision.
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
    conform(column, declared)
}

/// `column`, whose type [`DataType::equals_datatype`] the declared one, as exactly the
/// declared type: nested fields take the declared names, nullability and metadata (the guest's
/// are dropped), and every decimal value, nested ones included, must fit its declared
/// precision. Rebuilding the array validates it again, which only a column whose type differs
/// from the declared one in names or metadata pays for.
pub fn conform(column: &ArrayRef, declared: &DataType) -> Result<ArrayRef, IpcError> {
    // Every call's answer goes through here: the usual one, exactly typed and without
    // decimals, is handed back without a look at its data.
    if column.data_type() == declared && !has_decimals(declared) {
        return Ok(column.clone());
    }
    let data = column.to_data();
    check_decimals(&data)?;
    if column.data_type() == declared {
        return Ok(column.clone());
    }
    Ok(make_array(retype(data, declared)?))
}

/// `data` as `declared`, its children retyped the same way (the nesting is the IPC
/// validator's bounded depth).
fn retype(data: ArrayData, declared: &DataType) -> Result<ArrayData, IpcError> {
    if data.data_type() == declared {
        return Ok(data);
    }
    let child_types: Vec<&DataType> = match declared {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) | DataType::Map(f, _) => {
            vec![f.data_type()]
        }
        DataType::Struct(fields) => fields.iter().map(|f| f.data_type()).collect(),
        _ => Vec::new(),
    };
    if child_types.len() != data.child_data().len() {
        return Err(IpcError::SchemaMismatch { expected: declared.to_string(), found: data.data_type().to_string() });
    }
    let children = data
        .child_data()
        .iter()
        .zip(child_types)
        .map(|(child, ty)| retype(child.clone(), ty))
        .collect::<Result<Vec<_>, _>>()?;
    data.into_builder().data_type(declared.clone()).child_data(children).build().map_err(IpcError::Arrow)
}

/// Whether `data_type` holds decimals anywhere (its nesting is bounded by the validator).
fn has_decimals(data_type: &DataType) -> bool {
    match data_type {
        DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => true,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) | DataType::Map(f, _) => {
            has_decimals(f.data_type())
        }
        DataType::Struct(fields) => fields.iter().any(|f| has_decimals(f.data_type())),
        _ => false,
    }
}

/// Fails if a decimal value anywhere in `data` has more digits than its type's precision.
fn check_decimals(data: &ArrayData) -> Result<(), IpcError> {
    let fits = match data.data_type() {
        DataType::Decimal32(p, _) => decimals_fit::<Decimal32Type>(data, *p),
        DataType::Decimal64(p, _) => decimals_fit::<Decimal64Type>(data, *p),
        DataType::Decimal128(p, _) => decimals_fit::<Decimal128Type>(data, *p),
        DataType::Decimal256(p, _) => decimals_fit::<Decimal256Type>(data, *p),
        _ => true,
    };
    if !fits {
        return Err(IpcError::SchemaMismatch {
            expected: format!("values of {} within its precision", data.data_type()),
            found: "a value with more digits".into(),
        });
    }
    data.child_data().iter().try_for_each(check_decimals)
}

fn decimals_fit<T: DecimalType>(data: &ArrayData, precision: u8) -> bool {
    let array = PrimitiveArray::<T>::from(data.clone());
    array.iter().all(|v| v.is_none_or(|v| T::is_valid_decimal_precision(v, precision)))
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
    let columns =
        batch.columns().iter().zip(declared).map(|(c, f)| conform(c, f.data_type())).collect::<Result<Vec<_>, _>>()?;
    let schema = Arc::new(Schema::new(declared.to_vec()));
    let options = RecordBatchOptions::new().with_row_count(Some(groups));
    RecordBatch::try_new_with_options(schema, columns, &options).map_err(IpcError::Encode)
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Decimal128Array, Int64Array, ListArray, StructArray};
    use std::collections::HashMap;

    #[test]
    fn nested_names_and_metadata_become_the_declared_ones() {
        let guest_field = Field::new("guest-name", DataType::Int64, true)
            .with_metadata(HashMap::from([("guest".to_owned(), "was here".to_owned())]));
        let values: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
        let list: ArrayRef = Arc::new(ListArray::new(
            Arc::new(guest_field.clone()),
            arrow_buffer::OffsetBuffer::from_lengths([1, 2]),
            values.clone(),
            None,
        ));
        let declared = DataType::List(Arc::new(Field::new("item", DataType::Int64, true)));
        let out = conform(&list, &declared).unwrap();
        assert_eq!(out.data_type(), &declared);
        assert_eq!(out.len(), 2);
        let strukt: ArrayRef = Arc::new(StructArray::new(vec![guest_field].into(), vec![values], None));
        let declared = DataType::Struct(vec![Field::new("x", DataType::Int64, true)].into());
        assert_eq!(conform(&strukt, &declared).unwrap().data_type(), &declared);
    }

    #[test]
    fn decimals_must_fit_their_precision() {
        let fits: ArrayRef =
            Arc::new(Decimal128Array::from(vec![Some(99_999), None]).with_precision_and_scale(5, 2).unwrap());
        conform(&fits, fits.data_type()).unwrap();
        // Nulls do not count, whatever their slot holds.
        let too_big: ArrayRef =
            Arc::new(Decimal128Array::from(vec![Some(100_000)]).with_precision_and_scale(5, 2).unwrap());
        let err = conform(&too_big, too_big.data_type()).unwrap_err();
        assert!(err.to_string().contains("within its precision"), "{err}");
        // Nested too: a list of them.
        let list: ArrayRef = Arc::new(ListArray::new(
            Arc::new(Field::new("item", too_big.data_type().clone(), true)),
            arrow_buffer::OffsetBuffer::from_lengths([1]),
            too_big,
            None,
        ));
        let err = conform(&list, list.data_type()).unwrap_err();
        assert!(err.to_string().contains("within its precision"), "{err}");
    }
}
