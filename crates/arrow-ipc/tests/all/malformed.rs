//! Broken streams, each with the error that names what is wrong.

use plugrt_arrow_ipc::{IpcError, Limits, decode};

use crate::batches::int64_batch;
use crate::craft::{EOS, batch_message, int64_schema, stream};

fn err(bytes: Vec<u8>) -> IpcError {
    decode(bytes, &Limits::default()).expect_err("a broken stream decoded")
}

fn valid() -> Vec<u8> {
    plugrt_arrow_ipc::encode(&int64_batch(&[Some(1), Some(2), None])).unwrap()
}

#[test]
fn empty_input_is_truncated() {
    assert!(matches!(err(vec![]), IpcError::Truncated { what: "message length prefix", offset: 0, .. }));
}

#[test]
fn a_cut_anywhere_is_truncated_or_malformed_never_ok() {
    let bytes = valid();
    for cut in 0..bytes.len() {
        match err(bytes[..cut].to_vec()) {
            IpcError::Truncated { .. } | IpcError::Malformed { .. } | IpcError::BadFlatbuffer { .. } => {}
            other => panic!("cut at {cut}: unexpected {other}"),
        }
    }
}

#[test]
fn missing_end_marker_is_truncated() {
    let mut bytes = valid();
    bytes.truncate(bytes.len() - EOS.len());
    let e = err(bytes);
    assert!(matches!(e, IpcError::Truncated { what: "message length prefix", .. }), "{e}");
}

#[test]
fn bytes_after_the_end_marker_are_refused() {
    let mut bytes = valid();
    bytes.extend_from_slice(b"junk");
    let e = err(bytes);
    assert!(matches!(&e, IpcError::Malformed { message, .. } if message.contains("4 bytes after")), "{e}");
}

#[test]
fn a_huge_metadata_length_is_refused_without_allocating() {
    let mut bytes = vec![0xFF, 0xFF, 0xFF, 0xFF];
    bytes.extend_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 64]);
    let e = err(bytes);
    assert!(
        matches!(e, IpcError::Truncated { what: "message metadata", needed: 0x7FFF_FFF0, available: 64, .. }),
        "{e}"
    );
}

#[test]
fn a_negative_metadata_length_is_malformed() {
    let mut bytes = vec![0xFF, 0xFF, 0xFF, 0xFF];
    bytes.extend_from_slice(&(-8i32).to_le_bytes());
    let e = err(bytes);
    assert!(matches!(&e, IpcError::Malformed { message, .. } if message.contains("negative metadata length")), "{e}");
}

#[test]
fn garbage_metadata_is_a_bad_flatbuffer() {
    let mut bytes = vec![0xFF, 0xFF, 0xFF, 0xFF, 16, 0, 0, 0];
    bytes.extend_from_slice(&[0xAB; 16]);
    bytes.extend_from_slice(&EOS);
    let e = err(bytes);
    assert!(matches!(e, IpcError::BadFlatbuffer { offset: 8, .. }), "{e}");
}

#[test]
fn not_ipc_at_all() {
    let e = err(b"this is not an arrow stream, it is a sentence".to_vec());
    assert!(matches!(e, IpcError::Truncated { .. } | IpcError::BadFlatbuffer { .. } | IpcError::Malformed { .. }));
}

#[test]
fn a_batch_before_the_schema_is_malformed() {
    let e = err(stream(&[batch_message(0, &[(0, 0)], &[(0, 0), (0, 0)], &[])]));
    assert!(matches!(&e, IpcError::Malformed { message, .. } if message.contains("before the schema")), "{e}");
}

#[test]
fn a_second_schema_is_malformed() {
    let e = err(stream(&[int64_schema(), int64_schema()]));
    assert!(matches!(&e, IpcError::Malformed { message, .. } if message.contains("second schema")), "{e}");
}

#[test]
fn negative_lengths_and_counts_are_malformed() {
    for (rows, node, bufs) in [
        (-1, (0, 0), [(0, 0), (0, 0)]),
        (1, (-5, 0), [(0, 0), (0, 8)]),
        (1, (1, 2), [(0, 0), (0, 8)]),
        (1, (1, 0), [(-8, 0), (0, 8)]),
        (1, (1, 0), [(0, 0), (i64::MAX, 8)]),
    ] {
        let e = err(stream(&[int64_schema(), batch_message(rows, &[node], &bufs, &[0; 8])]));
        assert!(matches!(e, IpcError::Malformed { .. }), "{rows} {node:?} {bufs:?}: {e}");
    }
}

#[test]
fn node_and_buffer_counts_must_match_the_schema() {
    let e = err(stream(&[int64_schema(), batch_message(1, &[(1, 0), (1, 0)], &[(0, 0), (0, 8)], &[0; 8])]));
    assert!(matches!(&e, IpcError::Malformed { message, .. } if message.contains("implies 1 field nodes")), "{e}");
}

#[test]
fn data_arrow_rejects_is_an_arrow_error() {
    // Claims 3 rows of Int64 but the data buffer holds one value.
    let e = err(stream(&[int64_schema(), batch_message(3, &[(3, 0)], &[(0, 0), (0, 8)], &[0; 8])]));
    assert!(matches!(e, IpcError::Arrow(_)), "{e}");
}
