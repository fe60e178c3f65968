//! Per-call ceilings. The runtime sets them; a plugin may ask for less, never more.

use std::time::Duration;

/// What one call may use. [`RuntimeConfig::limits`](crate::RuntimeConfig) holds the host's
/// ceilings; [`LoadOptions::limits`](crate::LoadOptions) may lower them for one plugin
/// ([`Limits::within`] clamps each field). Unlike `plugrt-wasmtime`, there is no table limit:
/// extism does not let the host bound tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time of one call, enforced by extism's timer thread through epoch
    /// interruption. Default 1 s.
    pub timeout: Duration,
    /// Fuel (roughly, wasm instructions) per call; `None` disables metering. Default `None`.
    pub fuel: Option<u64>,
    /// Growth of one instance's linear memories after instantiation, in bytes, rounded down to
    /// 64 KiB pages (extism's memory limit). It covers the kernel's memory, which holds the
    /// call's input and output, as well as the plugin's own; the module's initial memory comes
    /// on top. Default 64 MiB.
    pub memory_bytes: usize,
    /// Size of a call's output IPC stream, checked before it leaves the instance. Default 16 MiB.
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
                (_, c) => c,
            },
            memory_bytes: self.memory_bytes.min(ceiling.memory_bytes),
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
        let ceiling = Limits { fuel: Some(1000), ..Limits::default() };
        let asked = Limits { timeout: Duration::from_secs(60), memory_bytes: 1 << 20, fuel: Some(5), ..ceiling };
        let got = asked.within(&ceiling);
        assert_eq!(got.timeout, ceiling.timeout);
        assert_eq!((got.memory_bytes, got.fuel), (1 << 20, Some(5)));
        assert_eq!(Limits { fuel: None, ..asked }.within(&ceiling).fuel, Some(1000), "no opting out of metering");
        assert_eq!(asked.within(&Limits::default()).fuel, None, "no ceiling: metering is off");
    }
}
