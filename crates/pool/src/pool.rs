//! [`Pool`], the handle callers use, and its [`PoolBuilder`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::maintenance::Maintainer;
use crate::metrics::{MetricsSnapshot, Observer, Status};
use crate::shared::{Config, Shared, Take};
use crate::waiter::{Acquire, Waited, Waiter, Withdrawn};
use crate::{Budget, BuildError, Lease, Manager, PoolError, Reuse};

/// Default [`PoolBuilder::max_instances`].
pub const DEFAULT_MAX_INSTANCES: usize = 16;
/// Default [`PoolBuilder::acquire_timeout`].
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bounded pool of instances made by a [`Manager`]. Cheap to clone (a shared handle).
///
/// See the crate docs for the model; in short: at most `max_instances` instances exist at any
/// time; [`acquire`](Pool::acquire) hands out a [`Lease`], creating an instance inline when
/// none is ready and the cap allows, else waiting in arrival order.
pub struct Pool<M: Manager> {
    shared: Arc<Shared<M>>,
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool { shared: self.shared.clone() }
    }
}

/// What one explicit [`Pool::maintain`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// Instances created to reach `min_ready`.
    pub created: usize,
    /// Creations that failed (refill stops at the first failure).
    pub failed: usize,
    /// Used instances dropped for exceeding `max_idle`.
    pub reaped: usize,
}

/// How [`Pool::close`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReport {
    /// Instances still alive at the deadline (leases not yet dropped). Each is dropped when its
    /// lease ends.
    pub outstanding: usize,
}

impl CloseReport {
    /// Whether every instance was gone before the deadline.
    pub fn drained(&self) -> bool {
        self.outstanding == 0
    }
}

impl<M: Manager> Pool<M> {
    /// Starts building a pool around `manager` (a [`Manager`] or a `Fn() -> Result<T, E>`).
    pub fn builder(manager: M) -> PoolBuilder<M> {
        PoolBuilder::new(manager)
    }

    /// Leases an instance, waiting up to the configured
    /// [`acquire_timeout`](PoolBuilder::acquire_timeout) for a slot if all are busy.
    pub fn acquire(&self) -> Result<Lease<M>, PoolError<M::Error>> {
        let deadline = self.shared.cfg.acquire_timeout.map(|t| Instant::now().checked_add(t));
        match deadline {
            None => self.acquire_inner(None),
            Some(Some(deadline)) => self.acquire_inner(Some(deadline)),
            // A timeout too large to represent: wait as long as it takes.
            Some(None) => self.acquire_inner(None),
        }
    }

    /// Leases an instance, waiting up to `timeout` (instead of the configured one). A zero
    /// timeout fails at once with [`PoolError::Timeout`] when no slot is free.
    pub fn acquire_with_timeout(&self, timeout: Duration) -> Result<Lease<M>, PoolError<M::Error>> {
        self.acquire_inner(Instant::now().checked_add(timeout))
    }

    /// Leases an instance, waiting until `deadline` at the latest.
    pub fn acquire_until(&self, deadline: Instant) -> Result<Lease<M>, PoolError<M::Error>> {
        self.acquire_inner(Some(deadline))
    }

    /// Leases an instance without waiting for another lease to end: fails with
    /// [`PoolError::Exhausted`] if every slot is busy or other callers are already waiting.
    /// May still create an instance inline when a slot is free.
    pub fn try_acquire(&self) -> Result<Lease<M>, PoolError<M::Error>> {
        let mut st = self.shared.lock();
        let mut taken = self.shared.take(&mut st);
        if let (Take::NoBudget, Some(budget)) = (&taken, &self.shared.budget) {
            drop(st);
            if !budget.try_acquire_raw() {
                return Err(self.shared.exhausted_error());
            }
            st = self.shared.lock();
            taken = self.shared.take_with_permit(&mut st);
        }
        drop(st);
        match taken {
            Take::Granted(grant) => self.shared.complete(grant, None),
            Take::Full | Take::NoBudget => Err(self.shared.exhausted_error()),
            Take::Closed => Err(self.shared.closed_error()),
        }
    }

    /// Leases an instance from async code without blocking the thread; see [`Acquire`] for
    /// cancellation and timeouts (the configured `acquire_timeout` is not applied).
    pub fn acquire_async(&self) -> Acquire<M> {
        Acquire::new(self.shared.clone())
    }

    /// `deadline`: `None` waits until served or closed.
    fn acquire_inner(&self, deadline: Option<Instant>) -> Result<Lease<M>, PoolError<M::Error>> {
        let mut st = self.shared.lock();
        let mut taken = self.shared.take(&mut st);
        let started = Instant::now();
        if let (Take::NoBudget, Some(budget)) = (&taken, &self.shared.budget) {
            // Room in this pool, none in the budget: idle instances of other pools go first,
            // then wait for a permit.
            drop(st);
            if !budget.obtain(deadline) {
                return Err(self.shared.budget_error(started.elapsed()));
            }
            st = self.shared.lock();
            taken = self.shared.take_with_permit(&mut st);
        }
        match taken {
            Take::Granted(grant) => {
                drop(st);
                return self.shared.complete(grant, None);
            }
            Take::Closed => return Err(self.shared.closed_error()),
            Take::Full | Take::NoBudget => {}
        }
        if deadline.is_some_and(|d| d <= started) {
            drop(st);
            return Err(self.shared.timeout_error(Duration::ZERO));
        }
        let waiter = Waiter::new(None);
        st.waiters.push_back(waiter.clone());
        drop(st);
        let grant = match waiter.wait(deadline) {
            Waited::Granted(grant) => grant,
            Waited::Closed => return Err(self.shared.closed_error()),
            Waited::TimedOut => match self.shared.withdraw(&waiter) {
                // Served just as the deadline passed: take it.
                Withdrawn::Granted(grant) => grant,
                Withdrawn::Closed => return Err(self.shared.closed_error()),
                Withdrawn::Removed => return Err(self.shared.timeout_error(started.elapsed())),
            },
        };
        self.shared.complete(grant, Some(started))
    }

    /// Closes the pool and waits up to `drain_timeout` for outstanding leases to end.
    ///
    /// At once: new acquires fail with [`PoolError::Closed`], current waiters wake with it, and
    /// ready instances are dropped. Then it blocks until every leased instance is dropped or
    /// the timeout passes; leases still out after that keep working and drop their instance when
    /// they end. Closing again is harmless (it just waits again). Does not cancel anything a
    /// lease holder is doing.
    pub fn close(&self, drain_timeout: Duration) -> CloseReport {
        let deadline = Instant::now().checked_add(drain_timeout);
        CloseReport { outstanding: self.shared.close(deadline) }
    }

    /// Whether [`close`](Pool::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.status().closed
    }

    /// Runs maintenance now, on this thread: drops used instances idle past `max_idle`, then
    /// creates instances until `min_ready` are ready (within the cap). Pools built with
    /// [`PoolBuilder::manual_maintenance`] are maintained only through this.
    pub fn maintain(&self) -> MaintainReport {
        let reaped = self.shared.reap_idle(Instant::now());
        let (created, failed) = self.shared.refill();
        MaintainReport { created, failed, reaped }
    }

    /// The gauges, read consistently under the pool's lock.
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// Counters, gauges and histograms.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot(self.shared.status())
    }

    /// The pool's name, as given to [`PoolBuilder::name`].
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.shared.manager
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("name", &self.shared.name).field("status", &self.status()).finish()
    }
}

/// Who maintains a pool.
enum Maintenance {
    Global,
    Worker(Maintainer),
    Manual,
}

/// Configures a [`Pool`]. Defaults: [`DEFAULT_MAX_INSTANCES`] instances, no pre-warm,
/// [`DEFAULT_ACQUIRE_TIMEOUT`], [`Reuse::Never`], the global maintenance worker (started only if
/// the pool needs one), no observer, name `"pool"`.
pub struct PoolBuilder<M> {
    manager: M,
    name: Arc<str>,
    max_instances: usize,
    min_ready: usize,
    prewarm_threshold: Option<Duration>,
    acquire_timeout: Option<Duration>,
    reuse: Reuse,
    observer: Option<Arc<dyn Observer>>,
    maintenance: Maintenance,
    budget: Option<Budget>,
}

impl<M: Manager> PoolBuilder<M> {
    fn new(manager: M) -> Self {
        PoolBuilder {
            manager,
            name: Arc::from("pool"),
            max_instances: DEFAULT_MAX_INSTANCES,
            min_ready: 0,
            prewarm_threshold: None,
            acquire_timeout: Some(DEFAULT_ACQUIRE_TIMEOUT),
            reuse: Reuse::Never,
            observer: None,
            maintenance: Maintenance::Global,
            budget: None,
        }
    }

    /// The name errors, events and traces carry (loaders use the plugin name).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The cap on instances alive at once: ready, leased, being created or being dropped.
    pub fn max_instances(mut self, max: usize) -> Self {
        self.max_instances = max;
        self
    }

    /// Instances to keep ready ahead of demand (at most `max_instances`). Refilled by the
    /// maintenance worker off the callers' path, in batches: once half of them are taken.
    pub fn min_ready(mut self, min: usize) -> Self {
        self.min_ready = min;
        self
    }

    /// Keeps `min_ready` instances ready only while creating one takes at least `threshold`
    /// (the median of the `create_time` histogram, read at bucket resolution): decided after
    /// the first 4 creations, which callers make inline, and reviewed every 64. Pre-warm is
    /// not free (the worker competes with callers for cores, and a pre-built instance is cold
    /// in the caller's cache), so it should run only where creation costs clearly more.
    pub fn prewarm_threshold(mut self, threshold: Duration) -> Self {
        self.prewarm_threshold = Some(threshold);
        self
    }

    /// Takes a permit of `budget` for every slot this pool holds, so that many pools share one
    /// cap; see [`Budget`] for what happens when it is spent.
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// How long [`Pool::acquire`] waits for a slot; `None` waits until served or closed.
    pub fn acquire_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Whether instances may serve more than one lease.
    pub fn reuse(mut self, reuse: Reuse) -> Self {
        self.reuse = reuse;
        self
    }

    /// Receives every pool event (see [`Observer`]).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Uses this worker instead of the global one.
    pub fn maintainer(mut self, maintainer: Maintainer) -> Self {
        self.maintenance = Maintenance::Worker(maintainer);
        self
    }

    /// No worker: pre-warm and idle reaping happen only when [`Pool::maintain`] is called.
    /// Useful for deterministic tests.
    pub fn manual_maintenance(mut self) -> Self {
        self.maintenance = Maintenance::Manual;
        self
    }

    /// Checks the configuration and builds the pool. With a maintenance worker and
    /// `min_ready > 0`, pre-warming starts in the background right away.
    pub fn build(self) -> Result<Pool<M>, BuildError> {
        let pool = self.name.clone();
        if self.max_instances == 0 {
            return Err(BuildError::ZeroCapacity { pool });
        }
        if self.min_ready > self.max_instances {
            return Err(BuildError::MinReadyAboveCap {
                pool,
                min_ready: self.min_ready,
                max_instances: self.max_instances,
            });
        }
        let idle_limit = match self.reuse {
            Reuse::Bounded(limits) if limits.max_uses == 0 => return Err(BuildError::ZeroUses { pool }),
            Reuse::Bounded(limits) => limits.max_idle.is_some(),
            Reuse::Never => false,
        };
        let needs_worker = self.min_ready > 0 || idle_limit;
        let maintainer = match self.maintenance {
            _ if !needs_worker => None,
            Maintenance::Manual => None,
            Maintenance::Worker(m) => Some(m),
            Maintenance::Global => {
                Some(Maintainer::global().map_err(|message| BuildError::Maintenance { pool, message })?)
            }
        };
        let cfg = Config {
            max_instances: self.max_instances,
            min_ready: self.min_ready,
            prewarm_threshold: self.prewarm_threshold,
            acquire_timeout: self.acquire_timeout,
            reuse: self.reuse,
        };
        let shared = Shared::new(self.manager, self.name, cfg, self.observer, maintainer, self.budget);
        shared.attach();
        Ok(Pool { shared })
    }
}
