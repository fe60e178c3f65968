//! Closing: new acquires fail, waiters wake, ready instances drop, leases drain.

use std::time::Duration;

use plugrt_pool::{PoolError, RetireReason, Reuse};

use crate::common::{Counting, wait_for};

#[test]
fn close_rejects_new_acquires_and_drops_ready_instances() {
    let mgr = Counting::default();
    let pool = mgr.builder(4).min_ready(3).build().unwrap();
    pool.maintain();
    assert_eq!(mgr.live(), 3);
    let report = pool.close(Duration::ZERO);
    assert!(report.drained());
    assert_eq!(mgr.live(), 0, "ready instances survived close");
    assert!(pool.is_closed());
    for err in [pool.acquire().unwrap_err(), pool.try_acquire().unwrap_err()] {
        assert!(matches!(err, PoolError::Closed { .. }), "{err}");
        assert_eq!(err.to_string(), "pool `test` is closed");
    }
    assert_eq!(pool.metrics().counters.retired_for(RetireReason::Closed), 3);
    assert_eq!(pool.maintain().created, 0, "a closed pool refilled");
}

#[test]
fn close_wakes_waiters_with_closed() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).acquire_timeout(None).build().unwrap();
    let held = pool.acquire().unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let pool = pool.clone();
            std::thread::spawn(move || pool.acquire().map(drop))
        })
        .collect();
    wait_for("3 waiters queued", || pool.status().waiting == 3);
    let report = pool.close(Duration::ZERO);
    assert_eq!(report.outstanding, 1);
    for w in waiters {
        assert!(matches!(w.join().unwrap(), Err(PoolError::Closed { .. })));
    }
    drop(held);
    assert_eq!((pool.status().live, mgr.live()), (0, 0));
}

#[test]
fn close_waits_for_outstanding_leases_until_its_deadline() {
    let mgr = Counting::default();
    let pool = mgr.builder(2).build().unwrap();
    let lease = pool.acquire().unwrap();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2));
        drop(lease);
    });
    let report = pool.close(Duration::from_secs(30));
    assert!(report.drained(), "{report:?}");
    assert_eq!(mgr.live(), 0);
    holder.join().unwrap();
    // Closing twice is harmless.
    assert!(pool.close(Duration::ZERO).drained());
}

#[test]
fn instances_released_after_close_are_dropped_not_pooled() {
    let mgr = Counting::default();
    let pool = mgr.builder(2).reuse(Reuse::bounded(100)).build().unwrap();
    let lease = pool.acquire().unwrap();
    let report = pool.close(Duration::ZERO);
    assert_eq!(report.outstanding, 1);
    assert!(!report.drained());
    drop(lease);
    assert_eq!((pool.status().ready, pool.status().live, mgr.live()), (0, 0, 0));
    assert_eq!(pool.metrics().counters.retired_for(RetireReason::Closed), 1);
}
