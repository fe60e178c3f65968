//! Pre-warm: instances are made ahead of demand, off the callers' path, and never handed out
//! twice.

use std::time::Duration;

use plugrt_pool::{Maintainer, RetireReason};

use crate::common::{Counting, wait_for};

#[test]
fn maintain_fills_to_min_ready_within_the_cap() {
    let mgr = Counting::default();
    let pool = mgr.builder(3).min_ready(3).build().unwrap();
    assert_eq!(pool.status().ready, 0, "manual maintenance pre-warmed on its own");
    let report = pool.maintain();
    assert_eq!((report.created, report.failed), (3, 0));
    let held = pool.acquire().unwrap();
    assert_eq!(pool.metrics().counters.creations, 3, "acquire created instead of using a ready instance");
    // At the cap: 2 ready + 1 leased; maintenance cannot add more.
    assert_eq!(pool.maintain().created, 0);
    drop(held);
    assert_eq!(pool.maintain().created, 1);
    assert_eq!(pool.status().ready, 3);
}

#[test]
fn prewarmed_instances_are_never_handed_out_twice() {
    let mgr = Counting::default();
    let pool = mgr.builder(8).min_ready(4).build().unwrap();
    let mut seen = std::collections::HashSet::new();
    for round in 0..500 {
        if round % 3 == 0 {
            pool.maintain();
        }
        let mut lease = pool.acquire().unwrap();
        assert_eq!(lease.uses, 0, "pre-warmed instance {} was used before", lease.id);
        assert!(seen.insert(lease.id));
        lease.uses += 1;
    }
    assert_eq!(pool.metrics().counters.retired_for(RetireReason::SingleUse), 500);
}

#[test]
fn failed_refill_stops_and_frees_its_slot() {
    let mgr = Counting::default();
    let pool = mgr.builder(2).min_ready(2).build().unwrap();
    mgr.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let report = pool.maintain();
    assert_eq!((report.created, report.failed), (0, 1));
    assert_eq!(pool.status().live, 0);
}

#[test]
fn the_worker_refills_off_the_callers_path() {
    let mgr = Counting::default();
    let worker = Maintainer::spawn(Duration::from_secs(3600)).unwrap();
    let pool = mgr.builder(8).min_ready(4).maintainer(worker).build().unwrap();
    wait_for("initial pre-warm", || pool.status().ready == 4);
    for _ in 0..100 {
        let lease = pool.acquire().unwrap();
        assert_eq!(lease.created_on.as_deref(), Some("plugrt-pool-maint"), "created on the caller's thread");
        drop(lease);
        wait_for("refill", || pool.status().ready + pool.status().creating >= 3);
    }
    wait_for("refilled to min_ready", || pool.status().ready == 4);
}

#[test]
fn one_worker_serves_many_pools_and_stops_when_unused() {
    let worker = Maintainer::spawn(Duration::from_millis(1)).unwrap();
    let managers: Vec<_> = (0..50).map(|_| Counting::default()).collect();
    let pools: Vec<_> =
        managers.iter().map(|m| m.builder(2).min_ready(2).maintainer(worker.clone()).build().unwrap()).collect();
    for pool in &pools {
        wait_for("every pool pre-warmed", || pool.status().ready == 2);
    }
    drop(pools);
    drop(worker);
    for m in &managers {
        wait_for("pools dropped with their instances", || m.live() == 0);
    }
}

#[test]
fn a_failing_manager_does_not_make_the_worker_spin() {
    let mgr = Counting::default();
    mgr.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let worker = Maintainer::spawn(Duration::from_secs(3600)).unwrap();
    let pool = mgr.builder(4).min_ready(2).maintainer(worker).build().unwrap();
    wait_for("the initial refill attempt", || pool.metrics().counters.creation_failures >= 1);
    std::thread::sleep(Duration::from_millis(20));
    // One attempt per request: the failure did not re-request itself.
    assert_eq!(pool.metrics().counters.creation_failures, 1);
    assert_eq!(pool.status().live, 0);
    // The next caller's event asks again, and a working manager then fills the pool.
    mgr.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    drop(pool.acquire().unwrap());
    wait_for("refill after recovery", || pool.status().ready == 2);
}
