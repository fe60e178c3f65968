//! The cap holds under contention and no slot leaks.

use std::sync::Arc;
use std::time::Duration;

use plugrt_pool::{Maintainer, PoolError, RetireReason, Reuse, ReuseLimits};

use crate::common::{Counting, wait_for};

const THREADS: usize = 100;
const ROUNDS: usize = 1000;

#[test]
fn cap_holds_for_100_threads_x_1000_acquires() {
    let mgr = Counting::default();
    let pool = mgr.builder(8).acquire_timeout(None).build().unwrap();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let mut lease = pool.acquire().unwrap();
                    assert_eq!(lease.uses, 0, "Reuse::Never handed out a used instance");
                    lease.uses += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(mgr.peak() <= 8, "peak {} above the cap", mgr.peak());
    assert_eq!(mgr.live(), 0, "instances leaked");
    let m = pool.metrics();
    assert_eq!(m.status.live, 0, "slots leaked: {:?}", m.status);
    assert_eq!(m.status.leased, 0);
    assert_eq!(m.status.waiting, 0);
    let total = (THREADS * ROUNDS) as u64;
    assert_eq!(m.counters.acquires, total);
    assert_eq!(m.counters.creations, total);
    assert_eq!(m.counters.retired_for(RetireReason::SingleUse), total);
    assert_eq!(m.acquire_wait.count, total);
}

#[test]
fn cap_holds_with_prewarm_reuse_and_timeouts_mixed() {
    let mgr = Counting::default();
    let maintainer = Maintainer::spawn(Duration::from_millis(1)).unwrap();
    let pool = mgr
        .builder(6)
        .min_ready(4)
        .maintainer(maintainer)
        .reuse(Reuse::Bounded(ReuseLimits { max_uses: 3, max_idle: Some(Duration::from_micros(50)) }))
        .build()
        .unwrap();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let (mut ok, mut timed_out) = (0u64, 0u64);
                for round in 0..500 {
                    let got = if (i + round) % 3 == 0 {
                        pool.acquire_with_timeout(Duration::from_micros(20))
                    } else {
                        pool.acquire_with_timeout(Duration::from_secs(30))
                    };
                    match got {
                        Ok(mut lease) => {
                            ok += 1;
                            if round % 7 == 0 {
                                lease.poison();
                            }
                        }
                        Err(PoolError::Timeout { .. }) => timed_out += 1,
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                (ok, timed_out)
            })
        })
        .collect();
    let (mut ok, mut timed_out) = (0, 0);
    for t in threads {
        let (o, t) = t.join().unwrap();
        ok += o;
        timed_out += t;
    }
    assert!(mgr.peak() <= 6, "peak {} above the cap", mgr.peak());
    let c = pool.metrics().counters;
    assert_eq!(c.acquires, ok);
    assert_eq!(c.timeouts, timed_out);
    assert_eq!(ok + timed_out, 16 * 500);
    let report = pool.close(Duration::from_secs(10));
    assert!(report.drained(), "{report:?}");
    wait_for("every instance dropped", || mgr.live() == 0);
    assert_eq!(pool.status().live, 0);
}

#[test]
fn try_acquire_never_waits() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).build().unwrap();
    let held = pool.try_acquire().unwrap();
    let err = pool.try_acquire().unwrap_err();
    assert!(matches!(err, PoolError::Exhausted { max_instances: 1, .. }), "{err}");
    assert!(err.to_string().contains("`test`"), "error names the pool: {err}");
    assert_eq!(pool.metrics().counters.exhausted, 1);
    drop(held);
    assert!(pool.try_acquire().is_ok());
}

#[test]
fn failed_creation_frees_its_slot() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).build().unwrap();
    mgr.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = pool.acquire().unwrap_err();
    assert!(matches!(err, PoolError::Create { source: crate::common::CreateFailed, .. }), "{err}");
    assert_eq!(pool.status().live, 0);
    assert_eq!(pool.metrics().counters.creation_failures, 1);
    mgr.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(pool.try_acquire().is_ok());
}

#[test]
fn panicking_manager_frees_its_slot() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    let pool = plugrt_pool::Pool::builder(move || {
        if c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            panic!("manager bug");
        }
        Ok::<_, ()>(())
    })
    .max_instances(1)
    .build()
    .unwrap();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.acquire().map(drop)));
    assert!(unwound.is_err());
    assert_eq!(pool.status().live, 0, "the panicking creation leaked its slot");
    assert!(pool.try_acquire().is_ok());
}

#[test]
fn builder_rejects_impossible_configs() {
    let mgr = Counting::default();
    let err = mgr.builder(0).build().unwrap_err();
    assert!(err.to_string().contains("max_instances"), "{err}");
    let err = mgr.builder(2).min_ready(3).build().unwrap_err();
    assert!(err.to_string().contains("min_ready (3) exceeds max_instances (2)"), "{err}");
    let err = mgr.builder(2).reuse(Reuse::bounded(0)).build().unwrap_err();
    assert!(err.to_string().contains("max_uses"), "{err}");
}
