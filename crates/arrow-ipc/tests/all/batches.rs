//! Deterministic random record batches covering the supported types, nulls and slicing.

use std::sync::Arc;

use arrow_array::builder::{Int32Builder, ListBuilder, MapBuilder, StringBuilder};
use arrow_array::*;
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{Field, Fields, Schema};

/// xorshift64*: tiny, deterministic, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn nulls(rng: &mut Rng, len: usize) -> Option<NullBuffer> {
    rng.chance(50).then(|| NullBuffer::from_iter((0..len).map(|_| !rng.chance(20))))
}

fn strings(rng: &mut Rng, len: usize) -> Vec<Option<String>> {
    (0..len)
        .map(|_| {
            (!rng.chance(15)).then(|| {
                let n = rng.below(12);
                (0..n).map(|_| ['a', 'Z', '7', 'é', '字', ' '][rng.below(6)]).collect()
            })
        })
        .collect()
}

/// A random array of `len` rows; `depth` stops nesting.
pub fn array(rng: &mut Rng, len: usize, depth: usize) -> ArrayRef {
    let kinds = if depth >= 2 { 12 } else { 17 };
    match rng.below(kinds) {
        0 => Arc::new(Int64Array::new((0..len).map(|_| rng.next() as i64).collect(), nulls(rng, len))),
        1 => Arc::new(Int32Array::new((0..len).map(|_| rng.next() as i32).collect(), nulls(rng, len))),
        2 => Arc::new(UInt8Array::new((0..len).map(|_| rng.next() as u8).collect(), nulls(rng, len))),
        3 => Arc::new(Float64Array::new((0..len).map(|_| rng.next() as f64 / 7.0).collect(), nulls(rng, len))),
        4 => Arc::new(Float32Array::new((0..len).map(|_| rng.next() as f32).collect(), nulls(rng, len))),
        5 => Arc::new(BooleanArray::new((0..len).map(|_| rng.chance(50)).collect(), nulls(rng, len))),
        6 => Arc::new(StringArray::from(strings(rng, len))),
        7 => Arc::new(LargeStringArray::from(strings(rng, len))),
        8 => Arc::new(BinaryArray::from_iter(strings(rng, len).iter().map(|s| s.as_ref().map(|s| s.as_bytes())))),
        9 => Arc::new(
            TimestampMicrosecondArray::new((0..len).map(|_| rng.next() as i64 >> 8).collect(), nulls(rng, len))
                .with_timezone("+02:00"),
        ),
        10 => Arc::new(
            Decimal128Array::new((0..len).map(|_| (rng.next() % 1_000_000_000) as i128).collect(), nulls(rng, len))
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
        11 => Arc::new(Date32Array::new((0..len).map(|_| rng.next() as i32 >> 12).collect(), nulls(rng, len))),
        12 => {
            let mut b = ListBuilder::new(Int32Builder::new());
            for _ in 0..len {
                if rng.chance(15) {
                    b.append_null();
                } else {
                    for _ in 0..rng.below(5) {
                        b.values().append_option((!rng.chance(10)).then(|| rng.next() as i32));
                    }
                    b.append(true);
                }
            }
            Arc::new(b.finish())
        }
        13 => {
            let a = array(rng, len, depth + 1);
            let b = array(rng, len, depth + 1);
            let fields = Fields::from(vec![
                Field::new("a", a.data_type().clone(), true),
                Field::new("b", b.data_type().clone(), true),
            ]);
            Arc::new(StructArray::new(fields, vec![a, b], nulls(rng, len)))
        }
        14 => {
            let values = array(rng, len * 3, depth + 1);
            let field = Arc::new(Field::new("item", values.data_type().clone(), true));
            Arc::new(FixedSizeListArray::new(field, 3, values, nulls(rng, len)))
        }
        15 => {
            let mut lens = Vec::with_capacity(len);
            for _ in 0..len {
                lens.push(rng.below(4));
            }
            let values = array(rng, lens.iter().sum(), depth + 1);
            let field = Arc::new(Field::new("item", values.data_type().clone(), true));
            Arc::new(LargeListArray::new(field, OffsetBuffer::from_lengths(lens), values, nulls(rng, len)))
        }
        _ => {
            let mut b = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
            for _ in 0..len {
                for k in 0..rng.below(3) {
                    b.keys().append_value(format!("k{k}"));
                    b.values().append_option((!rng.chance(20)).then(|| rng.next() as i32));
                }
                b.append(!rng.chance(10)).unwrap();
            }
            Arc::new(b.finish())
        }
    }
}

/// A random batch of 1..=4 columns and 0..200 rows, sometimes a slice of a larger one.
pub fn batch(rng: &mut Rng) -> RecordBatch {
    let columns = 1 + rng.below(4);
    let len = rng.below(200);
    let extra = if rng.chance(30) { rng.below(20) } else { 0 };
    let arrays: Vec<ArrayRef> = (0..columns).map(|_| array(rng, len + extra, 0)).collect();
    let fields: Vec<Field> =
        arrays.iter().enumerate().map(|(i, a)| Field::new(format!("c{i}"), a.data_type().clone(), true)).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    if extra > 0 { batch.slice(rng.below(extra + 1), len) } else { batch }
}

/// A batch of one Int64 column, for tests that need a known shape.
pub fn int64_batch(values: &[Option<i64>]) -> RecordBatch {
    let array: ArrayRef = Arc::new(Int64Array::from(values.to_vec()));
    RecordBatch::try_from_iter([("v", array)]).unwrap()
}
