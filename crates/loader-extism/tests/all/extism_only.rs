//! What only the Extism loader has: pre-warm that pays by default, an engine per plugin,
//! initialisers under the call's time limit.

use std::time::{Duration, Instant};

use plugrt_contract::AUTO_READY;
use plugrt_extism::{Allocator, Limits, LoadOptions, Runtime, RuntimeConfig};

use crate::common::{fixture, load, no_args};

#[test]
fn pre_warm_turns_on_by_default_because_creation_is_costly() {
    let probe = load("probe");
    assert_eq!(probe.metrics().status.prewarm, 0, "undecided before any creation was measured");
    for _ in 0..4 {
        probe.call("calls", &no_args(1)).unwrap();
    }
    // An Extism instance takes tens of microseconds to create, above the threshold; the
    // pool's maintenance thread then fills it in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    while probe.metrics().status.ready < AUTO_READY && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = probe.metrics().status;
    assert_eq!((status.prewarm, status.ready), (AUTO_READY, AUTO_READY), "{status:?}");
}

#[test]
fn each_plugin_reserves_a_pool_sized_to_its_cap() {
    let limits = crate::common::runtime().config().limits;
    let pooled = Runtime::new(RuntimeConfig { pooling: true, limits, ..RuntimeConfig::default() }).unwrap();
    let probe = pooled.load(&fixture("probe"), LoadOptions::default()).unwrap();
    // (4 instances + 1 for describe + 5 waiting to be dropped + 2 for a decommit batch of 8
    // memories) x (extism's 3 memory slots + the probe's 1) x (64 MiB + the probe's 2 initial
    // pages + a page + a 64 KiB guard).
    assert_eq!(probe.allocator(), Allocator::Pooling { reserved_bytes: 12 * 4 * ((64 << 20) + (4 << 16)) });
    let on_demand = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = on_demand.load(&fixture("probe"), LoadOptions::default()).unwrap();
    assert_eq!(plugin.allocator(), Allocator::OnDemand);
    assert_eq!(plugin.call("calls", &no_args(1)).unwrap().len(), 1);
}

#[test]
fn a_component_is_refused_by_name() {
    let component = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/out/component/probe.wasm"))
        .expect("build the fixtures with `cargo xtask fixtures`");
    let err = crate::common::runtime().load(&component, LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("is a component"), "{err}");
}

#[test]
fn a_plugin_may_lower_its_limits_but_not_raise_them() {
    let asked = Limits { instances: 100, timeout: Duration::from_millis(50), ..Limits::default() };
    let probe = crate::common::load_with("probe", LoadOptions { limits: Some(asked), ..LoadOptions::default() });
    let got = probe.limits();
    assert_eq!((got.instances, got.timeout), (4, Duration::from_millis(50)));
}
