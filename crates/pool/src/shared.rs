//! The state behind every [`Pool`](crate::Pool) handle and [`Lease`]: slot accounting, hand-off
//! to waiters, retirement and refill.
//!
//! Invariants, all under `state`'s lock:
//! - `live` counts every instance that exists, is being created, or is being dropped; it never
//!   exceeds `max_instances`. A slot is freed only *after* its instance was dropped, so an engine
//!   sized exactly to the cap (wasmtime's pooling allocator) never sees one instance too many.
//! - Waiters exist only while no slot is free: every freed slot or returned instance goes to the
//!   first waiter before anyone else can take it (arrival order, one waiter woken per slot).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::maintenance::{Maintain, Maintainer};
use crate::metrics::{Event, Metrics, Observer, RetireReason, Status};
use crate::sync::{Condvar, Mutex, MutexGuard};
use crate::waiter::{Waiter, Withdrawn};
use crate::{Lease, Manager, PoolError, Reuse};

/// Most slots maintenance reserves, fills and publishes at once: fewer lock round-trips than
/// one at a time, yet few enough that reserved-but-unpublished slots barely delay callers.
const REFILL_CHUNK: usize = 8;

/// Settings fixed at build time.
pub(crate) struct Config {
    pub(crate) max_instances: usize,
    pub(crate) min_ready: usize,
    /// Refill is requested when ready + creating falls to this (hysteresis, so the maintenance
    /// worker is woken once per batch rather than once per lease).
    pub(crate) low_water: usize,
    pub(crate) acquire_timeout: Option<Duration>,
    pub(crate) reuse: Reuse,
}

/// An instance with its bookkeeping.
pub(crate) struct Entry<T> {
    pub(crate) value: T,
    /// Leases it has served so far.
    pub(crate) uses: u32,
    /// When it was last returned (bounded reuse with an idle limit only).
    pub(crate) idle_since: Option<Instant>,
}

impl<T> Entry<T> {
    fn fresh(value: T) -> Self {
        Entry { value, uses: 0, idle_since: None }
    }
}

/// What a waiter or a fast-path acquire receives: an instance, or a reserved slot to create
/// one in. Either way `leased` and `live` already count it.
pub(crate) enum Grant<T> {
    Instance(Entry<T>),
    Slot,
}

/// Which gauge counts an instance that holds a slot.
#[derive(Clone, Copy)]
pub(crate) enum Holder {
    Lease,
    Maintenance,
}

pub(crate) struct State<T> {
    ready: VecDeque<Entry<T>>,
    live: usize,
    leased: usize,
    creating: usize,
    pub(crate) waiters: VecDeque<Arc<Waiter<T>>>,
    closed: bool,
}

pub(crate) enum Take<T> {
    Granted(Grant<T>),
    Full,
    Closed,
}

impl<T> State<T> {
    fn release_holder(&mut self, holder: Holder) {
        match holder {
            Holder::Lease => self.leased -= 1,
            Holder::Maintenance => self.creating -= 1,
        }
    }
}

pub(crate) struct Shared<M: Manager> {
    pub(crate) manager: M,
    pub(crate) name: Arc<str>,
    pub(crate) cfg: Config,
    state: Mutex<State<M::Instance>>,
    /// Signalled when a closed pool's last instance is gone.
    drained: Condvar,
    pub(crate) metrics: Metrics,
    observer: Option<Arc<dyn Observer>>,
    maintainer: Option<Maintainer>,
    refill_requested: AtomicBool,
    /// This pool as the maintenance worker sees it.
    me: Weak<dyn Maintain>,
}

type Res<M> = Result<Lease<M>, PoolError<<M as Manager>::Error>>;
/// A fresh instance and how long creating it took.
type Created<M> = Result<(Entry<<M as Manager>::Instance>, Duration), PoolError<<M as Manager>::Error>>;

impl<M: Manager> Shared<M> {
    pub(crate) fn new(
        manager: M,
        name: Arc<str>,
        cfg: Config,
        observer: Option<Arc<dyn Observer>>,
        maintainer: Option<Maintainer>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me: &Weak<Self>| Shared {
            manager,
            name,
            cfg,
            state: Mutex::new(State {
                ready: VecDeque::new(),
                live: 0,
                leased: 0,
                creating: 0,
                waiters: VecDeque::new(),
                closed: false,
            }),
            drained: Condvar::default(),
            metrics: Metrics::default(),
            observer,
            maintainer,
            refill_requested: AtomicBool::new(false),
            me: me.clone() as Weak<dyn Maintain>,
        })
    }

    /// Registers with the maintenance worker, if any, and asks for the initial pre-warm.
    pub(crate) fn attach(&self) {
        if let Some(maintainer) = &self.maintainer {
            maintainer.register(self.me.clone());
            if self.cfg.min_ready > 0 {
                self.refill_requested.store(true, Ordering::Relaxed);
                maintainer.request(self.me.clone());
            }
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<M::Instance>> {
        self.state.lock()
    }

    // ----- errors and events -------------------------------------------------------------

    pub(crate) fn closed_error(&self) -> PoolError<M::Error> {
        PoolError::Closed { pool: self.name.clone() }
    }

    pub(crate) fn emit(&self, event: Event) {
        if let Some(observer) = &self.observer {
            observer.on_event(&self.name, event);
        }
    }

    pub(crate) fn timeout_error(&self, waited: Duration) -> PoolError<M::Error> {
        self.metrics.timed_out();
        self.emit(Event::Timeout);
        PoolError::Timeout { pool: self.name.clone(), waited, max_instances: self.cfg.max_instances }
    }

    pub(crate) fn exhausted_error(&self) -> PoolError<M::Error> {
        self.metrics.exhausted();
        self.emit(Event::Exhausted);
        PoolError::Exhausted { pool: self.name.clone(), max_instances: self.cfg.max_instances }
    }

    // ----- taking -------------------------------------------------------------------------

    /// The non-waiting step of every acquire, under the lock.
    pub(crate) fn take(&self, st: &mut State<M::Instance>) -> Take<M::Instance> {
        if st.closed {
            Take::Closed
        } else if !st.waiters.is_empty() {
            // Never overtake a waiter.
            Take::Full
        } else if let Some(entry) = st.ready.pop_front() {
            st.leased += 1;
            self.refill_if_low(st);
            Take::Granted(Grant::Instance(entry))
        } else if st.live < self.cfg.max_instances {
            st.live += 1;
            st.leased += 1;
            self.refill_if_low(st);
            Take::Granted(Grant::Slot)
        } else {
            Take::Full
        }
    }

    /// Turns a grant into a lease outside the lock: creates into a reserved slot, or checks a
    /// used instance before reuse. `started` is when the caller began waiting, if it did.
    pub(crate) fn complete(self: &Arc<Self>, grant: Grant<M::Instance>, started: Option<Instant>) -> Res<M> {
        let mut created = None;
        let (entry, reused) = match grant {
            Grant::Instance(mut entry) if entry.uses > 0 => match self.recheck(&mut entry) {
                Ok(()) => (entry, true),
                Err(reason) => {
                    // The caller keeps the slot and gets a fresh instance in it.
                    self.discard(entry.value, reason);
                    let (fresh, took) = self.create_in_slot(Holder::Lease)?;
                    created = Some(took);
                    (fresh, false)
                }
            },
            Grant::Instance(entry) => (entry, false),
            Grant::Slot => {
                let (fresh, took) = self.create_in_slot(Holder::Lease)?;
                created = Some(took);
                (fresh, false)
            }
        };
        let waited = started.map(|s| s.elapsed()).or(created);
        self.metrics.acquired(waited, reused);
        self.emit(Event::Acquired { waited: waited.unwrap_or_default(), reused });
        Ok(Lease::new(self.clone(), entry))
    }

    /// Checks a used instance before reuse: idle limit, then the manager's `recycle`.
    fn recheck(&self, entry: &mut Entry<M::Instance>) -> Result<(), RetireReason> {
        if let (Reuse::Bounded(limits), Some(since)) = (&self.cfg.reuse, entry.idle_since)
            && limits.max_idle.is_some_and(|max| since.elapsed() >= max)
        {
            return Err(RetireReason::Idle);
        }
        let guard = SlotGuard::new(self, Holder::Lease);
        let checked = self.manager.recycle(&mut entry.value);
        guard.defuse();
        checked.map_err(|_| RetireReason::Rejected)
    }

    /// Creates an instance for a slot already reserved by `holder`. On failure the slot is
    /// freed and the error returned.
    fn create_in_slot(&self, holder: Holder) -> Created<M> {
        let guard = SlotGuard::new(self, holder);
        let t0 = Instant::now();
        let made = self.manager.create();
        let took = t0.elapsed();
        guard.defuse();
        match made {
            Ok(value) => {
                self.metrics.created(took);
                self.emit(Event::Created { took });
                Ok((Entry::fresh(value), took))
            }
            Err(source) => {
                self.metrics.create_failed();
                self.emit(Event::CreateFailed);
                tracing::debug!(pool = %self.name, "creating an instance failed");
                let mut st = self.lock();
                st.release_holder(holder);
                self.free_slots(&mut st, 1);
                Err(PoolError::Create { pool: self.name.clone(), source })
            }
        }
    }

    // ----- giving back --------------------------------------------------------------------

    /// Ends a lease.
    pub(crate) fn release(&self, mut entry: Entry<M::Instance>, poisoned: bool) {
        let reason = match (&self.cfg.reuse, poisoned) {
            (_, true) => RetireReason::Poisoned,
            (Reuse::Never, false) => RetireReason::SingleUse,
            (Reuse::Bounded(limits), false) => {
                entry.uses = entry.uses.saturating_add(1);
                if entry.uses >= limits.max_uses {
                    RetireReason::MaxUses
                } else {
                    entry.idle_since = limits.max_idle.map(|_| Instant::now());
                    return self.restore(entry, Holder::Lease);
                }
            }
        };
        self.retire(entry.value, reason, Holder::Lease);
    }

    /// Returns an acquired-but-unused grant (an async acquire dropped after being served).
    pub(crate) fn give_back(&self, grant: Grant<M::Instance>) {
        match grant {
            Grant::Instance(entry) => self.restore(entry, Holder::Lease),
            Grant::Slot => {
                let mut st = self.lock();
                st.leased -= 1;
                self.free_slots(&mut st, 1);
            }
        }
    }

    /// Puts an instance that holds a slot back: to the first waiter, else to the ready queue
    /// (used ones in front, so they are reused while warm; fresh ones behind). Dropped instead
    /// if the pool is closed.
    fn restore(&self, entry: Entry<M::Instance>, holder: Holder) {
        let mut st = self.lock();
        if st.closed {
            drop(st);
            return self.retire(entry.value, RetireReason::Closed, holder);
        }
        st.release_holder(holder);
        if let Some(waiter) = st.waiters.pop_front() {
            st.leased += 1;
            waiter.grant(Grant::Instance(entry));
        } else if entry.uses > 0 {
            st.ready.push_front(entry);
        } else {
            st.ready.push_back(entry);
        }
    }

    /// Drops an instance that holds a slot, then frees the slot.
    pub(crate) fn retire(&self, value: M::Instance, reason: RetireReason, holder: Holder) {
        self.discard(value, reason);
        let mut st = self.lock();
        st.release_holder(holder);
        self.free_slots(&mut st, 1);
    }

    /// Drops an instance and counts its retirement; the caller frees (or keeps) its slot.
    fn discard(&self, value: M::Instance, reason: RetireReason) {
        drop(value);
        self.metrics.retired(reason);
        self.emit(Event::Retired(reason));
        if reason == RetireReason::SingleUse {
            tracing::trace!(pool = %self.name, reason = reason.as_str(), "instance retired");
        } else {
            tracing::debug!(pool = %self.name, reason = reason.as_str(), "instance retired");
        }
    }

    /// Frees `n` slots whose instances are gone, handing each to the first waiter.
    fn free_slots(&self, st: &mut State<M::Instance>, n: usize) {
        st.live -= n;
        while st.live < self.cfg.max_instances && !st.closed {
            let Some(waiter) = st.waiters.pop_front() else { break };
            st.live += 1;
            st.leased += 1;
            waiter.grant(Grant::Slot);
        }
        if st.closed && st.live == 0 {
            self.drained.notify_all();
        }
        self.refill_if_low(st);
    }

    // ----- waiting ------------------------------------------------------------------------

    /// Takes a waiter out of the queue; if it was served meanwhile, returns what it got.
    pub(crate) fn withdraw(&self, waiter: &Arc<Waiter<M::Instance>>) -> Withdrawn<M::Instance> {
        let mut st = self.lock();
        let withdrawn = waiter.withdraw();
        if let Withdrawn::Removed = withdrawn {
            st.waiters.retain(|w| !Arc::ptr_eq(w, waiter));
        }
        withdrawn
    }

    // ----- pre-warm and idle reaping ----------------------------------------------------

    fn needs_refill(&self, st: &State<M::Instance>) -> bool {
        !st.closed
            && st.ready.len() + st.creating <= self.cfg.low_water
            && st.ready.len() + st.creating < self.cfg.min_ready
            && st.live < self.cfg.max_instances
    }

    /// Asks the maintenance worker (if any) to refill, at most once until it has started.
    /// Called with the lock held; the worker never takes its queue's lock and a pool's together.
    fn refill_if_low(&self, st: &State<M::Instance>) {
        let Some(maintainer) = &self.maintainer else { return };
        if self.refill_requested.load(Ordering::Relaxed) || !self.needs_refill(st) {
            return;
        }
        if !self.refill_requested.swap(true, Ordering::AcqRel) {
            maintainer.request(self.me.clone());
        }
    }

    /// Creates instances until `min_ready` are ready or being made, the cap is reached, or a
    /// creation fails. Returns (created, failed).
    ///
    /// The refill request flag stays set while this runs, so nothing it does re-requests it; it
    /// is cleared under the lock once the target is met (a later take that drains the pool
    /// requests again), or after a failure, which is retried only on the next pool event or
    /// maintenance tick, never in a loop.
    pub(crate) fn refill(&self) -> (usize, usize) {
        let mut created = 0;
        loop {
            let reserved = {
                let mut st = self.lock();
                let want = if st.closed {
                    0
                } else {
                    let short = self.cfg.min_ready.saturating_sub(st.ready.len() + st.creating);
                    short.min(self.cfg.max_instances - st.live).min(REFILL_CHUNK)
                };
                if want == 0 {
                    self.refill_requested.store(false, Ordering::Release);
                    return (created, 0);
                }
                st.live += want;
                st.creating += want;
                want
            };
            let mut made = Vec::with_capacity(reserved);
            let mut failed = false;
            while made.len() < reserved {
                match self.create_in_slot(Holder::Maintenance) {
                    Ok((entry, _)) => made.push(entry),
                    Err(_) => {
                        // create_in_slot freed the failed slot; free the ones not attempted.
                        failed = true;
                        let unused = reserved - made.len() - 1;
                        let mut st = self.lock();
                        st.creating -= unused;
                        self.free_slots(&mut st, unused);
                        break;
                    }
                }
            }
            created += made.len();
            self.publish(made);
            if failed {
                self.refill_requested.store(false, Ordering::Release);
                return (created, 1);
            }
        }
    }

    /// Hands instances made by maintenance to waiters, then to the back of the ready queue,
    /// under one lock.
    fn publish(&self, made: Vec<Entry<M::Instance>>) {
        if made.is_empty() {
            return;
        }
        let mut st = self.lock();
        if st.closed {
            drop(st);
            let n = made.len();
            for entry in made {
                self.discard(entry.value, RetireReason::Closed);
            }
            let mut st = self.lock();
            st.creating -= n;
            self.free_slots(&mut st, n);
            return;
        }
        for entry in made {
            st.creating -= 1;
            if let Some(waiter) = st.waiters.pop_front() {
                st.leased += 1;
                waiter.grant(Grant::Instance(entry));
            } else {
                st.ready.push_back(entry);
            }
        }
    }

    /// Drops used instances idle past `max_idle`. Returns how many.
    pub(crate) fn reap_idle(&self, now: Instant) -> usize {
        let Reuse::Bounded(limits) = self.cfg.reuse else { return 0 };
        let Some(max_idle) = limits.max_idle else { return 0 };
        let expired: Vec<_> = {
            let mut st = self.lock();
            let is_old =
                |e: &Entry<M::Instance>| e.idle_since.is_some_and(|s| now.saturating_duration_since(s) >= max_idle);
            let mut old = Vec::new();
            let mut keep = VecDeque::with_capacity(st.ready.len());
            for entry in st.ready.drain(..) {
                if is_old(&entry) { old.push(entry) } else { keep.push_back(entry) }
            }
            st.ready = keep;
            old
        };
        let n = expired.len();
        if n > 0 {
            for entry in expired {
                self.discard(entry.value, RetireReason::Idle);
            }
            let mut st = self.lock();
            self.free_slots(&mut st, n);
        }
        n
    }

    // ----- closing and status -----------------------------------------------------------

    /// Closes the pool and waits until every instance is gone or `deadline` passes. Returns
    /// the number of instances still live.
    pub(crate) fn close(&self, deadline: Option<Instant>) -> usize {
        let ready: Vec<_> = {
            let mut st = self.lock();
            st.closed = true;
            for waiter in std::mem::take(&mut st.waiters) {
                waiter.close();
            }
            st.ready.drain(..).collect()
        };
        let n = ready.len();
        for entry in ready {
            self.discard(entry.value, RetireReason::Closed);
        }
        let mut st = self.lock();
        self.free_slots(&mut st, n);
        while st.live > 0 {
            match deadline {
                Some(d) if Instant::now() >= d => break,
                Some(d) => {
                    self.drained.wait_until(&mut st, d);
                }
                None => self.drained.wait(&mut st),
            }
        }
        st.live
    }

    pub(crate) fn status(&self) -> Status {
        let st = self.lock();
        Status {
            ready: st.ready.len(),
            leased: st.leased,
            creating: st.creating,
            waiting: st.waiters.len(),
            live: st.live,
            max_instances: self.cfg.max_instances,
            closed: st.closed,
        }
    }
}

/// Frees a reserved slot if the manager panics while it is held, so a panicking `create` or
/// `recycle` cannot leak capacity.
struct SlotGuard<'a, M: Manager> {
    shared: &'a Shared<M>,
    holder: Holder,
    armed: bool,
}

impl<'a, M: Manager> SlotGuard<'a, M> {
    fn new(shared: &'a Shared<M>, holder: Holder) -> Self {
        SlotGuard { shared, holder, armed: true }
    }

    fn defuse(mut self) {
        self.armed = false;
    }
}

impl<M: Manager> Drop for SlotGuard<'_, M> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.shared.lock();
            st.release_holder(self.holder);
            self.shared.free_slots(&mut st, 1);
        }
    }
}

impl<M: Manager> Maintain for Shared<M> {
    fn refill_now(self: Arc<Self>) {
        self.refill();
    }

    fn maintain_now(self: Arc<Self>) {
        self.reap_idle(Instant::now());
        self.refill();
    }
}
