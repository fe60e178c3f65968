//! Callers waiting for a slot: one [`Waiter`] each, queued in arrival order, woken one at a
//! time; and [`Acquire`], the future that waits without blocking a thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::shared::{Grant, Shared, Take};
use crate::sync::{Condvar, Mutex};
use crate::{Lease, Manager, PoolError};

/// One waiting caller. Lock order: the pool's state, then a waiter's slot.
pub(crate) struct Waiter<T> {
    slot: Mutex<Slot<T>>,
    cv: Condvar,
}

struct Slot<T> {
    /// Still in the pool's queue (changed only with the pool's lock held).
    queued: bool,
    grant: Option<Grant<T>>,
    closed: bool,
    /// Set for async waiters.
    waker: Option<Waker>,
}

/// How a blocking wait ended.
pub(crate) enum Waited<T> {
    Granted(Grant<T>),
    Closed,
    TimedOut,
}

/// What a withdrawing waiter finds.
pub(crate) enum Withdrawn<T> {
    /// It was still queued and is now out of the queue.
    Removed,
    /// It was served meanwhile and owns this grant.
    Granted(Grant<T>),
    /// The pool closed meanwhile.
    Closed,
}

impl<T> Waiter<T> {
    pub(crate) fn new(waker: Option<Waker>) -> Arc<Self> {
        Arc::new(Waiter {
            slot: Mutex::new(Slot { queued: true, grant: None, closed: false, waker }),
            cv: Condvar::default(),
        })
    }

    /// Serves this waiter (pool lock held).
    pub(crate) fn grant(&self, grant: Grant<T>) {
        let mut slot = self.slot.lock();
        slot.queued = false;
        slot.grant = Some(grant);
        self.wake(slot.waker.take());
    }

    /// Tells this waiter the pool closed (pool lock held).
    pub(crate) fn close(&self) {
        let mut slot = self.slot.lock();
        slot.queued = false;
        slot.closed = true;
        self.wake(slot.waker.take());
    }

    fn wake(&self, waker: Option<Waker>) {
        match waker {
            Some(waker) => waker.wake(),
            None => self.cv.notify_one(),
        }
    }

    /// Blocks until served, closed, or `deadline`.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Waited<T> {
        let mut slot = self.slot.lock();
        loop {
            if let Some(grant) = slot.grant.take() {
                return Waited::Granted(grant);
            }
            if slot.closed {
                return Waited::Closed;
            }
            match deadline {
                None => self.cv.wait(&mut slot),
                Some(deadline) => {
                    if self.cv.wait_until(&mut slot, deadline) && slot.grant.is_none() && !slot.closed {
                        return Waited::TimedOut;
                    }
                }
            }
        }
    }

    /// Leaves the queue (pool lock held by the caller).
    pub(crate) fn withdraw(&self) -> Withdrawn<T> {
        let mut slot = self.slot.lock();
        if slot.queued {
            slot.queued = false;
            Withdrawn::Removed
        } else if let Some(grant) = slot.grant.take() {
            Withdrawn::Granted(grant)
        } else {
            Withdrawn::Closed
        }
    }

    /// For async waiters: the grant if served, else registers `waker` and returns `None`.
    fn poll_grant(&self, waker: &Waker) -> Option<Result<Grant<T>, ()>> {
        let mut slot = self.slot.lock();
        if let Some(grant) = slot.grant.take() {
            return Some(Ok(grant));
        }
        if slot.closed {
            return Some(Err(()));
        }
        if !slot.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            slot.waker = Some(waker.clone());
        }
        None
    }
}

/// The future returned by [`Pool::acquire_async`](crate::Pool::acquire_async).
///
/// It waits in the same arrival-order queue as blocking callers but parks the task, not the
/// thread. It does **not** apply the pool's `acquire_timeout` (this crate has no timer): wrap it
/// in your runtime's timeout, e.g. `tokio::time::timeout`. Dropping it gives up its place in
/// the queue, and if a slot or instance had already been handed to it, passes that on to the
/// next waiter, so cancellation loses nothing. Creating an instance (when the pool has a free
/// slot but no ready instance) runs inline in `poll`, as in the blocking acquire.
///
/// Polling it again after it returned `Ready` panics, like any completed `async fn`.
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<M: Manager> {
    shared: Arc<Shared<M>>,
    state: AcquireState<M::Instance>,
}

enum AcquireState<T> {
    Start,
    Waiting { waiter: Arc<Waiter<T>>, started: Instant },
    Done,
}

impl<M: Manager> Acquire<M> {
    pub(crate) fn new(shared: Arc<Shared<M>>) -> Self {
        Acquire { shared, state: AcquireState::Start }
    }
}

impl<M: Manager> Future for Acquire<M> {
    type Output = Result<Lease<M>, PoolError<M::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &this.state {
            AcquireState::Start => {
                let mut st = this.shared.lock();
                let mut taken = this.shared.take(&mut st);
                if let (Take::NoBudget, Some(budget)) = (&taken, &this.shared.budget) {
                    drop(st);
                    if !budget.poll_obtain(cx.waker()) {
                        // Woken when the budget gets a permit back; this state polls again.
                        return Poll::Pending;
                    }
                    st = this.shared.lock();
                    taken = this.shared.take_with_permit(&mut st);
                }
                match taken {
                    Take::Granted(grant) => {
                        drop(st);
                        this.state = AcquireState::Done;
                        Poll::Ready(this.shared.complete(grant, None))
                    }
                    Take::Closed => {
                        this.state = AcquireState::Done;
                        Poll::Ready(Err(this.shared.closed_error()))
                    }
                    Take::Full | Take::NoBudget => {
                        let waiter = Waiter::new(Some(cx.waker().clone()));
                        st.waiters.push_back(waiter.clone());
                        this.state = AcquireState::Waiting { waiter, started: Instant::now() };
                        Poll::Pending
                    }
                }
            }
            AcquireState::Waiting { waiter, started } => match waiter.poll_grant(cx.waker()) {
                None => Poll::Pending,
                Some(served) => {
                    let started = *started;
                    this.state = AcquireState::Done;
                    Poll::Ready(match served {
                        Ok(grant) => this.shared.complete(grant, Some(started)),
                        Err(()) => Err(this.shared.closed_error()),
                    })
                }
            },
            AcquireState::Done => panic!("plugrt_pool::Acquire polled after it completed"),
        }
    }
}

impl<M: Manager> Drop for Acquire<M> {
    fn drop(&mut self) {
        if let AcquireState::Waiting { waiter, .. } = &self.state
            && let Withdrawn::Granted(grant) = self.shared.withdraw(waiter)
        {
            self.shared.give_back(grant);
        }
    }
}
