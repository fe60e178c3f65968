//! Encode and decode of four column shapes, each beside a memcpy of the same stream bytes
//! measured in the same run (the baseline the targets are ratios of).
//!
//! `cargo xtask bench` runs this and prints `encode / memcpy` and `decode / memcpy` per shape.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::builder::{Int32Builder, ListBuilder};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_buffer::Buffer;
use arrow_schema::{Field, Fields};
use criterion::{Criterion, criterion_group, criterion_main};
use plugrt_arrow_ipc::{Limits, decode_one, encode, encode_into};

fn shapes() -> Vec<(&'static str, RecordBatch)> {
    let int64: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1_000_000));
    let utf8: ArrayRef = Arc::new(StringArray::from_iter_values((0..100_000).map(|i| format!("value number {i}"))));
    let f64_nullable: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..1_000_000).map(|i| if i % 10 == 0 { None } else { Some(i as f64 * 0.5) }),
    ));
    let mut lists = ListBuilder::new(Int32Builder::new());
    for i in 0..100_000 {
        for j in 0..(i % 4) {
            lists.values().append_value(j);
        }
        lists.append(i % 17 != 0);
    }
    let list: ArrayRef = Arc::new(lists.finish());
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..100_000));
    let fields = Fields::from(vec![
        Field::new("id", ids.data_type().clone(), true),
        Field::new("tags", list.data_type().clone(), true),
    ]);
    let nested: ArrayRef = Arc::new(StructArray::new(fields, vec![ids, list], None));
    let one = |a: ArrayRef| RecordBatch::try_from_iter([("c", a)]).unwrap();
    vec![
        ("ipc_int64_1m", one(int64)),
        ("ipc_utf8_100k", one(utf8)),
        ("ipc_f64_nullable_1m", one(f64_nullable)),
        ("ipc_struct_list_100k", one(nested)),
    ]
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    for (name, batch) in shapes() {
        let bytes = encode(&batch).unwrap();
        let input = Buffer::from_vec(bytes.clone());
        let mut g = c.benchmark_group(name);
        g.throughput(criterion::Throughput::Bytes(bytes.len() as u64));

        let mut dst = vec![0u8; bytes.len()];
        g.bench_function("memcpy", |b| b.iter(|| dst.copy_from_slice(black_box(&bytes))));

        let mut out = Vec::with_capacity(bytes.len());
        g.bench_function("encode", |b| b.iter(|| encode_into(black_box(&batch), &mut out).unwrap()));

        g.bench_function("decode", |b| b.iter(|| decode_one(black_box(input.clone()), &limits).unwrap()));
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
