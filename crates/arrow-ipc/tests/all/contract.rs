//! The scalar-call contract: input batches, and the checks on a call's output.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use plugrt_arrow_ipc::{IpcError, Limits, decode_scalar_result, encode, input_batch, scalar_result};

fn ints(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

#[test]
fn input_batches_name_arguments_in_order() {
    let b = input_batch(&[ints(&[1, 2]), Arc::new(StringArray::from(vec!["a", "b"]))], 2).unwrap();
    let names: Vec<_> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["arg0", "arg1"]);
    assert!(b.schema().fields().iter().all(|f| f.is_nullable()));
    let none = input_batch(&[], 5).unwrap();
    assert_eq!((none.num_columns(), none.num_rows()), (0, 5));
    assert!(matches!(input_batch(&[ints(&[1])], 2), Err(IpcError::RowCount { expected: 2, found: 1 })));
}

#[test]
fn a_conforming_output_gives_its_column() {
    let out = RecordBatch::try_from_iter([("r", ints(&[2, 3]))]).unwrap();
    let col = decode_scalar_result(encode(&out).unwrap(), &Limits::default(), &DataType::Int64, 2).unwrap();
    assert_eq!(col.as_ref(), ints(&[2, 3]).as_ref());
}

#[test]
fn wrong_type_rows_or_columns_are_named() {
    let out = RecordBatch::try_from_iter([("r", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef)]).unwrap();
    let e = scalar_result(&out, &DataType::Int64, 2).unwrap_err();
    assert_eq!(e.to_string(), "schema mismatch: expected Int64, found Int32");

    let out = RecordBatch::try_from_iter([("r", ints(&[1, 2, 3]))]).unwrap();
    assert!(matches!(scalar_result(&out, &DataType::Int64, 2), Err(IpcError::RowCount { expected: 2, found: 3 })));

    let two = RecordBatch::try_from_iter([("a", ints(&[1])), ("b", ints(&[1]))]).unwrap();
    let e = scalar_result(&two, &DataType::Int64, 1).unwrap_err();
    assert!(e.to_string().contains("exactly one output column"), "{e}");
}

#[test]
fn an_output_stream_with_two_batches_is_refused() {
    let out = RecordBatch::try_from_iter([("r", ints(&[1]))]).unwrap();
    let mut bytes = Vec::new();
    plugrt_arrow_ipc::encode_batches_into(&out.schema(), &[out.clone(), out.clone()], &mut bytes).unwrap();
    let e = decode_scalar_result(bytes, &Limits::default(), &DataType::Int64, 1).unwrap_err();
    assert!(matches!(e, IpcError::NotOneBatch { found: 2 }), "{e}");
}
