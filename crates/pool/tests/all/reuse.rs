//! Reuse policy: Never hands out only fresh instances; Bounded respects uses, idleness and the
//! manager's check.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use plugrt_pool::{RetireReason, Reuse, ReuseLimits};

use crate::common::Counting;

#[test]
fn never_hands_out_a_used_instance() {
    let mgr = Counting::default();
    let pool = mgr.builder(4).build().unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let mut lease = pool.acquire().unwrap();
        assert_eq!((lease.uses, lease.previous_uses()), (0, 0));
        assert!(seen.insert(lease.id), "instance {} handed out twice", lease.id);
        lease.uses += 1;
    }
    assert_eq!(pool.status().ready, 0);
    assert_eq!(pool.metrics().counters.reuses, 0);
}

#[test]
fn bounded_reuse_stops_at_max_uses() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).reuse(Reuse::bounded(3)).build().unwrap();
    let ids: Vec<_> = (0..7)
        .map(|_| {
            let mut lease = pool.acquire().unwrap();
            assert_eq!(lease.previous_uses(), lease.uses, "bookkeeping and instance disagree");
            lease.uses += 1;
            lease.id
        })
        .collect();
    assert_eq!(ids, vec![0, 0, 0, 1, 1, 1, 2]);
    let c = pool.metrics().counters;
    assert_eq!((c.retired_for(RetireReason::MaxUses), c.reuses, c.creations), (2, 4, 3));
}

#[test]
fn idle_instances_are_reaped_by_maintenance() {
    let mgr = Counting::default();
    let limits = ReuseLimits { max_uses: 10, max_idle: Some(Duration::ZERO) };
    let pool = mgr.builder(2).reuse(Reuse::Bounded(limits)).build().unwrap();
    drop(pool.acquire().unwrap());
    assert_eq!(pool.status().ready, 1);
    let report = pool.maintain();
    assert_eq!(report.reaped, 1);
    assert_eq!((pool.status().ready, pool.status().live, mgr.live()), (0, 0, 0));
    assert_eq!(pool.metrics().counters.retired_for(RetireReason::Idle), 1);
}

#[test]
fn an_idle_instance_is_replaced_at_acquire() {
    let mgr = Counting::default();
    let limits = ReuseLimits { max_uses: 10, max_idle: Some(Duration::ZERO) };
    let pool = mgr.builder(1).reuse(Reuse::Bounded(limits)).build().unwrap();
    let first = pool.acquire().unwrap().id;
    let lease = pool.acquire().unwrap();
    assert_ne!(lease.id, first);
    assert_eq!(lease.previous_uses(), 0);
    assert_eq!(pool.metrics().counters.retired_for(RetireReason::Idle), 1);
}

#[test]
fn instances_within_max_idle_are_kept() {
    let mgr = Counting::default();
    let limits = ReuseLimits { max_uses: 10, max_idle: Some(Duration::from_secs(3600)) };
    let pool = mgr.builder(1).reuse(Reuse::Bounded(limits)).build().unwrap();
    let first = pool.acquire().unwrap().id;
    assert_eq!(pool.maintain().reaped, 0);
    assert_eq!(pool.acquire().unwrap().id, first);
}

#[test]
fn a_rejected_instance_is_replaced_in_the_same_acquire() {
    let mgr = Counting::default();
    mgr.check_dirty.store(true, SeqCst);
    let pool = mgr.builder(1).reuse(Reuse::bounded(10)).build().unwrap();
    let first = {
        let mut lease = pool.acquire().unwrap();
        lease.dirty = true;
        lease.id
    };
    let lease = pool.acquire().unwrap();
    assert_ne!(lease.id, first, "the manager's check was ignored");
    assert!(!lease.dirty);
    assert_eq!(pool.metrics().counters.retired_for(RetireReason::Rejected), 1);
    assert_eq!(mgr.live(), 1);
}
