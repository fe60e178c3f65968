//! Per-function call statistics every [`Plugin`](crate::Plugin) keeps: plain atomics, counted
//! from each call's [`CallReport`], read by [`Plugin::function_metrics`](crate::Plugin::function_metrics)
//! and by the Prometheus exporter (feature `metrics`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::RwLock;
use plugrt_contract::{CallReport, Description, Outcome};
use plugrt_pool::{Histogram, HistogramSnapshot};

/// The counts of one function since its plugin was loaded (they survive reloads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionMetrics {
    /// The function.
    pub function: String,
    /// Calls by how they ended, indexed by [`Outcome::index`] (the order of [`Outcome::ALL`]);
    /// [`calls_with`](FunctionMetrics::calls_with) reads one.
    pub calls: [u64; Outcome::ALL.len()],
    /// Rows of every call's input, whatever its outcome.
    pub rows: u64,
    /// Whole calls, instance wait included.
    pub duration: HistogramSnapshot,
    /// Getting an instance (waiting, and creating one when none was ready).
    pub wait: HistogramSnapshot,
    /// Instance creations on the call's own path (calls that found no ready instance).
    pub create: HistogramSnapshot,
}

impl FunctionMetrics {
    /// Calls that ended with `outcome`.
    pub fn calls_with(&self, outcome: Outcome) -> u64 {
        self.calls[outcome.index()]
    }

    /// All calls, whatever their outcome.
    pub fn total_calls(&self) -> u64 {
        self.calls.iter().sum()
    }
}

#[derive(Default)]
struct FunctionStats {
    calls: [AtomicU64; Outcome::ALL.len()],
    rows: AtomicU64,
    duration: Histogram,
    wait: Histogram,
    create: Histogram,
}

impl FunctionStats {
    fn record(&self, report: &CallReport) {
        self.calls[report.outcome.index()].fetch_add(1, Relaxed);
        self.rows.fetch_add(report.rows as u64, Relaxed);
        self.duration.record(report.elapsed);
        self.wait.record(report.waited);
        if let Some(created) = report.created {
            self.create.record(created);
        }
    }

    fn snapshot(&self, function: &str) -> FunctionMetrics {
        FunctionMetrics {
            function: function.to_owned(),
            calls: std::array::from_fn(|i| self.calls[i].load(Relaxed)),
            rows: self.rows.load(Relaxed),
            duration: self.duration.snapshot(),
            wait: self.wait.snapshot(),
            create: self.create.snapshot(),
        }
    }
}

/// The statistics of one plugin's declared functions. Calls to a function the plugin does not
/// declare are not counted: a caller's typo must not create a series. Nor are calls of the
/// wrong kind (`call` of an aggregate's name, `aggregate` of a scalar's): they fail as unknown.
#[derive(Default)]
pub(crate) struct PluginStats {
    /// Per name: whether it is an aggregate, and its counts.
    functions: RwLock<BTreeMap<String, (bool, Arc<FunctionStats>)>>,
}

impl PluginStats {
    /// Stats for every function `description` declares.
    pub(crate) fn new(description: &Description) -> PluginStats {
        let stats = PluginStats::default();
        stats.declare(description);
        stats
    }

    /// After a reload: adds the functions the new version declares and forgets those it no
    /// longer does; the others keep counting.
    pub(crate) fn declare(&self, description: &Description) {
        let mut functions = self.functions.write();
        // A name that changed kind starts again from zero.
        functions.retain(|name, (aggregate, _)| match aggregate {
            true => description.aggregate(name).is_some(),
            false => description.function(name).is_some(),
        });
        let scalars = description.functions.iter().map(|f| (&f.name, false));
        for (name, aggregate) in scalars.chain(description.aggregates.iter().map(|a| (&a.name, true))) {
            functions.entry(name.clone()).or_insert_with(|| (aggregate, Arc::default()));
        }
    }

    /// Counts a call (`aggregate` false) or an aggregate step (`aggregate` true) of `function`.
    pub(crate) fn record(&self, function: &str, aggregate: bool, report: &CallReport) {
        if let Some((kind, stats)) = self.functions.read().get(function)
            && *kind == aggregate
        {
            stats.record(report);
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<FunctionMetrics> {
        self.functions.read().iter().map(|(name, (_, stats))| stats.snapshot(name)).collect()
    }
}
