//! The loaders this build has, behind one small trait. Each loader's module is compiled only
//! with its Cargo feature; without it, [`missing`] stands in and refuses that flavour with an
//! error naming the feature to enable.

use plugrt_contract::{Error, LoadOptions};

use crate::Plugin;
use crate::plugin::Source;

#[cfg(feature = "extism")]
mod extism;
mod missing;
#[cfg(feature = "wasmtime")]
mod wasmtime;

/// Loads plugins of one flavour.
pub(crate) trait FlavourLoader: Send + Sync {
    /// Loads `bytes`; `source` is what the plugin is to know of them.
    fn load(&self, bytes: &[u8], options: LoadOptions, source: Source) -> Result<Plugin, Error>;

    /// Bytes of idle memory the loader's engine keeps resident for the next instances.
    fn resident_bytes(&self) -> usize {
        0
    }

    /// What the engine may keep resident when idle (its resident budget).
    fn resident_budget(&self) -> usize {
        0
    }
}

#[cfg(feature = "wasmtime")]
pub(crate) use self::wasmtime::component_loader;

/// Without the `wasmtime` feature: components are refused by name.
#[cfg(not(feature = "wasmtime"))]
pub(crate) fn component_loader(_: &crate::Settings) -> Result<Box<dyn FlavourLoader>, Error> {
    Ok(Box::new(missing::Missing(crate::Flavour::Component)))
}

#[cfg(feature = "extism")]
pub(crate) use self::extism::extism_loader;

/// Without the `extism` feature: Extism modules are refused by name.
#[cfg(not(feature = "extism"))]
pub(crate) fn extism_loader(_: &crate::Settings) -> Result<Box<dyn FlavourLoader>, Error> {
    Ok(Box::new(missing::Missing(crate::Flavour::Extism)))
}
