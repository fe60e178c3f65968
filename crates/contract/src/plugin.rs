//! [`Plugin`]: what every loader's plugin handle does the same way (the public methods over
//! [`Versions`], reload, the accessors), around a [`Loader`] that supplies only what differs.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch};
use plugrt_pool::{CloseReport, Manager, MetricsSnapshot, Pool};

use crate::{Allocator, Description, Error, Limits, LoadOptions, Version, Versions};

/// How a loader turns bytes into a loaded version of a plugin.
pub trait Loader: Clone + Send + Sync + 'static {
    /// One loaded version.
    type Loaded: Loaded;

    /// Compiles and checks `bytes` (see each loader for what loading checks).
    fn load_version(&self, bytes: &[u8], options: &LoadOptions) -> Result<Self::Loaded, Error>;
}

/// What every loaded version of a plugin has, whatever its loader: the validated description,
/// the limits it runs under, the pool its instances come from and the engine's allocator.
pub struct Parts<M: Manager> {
    /// The validated `describe` document.
    pub description: Arc<Description>,
    /// Its request clamped to the ceilings.
    pub limits: Limits,
    /// The pool of its instances.
    pub pool: Pool<M>,
    /// The allocator of the engine its instances come from.
    pub allocator: Allocator,
}

/// One loaded version of a plugin, as its loader built it: the shared [`Parts`], and the call,
/// which is what differs between engines.
pub trait Loaded: Send + Sync + 'static {
    /// The manager of its pool.
    type Manager: Manager;
    /// What every loaded version has.
    fn parts(&self) -> &Parts<Self::Manager>;
    /// Calls `function` on `batch` in an instance from the pool.
    fn call(&self, function: &str, batch: &RecordBatch) -> Result<ArrayRef, Error>;
}

impl<T: Loaded> Version for T {
    fn name(&self) -> &str {
        &self.parts().description.name
    }
}

/// A loaded plugin. Cheap to clone; calls may run from many threads at once.
///
/// [`reload`](Plugin::reload) swaps in a new version atomically: calls already running finish
/// on the old one, whose instances are dropped when its last call ends.
pub struct Plugin<L: Loader> {
    shared: Arc<Shared<L>>,
}

struct Shared<L: Loader> {
    versions: Versions<L::Loaded>,
    loader: L,
    options: LoadOptions,
}

impl<L: Loader> Clone for Plugin<L> {
    fn clone(&self) -> Self {
        Plugin { shared: self.shared.clone() }
    }
}

impl<L: Loader> Plugin<L> {
    /// Loads the first version through `loader`.
    pub fn load(loader: L, bytes: &[u8], options: LoadOptions) -> Result<Plugin<L>, Error> {
        let first = loader.load_version(bytes, &options)?;
        Ok(Plugin { shared: Arc::new(Shared { versions: Versions::new(first), loader, options }) })
    }

    /// The current version, for what only its loader knows.
    pub fn current(&self) -> Arc<L::Loaded> {
        self.shared.versions.current()
    }

    /// Replaces this plugin (and every clone of it) with a new version of the same name.
    ///
    /// The new version is loaded and checked completely before the swap; if that fails, the
    /// current version stays. Calls started before the swap finish on the old version; later
    /// calls use the new one. The old version's instances drop when its last call ends (it is
    /// not drained: use [`close`](Plugin::close) before a reload for that).
    pub fn reload(&self, bytes: &[u8]) -> Result<(), Error> {
        let next = self.shared.loader.load_version(bytes, &self.shared.options)?;
        self.shared.versions.replace(next)
    }

    /// The plugin's name (from its `describe` document).
    pub fn name(&self) -> String {
        self.current().name().to_owned()
    }

    /// The validated `describe` document of the current version.
    pub fn description(&self) -> Arc<Description> {
        self.current().parts().description.clone()
    }

    /// The limits this plugin runs under (its request clamped to the runtime's ceilings).
    pub fn limits(&self) -> Limits {
        self.current().parts().limits
    }

    /// The current version's instance pool: counters, gauges and histograms.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.current().parts().pool.metrics()
    }

    /// The allocator of the engine the current version's instances come from.
    pub fn allocator(&self) -> Allocator {
        self.current().parts().allocator
    }

    /// Stops new calls and waits up to `drain` for calls in flight; see `plugrt_pool::Pool::close`.
    pub fn close(&self, drain: Duration) -> CloseReport {
        self.current().parts().pool.close(drain)
    }

    /// Calls `function` on `batch` (its columns are the arguments) and returns the result
    /// column, checked against the declared type and the batch's row count.
    pub fn call(&self, function: &str, batch: &RecordBatch) -> Result<ArrayRef, Error> {
        self.current().call(function, batch)
    }
}

impl<L: Loader> std::fmt::Debug for Plugin<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current();
        f.debug_struct("Plugin")
            .field("name", &current.name())
            .field("limits", &current.parts().limits)
            .finish_non_exhaustive()
    }
}
