//! [`Budget`]: one cap on the instances of many pools, and the rule that idle instances are
//! the first thing given up when another pool needs a slot.
//!
//! A database loads hundreds of plugins, each with its own pool, and calls a few at a time. A
//! cap per pool does not bound the whole process, and pre-warmed instances of idle plugins
//! would hold every engine slot. Pools built with [`PoolBuilder::budget`](crate::PoolBuilder::budget)
//! take one *permit* from the shared budget for every slot they hold (ready, leased, being
//! created or dropped). When a pool needs a slot and the budget is spent, an idle instance
//! (ready, not leased) of another pool is dropped and its permit changes hands; only when no
//! pool holds an idle instance does the caller wait, up to its deadline.
//!
//! Lock order: a pool's state, then the budget's. The budget never takes a pool's lock while
//! holding its own.

use std::fmt;
use std::sync::{Arc, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::sync::{Condvar, Mutex, MutexGuard};

/// What the budget can ask of a pool without knowing its manager type.
pub(crate) trait Idle: Send + Sync {
    /// Instances ready and not leased.
    fn idle(&self) -> usize;
    /// Drops one idle instance and frees its slot; false if it had none.
    fn give_up_idle(&self) -> bool;
}

/// A cap on live instances shared by many pools. Cheap to clone (a shared handle).
///
/// Besides pools, anything else that holds an engine slot (a loader's `describe` instance)
/// can take a [`Permit`] with [`acquire`](Budget::acquire). Pre-warm may fill the budget only
/// up to its [pre-warm limit](Budget::with_prewarm_limit), so that calls usually find a free
/// permit without dropping anyone's idle instance.
///
/// It does not size an engine: give the engine at least `max_live` instance slots.
#[derive(Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

struct Inner {
    max_live: usize,
    prewarm_limit: usize,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    live: usize,
    pools: Vec<Weak<dyn Idle>>,
    /// Blocking callers waiting for a permit.
    blocked: usize,
    /// Async callers waiting for a permit.
    wakers: Vec<Waker>,
}

/// A budget's gauges at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetStatus {
    /// Permits held: live instances of every pool on the budget, plus [`Permit`]s.
    pub live: usize,
    /// The cap.
    pub max_live: usize,
    /// The most permits pre-warm may hold the budget at.
    pub prewarm_limit: usize,
    /// Pools attached and still alive.
    pub pools: usize,
}

/// One permit of a [`Budget`], held outside any pool; returned when dropped.
pub struct Permit {
    budget: Budget,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.budget.release(1);
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// [`Budget::acquire`] found no permit before its deadline (every one held by a lease).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("all {max_live} instances of the runtime's budget are in use (waited {waited:?})")]
pub struct BudgetExhausted {
    /// The cap.
    pub max_live: usize,
    /// How long the caller waited.
    pub waited: Duration,
}

impl Budget {
    /// A budget of `max_live` permits (at least 1), of which pre-warm may use three quarters
    /// (see [`with_prewarm_limit`](Budget::with_prewarm_limit)).
    pub fn new(max_live: usize) -> Budget {
        let max_live = max_live.max(1);
        Budget::with_prewarm_limit(max_live, max_live - max_live / 4)
    }

    /// A budget of `max_live` permits where pre-warm stops once `prewarm_limit` permits are
    /// held (clamped to `max_live`): the rest is kept for instances created for a caller.
    pub fn with_prewarm_limit(max_live: usize, prewarm_limit: usize) -> Budget {
        let max_live = max_live.max(1);
        Budget {
            inner: Arc::new(Inner {
                max_live,
                prewarm_limit: prewarm_limit.min(max_live),
                state: Mutex::new(State::default()),
                freed: Condvar::default(),
            }),
        }
    }

    /// The gauges.
    pub fn status(&self) -> BudgetStatus {
        let mut st = self.inner.state.lock();
        st.pools.retain(|p| p.strong_count() > 0);
        BudgetStatus {
            live: st.live,
            max_live: self.inner.max_live,
            prewarm_limit: self.inner.prewarm_limit,
            pools: st.pools.len(),
        }
    }

    /// Takes a permit, dropping idle instances of the budget's pools if none is free, and
    /// waiting up to `timeout` if none of them holds an idle instance.
    pub fn acquire(&self, timeout: Duration) -> Result<Permit, BudgetExhausted> {
        let started = Instant::now();
        if self.obtain(started.checked_add(timeout)) {
            Ok(Permit { budget: self.clone() })
        } else {
            Err(BudgetExhausted { max_live: self.inner.max_live, waited: started.elapsed() })
        }
    }

    /// Takes a permit if one is free or an idle instance can be given up; never waits.
    pub fn try_acquire(&self) -> Option<Permit> {
        self.obtain_now().then(|| Permit { budget: self.clone() })
    }

    pub(crate) fn register(&self, pool: Weak<dyn Idle>) {
        let mut st = self.inner.state.lock();
        st.pools.retain(|p| p.strong_count() > 0);
        st.pools.push(pool);
    }

    /// Takes up to `n` free permits (pre-warm: only below the pre-warm limit); returns how many.
    pub(crate) fn take(&self, n: usize, prewarm: bool) -> usize {
        let cap = if prewarm { self.inner.prewarm_limit } else { self.inner.max_live };
        let mut st = self.inner.state.lock();
        let granted = n.min(cap.saturating_sub(st.live));
        st.live += granted;
        granted
    }

    /// Returns `n` permits and wakes whoever waits for one.
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let wakers = {
            let mut st = self.inner.state.lock();
            st.live -= n;
            if st.blocked > 0 {
                self.inner.freed.notify_all();
            }
            std::mem::take(&mut st.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Drops one idle instance of the pool holding the most; false if no pool holds one.
    fn evict_one(&self) -> bool {
        let pools: Vec<_> = self.inner.state.lock().pools.iter().filter_map(Weak::upgrade).collect();
        let mut by_idle: Vec<_> = pools.iter().map(|p| (p.idle(), p)).filter(|(idle, _)| *idle > 0).collect();
        by_idle.sort_by_key(|(idle, _)| std::cmp::Reverse(*idle));
        // A pool may have handed its idle instance out since it was counted: try the next.
        by_idle.into_iter().any(|(_, pool)| pool.give_up_idle())
    }

    /// [`try_acquire`](Budget::try_acquire) for a pool: the permit is counted, not wrapped.
    pub(crate) fn try_acquire_raw(&self) -> bool {
        self.obtain_now()
    }

    /// Takes one permit, giving up idle instances as needed; never waits.
    fn obtain_now(&self) -> bool {
        loop {
            if self.take(1, false) == 1 {
                return true;
            }
            if !self.evict_one() {
                return false;
            }
        }
    }

    /// Takes one permit now (`Ok`), or returns the budget's state, locked, when every permit
    /// is held and no idle instance can be given up: a waiter registers under that lock, so no
    /// permit can come back unseen in between.
    fn take_or_lock(&self) -> Result<(), MutexGuard<'_, State>> {
        loop {
            if self.obtain_now() {
                return Ok(());
            }
            let st = self.inner.state.lock();
            if st.live >= self.inner.max_live {
                return Err(st);
            }
        }
    }

    /// Takes one permit, giving up idle instances first, then waiting until `deadline`
    /// (`None`: as long as it takes). False when the deadline passed.
    pub(crate) fn obtain(&self, deadline: Option<Instant>) -> bool {
        loop {
            let Err(mut st) = self.take_or_lock() else { return true };
            st.blocked += 1;
            let timed_out = match deadline {
                Some(d) if Instant::now() >= d => true,
                Some(d) => self.inner.freed.wait_until(&mut st, d),
                None => {
                    self.inner.freed.wait(&mut st);
                    false
                }
            };
            st.blocked -= 1;
            if timed_out && st.live >= self.inner.max_live {
                return false;
            }
        }
    }

    /// For async callers: a permit if one can be had now, else registers `waker` to be woken
    /// when one is returned and gives `false`.
    pub(crate) fn poll_obtain(&self, waker: &Waker) -> bool {
        let Err(mut st) = self.take_or_lock() else { return true };
        if !st.wakers.iter().any(|w| w.will_wake(waker)) {
            st.wakers.push(waker.clone());
        }
        false
    }
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget").field("max_live", &self.inner.max_live).finish_non_exhaustive()
    }
}
