//! The pool's errors.

use std::sync::Arc;
use std::time::Duration;

use crate::PoolResourceLimit;

/// Why an acquire did not produce a lease. `E` is the manager's creation error.
///
/// Every variant carries the pool's name (see [`PoolBuilder::name`](crate::PoolBuilder::name)),
/// which loaders set to the plugin name.
#[derive(Debug, thiserror::Error)]
pub enum PoolError<E> {
    /// Every slot stayed busy until the acquire's timeout or deadline passed.
    #[error("pool `{pool}`: no instance became free within {waited:?} (max_instances = {max_instances})")]
    Timeout {
        /// The pool's name.
        pool: Arc<str>,
        /// How long the caller waited.
        waited: Duration,
        /// The pool's cap.
        max_instances: usize,
    },
    /// The pool had room, but the [`Budget`](crate::Budget) it shares with other pools was
    /// spent by leased instances (no pool held an idle one to give up) until the deadline.
    #[error("pool `{pool}`: all {max_live} instances of the shared budget stayed in use for {waited:?}")]
    BudgetExhausted {
        /// The pool's name.
        pool: Arc<str>,
        /// How long the caller waited.
        waited: Duration,
        /// The budget's cap.
        max_live: usize,
    },
    /// A non-waiting acquire ([`Pool::try_acquire`](crate::Pool::try_acquire)) found every slot
    /// busy, or other callers already waiting for one.
    #[error("pool `{pool}`: all {max_instances} instances are in use")]
    Exhausted {
        /// The pool's name.
        pool: Arc<str>,
        /// The pool's cap.
        max_instances: usize,
    },
    /// The pool was closed before or while the caller waited.
    #[error("pool `{pool}` is closed")]
    Closed {
        /// The pool's name.
        pool: Arc<str>,
    },
    /// The manager failed to create an instance. The slot was freed.
    #[error("pool `{pool}`: creating an instance failed")]
    Create {
        /// The pool's name.
        pool: Arc<str>,
        /// The manager's error.
        #[source]
        source: E,
    },
}

impl<E> PoolError<E> {
    /// True for the failures that mean "too much load": [`Timeout`](Self::Timeout),
    /// [`BudgetExhausted`](Self::BudgetExhausted) and [`Exhausted`](Self::Exhausted).
    pub fn is_resource_limit(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Exhausted { .. } | Self::BudgetExhausted { .. })
    }

    /// Turns a resource-limit failure into the caller's error type through
    /// [`PoolResourceLimit`]; any other variant is handed back unchanged in `Err`.
    pub fn into_resource_limit<T: PoolResourceLimit>(self) -> Result<T, Self>
    where
        E: std::fmt::Display,
    {
        if self.is_resource_limit() { Ok(T::resource_limit(self.to_string())) } else { Err(self) }
    }
}

/// A pool configuration that cannot work, reported by [`PoolBuilder::build`](crate::PoolBuilder::build).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// `max_instances` was zero.
    #[error("pool `{pool}`: max_instances must be at least 1")]
    ZeroCapacity {
        /// The pool's name.
        pool: Arc<str>,
    },
    /// More pre-warmed instances were asked for than the cap allows.
    #[error("pool `{pool}`: min_ready ({min_ready}) exceeds max_instances ({max_instances})")]
    MinReadyAboveCap {
        /// The pool's name.
        pool: Arc<str>,
        /// The requested pre-warm count.
        min_ready: usize,
        /// The cap.
        max_instances: usize,
    },
    /// The maintenance worker thread could not be started.
    #[error("pool `{pool}`: cannot start the maintenance worker: {message}")]
    Maintenance {
        /// The pool's name.
        pool: Arc<str>,
        /// Why spawning failed.
        message: String,
    },
    /// `Reuse::Bounded` with `max_uses == 0`.
    #[error("pool `{pool}`: bounded reuse needs max_uses of at least 1")]
    ZeroUses {
        /// The pool's name.
        pool: Arc<str>,
    },
}
