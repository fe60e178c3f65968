//! A budget shared by pools: one cap for all, idle instances given up first, and only leased
//! instances make a caller wait (and then fail with `BudgetExhausted`).

use std::time::Duration;

use plugrt_pool::{Budget, PoolError, RetireReason};

use crate::common::Counting;

#[test]
fn an_idle_instance_of_another_pool_is_given_up_for_a_caller() {
    let budget = Budget::with_prewarm_limit(2, 2);
    let (a_mgr, b_mgr) = (Counting::default(), Counting::default());
    let a = a_mgr.builder(4).min_ready(4).budget(budget.clone()).build().unwrap();
    let b = b_mgr.builder(4).budget(budget.clone()).build().unwrap();
    assert_eq!(a.maintain().created, 2, "pre-warm stops at the budget");
    assert_eq!(budget.status().live, 2);

    let lease = b.acquire_with_timeout(Duration::ZERO).expect("an idle instance of `a` gives way");
    assert_eq!(a.status().ready, 1);
    assert_eq!(a.metrics().counters.retired_for(RetireReason::Evicted), 1);
    assert_eq!((a_mgr.live(), b_mgr.live()), (1, 1));
    assert_eq!(budget.status().live, 2);
    // Pre-warm does not take the permit back while `b` holds it.
    assert_eq!(a.maintain().created, 0);
    drop(lease);
    assert_eq!(budget.status().live, 1);
}

#[test]
fn leased_instances_make_others_wait_then_fail_typed() {
    let budget = Budget::new(2);
    let (a_mgr, b_mgr) = (Counting::default(), Counting::default());
    let a = a_mgr.builder(4).budget(budget.clone()).build().unwrap();
    let b = b_mgr.builder(4).budget(budget.clone()).build().unwrap();
    let held = (a.acquire().unwrap(), a.acquire().unwrap());
    match b.acquire_with_timeout(Duration::ZERO) {
        Err(e @ PoolError::BudgetExhausted { max_live: 2, .. }) => assert!(e.is_resource_limit()),
        other => panic!("expected BudgetExhausted, got {other:?}"),
    }
    assert!(matches!(b.try_acquire(), Err(PoolError::Exhausted { .. })));
    assert_eq!(b_mgr.created(), 0, "nothing was created beyond the budget");

    // A waiter is served by the first lease that ends, whichever pool it belongs to.
    let waiter = std::thread::spawn(move || b.acquire_with_timeout(Duration::from_secs(30)).map(|l| l.id));
    drop(held.0);
    assert_eq!(waiter.join().unwrap().unwrap(), 0);
    drop(held.1);
    assert_eq!(budget.status().live, 0);
}

#[test]
fn permits_outside_pools_count_and_evict() {
    let budget = Budget::with_prewarm_limit(1, 1);
    let mgr = Counting::default();
    let pool = mgr.builder(2).min_ready(1).budget(budget.clone()).build().unwrap();
    pool.maintain();
    let permit = budget.acquire(Duration::ZERO).expect("the idle instance gives way");
    assert_eq!((pool.status().ready, mgr.live()), (0, 0));
    assert!(budget.try_acquire().is_none());
    assert!(budget.acquire(Duration::ZERO).is_err());
    assert!(pool.acquire_with_timeout(Duration::ZERO).is_err());
    drop(permit);
    assert!(pool.acquire_with_timeout(Duration::ZERO).is_ok());
}

#[test]
fn a_pool_s_own_waiters_keep_the_slot_s_permit() {
    let budget = Budget::new(3);
    let mgr = Counting::default();
    let pool = mgr.builder(1).budget(budget.clone()).build().unwrap();
    let held = pool.acquire().unwrap();
    let p2 = pool.clone();
    let waiter = std::thread::spawn(move || p2.acquire_with_timeout(Duration::from_secs(30)).map(|l| l.id));
    crate::common::wait_for("the waiter to queue", || pool.status().waiting == 1);
    drop(held);
    assert_eq!(waiter.join().unwrap().unwrap(), 1);
    assert_eq!(budget.status().live, 0);
}

#[test]
fn closing_returns_every_permit() {
    let budget = Budget::with_prewarm_limit(4, 4);
    let mgr = Counting::default();
    let pool = mgr.builder(4).min_ready(3).budget(budget.clone()).build().unwrap();
    pool.maintain();
    let lease = pool.acquire().unwrap();
    assert_eq!(budget.status().live, 3);
    assert_eq!(pool.close(Duration::ZERO).outstanding, 1);
    assert_eq!(budget.status().live, 1);
    drop(lease);
    assert_eq!(budget.status().live, 0);
}

#[test]
fn failed_creations_return_their_permit() {
    let budget = Budget::new(2);
    let mgr = Counting::default();
    let pool = mgr.builder(2).budget(budget.clone()).build().unwrap();
    mgr.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(pool.acquire(), Err(PoolError::Create { .. })));
    assert_eq!(budget.status().live, 0);
}

#[test]
fn prewarm_threshold_turns_prewarm_on_only_for_costly_creation() {
    for (threshold, expected) in [(Duration::ZERO, 2), (Duration::from_secs(3600), 0)] {
        let mgr = Counting::default();
        let pool = mgr.builder(4).min_ready(2).prewarm_threshold(threshold).build().unwrap();
        assert_eq!(pool.status().prewarm, 0, "undecided until creations are measured");
        assert_eq!(pool.maintain().created, 0);
        for _ in 0..4 {
            drop(pool.acquire().unwrap());
        }
        assert_eq!(pool.status().prewarm, expected, "threshold {threshold:?}");
        assert_eq!(pool.maintain().created, expected);
    }
}

#[test]
fn the_budget_holds_across_pools_under_concurrency() {
    // One manager for both pools: its peak counts the instances of both.
    let mgr = Counting::default();
    let budget = Budget::with_prewarm_limit(3, 2);
    let pools: Vec<_> = (0..3).map(|_| mgr.builder(3).min_ready(2).budget(budget.clone()).build().unwrap()).collect();
    std::thread::scope(|s| {
        for t in 0..4 {
            let pools = &pools;
            s.spawn(move || {
                for i in 0..2_000 {
                    let pool = &pools[(t + i) % pools.len()];
                    if i % 7 == 0 {
                        pool.maintain();
                    }
                    let lease = pool.acquire_with_timeout(Duration::from_secs(30)).unwrap();
                    assert_eq!(lease.uses, 0);
                }
            });
        }
    });
    assert!(mgr.peak() <= 3, "peak {} above the budget", mgr.peak());
    for pool in &pools {
        pool.close(Duration::ZERO);
    }
    assert_eq!((budget.status().live, mgr.live()), (0, 0));
}

#[test]
fn a_dropped_pool_returns_its_permits() {
    let budget = Budget::with_prewarm_limit(4, 4);
    let mgr = Counting::default();
    let pool = mgr.builder(4).min_ready(3).budget(budget.clone()).build().unwrap();
    pool.maintain();
    assert_eq!(budget.status().live, 3);
    drop(pool);
    assert_eq!((budget.status().live, budget.status().pools, mgr.live()), (0, 0, 0));
}

#[test]
fn an_async_acquire_waits_for_the_budget_and_is_woken() {
    use std::future::Future;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    /// A waker that records being woken.
    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    let budget = Budget::new(1);
    let (a_mgr, b_mgr) = (Counting::default(), Counting::default());
    let a = a_mgr.builder(2).budget(budget.clone()).build().unwrap();
    let b = b_mgr.builder(2).budget(budget.clone()).build().unwrap();
    let held = a.acquire().unwrap();
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut acquire = Box::pin(b.acquire_async());
    assert!(acquire.as_mut().poll(&mut cx).is_pending(), "the budget is spent by a lease");
    assert!(!flag.0.load(Ordering::SeqCst));
    drop(held);
    assert!(flag.0.load(Ordering::SeqCst), "a returned permit wakes the waiting task");
    match acquire.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(lease)) => assert_eq!(lease.id, 0),
        other => panic!("expected a lease, got {:?}", other.map(|r| r.map(|l| l.id))),
    }
    assert_eq!(budget.status().live, 0);
}
