//! [`Plugin`]: one handle for a plugin of either flavour.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch};
use parking_lot::{Mutex, RwLock};
use plugrt_contract::{AggregateOp, Allocator, CallOptions, CallReport, Description, Error, Limits, Loader};
use plugrt_pool::{CloseReport, MetricsSnapshot};
use sha2::{Digest, Sha256};

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
    fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &CallOptions,
    ) -> (Result<RecordBatch, Error>, CallReport);
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
    fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &CallOptions,
    ) -> (Result<RecordBatch, Error>, CallReport) {
        plugrt_contract::Plugin::aggregate_reported(self, function, op, states, rows, options)
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
    /// The version loaded now as plans name it: its description with the hash (and kept
    /// bytes) of what it was loaded from, replaced together after each reload.
    loaded: Arc<RwLock<Loaded>>,
    /// Held by a reload from its start to the replacement of `loaded`, so that reloads
    /// finish in the order they swap versions (readers never wait for it).
    reloading: Arc<Mutex<()>>,
}

/// What a plugin knows of the bytes it was loaded from.
pub(crate) struct Source {
    sha256: [u8; 32],
    bytes: Option<Arc<[u8]>>,
}

/// A version's description and the source it came from.
struct Loaded {
    /// Read for plans (`identity`), so only with the `datafusion` feature.
    #[cfg_attr(not(feature = "datafusion"), allow(dead_code))]
    description: Arc<Description>,
    source: Source,
}

impl Source {
    pub(crate) fn of(bytes: &[u8], keep: bool) -> Source {
        Source { sha256: Sha256::digest(bytes).into(), bytes: keep.then(|| Arc::from(bytes)) }
    }
}

impl Plugin {
    #[cfg_attr(not(any(feature = "wasmtime", feature = "extism")), allow(dead_code))]
    pub(crate) fn new<L: Loader>(plugin: plugrt_contract::Plugin<L>, flavour: Flavour, source: Source) -> Plugin {
        let description = plugin.description();
        let stats = Arc::new(PluginStats::new(&description));
        let loaded = Arc::new(RwLock::new(Loaded { description, source }));
        Plugin { inner: Arc::new(plugin), flavour, stats, loaded, reloading: Arc::default() }
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
        self.stats.record(function, false, &report);
        (result, report)
    }

    /// Runs one step of aggregate `function` for every group of `states` in one guest call, in
    /// a fresh instance under the same limits, errors and metrics as [`call`](Plugin::call):
    ///
    /// - [`AggregateOp::Update`]: `rows` holds a UInt32 column of group indices (row numbers of
    ///   `states`), then the arguments; answers the new states;
    /// - [`AggregateOp::Merge`]: `rows` holds the group indices, then partial states; answers
    ///   the new states;
    /// - [`AggregateOp::Finish`]: no `rows`; answers one column `result`, a row per group.
    ///
    /// `states` has a row per group and a column per declared state field
    /// ([`AggregateSignature::state`](crate::AggregateSignature::state)); a group that has seen
    /// no rows yet has null in every field. The answer is checked against the declared state
    /// (or return) type and the group count: a guest breaking it fails with `Error::Contract`.
    /// Errors name the function as `AGGREGATE/OP` (`avg_f64/update`); the step counts in the
    /// aggregate's [`function_metrics`](Plugin::function_metrics) (`rows`: the input rows, or
    /// the groups for `finish`).
    ///
    /// It does not split a step: keep each within the plugin's limits (the DataFusion
    /// integration sends one batch of rows per step), and it keeps no state between steps —
    /// the caller holds it (`plugrt::datafusion` does, for SQL).
    pub fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
    ) -> Result<RecordBatch, Error> {
        self.aggregate_reported(function, op, states, rows, &CallOptions::default()).0
    }

    /// [`aggregate`](Plugin::aggregate) under `options` (as [`call_with`](Plugin::call_with)),
    /// also returning what the step did, as [`call_reported`](Plugin::call_reported) does.
    pub fn aggregate_reported(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &CallOptions,
    ) -> (Result<RecordBatch, Error>, CallReport) {
        let (result, report) = self.inner.aggregate(function, op, states, rows, options);
        self.stats.record(function, true, &report);
        (result, report)
    }

    /// Per declared function (scalar or aggregate; an aggregate's steps count together): calls
    /// by outcome, rows, and histograms of call time, instance wait and instance creation,
    /// counted since the plugin was loaded (reloads keep them; a
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
        let _in_order = self.reloading.lock();
        let source = Source::of(bytes, self.loaded.read().source.bytes.is_some());
        self.inner.reload(bytes)?;
        let description = self.inner.description();
        self.stats.declare(&description);
        *self.loaded.write() = Loaded { description, source };
        Ok(())
    }

    /// SHA-256 of the bytes the version loaded now came from (what `sha256sum` gives for
    /// its file). Plans shipped to other processes name plugins by it.
    pub fn sha256(&self) -> [u8; 32] {
        self.loaded.read().source.sha256
    }

    /// The bytes the version loaded now came from, if the runtime keeps them
    /// ([`RuntimeBuilder::keep_bytes`](crate::RuntimeBuilder::keep_bytes)); `None` otherwise.
    pub fn bytes(&self) -> Option<Arc<[u8]>> {
        self.loaded.read().source.bytes.clone()
    }

    /// Name, version, hash and kept bytes of one version (during a reload, the version
    /// before it until the swap is recorded).
    #[cfg(feature = "datafusion")]
    pub(crate) fn identity(&self) -> plugrt_datafusion::PluginIdentity {
        let loaded = self.loaded.read();
        plugrt_datafusion::PluginIdentity {
            name: loaded.description.name.clone(),
            version: loaded.description.version.clone(),
            sha256: loaded.source.sha256,
            bytes: loaded.source.bytes.clone(),
        }
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
