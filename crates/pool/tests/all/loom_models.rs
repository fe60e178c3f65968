//! loom models of the cap and of the waiter hand-off: every interleaving of a few threads.
//! Run with `RUSTFLAGS="--cfg plugrt_loom" cargo test -p plugrt-pool --test all --release`
//! (`cargo xtask test` does).

use loom::thread;
use plugrt_pool::{Pool, PoolError};

use crate::common::Counting;

fn pool(mgr: &Counting, max: usize) -> Pool<Counting> {
    Pool::builder(mgr.clone()).max_instances(max).acquire_timeout(None).manual_maintenance().build().unwrap()
}

#[test]
fn cap_holds_for_every_interleaving() {
    loom::model(|| {
        let mgr = Counting::default();
        let pool = pool(&mgr, 1);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                thread::spawn(move || drop(pool.acquire().unwrap()))
            })
            .collect();
        let _ = pool.try_acquire();
        for t in threads {
            t.join().unwrap();
        }
        assert!(mgr.peak() <= 1, "cap exceeded");
        assert_eq!((pool.status().live, mgr.live()), (0, 0));
    });
}

#[test]
fn a_released_slot_reaches_the_waiter() {
    loom::model(|| {
        let mgr = Counting::default();
        let pool = pool(&mgr, 1);
        let held = pool.acquire().unwrap();
        let waiter = {
            let pool = pool.clone();
            thread::spawn(move || pool.acquire().map(|l| l.id))
        };
        drop(held);
        // Deadlock (a lost wake-up) would fail the model.
        assert!(waiter.join().unwrap().is_ok());
        assert_eq!(pool.status().live, 0);
    });
}

#[test]
fn close_reaches_the_waiter() {
    loom::model(|| {
        let mgr = Counting::default();
        let pool = pool(&mgr, 1);
        let held = pool.acquire().unwrap();
        let waiter = {
            let pool = pool.clone();
            thread::spawn(move || pool.acquire().map(drop))
        };
        let closer = {
            let pool = pool.clone();
            thread::spawn(move || pool.close(std::time::Duration::ZERO))
        };
        drop(held);
        // Either the waiter got the slot before the close, or it was told the pool closed.
        match waiter.join().unwrap() {
            Ok(()) | Err(PoolError::Closed { .. }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
        closer.join().unwrap();
        assert_eq!((pool.status().live, mgr.live()), (0, 0));
    });
}
