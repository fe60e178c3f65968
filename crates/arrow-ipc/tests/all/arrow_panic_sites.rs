//! Inputs on which arrow-rs 59's own stream reader panics, and the typed error this crate
//! returns for each instead. Each test first shows the panic (so the guard stays justified
//! while arrow panics there), then checks our answer.

use std::panic::{AssertUnwindSafe, catch_unwind};

use arrow_ipc::Type;
use plugrt_arrow_ipc::{IpcError, Limits, decode};

use crate::craft::{batch_message, decimal_field, int_field, int64_schema, schema_message, stream, typed_field};

/// Whether arrow's `StreamReader` panics while reading `bytes` to the end.
fn arrow_panics(bytes: &[u8]) -> bool {
    // (The default hook prints arrow's panic message; the test harness captures it.)
    catch_unwind(AssertUnwindSafe(|| {
        if let Ok(reader) = arrow_ipc::reader::StreamReader::try_new(bytes, None) {
            for batch in reader {
                let _ = batch;
            }
        }
    }))
    .is_err()
}

fn ours(bytes: Vec<u8>) -> IpcError {
    decode(bytes, &Limits::default()).expect_err("a malicious stream decoded")
}

#[test]
fn int_with_an_odd_bit_width() {
    let bytes = stream(&[schema_message(|fbb| vec![int_field(fbb, "x", 7)])]);
    assert!(arrow_panics(&bytes));
    let err = ours(bytes);
    assert!(matches!(&err, IpcError::Malformed { message, .. } if message.contains("Int bit width 7")), "{err}");
}

#[test]
fn list_without_its_child() {
    let bytes = stream(&[schema_message(|fbb| vec![typed_field(fbb, "l", Type::List, &[])])]);
    assert!(arrow_panics(&bytes));
    let err = ours(bytes);
    assert!(matches!(&err, IpcError::Malformed { message, .. } if message.contains("expected 1 child")), "{err}");
}

#[test]
fn decimal_precision_beyond_u8() {
    let bytes = stream(&[schema_message(|fbb| vec![decimal_field(fbb, 300, 2, 128)])]);
    assert!(arrow_panics(&bytes));
    let err = ours(bytes);
    assert!(matches!(&err, IpcError::Malformed { message, .. } if message.contains("precision 300")), "{err}");
}

#[test]
fn buffer_beyond_the_body() {
    // One Int64 column, 100 rows, whose data buffer claims 800 bytes of a 16-byte body.
    let bytes = stream(&[int64_schema(), batch_message(100, &[(100, 0)], &[(0, 0), (0, 800)], &[0; 16])]);
    assert!(arrow_panics(&bytes));
    let err = ours(bytes);
    assert!(
        matches!(&err, IpcError::Malformed { message, .. } if message.contains("outside the 16-byte body")),
        "{err}"
    );
}

#[test]
fn validity_bitmap_shorter_than_the_array() {
    // Found by the corruption property test: 4218 values with nulls, a 16-byte bitmap.
    let rows = 4218i64;
    let body = vec![0u8; 16 + 8 * rows as usize];
    let bytes = stream(&[int64_schema(), batch_message(rows, &[(rows, 1)], &[(0, 16), (16, 8 * rows)], &body)]);
    assert!(arrow_panics(&bytes));
    let err = ours(bytes);
    assert!(
        matches!(&err, IpcError::Malformed { message, .. } if message.contains("validity bitmap of 16 bytes")),
        "{err}"
    );
}

#[test]
fn large_offsets_buffer_not_a_whole_number_of_offsets() {
    // Found by `cargo xtask fuzz`: one row needs two 64-bit offsets (16 bytes); the buffer has 20.
    let schema = schema_message(|fbb| vec![typed_field(fbb, "s", Type::LargeUtf8, &[])]);
    let bytes = stream(&[schema, batch_message(1, &[(1, 0)], &[(0, 0), (0, 20), (24, 0)], &[0; 24])]);
    assert!(arrow_panics(&bytes));
    let err = ours(bytes);
    assert!(matches!(&err, IpcError::Malformed { message, .. } if message.contains("not a multiple of 8")), "{err}");
}

#[test]
fn unsupported_types_are_refused_before_arrow_sees_them() {
    for ty in [Type::Union, Type::RunEndEncoded, Type::Utf8View, Type::ListView] {
        let err = ours(stream(&[schema_message(|fbb| vec![typed_field(fbb, "u", ty, &[])])]));
        assert!(matches!(&err, IpcError::Unsupported { .. }), "{ty:?}: {err}");
    }
}
