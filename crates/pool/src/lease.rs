//! [`Lease`]: exclusive use of one instance until dropped.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use crate::Manager;
use crate::shared::{Entry, Shared};

/// Exclusive use of one instance. Dereferences to the instance; dropping it ends the lease.
///
/// What happens to the instance then depends on the pool's [`Reuse`](crate::Reuse) policy:
/// under `Never` (the default) it is dropped; under `Bounded` it may return to the pool. A
/// [poisoned](Lease::poison) lease, or one dropped while its thread is panicking, always drops
/// its instance. Either way the slot is freed only after the instance is gone, and handed to
/// the longest-waiting caller first.
///
/// A lease keeps its pool's internals alive, so it may outlive every [`Pool`](crate::Pool)
/// handle; it does not keep the pool open (see [`Pool::close`](crate::Pool::close)).
pub struct Lease<M: Manager> {
    shared: Arc<Shared<M>>,
    entry: Option<Entry<M::Instance>>,
    poisoned: bool,
    acquisition: Acquisition,
}

/// How a lease was obtained: what the caller paid before it could use the instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Acquisition {
    /// Time from the start of the acquire to the lease, waiting and any creation on the
    /// caller's path included. Zero when a ready instance was taken at once (that path is not
    /// timed, to keep it cheap).
    pub waited: Duration,
    /// How long creating the instance took, when it was created for this caller (the pool had
    /// no ready one). `None` for an instance taken ready: pre-warmed or reused.
    pub created: Option<Duration>,
    /// Whether the instance had served an earlier lease (bounded reuse only).
    pub reused: bool,
}

impl<M: Manager> Lease<M> {
    pub(crate) fn new(shared: Arc<Shared<M>>, entry: Entry<M::Instance>, acquisition: Acquisition) -> Self {
        Lease { shared, entry: Some(entry), poisoned: false, acquisition }
    }

    /// How this lease was obtained (wait, creation on the caller's path, reuse).
    pub fn acquisition(&self) -> Acquisition {
        self.acquisition
    }

    fn entry(&self) -> &Entry<M::Instance> {
        self.entry.as_ref().expect("a lease holds its entry until dropped")
    }

    /// Marks the instance as unfit for reuse (for example after it trapped): it is dropped when
    /// the lease ends, whatever the reuse policy. Cannot be undone.
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// Whether [`poison`](Lease::poison) was called.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// How many leases this instance served before this one (always 0 under `Reuse::Never`).
    pub fn previous_uses(&self) -> u32 {
        self.entry().uses
    }

    /// The name of the pool this lease came from.
    pub fn pool_name(&self) -> &str {
        &self.shared.name
    }
}

impl<M: Manager> Deref for Lease<M> {
    type Target = M::Instance;

    fn deref(&self) -> &M::Instance {
        &self.entry().value
    }
}

impl<M: Manager> DerefMut for Lease<M> {
    fn deref_mut(&mut self) -> &mut M::Instance {
        &mut self.entry.as_mut().expect("a lease holds its entry until dropped").value
    }
}

impl<M: Manager> Drop for Lease<M> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            let poisoned = self.poisoned || std::thread::panicking();
            self.shared.release(entry, poisoned);
        }
    }
}

impl<M: Manager> fmt::Debug for Lease<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("pool", &self.shared.name)
            .field("previous_uses", &self.previous_uses())
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}
