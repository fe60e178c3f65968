//! Prints, as WAT data strings, the IPC streams the edge-case guest fixtures embed
//! (`fixtures/wat/*.wat`), so those bytes are reproducible rather than hand-typed.
//!
//! Usage: `cargo run -p plugrt-arrow-ipc --example fixture_ipc`

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch};

fn wat_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

fn stream(column: ArrayRef) -> Vec<u8> {
    plugrt_arrow_ipc::encode(&RecordBatch::try_from_iter([("out", column)]).unwrap()).unwrap()
}

fn main() {
    const SENTINEL: i64 = 0x1122_3344_5566_7788;
    let one_int64 = stream(Arc::new(Int64Array::from(vec![SENTINEL])));
    let at = one_int64.windows(8).position(|w| w == SENTINEL.to_le_bytes()).expect("sentinel present");
    let mut probe = one_int64.clone();
    probe[at..at + 8].fill(0);
    println!(";; one Int64 row (value 0 at byte {at}), {} bytes", probe.len());
    println!("{}", wat_string(&probe));
    let int32 = stream(Arc::new(Int32Array::from(vec![7])));
    println!(";; one Int32 row, {} bytes", int32.len());
    println!("{}", wat_string(&int32));
    let two = stream(Arc::new(Int64Array::from(vec![1, 2])));
    println!(";; two Int64 rows, {} bytes", two.len());
    println!("{}", wat_string(&two));
}
