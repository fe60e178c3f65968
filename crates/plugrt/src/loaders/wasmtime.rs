//! Components, through `plugrt-wasmtime` (feature `wasmtime`).

use plugrt_contract::{Error, LoadOptions};

use super::FlavourLoader;
use crate::plugin::Source;
use crate::{Flavour, Plugin, Settings};

impl FlavourLoader for plugrt_wasmtime::Runtime {
    fn load(&self, bytes: &[u8], options: LoadOptions, source: Source) -> Result<Plugin, Error> {
        plugrt_wasmtime::Runtime::load(self, bytes, options).map(|p| Plugin::new(p, Flavour::Component, source))
    }

    fn resident_bytes(&self) -> usize {
        plugrt_wasmtime::Runtime::resident_bytes(self).unwrap_or(0)
    }

    fn resident_budget(&self) -> usize {
        match self.allocator() {
            plugrt_wasmtime::Allocator::Pooling { .. } => self.config().resident_budget,
            plugrt_wasmtime::Allocator::OnDemand => 0,
        }
    }
}

/// One engine for every component, its pool sized to the runtime's budget (`describe`
/// instances hold permits too, so the engine never has to hold more).
pub(crate) fn component_loader(settings: &Settings) -> Result<Box<dyn FlavourLoader>, Error> {
    let defaults = plugrt_wasmtime::RuntimeConfig::default();
    let config = plugrt_wasmtime::RuntimeConfig {
        limits: settings.builder.limits,
        total_instances: u32::try_from(settings.builder.max_instances).unwrap_or(u32::MAX),
        keep_resident: settings.builder.keep_resident.unwrap_or(defaults.keep_resident),
        resident_budget: settings.builder.resident_budget.unwrap_or(defaults.resident_budget),
        granted_capabilities: settings.builder.granted_capabilities.clone(),
        cache_dir: settings.builder.cache_dir.clone(),
        budget: Some(settings.budget.clone()),
        ..defaults
    };
    Ok(Box::new(plugrt_wasmtime::Runtime::new(config)?))
}
