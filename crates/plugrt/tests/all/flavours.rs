//! Flavour detection, registration by name, folders, and the catalog.

#[cfg(any(feature = "wasmtime", feature = "extism"))]
use std::time::Duration;

#[cfg(any(feature = "wasmtime", feature = "extism"))]
use arrow_schema::DataType;
#[cfg(not(all(feature = "wasmtime", feature = "extism")))]
use plugrt::Flavour;
#[cfg(any(feature = "wasmtime", feature = "extism"))]
use plugrt::Volatility;
use plugrt::{Error, Runtime};

#[cfg(any(feature = "wasmtime", feature = "extism"))]
use crate::common::{fixture, flavours, no_args, probe_named};
use crate::common::{fixture_path, runtime};

fn load_message(runtime: &Runtime, bytes: &[u8]) -> String {
    match runtime.load(bytes) {
        Err(Error::Load { message, .. }) => message,
        other => panic!("expected a load error, got {other:?}"),
    }
}

#[test]
fn garbage_and_empty_files_say_what_they_are() {
    let runtime = runtime();
    assert!(load_message(&runtime, b"").contains("is empty"));
    assert!(load_message(&runtime, b"SELECT 1").contains("not a WebAssembly binary"));
    assert!(load_message(&runtime, b"\0asm\x07\0\0\0").contains("unknown version"));
    let dir = std::env::temp_dir().join(format!("plugrt-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.wasm");
    std::fs::write(&empty, b"").unwrap();
    let err = runtime.load_file(&empty).unwrap_err();
    assert!(err.to_string().contains("empty.wasm") && err.to_string().contains("is empty"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(not(feature = "extism"))]
#[test]
fn an_extism_module_without_the_extism_feature_names_it() {
    let runtime = runtime();
    let m = load_message(
        &runtime,
        &std::fs::read(fixture_path(Flavour::Extism, "probe")).expect("run `cargo xtask fixtures`"),
    );
    assert!(m.contains("Extism module") && m.contains("`extism` Cargo feature"), "{m}");
}

#[cfg(not(feature = "wasmtime"))]
#[test]
fn a_component_without_the_wasmtime_feature_names_it() {
    let runtime = runtime();
    let m = load_message(
        &runtime,
        &std::fs::read(fixture_path(Flavour::Component, "probe")).expect("run `cargo xtask fixtures`"),
    );
    assert!(m.contains("component") && m.contains("`wasmtime` Cargo feature"), "{m}");
}

#[cfg(any(feature = "wasmtime", feature = "extism"))]
#[test]
fn plugins_register_by_name_once() {
    for flavour in flavours() {
        let runtime = runtime();
        let probe = runtime.load(&fixture(flavour, "probe")).unwrap();
        assert_eq!((probe.name(), probe.flavour()), ("probe".to_owned(), flavour));
        let err = runtime.load(&fixture(flavour, "probe")).unwrap_err();
        assert!(err.to_string().contains("already loaded"), "{err}");
        assert_eq!(runtime.plugins(), ["probe"]);
        assert!(runtime.plugin("probe").is_some() && runtime.plugin("nope").is_none());
        runtime.reload("probe", &fixture(flavour, "probe")).unwrap();
        assert!(runtime.reload("probe", &probe_named(flavour, "other")).is_err(), "a reload keeps the name");
        let report = runtime.unload("probe", Duration::from_secs(1)).expect("it was loaded");
        assert!(report.drained());
        assert!(matches!(probe.call("calls", &no_args(1)), Err(Error::Closed { .. })));
        assert!(runtime.unload("probe", Duration::ZERO).is_none());
        runtime.load(&fixture(flavour, "probe")).expect("the name is free again");
    }
}

#[cfg(any(feature = "wasmtime", feature = "extism"))]
#[test]
fn a_folder_loads_its_good_plugins_and_reports_the_bad_one() {
    let dir = std::env::temp_dir().join(format!("plugrt-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut good = Vec::new();
    for flavour in flavours() {
        let name = format!("good{}", &crate::common::dir(flavour)[..1]);
        std::fs::write(dir.join(format!("{name}.wasm")), probe_named(flavour, &name)).unwrap();
        good.push(name);
        std::fs::copy(fixture_path(flavour, "c_udf"), dir.join(format!("c_udf_{}.wasm", crate::common::dir(flavour))))
            .unwrap();
    }
    std::fs::write(dir.join("broken.wasm"), b"\0asm\x01\0\0\0\x01\xff").unwrap();
    std::fs::write(dir.join("README.txt"), b"not a plugin").unwrap();

    let runtime = runtime();
    let report = runtime.load_dir(&dir).unwrap();
    let failed: Vec<_> = report
        .failed
        .iter()
        .map(|(p, e)| (p.file_name().unwrap().to_str().unwrap().to_owned(), e.to_string()))
        .collect();
    // Both flavours of c_udf share its name: the second is refused, the first stays.
    let expected_failures = 1 + flavours().len() - 1;
    assert_eq!(failed.len(), expected_failures, "{failed:?}");
    assert!(failed.iter().any(|(f, e)| f == "broken.wasm" && e.contains("broken.wasm")), "{failed:?}");
    let mut names = good.clone();
    names.push("c_udf".into());
    names.sort();
    assert_eq!(runtime.plugins(), names);
    std::fs::remove_dir_all(dir).unwrap();
    assert!(runtime.load_dir("/nonexistent/plugins").is_err());
}

#[cfg(any(feature = "wasmtime", feature = "extism"))]
#[test]
fn the_catalog_lists_every_function() {
    let runtime = runtime();
    for flavour in flavours() {
        let _ = runtime.unload("c_udf", Duration::ZERO);
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        let catalog = runtime.catalog();
        let add_one = catalog.iter().find(|e| e.function == "add_one").expect("add_one is listed");
        assert_eq!((add_one.plugin.as_str(), add_one.flavour), ("c_udf", flavour));
        assert_eq!((add_one.args.as_slice(), &add_one.returns), (&[DataType::Int64][..], &DataType::Int64));
        assert_eq!(add_one.volatility, Volatility::Immutable);
        let functions: Vec<_> = catalog.iter().map(|e| e.function.as_str()).collect();
        assert_eq!(
            functions,
            ["add_one", "scale", "str_len", "upper", "sum_i64", "avg_f64", "concat_ws", "min_max_spread"]
        );
        assert_eq!(add_one.kind, plugrt::FunctionKind::Scalar);
        let avg = catalog.iter().find(|e| e.function == "avg_f64").expect("aggregates are listed");
        let plugrt::FunctionKind::Aggregate { state } = &avg.kind else { panic!("avg_f64 is an aggregate") };
        assert_eq!(state.iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["sum", "count"]);
    }
}
