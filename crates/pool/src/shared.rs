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

use crate::budget::{Budget, Idle};
use crate::maintenance::{Maintain, Maintainer};
use crate::metrics::{Event, Metrics, Observer, RetireReason, Status};
use crate::sync::{Condvar, Mutex, MutexGuard};
use crate::waiter::{Waiter, Withdrawn};
use crate::{Acquisition, Lease, Manager, PoolError, Reuse};

/// Creations measured before a pre-warm threshold decides (see `PoolBuilder::prewarm_threshold`).
pub(crate) const PREWARM_SAMPLES: u64 = 4;
/// Creations between two reviews of that decision.
pub(crate) const PREWARM_REVIEW: u64 = 64;

/// Most slots maintenance reserves, fills and publishes at once: fewer lock round-trips than
/// one at a time, yet few enough that reserved-but-unpublished slots barely delay callers.
const REFILL_CHUNK: usize = 8;

/// Settings fixed at build time.
pub(crate) struct Config {
    pub(crate) max_instances: usize,
    pub(crate) min_ready: usize,
    /// Keep `min_ready` only while the median creation takes at least this long.
    pub(crate) prewarm_threshold: Option<Duration>,
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
    /// The pool is at its cap (or others wait): queue for a slot of this pool.
    Full,
    /// The pool has room but its budget is spent: get a permit (see [`Budget`]), then
    /// [`Shared::take_with_permit`].
    NoBudget,
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
    pub(crate) budget: Option<Budget>,
    refill_requested: AtomicBool,
    /// With a pre-warm threshold: whether measured creation cost has turned pre-warm on.
    prewarm_on: AtomicBool,
    /// This pool as the maintenance worker sees it.
    me: Weak<dyn Maintain>,
    /// This pool as its budget sees it.
    me_idle: Weak<dyn Idle>,
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
        budget: Option<Budget>,
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
            budget,
            refill_requested: AtomicBool::new(false),
            prewarm_on: AtomicBool::new(false),
            me: me.clone() as Weak<dyn Maintain>,
            me_idle: me.clone() as Weak<dyn Idle>,
        })
    }

    /// Registers with the maintenance worker, if any, and asks for the initial pre-warm.
    pub(crate) fn attach(&self) {
        if let Some(budget) = &self.budget {
            budget.register(self.me_idle.clone());
        }
        if let Some(maintainer) = &self.maintainer {
            maintainer.register(self.me.clone());
            if self.target_ready() > 0 {
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
            if self.take_permits(1, false) == 0 {
                return Take::NoBudget;
            }
            st.live += 1;
            st.leased += 1;
            self.refill_if_low(st);
            Take::Granted(Grant::Slot)
        } else {
            Take::Full
        }
    }

    /// [`take`](Self::take) for a caller that obtained a budget permit after `NoBudget`: the
    /// permit goes to a new slot, or back to the budget if an instance became ready meanwhile
    /// or the pool filled up (then the caller queues like any other).
    pub(crate) fn take_with_permit(&self, st: &mut State<M::Instance>) -> Take<M::Instance> {
        let taken = if st.closed || !st.waiters.is_empty() || st.live >= self.cfg.max_instances {
            None
        } else if let Some(entry) = st.ready.pop_front() {
            st.leased += 1;
            Some(Grant::Instance(entry))
        } else {
            st.live += 1;
            st.leased += 1;
            self.refill_if_low(st);
            return Take::Granted(Grant::Slot);
        };
        self.release_permits(1);
        match taken {
            Some(grant) => Take::Granted(grant),
            None if st.closed => Take::Closed,
            None => Take::Full,
        }
    }

    /// Takes up to `n` permits from the budget (all `n` without one).
    fn take_permits(&self, n: usize, prewarm: bool) -> usize {
        match &self.budget {
            Some(budget) => budget.take(n, prewarm),
            None => n,
        }
    }

    fn release_permits(&self, n: usize) {
        if let Some(budget) = &self.budget {
            budget.release(n);
        }
    }

    /// The error of a caller that found no budget permit before its deadline.
    pub(crate) fn budget_error(&self, waited: Duration) -> PoolError<M::Error> {
        self.metrics.timed_out();
        self.emit(Event::Timeout);
        let max_live = self.budget.as_ref().map_or(0, |b| b.status().max_live);
        PoolError::BudgetExhausted { pool: self.name.clone(), waited, max_live }
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
        let acquisition = Acquisition { waited: waited.unwrap_or_default(), created, reused };
        Ok(Lease::new(self.clone(), entry, acquisition))
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
                let creations = self.metrics.created(took);
                self.judge_prewarm(creations);
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

    /// Frees `n` slots whose instances are gone, handing each to the first waiter (with its
    /// budget permit); permits no waiter takes go back to the budget.
    fn free_slots(&self, st: &mut State<M::Instance>, n: usize) {
        st.live -= n;
        let mut permits = n;
        while st.live < self.cfg.max_instances && !st.closed && !st.waiters.is_empty() {
            if permits > 0 {
                permits -= 1;
            } else if self.take_permits(1, false) == 0 {
                break;
            }
            let waiter = st.waiters.pop_front().expect("checked non-empty");
            st.live += 1;
            st.leased += 1;
            waiter.grant(Grant::Slot);
        }
        self.release_permits(permits);
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
        let target = self.target_ready();
        !st.closed
            && st.ready.len() + st.creating <= target / 2
            && st.ready.len() + st.creating < target
            && st.live < self.cfg.max_instances
    }

    /// Instances maintenance keeps ready now: `min_ready`, or with a pre-warm threshold, 0
    /// until measured creation cost says pre-warm pays.
    pub(crate) fn target_ready(&self) -> usize {
        match self.cfg.prewarm_threshold {
            Some(_) if !self.prewarm_on.load(Ordering::Relaxed) => 0,
            _ => self.cfg.min_ready,
        }
    }

    /// With a pre-warm threshold: after the first [`PREWARM_SAMPLES`] creations, and every
    /// [`PREWARM_REVIEW`] after, turns pre-warm on or off from the median creation time.
    fn judge_prewarm(&self, creations: u64) {
        let Some(threshold) = self.cfg.prewarm_threshold else { return };
        if creations < PREWARM_SAMPLES || (creations != PREWARM_SAMPLES && !creations.is_multiple_of(PREWARM_REVIEW)) {
            return;
        }
        let median = self.metrics.create_time.snapshot().quantile(0.5);
        let on = median.is_none_or(|m| m >= threshold);
        if self.prewarm_on.swap(on, Ordering::Relaxed) != on {
            tracing::debug!(pool = %self.name, ?median, on, "pre-warm decided from creation cost");
            if on {
                let st = self.lock();
                self.refill_if_low(&st);
            }
        }
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
                    let short = self.target_ready().saturating_sub(st.ready.len() + st.creating);
                    let want = short.min(self.cfg.max_instances - st.live).min(REFILL_CHUNK);
                    // Pre-warm never gives up others' idle instances and stops at the budget's
                    // pre-warm limit.
                    self.take_permits(want, true)
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
            prewarm: self.target_ready(),
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

/// A pool dropped without [`close`](crate::Pool::close) (no lease can be out: leases hold it)
/// gives its ready instances' permits back to the budget.
impl<M: Manager> Drop for Shared<M> {
    fn drop(&mut self) {
        let live = self.lock().live;
        self.release_permits(live);
    }
}

impl<M: Manager> Idle for Shared<M> {
    fn idle(&self) -> usize {
        self.lock().ready.len()
    }

    fn give_up_idle(&self) -> bool {
        let Some(entry) = self.lock().ready.pop_front() else { return false };
        self.discard(entry.value, RetireReason::Evicted);
        let mut st = self.lock();
        self.free_slots(&mut st, 1);
        true
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
