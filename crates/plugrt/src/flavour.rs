//! Telling a plugin's flavour from its first bytes.

use std::fmt;

/// The two flavours of the guest contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// A WebAssembly component of the `plugrt:udf` world (Cargo feature `wasmtime`).
    Component,
    /// A core WebAssembly module on the Extism kernel (Cargo feature `extism`).
    Extism,
}

impl Flavour {
    /// The flavour of `bytes` from the binary format's preamble (magic and version), or what
    /// the bytes are instead. It reads 8 bytes: it does not validate the rest.
    pub fn detect(bytes: &[u8]) -> Result<Flavour, String> {
        const MAGIC: &[u8] = b"\0asm";
        match bytes {
            [] => Err("is empty; expected a WebAssembly component or core module".into()),
            [m0, m1, m2, m3, 1, 0, 0, 0, ..] if [*m0, *m1, *m2, *m3] == MAGIC => Ok(Flavour::Extism),
            // Components: version 0x0d (pre-standard), layer 1.
            [m0, m1, m2, m3, _, _, 1, 0, ..] if [*m0, *m1, *m2, *m3] == MAGIC => Ok(Flavour::Component),
            [m0, m1, m2, m3, rest @ ..] if [*m0, *m1, *m2, *m3] == MAGIC => Err(format!(
                "is WebAssembly of an unknown version or layer ({:02x?}); expected a component or a core module",
                &rest[..rest.len().min(4)]
            )),
            other => Err(format!(
                "is not a WebAssembly binary (it starts with {:02x?}); expected a component or a core module",
                &other[..other.len().min(8)]
            )),
        }
    }

    /// The Cargo feature that brings this flavour's loader.
    pub fn feature(self) -> &'static str {
        match self {
            Flavour::Component => "wasmtime",
            Flavour::Extism => "extism",
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::Component => "component",
            Flavour::Extism => "Extism module",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preambles_are_told_apart() {
        assert_eq!(Flavour::detect(b"\0asm\x01\0\0\0rest"), Ok(Flavour::Extism));
        assert_eq!(Flavour::detect(b"\0asm\x0d\0\x01\0"), Ok(Flavour::Component));
        assert!(Flavour::detect(b"").unwrap_err().contains("is empty"));
        assert!(Flavour::detect(b"\0asm\x02\0\0\0").unwrap_err().contains("unknown version"));
        assert!(Flavour::detect(b"(module)").unwrap_err().contains("not a WebAssembly binary"));
        assert!(Flavour::detect(b"\0as").unwrap_err().contains("not a WebAssembly binary"));
    }
}
