//! Every limit is enforced and reports the limit and the value.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, ListArray, RecordBatch, types::Int64Type};
use plugrt_arrow_ipc::{IpcError, Limits, decode, encode, encode_batches_into};

use crate::batches::int64_batch;

fn limit_err(bytes: Vec<u8>, limits: Limits) -> (&'static str, u64, u64) {
    match decode(bytes, &limits) {
        Err(IpcError::LimitExceeded { limit, max, value }) => (limit, max, value),
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn bytes() {
    let bytes = encode(&int64_batch(&[Some(1); 100])).unwrap();
    let len = bytes.len() as u64;
    assert_eq!(limit_err(bytes, Limits { max_bytes: 100, ..Limits::default() }), ("bytes", 100, len));
}

#[test]
fn rows_per_batch_and_in_total() {
    let b = int64_batch(&[Some(1); 10]);
    let bytes = encode(&b).unwrap();
    assert_eq!(limit_err(bytes, Limits { max_rows: 9, ..Limits::default() }), ("rows", 9, 10));
    let mut three = Vec::new();
    encode_batches_into(&b.schema(), &[b.clone(), b.clone(), b.clone()], &mut three).unwrap();
    assert_eq!(limit_err(three, Limits { max_rows: 25, ..Limits::default() }), ("rows", 25, 30));
}

#[test]
fn batches() {
    let b = int64_batch(&[Some(1)]);
    let mut bytes = Vec::new();
    encode_batches_into(&b.schema(), &vec![b.clone(); 5], &mut bytes).unwrap();
    assert_eq!(limit_err(bytes, Limits { max_batches: 4, ..Limits::default() }), ("batches", 4, 5));
}

#[test]
fn columns_fields_and_depth() {
    let col: ArrayRef = Arc::new(Int64Array::from(vec![1]));
    let wide = RecordBatch::try_from_iter((0..5).map(|i| (format!("c{i}"), col.clone()))).unwrap();
    assert_eq!(limit_err(encode(&wide).unwrap(), Limits { max_columns: 4, ..Limits::default() }), ("columns", 4, 5));
    assert_eq!(limit_err(encode(&wide).unwrap(), Limits { max_fields: 3, ..Limits::default() }), ("fields", 3, 4));

    let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)])]));
    let nested = RecordBatch::try_from_iter([("l", list)]).unwrap();
    assert_eq!(limit_err(encode(&nested).unwrap(), Limits { max_depth: 1, ..Limits::default() }), ("depth", 1, 2));
    assert!(decode(encode(&nested).unwrap(), &Limits { max_depth: 2, ..Limits::default() }).is_ok());
}

#[test]
fn the_limits_in_the_message() {
    let e = decode(encode(&int64_batch(&[Some(1); 10])).unwrap(), &Limits { max_rows: 9, ..Limits::default() })
        .unwrap_err();
    assert_eq!(e.to_string(), "IPC limit exceeded: rows is 10, the limit is 9");
}
