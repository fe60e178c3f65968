//! Per-call ceilings and load options, the same for every loader. The runtime sets the
//! ceilings; a plugin may ask for less, never more.

use std::time::Duration;

use plugrt_pool::{PoolBuilder, Reuse};

/// What one call may use. A runtime's limits are the ceilings; a plugin's
/// [`LoadOptions::limits`] may lower them ([`Limits::within`] clamps each field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time of one call, creating its instance included (start functions,
    /// initialisers), enforced by epoch interruption. Default 1 s.
    pub timeout: Duration,
    /// Fuel (roughly, wasm instructions) per call; `None` disables metering. Default `None`.
    /// Metering is an engine setting: a plugin only has fuel if the runtime has a ceiling.
    pub fuel: Option<u64>,
    /// Linear memory of one instance, in bytes. Default 64 MiB. (Extism: growth after
    /// instantiation, rounded down to 64 KiB pages, kernel memory included.)
    pub memory_bytes: usize,
    /// Elements of one table. Default 20,000. Not enforced by the Extism loader: extism gives
    /// the host no table limit.
    pub table_elements: usize,
    /// Size of a call's output IPC stream, checked before it is decoded. Default 16 MiB.
    pub output_bytes: usize,
    /// Instances of one plugin alive at once (its pool's cap, pre-warmed ones included).
    /// Default 8.
    pub instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(1),
            fuel: None,
            memory_bytes: 64 << 20,
            table_elements: 20_000,
            output_bytes: 16 << 20,
            instances: 8,
        }
    }
}

impl Limits {
    /// These limits, lowered where `ceiling` is lower: never above the ceiling. Fuel follows
    /// the ceiling's metering: none without a fuel ceiling, at most the ceiling with one.
    pub fn within(&self, ceiling: &Limits) -> Limits {
        Limits {
            timeout: self.timeout.min(ceiling.timeout),
            fuel: match (self.fuel, ceiling.fuel) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (_, c) => c,
            },
            memory_bytes: self.memory_bytes.min(ceiling.memory_bytes),
            table_elements: self.table_elements.min(ceiling.table_elements),
            output_bytes: self.output_bytes.min(ceiling.output_bytes),
            instances: self.instances.min(ceiling.instances),
        }
    }
}

/// Whether a plugin keeps fresh instances ready ahead of calls.
///
/// Pre-warm is not free: the maintenance worker competes with callers for cores, and an
/// instance built on another thread is cold in the caller's cache.
///
#[doc = include_str!("../../../docs/src/figures/prewarm.md")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PreWarm {
    /// Keep [`AUTO_READY`] instances ready only while the median time to create one is at
    /// least [`PREWARM_THRESHOLD`]: measured on the plugin's first creations (made inline by
    /// its first calls) and reviewed as it runs. With the figures above this turns pre-warm
    /// on for Extism plugins and off for components.
    #[default]
    Auto,
    /// Never: every call creates its instance.
    Off,
    /// Always keep this many ready (at most the instance cap).
    Ready(usize),
}

/// Instances [`PreWarm::Auto`] keeps ready when it pays.
pub const AUTO_READY: usize = 4;
/// Median creation time from which [`PreWarm::Auto`] keeps instances ready: above the ~10 us
/// that handing over a pre-built instance costs on the call path (see [`PreWarm`]).
pub const PREWARM_THRESHOLD: Duration = Duration::from_micros(20);

impl PreWarm {
    /// Configures a pool under this policy, for a plugin whose cap is `instances`.
    pub fn configure<M: plugrt_pool::Manager>(self, builder: PoolBuilder<M>, instances: usize) -> PoolBuilder<M> {
        match self {
            PreWarm::Auto => builder.min_ready(AUTO_READY.min(instances)).prewarm_threshold(PREWARM_THRESHOLD),
            PreWarm::Off => builder.min_ready(0),
            PreWarm::Ready(n) => builder.min_ready(n.min(instances)),
        }
    }
}

/// How to load one plugin. Defaults: the runtime's limits, [`PreWarm::Auto`],
/// `Reuse::Never`, no label.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// What errors call the plugin until its `describe` has named it (a path, a catalog
    /// entry). Default: `<bytes>`.
    pub label: Option<String>,
    /// Limits for this plugin, clamped to the runtime's ceilings. `None`: the ceilings.
    pub limits: Option<Limits>,
    /// Whether instances are kept ready ahead of calls.
    pub pre_warm: PreWarm,
    /// Whether instances may serve more than one call. Keep `Reuse::Never` unless the plugin
    /// is trusted: reuse lets one call see what the previous one left in memory.
    pub reuse: Reuse,
}

impl LoadOptions {
    /// What errors call the plugin before `describe` names it.
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or("<bytes>")
    }
}

/// Which instance allocator an engine uses, and what it reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    /// wasmtime's pooling allocator.
    Pooling {
        /// Virtual address space reserved for linear memories, in bytes.
        reserved_bytes: u64,
    },
    /// wasmtime's on-demand allocator (configured, or the pooling reservation failed).
    OnDemand,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_may_lower_but_never_raise() {
        let ceiling = Limits::default();
        let asked = Limits { timeout: Duration::from_secs(60), memory_bytes: 1 << 20, fuel: Some(5), ..ceiling };
        let got = asked.within(&ceiling);
        assert_eq!(got.timeout, ceiling.timeout);
        assert_eq!(got.memory_bytes, 1 << 20);
        assert_eq!(got.fuel, None, "no fuel ceiling: metering is off");
        let metered = Limits { fuel: Some(1000), ..ceiling };
        assert_eq!(asked.within(&metered).fuel, Some(5));
        assert_eq!(ceiling.within(&metered).fuel, Some(1000), "no opting out of metering");
    }
}
