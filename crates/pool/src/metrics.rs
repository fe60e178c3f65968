//! Counters, gauges and histograms of one pool, and the observer hook exporters implement.
//!
//! Everything here is plain atomics: no metrics backend is linked. Read it with
//! [`Pool::metrics`](crate::Pool::metrics) (a cheap snapshot) or receive each event as it happens
//! through an [`Observer`].

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Why an instance was dropped by the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetireReason {
    /// Its lease ended under [`Reuse::Never`](crate::Reuse::Never): the normal end of a
    /// single-use instance.
    SingleUse,
    /// Its lease was [poisoned](crate::Lease::poison) (for example after a trap).
    Poisoned,
    /// It served [`max_uses`](crate::ReuseLimits::max_uses) leases.
    MaxUses,
    /// It sat unused longer than [`max_idle`](crate::ReuseLimits::max_idle).
    Idle,
    /// The pool was closed.
    Closed,
    /// The manager's [`recycle`](crate::Manager::recycle) check refused it.
    Rejected,
    /// It was idle (ready, not leased) when another pool on the same
    /// [`Budget`](crate::Budget) needed its slot.
    Evicted,
}

impl RetireReason {
    /// Every reason, in the order of [`Counters::retired`].
    pub const ALL: [RetireReason; 7] = [
        RetireReason::SingleUse,
        RetireReason::Poisoned,
        RetireReason::MaxUses,
        RetireReason::Idle,
        RetireReason::Closed,
        RetireReason::Rejected,
        RetireReason::Evicted,
    ];

    /// A short lowercase name for labels (`single_use`, `poisoned`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RetireReason::SingleUse => "single_use",
            RetireReason::Poisoned => "poisoned",
            RetireReason::MaxUses => "max_uses",
            RetireReason::Idle => "idle",
            RetireReason::Closed => "closed",
            RetireReason::Rejected => "rejected",
            RetireReason::Evicted => "evicted",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One thing that happened in a pool, as passed to [`Observer::on_event`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A lease was handed out after `waited` (zero when served straight from the ready queue,
    /// which is not timed); `reused` if its instance served a lease before.
    Acquired {
        /// Time the caller spent in acquire, including any inline creation.
        waited: Duration,
        /// Whether the instance had served an earlier lease.
        reused: bool,
    },
    /// The manager created an instance in `took`.
    Created {
        /// Creation time.
        took: Duration,
    },
    /// The manager failed to create an instance.
    CreateFailed,
    /// An instance was dropped.
    Retired(RetireReason),
    /// An acquire gave up at its deadline.
    Timeout,
    /// A non-waiting acquire found the pool full.
    Exhausted,
}

/// Receives every [`Event`] of a pool, on the thread where it happened.
///
/// Implement this to feed a metrics backend (the `plugrt` façade ships a Prometheus one).
/// It is called outside the pool's lock but on the acquire/release path, so it must be cheap
/// and must not block; it is not called at all when no observer is set.
pub trait Observer: Send + Sync + 'static {
    /// Called once per event; `pool` is the pool's name.
    fn on_event(&self, pool: &str, event: Event);
}

/// Upper bounds, in nanoseconds, of the histogram buckets: powers of two from 128 ns to about
/// 1.07 s; a final bucket (not listed) counts everything above.
pub const BUCKET_BOUNDS_NS: [u64; 24] = {
    let mut bounds = [0u64; 24];
    let mut i = 0;
    while i < 24 {
        bounds[i] = 1u64 << (i + 7);
        i += 1;
    }
    bounds
};

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram").field("count", &self.snapshot().count).finish_non_exhaustive()
    }
}

const BUCKETS: usize = BUCKET_BOUNDS_NS.len() + 1;

/// A lock-free histogram of durations over [`BUCKET_BOUNDS_NS`]: one atomic add per bucket
/// and one for the sum, no lock, no allocation. The pool keeps two; the `plugrt` façade keeps
/// its per-function call timings in these too.
///
/// It keeps no minimum, maximum or exact quantiles: [`HistogramSnapshot::quantile`] answers
/// with a bucket's upper bound.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Counts one duration (durations beyond `u64::MAX` nanoseconds count as that).
    pub fn record(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(ns)].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// A copy of the counts; concurrent records may be half-seen (a bucket counted before the
    /// sum), which is fine for monitoring and nothing else relies on.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        HistogramSnapshot { count: counts.iter().sum(), counts, sum: Duration::from_nanos(self.sum_ns.load(Relaxed)) }
    }
}

/// The bucket index for `ns`: the first bound that is `>= ns`, or the overflow bucket.
fn bucket_of(ns: u64) -> usize {
    if ns <= BUCKET_BOUNDS_NS[0] {
        return 0;
    }
    // ceil(log2(ns)) - 7, for ns > 128.
    let ceil_log2 = 64 - (ns - 1).leading_zeros() as usize;
    (ceil_log2 - 7).min(BUCKETS - 1)
}

/// A copy of a histogram's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Per-bucket counts (not cumulative): `counts[i]` counts durations `<= BUCKET_BOUNDS_NS[i]`
    /// and above the previous bound; the last entry counts everything above the last bound.
    pub counts: Vec<u64>,
    /// Number of recorded durations.
    pub count: u64,
    /// Sum of the recorded durations.
    pub sum: Duration,
}

impl HistogramSnapshot {
    /// An upper estimate of the `q`-quantile (`0.0..=1.0`): the bound of the bucket it falls
    /// in. `None` when empty or when it falls in the overflow bucket.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return BUCKET_BOUNDS_NS.get(i).map(|&ns| Duration::from_nanos(ns));
            }
        }
        None
    }
}

/// The pool's counters, as atomics.
#[derive(Default)]
pub(crate) struct Metrics {
    acquires: AtomicU64,
    creations: AtomicU64,
    reuses: AtomicU64,
    timeouts: AtomicU64,
    exhausted: AtomicU64,
    creation_failures: AtomicU64,
    retired: [AtomicU64; RetireReason::ALL.len()],
    pub(crate) acquire_wait: Histogram,
    pub(crate) create_time: Histogram,
}

impl Metrics {
    pub(crate) fn acquired(&self, waited: Option<Duration>, reused: bool) {
        self.acquires.fetch_add(1, Relaxed);
        if reused {
            self.reuses.fetch_add(1, Relaxed);
        }
        self.acquire_wait.record(waited.unwrap_or_default());
    }

    /// Counts a creation; returns the count including it.
    pub(crate) fn created(&self, took: Duration) -> u64 {
        self.create_time.record(took);
        self.creations.fetch_add(1, Relaxed) + 1
    }

    pub(crate) fn create_failed(&self) {
        self.creation_failures.fetch_add(1, Relaxed);
    }

    pub(crate) fn retired(&self, reason: RetireReason) {
        self.retired[reason.index()].fetch_add(1, Relaxed);
    }

    pub(crate) fn timed_out(&self) {
        self.timeouts.fetch_add(1, Relaxed);
    }

    pub(crate) fn exhausted(&self) {
        self.exhausted.fetch_add(1, Relaxed);
    }

    pub(crate) fn counters(&self) -> Counters {
        Counters {
            acquires: self.acquires.load(Relaxed),
            creations: self.creations.load(Relaxed),
            reuses: self.reuses.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            exhausted: self.exhausted.load(Relaxed),
            creation_failures: self.creation_failures.load(Relaxed),
            retired: std::array::from_fn(|i| self.retired[i].load(Relaxed)),
        }
    }

    pub(crate) fn snapshot(&self, status: Status) -> MetricsSnapshot {
        MetricsSnapshot {
            counters: self.counters(),
            status,
            acquire_wait: self.acquire_wait.snapshot(),
            create_time: self.create_time.snapshot(),
        }
    }
}

/// Monotonic counters since the pool was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Leases handed out.
    pub acquires: u64,
    /// Instances the manager created.
    pub creations: u64,
    /// Leases served by an instance that had served one before (only under bounded reuse).
    pub reuses: u64,
    /// Acquires that gave up at their deadline.
    pub timeouts: u64,
    /// Non-waiting acquires that found the pool full.
    pub exhausted: u64,
    /// Failed creations.
    pub creation_failures: u64,
    /// Retired instances, indexed like [`RetireReason::ALL`]; see [`Counters::retired_for`].
    pub retired: [u64; RetireReason::ALL.len()],
}

impl Counters {
    /// Retirements for one reason.
    pub fn retired_for(&self, reason: RetireReason) -> u64 {
        self.retired[reason.index()]
    }
}

/// The pool's gauges at one instant, taken under its lock (so they are consistent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Instances ready to be handed out.
    pub ready: usize,
    /// Instances held by leases (including ones being created for a caller).
    pub leased: usize,
    /// Instances being created ahead of demand by maintenance.
    pub creating: usize,
    /// Callers waiting for a slot.
    pub waiting: usize,
    /// Every instance that exists or is being created or dropped; never above `max_instances`.
    pub live: usize,
    /// The cap.
    pub max_instances: usize,
    /// Instances maintenance keeps ready now: `min_ready`, or 0 while a
    /// [pre-warm threshold](crate::PoolBuilder::prewarm_threshold) finds creation cheap.
    pub prewarm: usize,
    /// Whether the pool was closed.
    pub closed: bool,
}

/// Counters, gauges and histograms of a pool at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSnapshot {
    /// Monotonic counters.
    pub counters: Counters,
    /// Gauges.
    pub status: Status,
    /// Time callers spent in acquire (successful ones), including inline creation. Acquires
    /// served straight from the ready queue are recorded in the first bucket without timing.
    pub acquire_wait: HistogramSnapshot,
    /// Time the manager took per successful creation.
    pub create_time: HistogramSnapshot,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_the_first_bound_at_or_above() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(128), 0);
        assert_eq!(bucket_of(129), 1);
        assert_eq!(bucket_of(256), 1);
        assert_eq!(bucket_of(1_000), 3); // <= 1024
        assert_eq!(bucket_of(BUCKET_BOUNDS_NS[23]), 23);
        assert_eq!(bucket_of(BUCKET_BOUNDS_NS[23] + 1), 24);
        assert_eq!(bucket_of(u64::MAX), 24);
    }

    #[test]
    fn quantile_reports_bucket_bounds() {
        let h = Histogram::default();
        for _ in 0..9 {
            h.record(Duration::from_nanos(100));
        }
        h.record(Duration::from_micros(3));
        let s = h.snapshot();
        assert_eq!(s.count, 10);
        assert_eq!(s.quantile(0.5), Some(Duration::from_nanos(128)));
        assert_eq!(s.quantile(1.0), Some(Duration::from_nanos(4096)));
        assert_eq!(HistogramSnapshot { counts: vec![0; BUCKETS], count: 0, sum: Duration::ZERO }.quantile(0.5), None);
    }
}
