//! Valid streams: round trips, batch counts, zero-copy decoding, reusable output buffers.

use std::sync::Arc;

use arrow_array::{Array, Int64Array, RecordBatch};
use arrow_buffer::Buffer;
use arrow_schema::Schema;
use plugrt_arrow_ipc::{
    IpcError, Limits, decode, decode_one, decode_trusted, encode, encode_batches_into, encode_parts,
};

use crate::batches::{Rng, batch, int64_batch};

#[test]
fn one_batch_round_trips() {
    let input = int64_batch(&[Some(1), None, Some(i64::MIN), Some(i64::MAX)]);
    let back = decode_one(encode(&input).unwrap(), &Limits::default()).unwrap();
    assert_eq!(back, input);
}

#[test]
fn empty_one_and_several_batches_are_told_apart() {
    let b = int64_batch(&[Some(7)]);
    let schema = b.schema();
    for n in 0..4 {
        let mut bytes = Vec::new();
        encode_batches_into(&schema, &vec![b.clone(); n], &mut bytes).unwrap();
        let decoded = decode(bytes.clone(), &Limits::default()).unwrap();
        assert_eq!(decoded.batches.len(), n);
        assert_eq!(decoded.num_rows(), n);
        assert_eq!(decoded.schema.as_ref(), schema.as_ref());
        match decode_one(bytes, &Limits::default()) {
            Ok(one) => assert_eq!((n, one), (1, b.clone())),
            Err(IpcError::NotOneBatch { found }) => assert_eq!(found, n),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn primitive_columns_point_into_the_input() {
    let values: Vec<i64> = (0..10_000).collect();
    let bytes = Buffer::from_vec(encode(&int64_batch(&values.iter().copied().map(Some).collect::<Vec<_>>())).unwrap());
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    let batch = decode_one(bytes.clone(), &Limits::default()).unwrap();
    let column = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    let data = column.values().inner().as_ptr() as usize;
    assert!(range.contains(&data), "the Int64 values were copied out of the input buffer");
    assert_eq!(column.values().as_ref(), values.as_slice());
}

#[test]
fn output_buffers_are_reused_and_exactly_sized() {
    let mut rng = Rng::new(3);
    let mut out = Vec::new();
    for _ in 0..20 {
        let b = batch(&mut rng);
        let parts = encode_parts(b.schema_ref(), std::slice::from_ref(&b)).unwrap();
        encode_batches_into(b.schema_ref(), std::slice::from_ref(&b), &mut out).unwrap();
        assert_eq!(out.len(), parts.len());
        let mut copied = vec![0; parts.len()];
        parts.copy_to(&mut copied);
        assert_eq!(copied, out);
        assert_eq!(decode_one(out.clone(), &Limits::default()).unwrap(), b);
    }
}

#[test]
fn batches_must_match_the_stream_schema() {
    let a = int64_batch(&[Some(1)]);
    let other = Arc::new(Schema::new(vec![arrow_schema::Field::new("w", arrow_schema::DataType::Utf8, true)]));
    let err = encode_parts(&other, &[a]).unwrap_err();
    assert!(matches!(err, IpcError::SchemaMismatch { .. }), "{err}");
}

#[test]
#[allow(unsafe_code)]
fn trusted_decoding_gives_the_same_batches() {
    let mut rng = Rng::new(11);
    for _ in 0..20 {
        let b: RecordBatch = batch(&mut rng);
        let bytes = encode(&b).unwrap();
        // SAFETY: these bytes were just produced by `encode` from valid arrays.
        let decoded = unsafe { decode_trusted(bytes, &Limits::default()) }.unwrap();
        assert_eq!(decoded.into_one().unwrap(), b);
    }
}
