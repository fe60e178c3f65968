//! The locks the pool's coordination uses, swappable for loom's model-checked ones.
//!
//! Normal builds use `parking_lot`. Building with `RUSTFLAGS="--cfg plugrt_loom"` swaps in
//! `loom`'s `Mutex` and `Condvar` so that `tests/all/loom_models.rs` can explore every
//! interleaving of the cap accounting and the waiter hand-off. Both variants expose the same
//! small API: `lock()` returns a guard, `wait`/`wait_until` take `&mut guard`.

#[cfg(not(plugrt_loom))]
use std::time::Instant;

#[cfg(not(plugrt_loom))]
pub(crate) use parking_lot::{Mutex, MutexGuard};

/// A condition variable over [`Mutex`].
#[cfg(not(plugrt_loom))]
#[derive(Default)]
pub(crate) struct Condvar(parking_lot::Condvar);

#[cfg(not(plugrt_loom))]
impl Condvar {
    pub(crate) fn notify_one(&self) {
        self.0.notify_one();
    }

    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }

    pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
        self.0.wait(guard);
    }

    /// Waits until notified or `deadline`; returns `true` if the deadline passed.
    pub(crate) fn wait_until<T>(&self, guard: &mut MutexGuard<'_, T>, deadline: Instant) -> bool {
        self.0.wait_until(guard, deadline).timed_out()
    }
}

#[cfg(plugrt_loom)]
pub(crate) use self::model::{Condvar, Mutex, MutexGuard};

#[cfg(plugrt_loom)]
mod model {
    use std::ops::{Deref, DerefMut};
    use std::time::Instant;

    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// Holds `Some` except for the instant a condvar wait has it.
    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().expect("loom mutex poisoned")))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("guard present")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().expect("guard present")
        }
    }

    #[derive(Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }

        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let inner = guard.0.take().expect("guard present");
            guard.0 = Some(self.0.wait(inner).expect("loom mutex poisoned"));
        }

        /// loom has no clock: a timed wait is an untimed one (models never rely on timeouts).
        pub(crate) fn wait_until<T>(&self, guard: &mut MutexGuard<'_, T>, _deadline: Instant) -> bool {
            self.wait(guard);
            false
        }
    }
}
