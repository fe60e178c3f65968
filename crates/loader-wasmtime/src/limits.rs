//! Per-call ceilings. The runtime sets them; a plugin may ask for less, never more.

use std::time::Duration;

/// What one call may use. [`RuntimeConfig::limits`](crate::RuntimeConfig) holds the host's
/// ceilings; [`LoadOptions::limits`](crate::LoadOptions) may lower them for one plugin
/// ([`Limits::within`] clamps each field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time of one call, enforced by epoch interruption (granularity: the runtime's
    /// epoch tick). Instantiation counts too. Default 1 s.
    pub timeout: Duration,
    /// Fuel (roughly, wasm instructions) per call; `None` disables metering. Default `None`.
    /// Metering is an engine setting: a plugin can only have fuel if the runtime has a ceiling.
    pub fuel: Option<u64>,
    /// Linear memory of one instance, in bytes. Default 64 MiB.
    pub memory_bytes: usize,
    /// Elements of one table. Default 20,000.
    pub table_elements: usize,
    /// Size of a call's output IPC stream. Checked as soon as the output is out of the guest
    /// (that copy is bounded by `memory_bytes`), before it is decoded. Default 16 MiB.
    pub output_bytes: usize,
    /// Instances of one plugin alive at once (its pool's cap). Default 8.
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
    /// These limits, lowered where `ceiling` is lower: never above the ceiling.
    pub fn within(&self, ceiling: &Limits) -> Limits {
        Limits {
            timeout: self.timeout.min(ceiling.timeout),
            fuel: match (self.fuel, ceiling.fuel) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (None, c) => c,
                (Some(_), None) => None,
            },
            memory_bytes: self.memory_bytes.min(ceiling.memory_bytes),
            table_elements: self.table_elements.min(ceiling.table_elements),
            output_bytes: self.output_bytes.min(ceiling.output_bytes),
            instances: self.instances.min(ceiling.instances),
        }
    }
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
        assert_eq!(ceiling.within(&metered).fuel, Some(1000));
    }
}
