//! The Extism flavour's call input: `u32` little-endian name length, the name, the IPC stream.

/// The envelope of a call of `function` on the IPC stream `ipc`.
pub fn envelope(function: &str, ipc: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    envelope_into(function, ipc, &mut out);
    out
}

/// [`envelope`] into `out` (cleared first), reusing its allocation.
///
/// # Panics
/// If `function` is 4 GiB or longer (names from a validated description are at most 64 bytes).
pub fn envelope_into(function: &str, ipc: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(function.len()).expect("function names are short");
    out.clear();
    out.reserve(4 + function.len() + ipc.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(function.as_bytes());
    out.extend_from_slice(ipc);
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout_is_length_name_stream() {
        assert_eq!(super::envelope("ab", &[9, 8]), vec![2, 0, 0, 0, b'a', b'b', 9, 8]);
    }
}
