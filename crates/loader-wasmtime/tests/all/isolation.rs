//! No call sees a previous call's state unless the plugin opted into reuse.
//! Shared with plugrt-extism's tests.

use std::sync::Arc;

use crate::api::{LoadOptions, Reuse};
use arrow_array::{Array, Int64Array};

use crate::common::{load, load_with, no_args};

fn calls_seen(out: &Arc<dyn Array>) -> i64 {
    out.as_any().downcast_ref::<Int64Array>().unwrap().value(0)
}

#[test]
fn the_probe_never_sees_a_previous_call() {
    let probe = load("probe");
    let input = no_args(1);
    for i in 0..100_000 {
        let out = probe.call("calls", &input).unwrap();
        assert_eq!(calls_seen(&out), 1, "call {i} ran in a used instance");
    }
    let m = probe.metrics();
    assert_eq!(m.counters.reuses, 0);
    assert_eq!(m.status.leased, 0);
}

#[test]
fn bounded_reuse_does_reuse() {
    let probe = load_with("probe", LoadOptions { reuse: Reuse::bounded(3), ..LoadOptions::default() });
    let seen: Vec<i64> = (0..6).map(|_| calls_seen(&probe.call("calls", &no_args(1)).unwrap())).collect();
    assert_eq!(seen, [1, 2, 3, 1, 2, 3]);
}
