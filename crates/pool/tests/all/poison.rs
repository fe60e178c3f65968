//! Poisoned instances (and those whose lease unwound) are never reused.

use plugrt_pool::{RetireReason, Reuse};

use crate::common::Counting;

#[test]
fn a_poisoned_instance_is_dropped_even_under_reuse() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).reuse(Reuse::bounded(100)).build().unwrap();
    let first = pool.acquire().unwrap().id;
    assert_eq!(pool.acquire().unwrap().id, first, "reuse mode should reuse a clean instance");
    let mut lease = pool.acquire().unwrap();
    lease.poison();
    assert!(lease.is_poisoned());
    drop(lease);
    assert_eq!(mgr.live(), 0, "the poisoned instance was kept");
    assert_ne!(pool.acquire().unwrap().id, first);
    assert_eq!(pool.metrics().counters.retired_for(RetireReason::Poisoned), 1);
}

#[test]
fn a_lease_dropped_while_panicking_is_poisoned() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).reuse(Reuse::bounded(100)).build().unwrap();
    let first = pool.acquire().unwrap().id;
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _lease = pool.acquire().unwrap();
        panic!("guest call blew up");
    }));
    assert!(unwound.is_err());
    assert_eq!(pool.metrics().counters.retired_for(RetireReason::Poisoned), 1);
    assert_ne!(pool.acquire().unwrap().id, first);
}
