//! The shared maintenance worker: one thread refills and reaps every pool attached to it.
//!
//! A database loads hundreds of plugins, each with a pool; a thread per pool would be
//! hundreds of idle threads. Instead pools attached to a [`Maintainer`] post refill requests to
//! it (at most one outstanding per pool) and are visited on a periodic tick for idle reaping.
//! Pools that need neither pre-warm nor idle reaping never touch it.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// What the worker can do to a pool without knowing its manager type.
pub(crate) trait Maintain: Send + Sync {
    /// Creates instances up to `min_ready`.
    fn refill_now(self: Arc<Self>);
    /// Reaps idle instances, then refills.
    fn maintain_now(self: Arc<Self>);
}

/// A handle to a maintenance worker thread shared by many pools.
///
/// Pools use [`Maintainer::global`] unless the builder is given another one or told to
/// maintain manually. The worker stops when the last handle to it is dropped (pools hold
/// handles); the global one lives for the whole process.
///
/// The worker runs managers' `create` on its own thread; a panicking `create` is caught and
/// counted as a failed creation so the worker keeps serving other pools.
#[derive(Clone)]
pub struct Maintainer {
    handle: Arc<Handle>,
}

/// Stops the worker when the last [`Maintainer`] clone goes.
struct Handle {
    inner: Arc<Inner>,
}

struct Inner {
    work: Mutex<Work>,
    wake: Condvar,
    tick: Duration,
}

#[derive(Default)]
struct Work {
    requests: VecDeque<Weak<dyn Maintain>>,
    registered: Vec<Weak<dyn Maintain>>,
    stop: bool,
}

/// The tick of [`Maintainer::global`]: how often idle reaping runs.
pub const DEFAULT_TICK: Duration = Duration::from_secs(1);

impl Maintainer {
    /// Starts a worker thread named `plugrt-pool-maint` that visits its pools every `tick`.
    pub fn spawn(tick: Duration) -> std::io::Result<Maintainer> {
        let inner = Arc::new(Inner { work: Mutex::new(Work::default()), wake: Condvar::new(), tick });
        let worker = inner.clone();
        std::thread::Builder::new().name("plugrt-pool-maint".into()).spawn(move || worker.run())?;
        Ok(Maintainer { handle: Arc::new(Handle { inner }) })
    }

    /// The process-wide worker (tick [`DEFAULT_TICK`]), started on first use. Fails only if
    /// the thread cannot be spawned, and then every later call fails the same way.
    pub fn global() -> Result<Maintainer, String> {
        static GLOBAL: OnceLock<Result<Maintainer, String>> = OnceLock::new();
        GLOBAL.get_or_init(|| Maintainer::spawn(DEFAULT_TICK).map_err(|e| e.to_string())).clone()
    }

    pub(crate) fn register(&self, pool: Weak<dyn Maintain>) {
        self.handle.inner.work.lock().registered.push(pool);
    }

    pub(crate) fn request(&self, pool: Weak<dyn Maintain>) {
        self.handle.inner.work.lock().requests.push_back(pool);
        self.handle.inner.wake.notify_one();
    }
}

impl fmt::Debug for Maintainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Maintainer").field("tick", &self.handle.inner.tick).finish_non_exhaustive()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner.work.lock().stop = true;
        self.inner.wake.notify_one();
    }
}

impl Inner {
    fn run(&self) {
        let mut next_tick = Instant::now() + self.tick;
        loop {
            let (requests, due) = {
                let mut work = self.work.lock();
                while work.requests.is_empty() && !work.stop {
                    if self.wake.wait_until(&mut work, next_tick).timed_out() {
                        break;
                    }
                }
                if work.stop {
                    return;
                }
                let requests: Vec<_> = work.requests.drain(..).collect();
                let due = if Instant::now() >= next_tick {
                    work.registered.retain(|p| p.strong_count() > 0);
                    work.registered.clone()
                } else {
                    Vec::new()
                };
                (requests, due)
            };
            for pool in requests.iter().filter_map(Weak::upgrade) {
                guarded(|| pool.refill_now());
            }
            if !due.is_empty() || Instant::now() >= next_tick {
                for pool in due.iter().filter_map(Weak::upgrade) {
                    guarded(|| pool.maintain_now());
                }
                next_tick = Instant::now() + self.tick;
            }
        }
    }
}

/// Runs one pool's maintenance, surviving a panicking manager.
fn guarded(f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::debug!("a pool manager panicked during maintenance");
    }
}
