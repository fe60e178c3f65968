//! The Extism flavour's exports, checked before extism sees the module: `describe` and `call`,
//! both functions of type `() -> i32`. extism itself only finds out at call time.

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

/// Checks that `bytes` is a core module exporting the contract's functions with the contract's
/// type; the error names what is missing or mistyped. Validation of the module as a whole is
/// left to the compiler. Returns the module's [`Shape`].
pub(crate) fn check(bytes: &[u8]) -> Result<Shape, String> {
    let mut shape = Shape::default();
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
                }
            }
            _ => {}
        }
    }
    for name in ["describe", "call"] {
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
    Ok(shape)
}
