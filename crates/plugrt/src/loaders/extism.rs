//! Extism modules, through `plugrt-extism` (feature `extism`).

use plugrt_contract::{Error, LoadOptions};

use super::FlavourLoader;
use crate::plugin::Source;
use crate::{Flavour, Plugin, Settings};

impl FlavourLoader for plugrt_extism::Runtime {
    fn load(&self, bytes: &[u8], options: LoadOptions, source: Source) -> Result<Plugin, Error> {
        plugrt_extism::Runtime::load(self, bytes, options).map(|p| Plugin::new(p, Flavour::Extism, source))
    }
}

/// An engine per plugin (extism compiles per engine), on-demand allocation unless the
/// runtime asked for pooling; instances count against the runtime's budget.
pub(crate) fn extism_loader(settings: &Settings) -> Result<Box<dyn FlavourLoader>, Error> {
    let config = plugrt_extism::RuntimeConfig {
        limits: settings.builder.limits,
        pooling: settings.builder.extism_pooling,
        granted_capabilities: settings.builder.granted_capabilities.clone(),
        budget: Some(settings.budget.clone()),
    };
    Ok(Box::new(plugrt_extism::Runtime::new(config)?))
}
