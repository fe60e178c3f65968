//! Waiters are served in arrival order, one per freed slot, and never overtaken.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use plugrt_pool::PoolError;

use crate::common::{Counting, wait_for};

#[test]
fn waiters_are_served_in_arrival_order() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).acquire_timeout(None).build().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let held = pool.acquire().unwrap();
    let mut threads = Vec::new();
    for i in 0..6 {
        let (p, order) = (pool.clone(), order.clone());
        threads.push(std::thread::spawn(move || {
            let _lease = p.acquire().unwrap();
            order.lock().unwrap().push(i);
        }));
        // Let waiter i queue up before spawning i + 1.
        wait_for("waiter queued", || pool.status().waiting == i + 1);
    }
    drop(held);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_freed_slot_wakes_exactly_one_waiter() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).acquire_timeout(None).build().unwrap();
    let held = pool.acquire().unwrap();
    let (got_tx, got_rx) = mpsc::channel();
    let mut releases = Vec::new();
    let mut threads = Vec::new();
    for i in 0..3 {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        releases.push(release_tx);
        let (p, got_tx) = (pool.clone(), got_tx.clone());
        threads.push(std::thread::spawn(move || {
            let lease = p.acquire().unwrap();
            got_tx.send(i).unwrap();
            release_rx.recv().unwrap();
            drop(lease);
        }));
        wait_for("waiter queued", || pool.status().waiting == i + 1);
    }
    drop(held);
    assert_eq!(got_rx.recv().unwrap(), 0);
    let s = pool.status();
    assert_eq!((s.waiting, s.leased, s.live), (2, 1, 1), "{s:?}");
    assert!(got_rx.try_recv().is_err(), "a second waiter woke up for one slot");
    for (i, release) in releases.iter().enumerate() {
        release.send(()).unwrap();
        if i < 2 {
            assert_eq!(got_rx.recv().unwrap(), i + 1);
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(pool.status().live, 0);
}

#[test]
fn try_acquire_does_not_overtake_a_waiter() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).acquire_timeout(None).build().unwrap();
    let held = pool.acquire().unwrap();
    let waiter = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.acquire().map(|l| l.id))
    };
    wait_for("waiter queued", || pool.status().waiting == 1);
    drop(held);
    // The slot went to the waiter when `held` was dropped, before this line runs.
    assert!(matches!(pool.try_acquire(), Err(PoolError::Exhausted { .. })));
    assert!(waiter.join().unwrap().is_ok());
}
