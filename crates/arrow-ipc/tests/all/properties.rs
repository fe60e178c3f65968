//! Properties over many deterministic random cases: valid batches round-trip exactly, and no
//! corruption of a valid stream makes decoding panic or hand out unreadable arrays.
//!
//! Seeds are fixed, so a failure names its case and reproduces.

use plugrt_arrow_ipc::{IpcError, Limits, decode, encode_batches_into};

use crate::batches::{Rng, batch};

const CASES: u64 = 400;

#[test]
fn random_batches_round_trip_exactly() {
    for seed in 0..CASES {
        let mut rng = Rng::new(seed);
        let first = batch(&mut rng);
        let n = rng.below(3);
        let batches: Vec<_> =
            std::iter::once(first.clone()).chain((0..n).map(|_| first.slice(0, first.num_rows() / 2))).collect();
        let mut bytes = Vec::new();
        encode_batches_into(first.schema_ref(), &batches, &mut bytes).unwrap();
        let decoded = decode(bytes, &Limits::default()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(decoded.schema.as_ref(), first.schema_ref().as_ref(), "seed {seed}");
        assert_eq!(decoded.batches, batches, "seed {seed}");
    }
}

/// Applies one random corruption.
fn corrupt(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    match rng.below(5) {
        0 => bytes.truncate(rng.below(len)),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            // Overwrite an aligned word with an extreme value: lengths, offsets, counts.
            let extremes: [i64; 8] = [0, -1, 1, i32::MAX as i64, i32::MIN as i64, i64::MAX, i64::MIN, 1 << 40];
            let v = extremes[rng.below(extremes.len())];
            if rng.chance(50) {
                let i = rng.below(len / 4) * 4;
                bytes[i..i + 4].copy_from_slice(&(v as i32).to_le_bytes());
            } else if len >= 8 {
                let i = rng.below(len / 8) * 8;
                bytes[i..i + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        3 => {
            let a = rng.below(len);
            let b = a + rng.below(len - a);
            let chunk = bytes[a..b].to_vec();
            let at = rng.below(len);
            bytes.splice(at..at, chunk);
        }
        _ => {
            let i = rng.below(len);
            bytes[i] = rng.next() as u8;
        }
    }
}

#[test]
fn corruptions_never_panic() {
    let mut decoded_ok = 0;
    for seed in 0..CASES {
        let mut rng = Rng::new(seed ^ 0xC0FFEE);
        let b = batch(&mut rng);
        let mut valid = Vec::new();
        encode_batches_into(b.schema_ref(), std::slice::from_ref(&b), &mut valid).unwrap();
        for round in 0..25 {
            let mut bytes = valid.clone();
            for _ in 0..1 + rng.below(3) {
                if !bytes.is_empty() {
                    corrupt(&mut rng, &mut bytes);
                }
            }
            match decode(bytes, &Limits::default()) {
                // Whatever decodes must be fully readable: formatting touches every value.
                Ok(d) => {
                    decoded_ok += 1;
                    for batch in &d.batches {
                        std::hint::black_box(format!("{batch:?}"));
                    }
                }
                Err(IpcError::Internal(msg)) => panic!("seed {seed} round {round}: arrow panicked: {msg}"),
                Err(_) => {}
            }
        }
    }
    // Some corruptions only touch values (still valid data): the property covers both paths.
    assert!(decoded_ok > 0, "no corrupted stream decoded: the corruptions are too coarse to test the Ok path");
}
