//! Prometheus export (feature `metrics`): a [`Collector`] that reads every registered plugin's
//! metrics when scraped, and [`Runtime::encode_metrics`] for hosts without a registry.
//!
//! Nothing is registered per call: calls count into plain atomics
//! ([`Plugin::function_metrics`](crate::Plugin::function_metrics), the pool's metrics), and a
//! scrape turns them into OpenMetrics families. So an unloaded plugin's series disappear with
//! it, and a scrape costs time in proportion to the plugins and functions loaded.
//!
//! Durations are in seconds and say so in their names (`_seconds`); no `# UNIT` lines are
//! written (they are optional, and some OpenMetrics parsers refuse them on histograms).

use std::fmt;
use std::sync::{Arc, Weak};

use plugrt_contract::Outcome;
use plugrt_pool::{BUCKET_BOUNDS_NS, HistogramSnapshot, MetricsSnapshot, RetireReason, Status};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::runtime::Inner;
use crate::{FunctionMetrics, Runtime};

/// Exports a [`Runtime`]'s metrics to a `prometheus_client` registry; get one from
/// [`Runtime::metrics_collector`] and pass it to `Registry::register_collector`.
///
/// It holds the runtime weakly: once every `Runtime` handle is dropped it exports nothing.
/// The families it writes are listed in the book's "Operating plugrt" chapter.
#[derive(Clone)]
pub struct MetricsCollector {
    runtime: Weak<Inner>,
}

impl fmt::Debug for MetricsCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsCollector").field("live", &(self.runtime.strong_count() > 0)).finish()
    }
}

impl Runtime {
    /// A collector of this runtime's metrics for a host's own `prometheus_client` registry.
    pub fn metrics_collector(&self) -> MetricsCollector {
        MetricsCollector { runtime: Arc::downgrade(&self.inner) }
    }

    /// Appends this runtime's metrics to `out` as OpenMetrics text, `# EOF` line included:
    /// what a `/metrics` endpoint answers (content type
    /// `application/openmetrics-text; version=1.0.0; charset=utf-8`). plugrt runs no HTTP
    /// server; the host serves this text.
    pub fn encode_metrics(&self, out: &mut String) -> fmt::Result {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self.metrics_collector()));
        prometheus_client::encoding::text::encode(out, &registry)
    }
}

/// A family's name and help, and how to read its value.
type Described<F> = (&'static str, &'static str, F);
type PickHistogram = fn(&FunctionMetrics) -> &HistogramSnapshot;
type PickGauge = fn(&Status) -> usize;

/// What one plugin looks like at scrape time.
struct PluginView {
    name: String,
    pool: MetricsSnapshot,
    functions: Vec<FunctionMetrics>,
}

impl Collector for MetricsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let Some(runtime) = self.runtime.upgrade() else { return Ok(()) };
        let runtime = Runtime { inner: runtime };
        let views: Vec<PluginView> = runtime
            .loaded()
            .into_iter()
            .map(|p| PluginView { name: p.name(), pool: p.metrics(), functions: p.function_metrics() })
            .collect();
        let budget = runtime.budget();

        gauge(&mut encoder, "plugrt_plugins_loaded", "Plugins registered in the runtime.", views.len() as i64)?;
        gauge(
            &mut encoder,
            "plugrt_budget_instances_live",
            "Live instances of all plugins together (the runtime's budget in use).",
            budget.live as i64,
        )?;
        gauge(
            &mut encoder,
            "plugrt_budget_instances_max",
            "The runtime's budget: live instances all plugins may hold at once.",
            budget.max_live as i64,
        )?;

        gauge(
            &mut encoder,
            "plugrt_resident_idle_memory_bytes",
            "Memory kept resident (zeroed) in slots no instance uses, for the next instances.",
            runtime.resident_bytes() as i64,
        )?;

        // Families are written only when they have samples: an empty family is valid
        // OpenMetrics, but not every parser takes one.
        if views.is_empty() {
            return Ok(());
        }

        // Per plugin and function (every plugin declares at least one function).
        let per_function = || views.iter().flat_map(|v| v.functions.iter().map(move |f| (v.name.as_str(), f)));
        let mut family =
            encoder.encode_descriptor("plugrt_calls", "Calls by how they ended.", None, MetricType::Counter)?;
        for (plugin, f) in per_function() {
            for outcome in Outcome::ALL {
                let n = f.calls_with(outcome);
                let labels = [("plugin", plugin), ("function", &f.function), ("outcome", outcome.as_str())];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "plugrt_call_rows",
            "Rows passed to calls, whatever their outcome.",
            None,
            MetricType::Counter,
        )?;
        for (plugin, f) in per_function() {
            ConstCounter::new(f.rows)
                .encode(family.encode_family(&[("plugin", plugin), ("function", &f.function)])?)?;
        }
        let histograms: [Described<PickHistogram>; 3] = [
            ("plugrt_call_duration_seconds", "Whole calls, instance wait included.", |f| &f.duration),
            ("plugrt_call_wait_seconds", "Time calls spent getting an instance (waiting, creating one).", |f| &f.wait),
            (
                "plugrt_call_instance_create_seconds",
                "Instance creations on a call's own path (the call found no ready instance).",
                |f| &f.create,
            ),
        ];
        for (name, help, pick) in histograms {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            for (plugin, f) in per_function() {
                histogram(family.encode_family(&[("plugin", plugin), ("function", &f.function)])?, pick(f))?;
            }
        }

        // Per plugin: its pool (the current version's).
        let mut family = encoder.encode_descriptor(
            "plugrt_instance_create_seconds",
            "Every instance creation of the plugin's pool, pre-warmed ones included.",
            None,
            MetricType::Histogram,
        )?;
        for v in &views {
            histogram(family.encode_family(&[("plugin", v.name.as_str())])?, &v.pool.create_time)?;
        }
        let mut family = encoder.encode_descriptor(
            "plugrt_instance_create_failures",
            "Instance creations that failed (trap, timeout or memory in a start function).",
            None,
            MetricType::Counter,
        )?;
        for v in &views {
            ConstCounter::new(v.pool.counters.creation_failures)
                .encode(family.encode_family(&[("plugin", &v.name)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "plugrt_instances_retired",
            "Instances dropped, by reason.",
            None,
            MetricType::Counter,
        )?;
        for v in &views {
            for reason in RetireReason::ALL {
                let labels = [("plugin", v.name.as_str()), ("reason", reason.as_str())];
                ConstCounter::new(v.pool.counters.retired_for(reason)).encode(family.encode_family(&labels)?)?;
            }
        }
        let gauges: [Described<PickGauge>; 6] = [
            ("plugrt_pool_instances_ready", "Instances created and waiting for a call.", |s| s.ready),
            ("plugrt_pool_instances_leased", "Instances running a call.", |s| s.leased),
            ("plugrt_pool_instances_creating", "Instances being created.", |s| s.creating),
            ("plugrt_pool_instances_live", "Ready, leased and creating instances.", |s| s.live),
            ("plugrt_pool_instances_max", "The plugin's cap on live instances.", |s| s.max_instances),
            ("plugrt_pool_callers_waiting", "Calls waiting for an instance.", |s| s.waiting),
        ];
        for (name, help, pick) in gauges {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for v in &views {
                ConstGauge::new(pick(&v.pool.status) as i64).encode(family.encode_family(&[("plugin", &v.name)])?)?;
            }
        }
        Ok(())
    }
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// Writes `snapshot` with every second bound of [`BUCKET_BOUNDS_NS`] (256 ns, 1.02 µs, 4.1 µs,
/// ... 1.07 s, then +Inf): 13 buckets per series instead of 25.
fn histogram(mut encoder: MetricEncoder, snapshot: &HistogramSnapshot) -> fmt::Result {
    encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        snapshot.sum.as_secs_f64(),
        snapshot.count,
        &coarse_buckets(snapshot),
        None,
    )
}

/// Per-bucket (not cumulative) counts at every second bound, the overflow bucket as +Inf.
fn coarse_buckets(snapshot: &HistogramSnapshot) -> Vec<(f64, u64)> {
    let mut buckets = Vec::with_capacity(BUCKET_BOUNDS_NS.len() / 2 + 1);
    let mut pending = 0;
    for (i, count) in snapshot.counts.iter().enumerate() {
        pending += count;
        match BUCKET_BOUNDS_NS.get(i) {
            Some(&ns) if i % 2 == 1 => buckets.push((ns as f64 / 1e9, std::mem::take(&mut pending))),
            Some(_) => {}
            None => buckets.push((f64::INFINITY, std::mem::take(&mut pending))),
        }
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn coarse_buckets_keep_every_count_and_end_at_infinity() {
        let mut counts = vec![0u64; BUCKET_BOUNDS_NS.len() + 1];
        counts[0] = 1; // <= 128 ns
        counts[1] = 2; // <= 256 ns
        counts[2] = 4; // <= 512 ns, lands in the 1.02 µs bucket
        counts[24] = 8; // overflow
        let snapshot = HistogramSnapshot { count: 15, counts, sum: Duration::from_secs(3) };
        let buckets = coarse_buckets(&snapshot);
        assert_eq!(buckets.len(), 13);
        assert_eq!(buckets[0], (256e-9, 3));
        assert_eq!(buckets[1], (1024e-9, 4));
        assert_eq!(buckets[12], (f64::INFINITY, 8));
        assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 15);
        assert_eq!(buckets[11].0, (1u64 << 30) as f64 / 1e9);
    }
}
