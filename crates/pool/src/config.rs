//! What a pool may do with an instance after its lease ends.

use std::time::Duration;

/// Whether an instance may serve more than one lease.
///
/// The default, [`Reuse::Never`], is the isolation guarantee: no lease ever sees what an
/// earlier lease did to an instance. [`Reuse::Bounded`] trades that guarantee for speed and is
/// meant for plugins you trust (see the crate docs for when that is reasonable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reuse {
    /// Every lease gets an instance no one has used; dropping the lease drops the instance.
    #[default]
    Never,
    /// An instance returns to the pool after its lease and may serve later ones, within limits.
    Bounded(ReuseLimits),
}

impl Reuse {
    /// Bounded reuse with at most `max_uses` leases per instance and no idle limit.
    pub fn bounded(max_uses: u32) -> Self {
        Reuse::Bounded(ReuseLimits { max_uses, max_idle: None })
    }
}

/// Limits of [`Reuse::Bounded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReuseLimits {
    /// Leases one instance may serve in total (at least 1; 1 behaves like [`Reuse::Never`]).
    pub max_uses: u32,
    /// A used instance idle for longer is dropped, by maintenance or by the next acquire that
    /// would have reused it. `None`: no idle limit. Fresh (never leased) instances are never
    /// dropped for idleness: pre-warm keeps them on purpose.
    pub max_idle: Option<Duration>,
}
