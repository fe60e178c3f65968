//! Decoding with limits, on arbitrary bytes: must never panic, and whatever decodes must be
//! readable to the last value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugrt_arrow_ipc::{IpcError, Limits, decode};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bytes: 1 << 20, ..Limits::default() };
    match decode(data.to_vec(), &limits) {
        Ok(decoded) => {
            for batch in &decoded.batches {
                std::hint::black_box(format!("{batch:?}"));
            }
        }
        // libFuzzer's panic hook aborts before catch_unwind can run, so arrow panics surface
        // as crashes anyway; this catches any other path to Internal.
        Err(IpcError::Internal(msg)) => panic!("internal error: {msg}"),
        Err(_) => {}
    }
});
