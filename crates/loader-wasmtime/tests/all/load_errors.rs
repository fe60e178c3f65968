//! Plugins that must not load, each refused with a message naming what is wrong.
//! Shared with plugrt-extism's tests.

use crate::api::{Error, LoadOptions};

use crate::common::{load_err, runtime};

fn message(name: &str) -> String {
    match load_err(name) {
        Error::Load { plugin, message } => {
            assert_eq!(plugin, name);
            message
        }
        other => panic!("{name}: expected a load error, got {other}"),
    }
}

#[test]
fn describe_documents_that_break_the_contract() {
    assert!(message("describe_malformed").contains("not valid"));
    assert!(message("describe_unknown_type").contains("unknown type `Int65`"));
    assert!(message("describe_duplicate").contains("declared twice"));
    assert!(message("describe_old_aggregates").contains("need contract `plugrt:udf@0.2.0`"));
    let m = message("describe_no_aggregate_export");
    assert!(m.contains("declares aggregates but does not export") && m.contains("aggregate"), "{m}");
}

#[test]
fn an_ungranted_import_is_named() {
    let m = message("ungranted_import");
    assert!(m.contains("steal"), "{m}");
}

#[test]
fn not_a_plugin() {
    let err = runtime().load(b"\0asm\x01\0\0\0", LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("plugin `<bytes>`: cannot load: "), "{err}");
    let err = runtime().load(b"garbage", LoadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Load { .. }), "{err}");
}

#[test]
fn a_start_function_that_never_returns_is_refused_in_time() {
    // Loading compiles: a plugin of the same size that loads fine is the baseline.
    let started = std::time::Instant::now();
    crate::common::load("probe");
    let compile = started.elapsed();
    let started = std::time::Instant::now();
    let m = message("start_loop");
    let took = started.elapsed();
    assert!(m.contains("timed out"), "{m}");
    // The test runtime's timeout is 200 ms.
    let bound = compile * 2 + std::time::Duration::from_millis(400);
    assert!(took < bound, "refused after {took:?} (loading the probe took {compile:?}): {m}");
}
