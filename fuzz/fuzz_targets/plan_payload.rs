//! A plugin UDF's payload as a plan from another process carries it, on arbitrary bytes:
//! reading must never panic, and whatever reads must write back to the very same bytes (no
//! two payloads read alike, so a changed byte is never silently the same UDF).
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/datafusion/src/codec/payload.rs"]
mod payload;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = payload::Payload::read(data) {
        let mut written = Vec::new();
        read.write(&mut written);
        assert_eq!(written, data, "a payload that reads writes back to the same bytes");
        std::hint::black_box(read.kind.describe());
    }
});
