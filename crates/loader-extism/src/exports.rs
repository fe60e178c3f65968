//! The Extism flavour's exports, checked before extism sees the module: `describe` and `call`,
//! both functions of type `() -> i32`. extism itself only finds out at call time.
//!
//! Also what makes creating an instance bounded like a call. extism instantiates a module,
//! running its start function, and then calls `_initialize` / `__wasm_call_ctors`, *before*
//! it starts the call's timer: a module whose initialiser never returns would hang its caller
//! forever (and a load with it). So before compiling, the start section is removed and its
//! function exported as [`START`], and those initialiser exports are renamed [`INIT`]: the
//! loader calls them, in that order, as ordinary (timed) calls right after creating an
//! instance. Haskell's `hs_init` takes arguments extism supplies itself and is refused.

use wasmparser::{Parser, Payload, TypeRef, ValType};

/// What sizing a plugin's engine needs to know of its module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// The largest initial size of the memories it defines, in bytes.
    pub(crate) initial_memory: u64,
    /// Memories it defines.
    pub(crate) memories: u32,
    /// Tables it defines.
    pub(crate) tables: u32,
}

/// The export the start function is moved to.
pub(crate) const START: &str = "\u{0}plugrt-start";
/// The export `_initialize` or `__wasm_call_ctors` is renamed to.
pub(crate) const INIT: &str = "\u{0}plugrt-init";
/// Initialiser exports extism would call untimed.
const INITIALISERS: [&str; 2] = ["_initialize", "__wasm_call_ctors"];

/// What [`check`] found.
#[derive(Debug)]
pub(crate) struct Checked {
    /// For sizing the engine.
    pub(crate) shape: Shape,
    /// Initialiser exports of the rewritten module, to call in this order on a new instance.
    pub(crate) init: Vec<&'static str>,
    /// The module with its initialisers moved to [`START`] / [`INIT`]; `None` if it had none.
    pub(crate) rewritten: Option<Vec<u8>>,
    /// Whether it exports `aggregate` (contract 0.2.0), of type `() -> i32` like the others.
    pub(crate) aggregate: bool,
}

/// Checks that `bytes` is a core module exporting the contract's functions with the contract's
/// type; the error names what is missing or mistyped. Validation of the module as a whole is
/// left to the compiler. Returns the module's [`Shape`] and, if it has initialisers, the module
/// rewritten so that they run as timed calls.
pub(crate) fn check(bytes: &[u8]) -> Result<Checked, String> {
    let mut shape = Shape::default();
    let mut start = None;
    let mut all_exports = Vec::new(); // (name, kind, index)
    let mut types = Vec::new(); // (params, results) by type index
    let mut functions = Vec::new(); // type index by function index, imports first
    let mut exports = Vec::new(); // (name, function index)
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| format!("not a wasm module: {e}"))? {
            Payload::Version { encoding: wasmparser::Encoding::Component, .. } => {
                return Err("is a component; the Extism loader takes core modules (see plugrt-wasmtime)".into());
            }
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty.map_err(|e| format!("bad type section: {e}"))?;
                    types.push((ty.params().to_vec(), ty.results().to_vec()));
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(ty) = import.map_err(|e| format!("bad import section: {e}"))?.ty {
                        functions.push(ty);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    functions.push(ty.map_err(|e| format!("bad function section: {e}"))?);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(|e| format!("bad memory section: {e}"))?;
                    let page = 1u64 << memory.page_size_log2.unwrap_or(16);
                    shape.initial_memory = shape.initial_memory.max(memory.initial.saturating_mul(page));
                    shape.memories += 1;
                }
            }
            Payload::TableSection(reader) => shape.tables += reader.count(),
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| format!("bad export section: {e}"))?;
                    if export.kind == wasmparser::ExternalKind::Func {
                        exports.push((export.name.to_owned(), export.index));
                    }
                    all_exports.push((export.name.to_owned(), kind_byte(export.kind)?, export.index));
                }
            }
            Payload::StartSection { func, .. } => start = Some(func),
            _ => {}
        }
    }
    let aggregate = exports.iter().any(|(n, _)| n == "aggregate");
    for name in ["describe", "call"].into_iter().chain(aggregate.then_some("aggregate")) {
        let index = exports
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| *i)
            .ok_or_else(|| format!("does not export the function `{name}`"))?;
        let ty = functions.get(index as usize).and_then(|t| types.get(*t as usize));
        if !matches!(ty, Some((params, results)) if params.is_empty() && results[..] == [ValType::I32]) {
            return Err(format!("export `{name}` must have type () -> i32"));
        }
    }
    if exports.iter().any(|(n, _)| n == "hs_init") {
        return Err("exports `hs_init` (a Haskell runtime), whose initialisation cannot be bounded".into());
    }
    let is_unit = |index: u32| {
        functions
            .get(index as usize)
            .and_then(|t| types.get(*t as usize))
            .is_some_and(|(p, r)| p.is_empty() && r.is_empty())
    };
    // extism calls the first of these it finds, if it has type () -> ().
    let initialiser = INITIALISERS
        .iter()
        .find_map(|name| exports.iter().find(|(n, _)| n == name))
        .filter(|(_, index)| is_unit(*index))
        .map(|(name, _)| name.clone());
    if start.is_none() && initialiser.is_none() {
        return Ok(Checked { shape, init: Vec::new(), rewritten: None, aggregate });
    }
    let mut init = Vec::new();
    if let Some(func) = start {
        all_exports.push((START.to_owned(), 0, func));
        init.push(START);
    }
    if let Some(name) = initialiser {
        for export in all_exports.iter_mut().filter(|e| e.0 == name) {
            export.0 = INIT.to_owned();
        }
        init.push(INIT);
    }
    Ok(Checked { shape, init, rewritten: Some(rewrite(bytes, &all_exports)?), aggregate })
}

fn kind_byte(kind: wasmparser::ExternalKind) -> Result<u8, String> {
    use wasmparser::ExternalKind::*;
    Ok(match kind {
        Func => 0,
        Table => 1,
        Memory => 2,
        Global => 3,
        Tag => 4,
        other => return Err(format!("unsupported export kind {other:?}")),
    })
}

/// `bytes` (already parsed whole by [`check`]) with its export section replaced by `exports`
/// and its start section dropped; every other section is copied as it is.
fn rewrite(bytes: &[u8], exports: &[(String, u8, u32)]) -> Result<Vec<u8>, String> {
    let mut section = Vec::new();
    leb(&mut section, exports.len() as u64);
    for (name, kind, index) in exports {
        leb(&mut section, name.len() as u64);
        section.extend_from_slice(name.as_bytes());
        section.push(*kind);
        leb(&mut section, u64::from(*index));
    }
    let mut out = Vec::with_capacity(bytes.len() + section.len());
    out.extend_from_slice(&bytes[..8]); // magic and version
    let mut at = 8;
    let mut exports_written = false;
    while at < bytes.len() {
        let id = bytes[at];
        let (size, len) = read_leb(&bytes[at + 1..]).ok_or("bad section header")?;
        let end = (at + 1 + len).checked_add(size as usize).filter(|&e| e <= bytes.len()).ok_or("bad section size")?;
        // Exports come right before the start section, so a module without an export section
        // gets one where its start section was.
        if (id == 7 || id == 8) && !exports_written {
            out.push(7);
            leb(&mut out, section.len() as u64);
            out.extend_from_slice(&section);
            exports_written = true;
        }
        if id != 7 && id != 8 {
            out.extend_from_slice(&bytes[at..end]);
        }
        at = end;
    }
    Ok(out)
}

fn leb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// An unsigned LEB128 and its length in bytes.
fn read_leb(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb_round_trips() {
        for value in [0u64, 1, 127, 128, 300, 1 << 32, u64::MAX] {
            let mut out = Vec::new();
            leb(&mut out, value);
            assert_eq!(read_leb(&out), Some((value, out.len())));
        }
    }
}
