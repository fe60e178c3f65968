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

/// Runs `fixture`'s `peek` 500 times on each of two threads: every call must answer 0, that is
/// find what a brand-new instance finds where earlier calls left a secret.
fn no_call_finds_an_earlier_secret(fixture: &str) {
    let secret = load(fixture);
    let input = no_args(1);
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (secret, input) = (secret.clone(), input.clone());
            std::thread::spawn(move || {
                for i in 0..500 {
                    let seen = calls_seen(&secret.call("peek", &input).unwrap());
                    assert_eq!(seen, 0, "thread {t}, call {i} read {seen:#x}: an earlier call's secret");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a call saw an earlier call's state");
    }
    assert_eq!(secret.metrics().counters.reuses, 0);
}

/// Memory the host keeps mapped between instances (to spare the next one its page faults)
/// must come back as a brand-new instance's: zeroed. Each call reads what lies at 24 MiB, then
/// leaves a secret there; no later call, on any thread, may find it.
#[test]
fn no_call_reads_a_secret_an_earlier_call_left_in_high_memory() {
    no_call_finds_an_earlier_secret("secret");
}

/// Tables kept mapped between instances likewise: each call checks that a table slot no
/// element segment fills is null, then puts a function there.
#[test]
fn no_call_finds_a_function_an_earlier_call_left_in_its_table() {
    no_call_finds_an_earlier_secret("table_secret");
    // The probe does see a function left in its table: by the same instance, reused.
    let reused = load_with("table_secret", LoadOptions { reuse: Reuse::bounded(2), ..LoadOptions::default() });
    let seen: Vec<i64> = (0..2).map(|_| calls_seen(&reused.call("peek", &no_args(1)).unwrap())).collect();
    assert_eq!(seen, [0, 1]);
}
