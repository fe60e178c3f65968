//! [`Plugin`]: one handle for a plugin of either flavour.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch};
use plugrt_contract::{Allocator, CallOptions, CallReport, Description, Error, Limits, Loader};
use plugrt_pool::{CloseReport, MetricsSnapshot};

use crate::stats::PluginStats;
use crate::{Flavour, FunctionMetrics};

/// What the façade needs of a loader's plugin handle, whatever the loader.
trait AnyPlugin: Send + Sync {
    fn description(&self) -> Arc<Description>;
    fn limits(&self) -> Limits;
    fn metrics(&self) -> MetricsSnapshot;
    fn allocator(&self) -> Allocator;
    fn close(&self, drain: Duration) -> CloseReport;
    fn call(&self, function: &str, batch: &RecordBatch, options: &CallOptions)
    -> (Result<ArrayRef, Error>, CallReport);
    fn reload(&self, bytes: &[u8]) -> Result<(), Error>;
}

impl<L: Loader> AnyPlugin for plugrt_contract::Plugin<L> {
    fn description(&self) -> Arc<Description> {
        plugrt_contract::Plugin::description(self)
    }
    fn limits(&self) -> Limits {
        plugrt_contract::Plugin::limits(self)
    }
    fn metrics(&self) -> MetricsSnapshot {
        plugrt_contract::Plugin::metrics(self)
    }
    fn allocator(&self) -> Allocator {
        plugrt_contract::Plugin::allocator(self)
    }
    fn close(&self, drain: Duration) -> CloseReport {
        plugrt_contract::Plugin::close(self, drain)
    }
    fn call(
        &self,
        function: &str,
        batch: &RecordBatch,
        options: &CallOptions,
    ) -> (Result<ArrayRef, Error>, CallReport) {
        plugrt_contract::Plugin::call_reported(self, function, batch, options)
    }
    fn reload(&self, bytes: &[u8]) -> Result<(), Error> {
        plugrt_contract::Plugin::reload(self, bytes)
    }
}

/// A loaded plugin of either flavour. Cheap to clone; calls may run from many threads at once.
///
/// Every call runs in a brand-new instance (unless the plugin was loaded with bounded reuse)
/// taken from the plugin's pool under the runtime's budget; see [`crate::Runtime`].
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<dyn AnyPlugin>,
    flavour: Flavour,
    stats: Arc<PluginStats>,
}

impl Plugin {
    #[cfg_attr(not(any(feature = "wasmtime", feature = "extism")), allow(dead_code))]
    pub(crate) fn new<L: Loader>(plugin: plugrt_contract::Plugin<L>, flavour: Flavour) -> Plugin {
        let stats = Arc::new(PluginStats::new(&plugin.description()));
        Plugin { inner: Arc::new(plugin), flavour, stats }
    }

    /// Calls `function` on `batch` (its columns are the arguments, in declared order) and
    /// returns the result column, checked against the declared type and the row count.
    ///
    /// The call runs in a `plugrt.call` span (target `plugrt`) and is counted in
    /// [`function_metrics`](Plugin::function_metrics). See [`call_reported`](Plugin::call_reported)
    /// for what the call cost.
    pub fn call(&self, function: &str, batch: &RecordBatch) -> Result<ArrayRef, Error> {
        self.call_reported(function, batch, &CallOptions::default()).0
    }

    /// [`call`](Plugin::call) under `options`: a [`CancelToken`](crate::CancelToken) whose
    /// cancel interrupts the call (it fails with `Error::Cancelled`, its instance discarded),
    /// and a [`CallMemory`](crate::CallMemory) budget the memory it holds is asked of
    /// (`Error::MemoryBudget` when refused). A call still waiting for an instance notices a
    /// cancel only once it gets one.
    pub fn call_with(&self, function: &str, batch: &RecordBatch, options: &CallOptions) -> Result<ArrayRef, Error> {
        self.call_reported(function, batch, options).0
    }

    /// [`call_with`](Plugin::call_with), also returning what the call did: its outcome,
    /// duration, time spent getting an instance and creating one, and whether the instance
    /// was reused.
    pub fn call_reported(
        &self,
        function: &str,
        batch: &RecordBatch,
        options: &CallOptions,
    ) -> (Result<ArrayRef, Error>, CallReport) {
        let (result, report) = self.inner.call(function, batch, options);
        self.stats.record(function, &report);
        (result, report)
    }

    /// Per declared function: calls by outcome, rows, and histograms of call time, instance
    /// wait and instance creation, counted since the plugin was loaded (reloads keep them; a
    /// function a new version no longer declares is dropped). Calls to undeclared functions
    /// are not counted anywhere.
    pub fn function_metrics(&self) -> Vec<FunctionMetrics> {
        self.stats.snapshot()
    }

    /// The plugin's name, from its `describe` document.
    pub fn name(&self) -> String {
        self.inner.description().name.clone()
    }

    /// Its flavour (which loader runs it).
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// The validated `describe` document of the current version.
    pub fn description(&self) -> Arc<Description> {
        self.inner.description()
    }

    /// The limits it runs under (its request clamped to the runtime's ceilings).
    pub fn limits(&self) -> Limits {
        self.inner.limits()
    }

    /// Its instance pool's counters, gauges and histograms (current version: a reload starts
    /// a new pool, so these start again from zero).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics()
    }

    /// The allocator of the engine its instances come from, and what it reserved (for a
    /// component, the whole runtime's engine; for an Extism plugin, its own).
    pub fn allocator(&self) -> Allocator {
        self.inner.allocator()
    }

    /// Swaps in a new version of the same name and flavour, loaded and checked first; calls
    /// already running finish on the old one. See [`crate::Runtime::reload`].
    pub fn reload(&self, bytes: &[u8]) -> Result<(), Error> {
        self.inner.reload(bytes)?;
        self.stats.declare(&self.inner.description());
        Ok(())
    }

    /// Stops new calls (they fail with `Error::Closed`) and waits up to `drain` for calls in
    /// flight. Does not remove it from its runtime: see [`crate::Runtime::unload`].
    pub fn close(&self, drain: Duration) -> CloseReport {
        self.inner.close(drain)
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("name", &self.name()).field("flavour", &self.flavour).finish_non_exhaustive()
    }
}
