//! Timeouts, deterministically: zero durations, past deadlines, a slot held by a creation that
//! never finishes until the test lets it.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use plugrt_pool::{Pool, PoolError};

use crate::common::Counting;

#[test]
fn zero_timeout_fails_at_once_when_full() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).build().unwrap();
    let _held = pool.acquire().unwrap();
    let err = pool.acquire_with_timeout(Duration::ZERO).unwrap_err();
    assert!(matches!(err, PoolError::Timeout { waited: Duration::ZERO, max_instances: 1, .. }), "{err}");
    assert_eq!(pool.status().waiting, 0);
    assert_eq!(pool.metrics().counters.timeouts, 1);
}

#[test]
fn past_deadline_and_configured_zero_timeout_fail_at_once() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).acquire_timeout(Some(Duration::ZERO)).build().unwrap();
    let _held = pool.acquire().unwrap();
    assert!(matches!(pool.acquire(), Err(PoolError::Timeout { .. })));
    assert!(matches!(pool.acquire_until(Instant::now()), Err(PoolError::Timeout { .. })));
    assert_eq!(pool.metrics().counters.timeouts, 2);
}

#[test]
fn short_timeout_withdraws_the_waiter() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).build().unwrap();
    let held = pool.acquire().unwrap();
    let t0 = Instant::now();
    let err = pool.acquire_with_timeout(Duration::from_millis(3)).unwrap_err();
    assert!(t0.elapsed() >= Duration::from_millis(3));
    assert!(matches!(err, PoolError::Timeout { waited, .. } if waited >= Duration::from_millis(3)), "{err}");
    assert_eq!(pool.status().waiting, 0, "a timed-out waiter stayed queued");
    drop(held);
    // The freed slot was not handed to the departed waiter.
    assert_eq!(pool.status().live, 0);
    assert!(pool.try_acquire().is_ok());
}

#[test]
fn a_slot_being_created_counts_against_the_cap() {
    // A factory that is not ready until the test says so.
    let (go_tx, go_rx) = mpsc::sync_channel::<()>(0);
    let go_rx = std::sync::Mutex::new(go_rx);
    let pool = Pool::builder(move || {
        go_rx.lock().unwrap().recv().unwrap();
        Ok::<_, ()>(())
    })
    .max_instances(1)
    .build()
    .unwrap();
    let creator = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.acquire().map(drop))
    };
    crate::common::wait_for("creation started", || pool.status().live == 1);
    assert!(matches!(pool.acquire_with_timeout(Duration::ZERO), Err(PoolError::Timeout { .. })));
    assert!(matches!(pool.try_acquire(), Err(PoolError::Exhausted { .. })));
    go_tx.send(()).unwrap();
    assert!(creator.join().unwrap().is_ok());
}

#[test]
fn timeouts_racing_releases_lose_nothing() {
    let mgr = Counting::default();
    let pool = mgr.builder(2).build().unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut outcomes = (0u64, 0u64);
                for _ in 0..2000 {
                    match pool.acquire_with_timeout(Duration::from_micros(5)) {
                        Ok(_) => outcomes.0 += 1,
                        Err(PoolError::Timeout { .. }) => outcomes.1 += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                outcomes
            })
        })
        .collect();
    let (mut ok, mut timeouts) = (0, 0);
    for t in threads {
        let (o, t) = t.join().unwrap();
        ok += o;
        timeouts += t;
    }
    let m = pool.metrics();
    assert_eq!(ok + timeouts, 16_000);
    assert_eq!((m.counters.acquires, m.counters.timeouts), (ok, timeouts));
    assert_eq!((m.status.live, m.status.waiting, mgr.live()), (0, 0, 0), "{:?}", m.status);
}
