//! The Extism flavour's call input: `u32` little-endian name length, the name, the IPC stream.

/// The envelope of a call of `function` on the IPC stream `ipc`.
pub fn envelope(function: &str, ipc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + function.len() + ipc.len());
    start_envelope(function, &mut out);
    out.extend_from_slice(ipc);
    out
}

/// Clears `out` and writes the envelope's head (length and name) for `function`; the caller
/// appends the IPC stream (so the stream is written once, straight into the envelope).
///
/// # Panics
/// If `function` is 4 GiB or longer (names from a validated description are at most 64 bytes).
pub fn start_envelope(function: &str, out: &mut Vec<u8>) {
    let len = u32::try_from(function.len()).expect("function names are short");
    out.clear();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(function.as_bytes());
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout_is_length_name_stream() {
        assert_eq!(super::envelope("ab", &[9, 8]), vec![2, 0, 0, 0, b'a', b'b', 9, 8]);
    }
}
