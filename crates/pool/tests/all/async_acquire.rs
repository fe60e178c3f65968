//! Async acquire: waits without blocking the thread, cancels cleanly.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use plugrt_pool::PoolError;

use crate::common::Counting;

/// Runs `f` on another thread and fails (instead of hanging) if it takes more than 20 s.
fn within_20s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(20)).expect("async acquire blocked or deadlocked")
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn waiting_does_not_block_a_single_threaded_runtime() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).build().unwrap();
    within_20s(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async move {
            let held = pool.acquire_async().await.unwrap();
            let waiter = tokio::spawn({
                let pool = pool.clone();
                async move { pool.acquire_async().await.map(|l| l.id) }
            });
            // The waiter runs (and parks) on this same thread while we hold the lease.
            while pool.status().waiting == 0 {
                tokio::task::yield_now().await;
            }
            drop(held);
            assert_eq!(waiter.await.unwrap().unwrap(), 1);
        });
    });
}

#[test]
fn many_tasks_share_a_small_pool() {
    let mgr = Counting::default();
    let pool = mgr.builder(2).build().unwrap();
    let p = pool.clone();
    let done = within_20s(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        rt.block_on(async move {
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    let pool = p.clone();
                    tokio::spawn(async move {
                        for _ in 0..100 {
                            let lease = pool.acquire_async().await.unwrap();
                            tokio::task::yield_now().await;
                            drop(lease);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            5000
        })
    });
    assert_eq!(pool.metrics().counters.acquires, done);
    assert!(mgr.peak() <= 2);
    assert_eq!((pool.status().live, pool.status().waiting, mgr.live()), (0, 0, 0));
}

#[test]
fn a_dropped_future_leaves_the_queue() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).build().unwrap();
    let held = pool.acquire().unwrap();
    let mut fut = pool.acquire_async();
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!(pool.status().waiting, 1);
    drop(fut);
    assert_eq!(pool.status().waiting, 0);
    drop(held);
    assert_eq!(pool.status().live, 0);
}

#[test]
fn a_dropped_future_passes_its_grant_on() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).build().unwrap();
    let held = pool.acquire().unwrap();
    let mut first = pool.acquire_async();
    let mut second = pool.acquire_async();
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    drop(held); // The slot goes to `first`, which is never polled again...
    drop(first); // ...and passes it to `second` when dropped.
    match poll_once(&mut second) {
        Poll::Ready(Ok(lease)) => assert_eq!(lease.previous_uses(), 0),
        other => panic!("second waiter not served: {:?}", other.map(|r| r.map(|_| ()))),
    }
    assert_eq!(pool.status().waiting, 0);
}

#[test]
fn runtime_timeouts_cancel_the_wait() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).build().unwrap();
    let p = pool.clone();
    within_20s(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async move {
            let _held = p.acquire_async().await.unwrap();
            let r = tokio::time::timeout(Duration::from_millis(2), p.acquire_async()).await;
            assert!(r.is_err(), "acquire should still be pending");
        });
    });
    assert_eq!((pool.status().waiting, pool.status().live), (0, 0));
}

#[test]
fn closing_wakes_async_waiters() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).build().unwrap();
    let held = pool.acquire().unwrap();
    let mut fut = pool.acquire_async();
    assert!(poll_once(&mut fut).is_pending());
    pool.close(Duration::ZERO);
    assert!(matches!(poll_once(&mut fut), Poll::Ready(Err(PoolError::Closed { .. }))));
    drop(held);
}
