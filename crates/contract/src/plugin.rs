//! [`Plugin`]: what every loader's plugin handle does the same way (the public methods over
//! [`Versions`], reload, the accessors), around a [`Loader`] that supplies only what differs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, RecordBatch};
use plugrt_pool::{CloseReport, Manager, MetricsSnapshot, Pool};

use crate::{
    AggregateOp, Allocator, CallOptions, CallReport, Description, Error, Limits, LoadOptions, Outcome, Version,
    Versions,
};

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
    /// Calls `function` on `batch` in an instance from the pool under `options` (a cancelled
    /// token fails the call before it takes an instance), noting in `report` what getting the
    /// instance cost ([`CallReport::acquired`]); the caller fills in the rest.
    fn call(
        &self,
        function: &str,
        batch: &RecordBatch,
        options: &CallOptions,
        report: &mut CallReport,
    ) -> Result<ArrayRef, Error>;

    /// Runs step `op` of aggregate `function` on `states` (and `rows`, for `update` and
    /// `merge`) in an instance from the pool, as [`call`](Loaded::call) runs a call; see
    /// [`Plugin::aggregate`] for what goes in and out.
    fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &CallOptions,
        report: &mut CallReport,
    ) -> Result<RecordBatch, Error>;
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
    /// Loads the first version through `loader`, inside a `plugrt.load` span.
    pub fn load(loader: L, bytes: &[u8], options: LoadOptions) -> Result<Plugin<L>, Error> {
        let first = traced_load(options.label(), "load", || loader.load_version(bytes, &options))?;
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
        let shared = &self.shared;
        let next = traced_load(&self.name(), "reload", || shared.loader.load_version(bytes, &shared.options))?;
        shared.versions.replace(next)
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
    ///
    /// The call runs inside a `plugrt.call` span (target `plugrt`, level INFO) with the fields
    /// `plugin`, `function`, `rows`, then `outcome`, `wait_us`, `create_us` (only when the call
    /// created its instance) and `instance` (`fresh` or `reused`) once it ends; the guest's log
    /// lines are events inside it.
    pub fn call(&self, function: &str, batch: &RecordBatch) -> Result<ArrayRef, Error> {
        self.call_reported(function, batch, &CallOptions::default()).0
    }

    /// [`call`](Plugin::call) under `options`: a [`CancelToken`](crate::CancelToken) that
    /// interrupts it, a [`CallMemory`](crate::CallMemory) budget it must fit in.
    pub fn call_with(&self, function: &str, batch: &RecordBatch, options: &CallOptions) -> Result<ArrayRef, Error> {
        self.call_reported(function, batch, options).0
    }

    /// [`call`](Plugin::call) under `options` (cancellation, a memory budget), also returning
    /// what the call did: outcome, time, wait, creation. What the `plugrt` façade counts its
    /// metrics from.
    pub fn call_reported(
        &self,
        function: &str,
        batch: &RecordBatch,
        options: &CallOptions,
    ) -> (Result<ArrayRef, Error>, CallReport) {
        let started = Instant::now();
        let current = self.current();
        let mut report = CallReport::new(batch.num_rows());
        let span = tracing::info_span!(
            target: "plugrt",
            "plugrt.call",
            plugin = current.name(),
            function,
            rows = report.rows,
            outcome = tracing::field::Empty,
            wait_us = tracing::field::Empty,
            create_us = tracing::field::Empty,
            instance = tracing::field::Empty,
        );
        let result = span.in_scope(|| current.call(function, batch, options, &mut report));
        finish_report(&span, &result, started, &mut report);
        (result, report)
    }

    /// Runs one step of aggregate `function` for every group of `states` at once, in one guest
    /// call (a fresh instance, the same limits, errors and pool as [`call`](Plugin::call)):
    ///
    /// - `states`: a row per group, a column per declared state field (all null: the group has
    ///   seen no rows yet);
    /// - `rows` (`update` and `merge` only, `None` for `finish`): a UInt32 column of group
    ///   indices into `states`, then the arguments (`update`) or partial states (`merge`).
    ///
    /// Answers the new states (`update`, `merge`: as many rows as `states`, under the declared
    /// state schema) or the results (`finish`: one column `result` of the return type, a row
    /// per group), checked like a call's result: a guest answering the wrong state type, row
    /// count or size fails with `Error::Contract` (or `OutputTooLarge`). Errors name the
    /// function as `AGGREGATE/OP` (`sum_i64/update`). Zero groups answer without a guest call.
    ///
    /// The step runs in a `plugrt.aggregate` span with the fields of `plugrt.call` and `op`.
    /// It does not split large inputs: the caller keeps a step within the plugin's limits
    /// (`plugrt-datafusion` sends at most one DataFusion batch of rows per step).
    pub fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
    ) -> Result<RecordBatch, Error> {
        self.aggregate_reported(function, op, states, rows, &CallOptions::default()).0
    }

    /// [`aggregate`](Plugin::aggregate) under `options` (cancellation, a memory budget), also
    /// returning what the step did, as [`call_reported`](Plugin::call_reported) does.
    pub fn aggregate_reported(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &CallOptions,
    ) -> (Result<RecordBatch, Error>, CallReport) {
        let started = Instant::now();
        let current = self.current();
        let mut report = CallReport::new(rows.map_or(states.num_rows(), RecordBatch::num_rows));
        let span = tracing::info_span!(
            target: "plugrt",
            "plugrt.aggregate",
            plugin = current.name(),
            function,
            op = op.as_str(),
            rows = report.rows,
            outcome = tracing::field::Empty,
            wait_us = tracing::field::Empty,
            create_us = tracing::field::Empty,
            instance = tracing::field::Empty,
        );
        let result = span.in_scope(|| current.aggregate(function, op, states, rows, options, &mut report));
        finish_report(&span, &result, started, &mut report);
        (result, report)
    }
}

/// Fills in how a call or step ended, and records it in its span.
fn finish_report<T>(span: &tracing::Span, result: &Result<T, Error>, started: Instant, report: &mut CallReport) {
    report.outcome = Outcome::of(result);
    report.elapsed = started.elapsed();
    if !span.is_disabled() {
        span.record("outcome", report.outcome.as_str());
        span.record("wait_us", report.waited.as_micros() as u64);
        if let Some(created) = report.created {
            span.record("create_us", created.as_micros() as u64);
        }
        span.record("instance", report.instance());
    }
}

/// Runs `load` inside a `plugrt.load` span (target `plugrt`, level INFO; fields `plugin`: the
/// label or current name, `action`: `load` or `reload`, then `name`, `outcome` and `took_ms`).
/// A failure is also logged at DEBUG inside the span (the caller gets the error).
fn traced_load<T: Version>(label: &str, action: &str, load: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let span = tracing::info_span!(
        target: "plugrt",
        "plugrt.load",
        plugin = label,
        action,
        name = tracing::field::Empty,
        outcome = tracing::field::Empty,
        took_ms = tracing::field::Empty,
    );
    let _entered = span.enter();
    let started = Instant::now();
    let loaded = load();
    span.record("took_ms", started.elapsed().as_secs_f64() * 1e3);
    match &loaded {
        Ok(version) => {
            span.record("name", version.name());
            span.record("outcome", "ok");
        }
        Err(e) => {
            span.record("outcome", "error");
            tracing::debug!(target: "plugrt", error = %e, "plugin did not {action}");
        }
    }
    loaded
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
