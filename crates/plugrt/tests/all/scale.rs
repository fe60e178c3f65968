//! Hundreds of plugins in one runtime, under one budget of live instances.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use plugrt::{Error, Flavour, Limits, PreWarm, Runtime};

use crate::common::{calls_seen, fixture, flavours, no_args, one_int, probe_named};

/// `per_flavour` distinct probes of every flavour this build has, named `c0000`, `e0000`, ...
fn load_many(runtime: &Runtime, per_flavour: usize) -> Vec<String> {
    let mut names = Vec::new();
    for flavour in flavours() {
        let prefix = match flavour {
            Flavour::Component => 'c',
            Flavour::Extism => 'e',
        };
        for i in 0..per_flavour {
            let name = format!("{prefix}{i:04}");
            runtime
                .load(&probe_named(flavour, &name))
                .unwrap_or_else(|e| panic!("plugin {} of {per_flavour}: {e}", i + 1));
            names.push(name);
        }
    }
    names
}

/// Two threads call plugins at random (a fixed-seed generator: the same order every run).
fn call_at_random(runtime: &Runtime, names: &[String], calls: usize) {
    let answered = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for thread in 0..2u64 {
            let answered = &answered;
            s.spawn(move || {
                let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ thread;
                for _ in 0..calls / 2 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let name = &names[(seed % names.len() as u64) as usize];
                    let plugin = runtime.plugin(name).expect("registered");
                    let out = plugin.call("calls", &no_args(1)).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(calls_seen(&out), 1, "{name} answered from a used instance");
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(answered.load(Ordering::Relaxed), calls / 2 * 2);
}

#[test]
fn two_hundred_plugins_with_default_options_load_and_answer() {
    let runtime = Runtime::builder().build().unwrap();
    let per_flavour = 200 / flavours().len();
    let names = load_many(&runtime, per_flavour);
    assert_eq!(runtime.plugins().len(), 200);
    // Every plugin answers at least once, then random calls from two threads.
    for name in &names {
        assert_eq!(calls_seen(&runtime.plugin(name).unwrap().call("calls", &no_args(1)).unwrap()), 1);
    }
    call_at_random(&runtime, &names, 2_000);
    let budget = runtime.budget();
    assert!(budget.live <= budget.max_live, "{budget:?}");
    for name in &names {
        assert_eq!(runtime.plugin(name).unwrap().metrics().status.leased, 0, "{name}: a lease leaked");
    }
}

#[test]
fn idle_instances_of_other_plugins_never_block_a_load_or_a_call() {
    // A budget far below what pre-warm would like (60 plugins x 2 ready instances each), and
    // so small that two callers need more than pre-warm leaves free.
    let runtime = Runtime::builder()
        .max_instances(4)
        .pre_warm(PreWarm::Ready(2))
        .limits(Limits { timeout: Duration::from_millis(500), ..Limits::default() })
        .build()
        .unwrap();
    let names = load_many(&runtime, 60 / flavours().len());
    // Let pre-warm fill what it may (three quarters of the budget).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while runtime.budget().live < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(runtime.budget().live, 3, "pre-warm stops at its share of the budget");
    call_at_random(&runtime, &names, 600);
    // Random calls need not collide (fast calls on two threads may always find a free slot):
    // to see eviction for certain, one call holds a slot until its timeout while every
    // plugin is called once. With the budget spent, each call that finds no ready instance
    // of its own must evict another plugin's idle one.
    let flavour = flavours()[0];
    let spin = runtime.load(&fixture(flavour, "infinite_loop")).unwrap();
    std::thread::scope(|s| {
        let spinning = s.spawn(|| spin.call("spin", &one_int()));
        std::thread::sleep(Duration::from_millis(50));
        for name in &names {
            let out =
                runtime.plugin(name).unwrap().call("calls", &no_args(1)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(calls_seen(&out), 1);
        }
        assert!(matches!(spinning.join().unwrap(), Err(Error::Timeout { .. })));
    });
    let evicted: u64 =
        names.iter().map(|n| runtime.plugin(n).unwrap().metrics().counters.retired_for(plugrt_pool_reason())).sum();
    assert!(evicted > 0, "calls took their slots from idle pre-warmed instances");
}

fn plugrt_pool_reason() -> plugrt_pool::RetireReason {
    plugrt_pool::RetireReason::Evicted
}

#[test]
fn only_real_concurrency_beyond_the_budget_fails_and_it_is_typed() {
    for flavour in flavours() {
        let runtime = Runtime::builder()
            .max_instances(2)
            .pre_warm(PreWarm::Off)
            .limits(Limits { timeout: Duration::from_millis(300), ..Limits::default() })
            .build()
            .unwrap();
        runtime.load(&crate::common::fixture(flavour, "infinite_loop")).unwrap();
        // Its calls wait for an instance less long than the looping calls hold theirs.
        let short = plugrt::LoadOptions {
            limits: Some(Limits { timeout: Duration::from_millis(50), ..Limits::default() }),
            ..plugrt::LoadOptions::default()
        };
        runtime.load_with(&probe_named(flavour, "other"), short).unwrap();
        let looping = runtime.plugin("infinite_loop").unwrap();
        // Two calls that hold both instances of the budget until their timeout...
        std::thread::scope(|s| {
            for _ in 0..2 {
                let looping = looping.clone();
                s.spawn(move || {
                    assert!(matches!(looping.call("spin", &crate::common::one_int()), Err(Error::Timeout { .. })))
                });
            }
            crate::common::wait_until(|| runtime.budget().live == 2);
            // ...so a third call waits, then fails with the typed error.
            let err = runtime.plugin("other").unwrap().call("calls", &no_args(1)).unwrap_err();
            assert!(matches!(&err, Error::Exhausted { plugin, .. } if plugin == "other"), "{flavour}: {err}");
            assert!(err.is_resource_limit());
        });
        // Once they end, it is served.
        assert_eq!(calls_seen(&runtime.plugin("other").unwrap().call("calls", &no_args(1)).unwrap()), 1);
    }
}
