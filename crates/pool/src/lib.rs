//! A bounded pool of single-use instances, built ahead of demand: isolation per call at
//! warm-pool latency.
//!
//! plugrt runs every plugin call in a brand-new sandbox. This crate is the part that makes that
//! cheap: it keeps *fresh* instances ready before callers ask, hands each to exactly one
//! caller, and drops it afterwards. It knows nothing about WebAssembly: anything a
//! [`Manager`] (or a plain closure) can create can be pooled.
//!
//! ```
//! use plugrt_pool::{Pool, PoolError};
//!
//! let pool = Pool::builder(|| Ok::<_, std::io::Error>(Vec::<u8>::with_capacity(64)))
//!     .name("demo")
//!     .max_instances(4)
//!     .build()?;
//!
//! let mut lease = pool.acquire()?;   // a fresh instance, created inline
//! lease.push(1);
//! drop(lease);                        // dropped, not reused: Reuse::Never is the default
//!
//! let lease = pool.acquire()?;
//! assert!(lease.is_empty());          // no state leaks from the previous lease
//! # drop(lease);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The model
//! - **Cap.** At most `max_instances` instances exist at once, counting ready, leased, being
//!   created and being dropped. A slot is freed only after its instance is dropped.
//! - **Acquire.** A ready instance is taken if there is one; otherwise, if the cap allows, one
//!   is created inline; otherwise the caller waits in a FIFO queue, and each freed slot wakes
//!   exactly one waiter. [`Pool::try_acquire`] never waits, [`Pool::acquire`] waits up to the
//!   configured timeout, [`Pool::acquire_with_timeout`] and [`Pool::acquire_until`] take their
//!   own, and [`Pool::acquire_async`] waits without blocking a thread (no async runtime is
//!   linked; apply timeouts with your runtime).
//! - **Pre-warm.** With `min_ready = n`, a maintenance worker keeps up to `n` fresh instances
//!   ready, refilling off the callers' path. One worker thread serves every pool of the process
//!   ([`Maintainer::global`]); tests can instead call [`Pool::maintain`] explicitly.
//! - **Retirement.** Instances are dropped when their lease ends (`Reuse::Never`), when the lease
//!   was [poisoned](Lease::poison) (or dropped during a panic), after `max_uses` or `max_idle`
//!   (`Reuse::Bounded`), when the manager's [`recycle`](Manager::recycle) refuses them, or when
//!   the pool [closes](Pool::close).
//! - **Pre-warm that pays.** [`PoolBuilder::prewarm_threshold`] keeps `min_ready` only while
//!   the median creation (from the `create_time` histogram) takes at least the threshold.
//! - **Budget.** Pools given one [`Budget`] share a cap on live instances: each slot holds a
//!   permit; when the budget is spent, idle ready instances of other pools are dropped first
//!   (retire reason `Evicted`), and only leased ones make a caller wait
//!   ([`PoolError::BudgetExhausted`] at its deadline).
//! - **Metrics.** [`Pool::metrics`] returns counters, gauges and microsecond-resolution
//!   histograms; an [`Observer`] receives each event. No metrics backend is linked.
//!
//! # Isolation or reuse?
//! [`Reuse::Never`] (the default) gives each lease an instance nobody used before. Whatever a
//! call leaves behind (memory contents, globals, a half-finished state after a trap) is
//! dropped with the instance and can never reach another caller. With pre-warm, callers
//! still get an instance without waiting for its creation, so the price of isolation is
//! paid by the maintenance worker, in CPU, not by callers, in latency. Choose it for any code
//! you did not write yourself, and whenever one caller's data must not be seen by the next.
//!
//! [`Reuse::Bounded`] lets an instance serve up to `max_uses` leases. It saves the creation
//! cost entirely, but state survives between leases: only the manager's `recycle` check
//! stands between one caller and the last one's leftovers. Choose it only for trusted code
//! whose state you know how to check or reset, when the creation cost dominates and the
//! worker cannot keep up; keep `max_uses` small so that slow leaks (memory growth, corrupted
//! caches) are bounded, and set `max_idle` so that idle instances give their memory back.
//!
//! # What this crate does not do
//! It does not reset instances (a reused instance is exactly as the last lease left it), does
//! not time out or cancel work done under a lease, does not apply a timeout to
//! [`Pool::acquire_async`], and does not retry failed creations for a caller (the error is
//! returned and the slot freed).
//!
//! # Performance
#![doc = include_str!("../../../docs/src/figures/pool.md")]
#![cfg_attr(not(plugrt_loom), forbid(unsafe_code))]

mod budget;
mod config;
mod error;
mod lease;
mod maintenance;
mod manager;
mod metrics;
mod pool;
mod shared;
mod sync;
mod waiter;

pub use budget::{Budget, BudgetExhausted, BudgetStatus, Permit};
pub use config::{Reuse, ReuseLimits};
pub use error::{BuildError, PoolError};
pub use lease::{Acquisition, Lease};
pub use maintenance::{DEFAULT_TICK, Maintainer};
pub use manager::{Manager, PoolResourceLimit};
pub use metrics::{
    BUCKET_BOUNDS_NS, Counters, Event, Histogram, HistogramSnapshot, MetricsSnapshot, Observer, RetireReason, Status,
};
pub use pool::{CloseReport, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_INSTANCES, MaintainReport, Pool, PoolBuilder};
pub use waiter::Acquire;
