//! Checks on the built fixtures, run by `cargo test` (and so by `cargo xtask test`, which
//! builds the fixtures first): every fixture exists, validates with wasmparser (the version
//! wasmtime uses, component model on), has the contract's exports and only the contract's
//! imports, and the bad-on-purpose ones are bad in the intended way.
//!
//! What fixtures do when run (trap, loop, grow memory, answer garbage) is checked by the
//! loaders' tests, which run them.

use std::path::PathBuf;

use wasmparser::{
    ComponentExternalKind, ComponentTypeRef, DataKind, ExternalKind, FuncType, Operator, Parser, Payload, TypeRef,
    ValType, Validator, WasmFeatures,
};

use crate::fixtures::out_dir;
use plugrt_guest_build::Flavour;

/// Every fixture name and flavour, as `cargo xtask fixtures` builds them.
fn expected() -> Vec<(String, Flavour)> {
    crate::fixtures::all().expect("the fixture sources can be listed")
}

fn path(name: &str, flavour: Flavour) -> PathBuf {
    out_dir().join(flavour.name()).join(format!("{name}.wasm"))
}

fn read(name: &str, flavour: Flavour) -> Vec<u8> {
    let p = path(name, flavour);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}; build the fixtures with `cargo xtask fixtures`", p.display()))
}

/// What a test needs to know about one fixture binary.
#[derive(Default, Debug)]
struct Summary {
    /// Component-level imports (other than types) and exports (component flavour).
    component_imports: Vec<String>,
    component_exports: Vec<(String, ComponentExternalKind)>,
    /// Core imports (module, name) and function exports with their types (Extism flavour:
    /// the module itself; component flavour: the embedded core module).
    core_imports: Vec<(String, String)>,
    core_exports: Vec<(String, Option<FuncType>)>,
    /// The describe document: the active data segment at offset 1024 (WAT fixtures), else
    /// the first NUL-terminated string in any data segment that starts like one.
    describe: Option<String>,
}

fn summarize(bytes: &[u8]) -> Summary {
    let mut s = Summary::default();
    let mut types: Vec<FuncType> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut imported_funcs = 0u32;
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
    // Nested components and modules are walked inline; only the outermost level's imports
    // and exports are the fixture's own (data segments are searched at every level).
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.expect("fixture parses");
        match &payload {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            _ => {}
        }
        let outermost = depth == 1;
        match payload {
            Payload::ComponentImportSection(r) if outermost => {
                for import in r {
                    let import = import.unwrap();
                    // Types a world `use`s are imported by name too; they grant nothing.
                    if !matches!(import.ty, ComponentTypeRef::Type(_)) {
                        s.component_imports.push(import.name.name.to_owned());
                    }
                }
            }
            Payload::ComponentExportSection(r) if outermost => {
                for export in r {
                    let export = export.unwrap();
                    s.component_exports.push((export.name.name.to_owned(), export.kind));
                }
            }
            Payload::TypeSection(r) if outermost => {
                for group in r {
                    for ty in group.unwrap().into_types() {
                        types.push(ty.unwrap_func().clone());
                    }
                }
            }
            Payload::ImportSection(r) if outermost => {
                for import in r.into_imports() {
                    let import = import.unwrap();
                    if matches!(import.ty, TypeRef::Func(_)) {
                        imported_funcs += 1;
                    }
                    s.core_imports.push((import.module.to_owned(), import.name.to_owned()));
                }
            }
            Payload::FunctionSection(r) if outermost => funcs.extend(r.into_iter().map(Result::unwrap)),
            Payload::ExportSection(r) if outermost => {
                for export in r {
                    let e = export.unwrap();
                    exports.push((e.name.to_owned(), e.kind, e.index));
                }
            }
            Payload::DataSection(r) => {
                for data in r {
                    let data = data.unwrap();
                    if let DataKind::Active { offset_expr, .. } = data.kind {
                        let at = offset_expr.get_operators_reader().read().unwrap();
                        if matches!(at, Operator::I32Const { value: 1024 }) {
                            s.describe = Some(String::from_utf8_lossy(data.data).trim_end_matches('\0').to_owned());
                        } else if s.describe.is_none() {
                            s.describe = find_document(data.data);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (name, kind, index) in exports {
        let ty = (kind == ExternalKind::Func && index >= imported_funcs)
            .then(|| funcs.get((index - imported_funcs) as usize).and_then(|t| types.get(*t as usize)).cloned())
            .flatten();
        s.core_exports.push((name, ty));
    }
    s
}

/// The first NUL-terminated string in `data` that starts like a describe document.
fn find_document(data: &[u8]) -> Option<String> {
    let start = data.windows(12).position(|w| w == br#"{"contract":"#)?;
    let len = data[start..].iter().position(|&b| b == 0).unwrap_or(data.len() - start);
    Some(String::from_utf8_lossy(&data[start..start + len]).into_owned())
}

fn validate(bytes: &[u8], what: &str) {
    let features = WasmFeatures::default() | WasmFeatures::COMPONENT_MODEL;
    Validator::new_with_features(features).validate_all(bytes).unwrap_or_else(|e| panic!("{what} is invalid: {e}"));
}

/// Fixtures built as plugins of contract 0.2.0 with aggregates (world `aggregates`, the
/// `aggregate` export); every other one is a 0.1.0 plugin.
const AGGREGATE_PLUGINS: [&str; 3] = ["bad_state", "c_udf", "js_udf"];

/// The contract version a fixture's document says: the aggregate plugins', and that of the
/// one built as a 0.1.0 plugin to declare aggregates it cannot serve, are 0.2.0.
fn contract_of(name: &str) -> &'static str {
    if AGGREGATE_PLUGINS.contains(&name) || name == "describe_no_aggregate_export" { "0.2.0" } else { "0.1.0" }
}

#[test]
fn every_fixture_is_built_and_valid() {
    let all = expected();
    assert!(all.len() >= 33, "fewer fixtures than expected: {all:?}");
    for (name, flavour) in all {
        validate(&read(&name, flavour), &format!("{name} ({flavour:?})"));
    }
}

#[test]
fn components_have_the_contract_exports_and_imports() {
    for (name, flavour) in expected() {
        if flavour != Flavour::Component {
            continue;
        }
        let s = summarize(&read(&name, flavour));
        let funcs: Vec<_> = s
            .component_exports
            .iter()
            .filter(|(_, k)| *k == ComponentExternalKind::Func)
            .map(|(n, _)| n.as_str())
            .collect();
        // componentize-qjs exports its runtime's `init` too; a host never calls it.
        let extra: &[&str] = if name == "js_udf" { &["init"] } else { &[] };
        let aggregate: &[&str] = if AGGREGATE_PLUGINS.contains(&name.as_str()) { &["aggregate"] } else { &[] };
        let expected: Vec<&str> =
            extra.iter().copied().chain(["describe", "call"]).chain(aggregate.iter().copied()).collect();
        assert_eq!(funcs, expected, "{name}: component exports");
        // Built against the contract version they say: 0.1.0 plugins import 0.1.0 interfaces.
        let version = if aggregate.is_empty() { "0.1.0" } else { "0.2.0" };
        for import in s.component_imports.iter().filter(|i| i.starts_with("plugrt:udf/")) {
            assert!(import.ends_with(&format!("@{version}")), "{name}: imports {import}, not of {version}");
        }
        let outside: Vec<_> =
            s.component_imports.iter().filter(|i| !i.starts_with("plugrt:udf/")).map(String::as_str).collect();
        if name == "ungranted_import" {
            assert_eq!(outside, ["steal-secrets"], "{name} must import exactly one thing outside the contract");
        } else {
            assert!(outside.is_empty(), "{name}: imports outside the contract: {outside:?}");
        }
    }
}

#[test]
fn extism_modules_have_the_contract_exports_and_imports() {
    let status = FuncType::new([], [ValType::I32]);
    for (name, flavour) in expected() {
        if flavour != Flavour::Extism {
            continue;
        }
        let s = summarize(&read(&name, flavour));
        let aggregate = AGGREGATE_PLUGINS.contains(&name.as_str()).then_some("aggregate");
        for export in ["describe", "call"].into_iter().chain(aggregate) {
            let ty = s.core_exports.iter().find(|(n, _)| n == export).and_then(|(_, t)| t.clone());
            assert_eq!(ty.as_ref(), Some(&status), "{name}: export {export} must be () -> i32");
        }
        assert!(s.core_exports.iter().any(|(n, _)| n == "memory"), "{name}: no memory export");
        let outside: Vec<_> = s.core_imports.iter().filter(|(m, _)| m != "extism:host/env").collect();
        if name == "ungranted_import" {
            assert_eq!(outside, [&("extism:host/user".to_owned(), "steal_secrets".to_owned())], "{name}");
        } else if name == "logger" {
            // The contract's one host function in this flavour.
            assert_eq!(outside, [&("extism:host/user".to_owned(), "plugrt_log".to_owned())], "{name}");
        } else {
            assert!(outside.is_empty(), "{name}: imports outside the Extism kernel: {outside:?}");
        }
    }
}

#[test]
fn describe_documents_are_as_intended() {
    for (name, flavour) in expected() {
        if name == "js_udf" || name == "c_udf" || name.starts_with("hostile_") {
            // Written at run time (JSON.stringify; plugrt.h's describe from the declarations;
            // the hostile suite's start functions): the loaders', the CLI's and the hostile
            // suite's tests check it by calling it.
            continue;
        }
        let doc = summarize(&read(&name, flavour)).describe.unwrap_or_else(|| panic!("{name}: no describe document"));
        let contract = format!(r#""contract":"plugrt:udf@{}""#, contract_of(&name));
        let valid_shape = doc.starts_with('{') && doc.contains(&contract);
        match name.as_str() {
            "describe_malformed" => assert!(!doc.starts_with('{'), "{name} must not be JSON: {doc}"),
            "describe_unknown_type" => assert!(valid_shape && doc.contains(r#""Int65""#), "{name}: {doc}"),
            "describe_duplicate" => {
                assert!(valid_shape && doc.matches(r#""name":"f""#).count() == 2, "{name}: {doc}")
            }
            _ => assert!(valid_shape && doc.contains(&format!(r#""name":"{name}""#)), "{name}: {doc}"),
        }
    }
}
