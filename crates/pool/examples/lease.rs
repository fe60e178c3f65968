//! The pool on its own, with a toy manager (each instance is a counter): what a loader does
//! with it. The book's "The instance pool" chapter includes it; `cargo xtask test` runs it:
//! `cargo run -p plugrt-pool --example lease`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use plugrt_pool::Pool;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    static CREATED: AtomicU64 = AtomicU64::new(0);
    // Any `Fn() -> Result<T, E>` is a manager; a loader's creates a sandboxed instance.
    let manager = || Ok::<_, std::convert::Infallible>(CREATED.fetch_add(1, Ordering::Relaxed));
    // ANCHOR: lease
    let pool = Pool::builder(manager)
        .name("my-plugin") // carried by every error, event and trace
        .max_instances(32) // cap on instances alive at once
        .min_ready(8) // fresh instances kept ready ahead of demand
        .acquire_timeout(Some(Duration::from_secs(2)))
        .build()?;

    let lease = pool.acquire()?; // waits in line (FIFO) if all 32 are busy
    let id: u64 = *lease; // a lease dereferences to its instance
    drop(lease); // the instance is dropped, never reused
    // ANCHOR_END: lease
    println!("served instance {id}");
    let metrics = pool.metrics();
    assert_eq!(metrics.counters.acquires, 1);
    println!("acquires {}, created so far {}", metrics.counters.acquires, CREATED.load(Ordering::Relaxed));
    Ok(())
}
