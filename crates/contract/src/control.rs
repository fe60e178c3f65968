//! [`CallOptions`]: what a caller hands one call besides its batch: a [`CancelToken`] that
//! interrupts it, and a [`CallMemory`] that must grant the memory it holds.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::Error;

/// What a caller controls about one call. The default (no token, no memory budget) is what
/// `Plugin::call` uses: the call runs to its own limits.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// Cancelling it interrupts the call: before it starts, or while the guest runs (within
    /// a tick of the engine's clock for components; see each loader). The call then fails
    /// with [`Error::Cancelled`](crate::Error::Cancelled) and its instance is discarded.
    pub cancel: Option<CancelToken>,
    /// Asked for every byte the call holds before it holds it: the input and output buffers,
    /// and the guest's linear memory (as it grows for components; the whole memory limit up
    /// front for Extism plugins, whose growth the host cannot see). A refusal fails the call
    /// with [`Error::MemoryBudget`](crate::Error::MemoryBudget). It is never told about
    /// releases: the caller frees what it granted once the call returns.
    pub memory: Option<Arc<dyn CallMemory>>,
}

impl CallOptions {
    /// Whether the token, if any, is cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelToken::is_cancelled)
    }

    /// Fails with [`Error::Cancelled`] for `plugin`'s `function` if the token is cancelled:
    /// what a loader checks before it runs the guest.
    pub fn check(&self, plugin: &str, function: &str) -> Result<(), Error> {
        if self.is_cancelled() {
            return Err(Error::Cancelled { plugin: plugin.to_owned(), function: function.to_owned() });
        }
        Ok(())
    }

    /// Asks the memory budget, if any, for `bytes` more that `plugin`'s `function` holds;
    /// a refusal is [`Error::MemoryBudget`].
    pub fn grant(&self, plugin: &str, function: &str, bytes: usize) -> Result<(), Error> {
        match &self.memory {
            Some(memory) if bytes > 0 => memory.try_grow(bytes).map_err(|message| Error::MemoryBudget {
                plugin: plugin.to_owned(),
                function: function.to_owned(),
                requested: bytes,
                message,
            }),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallOptions")
            .field("cancel", &self.cancel)
            .field("memory", &self.memory.as_ref().map(|_| "CallMemory"))
            .finish()
    }
}

/// A budget a call's memory is taken from, such as a query engine's memory pool.
pub trait CallMemory: Send + Sync {
    /// Grants `bytes` more, or says why not (the message ends up in the call's error).
    fn try_grow(&self, bytes: usize) -> Result<(), String>;
}

/// A flag shared by a caller and the calls it started: once cancelled, it stays cancelled.
/// Cheap to clone; all clones are the same token.
///
/// Loaders either poll it (the component loader, on each epoch tick) or register a hook with
/// [`on_cancel`](CancelToken::on_cancel) that interrupts their engine.
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    next_hook: AtomicU64,
    hooks: Mutex<Vec<(u64, Hook)>>,
}

/// What runs on cancel.
type Hook = Box<dyn FnOnce() + Send>;

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels it, and runs (on this thread) the hooks registered for it.
    pub fn cancel(&self) {
        if self.inner.cancelled.swap(true, Ordering::AcqRel) {
            return;
        }
        let hooks = std::mem::take(&mut *self.inner.hooks.lock().unwrap_or_else(PoisonError::into_inner));
        for (_, hook) in hooks {
            hook();
        }
    }

    /// Whether it was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Acquire)
    }

    /// Runs `hook` once when the token is cancelled (right away if it already is), unless
    /// the returned guard is dropped first. A hook must be quick: it runs on the thread that
    /// cancels.
    pub fn on_cancel(&self, hook: impl FnOnce() + Send + 'static) -> HookGuard {
        let id = self.inner.next_hook.fetch_add(1, Ordering::Relaxed);
        {
            let mut hooks = self.inner.hooks.lock().unwrap_or_else(PoisonError::into_inner);
            // Checked under the lock: `cancel` sets the flag before taking the hooks.
            if !self.is_cancelled() {
                hooks.push((id, Box::new(hook)));
                return HookGuard { token: Some(self.clone()), id };
            }
        }
        hook();
        HookGuard { token: None, id }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken").field("cancelled", &self.is_cancelled()).finish()
    }
}

/// Unregisters a hook of [`CancelToken::on_cancel`] when dropped.
#[must_use = "dropping the guard unregisters the hook"]
pub struct HookGuard {
    token: Option<CancelToken>,
    id: u64,
}

impl Drop for HookGuard {
    fn drop(&mut self) {
        if let Some(token) = &self.token {
            token.inner.hooks.lock().unwrap_or_else(PoisonError::into_inner).retain(|(id, _)| *id != self.id);
        }
    }
}

impl fmt::Debug for HookGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookGuard").field("id", &self.id).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn hooks_run_once_on_cancel_unless_their_guard_is_gone() {
        let token = CancelToken::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let count = |ran: &Arc<AtomicUsize>| {
            let ran = ran.clone();
            move || {
                ran.fetch_add(1, Ordering::SeqCst);
            }
        };
        let kept = token.on_cancel(count(&ran));
        drop(token.on_cancel(count(&ran))); // unregistered before the cancel
        assert!(!token.clone().is_cancelled());
        let options = CallOptions { cancel: Some(token.clone()), ..CallOptions::default() };
        assert!(options.check("p", "f").is_ok());
        token.cancel();
        token.cancel();
        assert!(token.is_cancelled());
        assert!(matches!(options.check("p", "f"), Err(Error::Cancelled { .. })));
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        // Registered after the cancel: runs at once.
        let _late = token.on_cancel(count(&ran));
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        drop(kept);
    }

    #[test]
    fn memory_is_asked_only_when_there_is_a_budget_and_bytes_to_grant() {
        let grow = |options: &CallOptions, bytes| match options.grant("p", "f", bytes) {
            Ok(()) => Ok(()),
            Err(Error::MemoryBudget { requested, message, .. }) => {
                assert_eq!(requested, bytes);
                Err(message)
            }
            Err(other) => panic!("{other}"),
        };
        struct Refuse;
        impl CallMemory for Refuse {
            fn try_grow(&self, bytes: usize) -> Result<(), String> {
                Err(format!("no room for {bytes}"))
            }
        }
        assert_eq!(grow(&CallOptions::default(), 10), Ok(()));
        let options = CallOptions { memory: Some(Arc::new(Refuse)), ..CallOptions::default() };
        assert_eq!(grow(&options, 0), Ok(()));
        assert_eq!(grow(&options, 10), Err("no room for 10".into()));
    }
}
