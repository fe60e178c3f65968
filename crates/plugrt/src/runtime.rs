//! [`Runtime`]: many plugins of both flavours, registered by name, under one budget.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow_schema::DataType;
use parking_lot::RwLock;
use plugrt_contract::{Error, Limits, LoadOptions, PreWarm, Reuse, Volatility};
use plugrt_pool::{Budget, BudgetStatus, CloseReport};

use crate::loaders::{self, FlavourLoader};
use crate::plugin::Source;
use crate::{Flavour, Plugin};

/// Default [`RuntimeBuilder::max_instances`]: live instances of all plugins at once.
pub const DEFAULT_MAX_INSTANCES: usize = 256;

/// What the builder collected, and the budget it created; the loaders are configured from it.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) builder: RuntimeBuilder,
    pub(crate) budget: Budget,
}

/// Configures a [`Runtime`]. Defaults:
///
/// - ceilings: `Limits::default()` (1 s per call, creating its instance included; 64 MiB of
///   memory; 16 MiB of output; 8 instances per plugin; no fuel metering);
/// - [`DEFAULT_MAX_INSTANCES`] (256) live instances for all plugins together, pre-warm using
///   at most three quarters of them;
/// - [`PreWarm::Auto`]: instances are kept ready only for plugins whose instances are slow to
///   create (Extism's, not components');
/// - `Reuse::Never`: every call in a brand-new instance;
/// - no capabilities granted, no on-disk cache of compiled components, Extism plugins on
///   on-demand allocation (see [`extism_pooling`](RuntimeBuilder::extism_pooling));
/// - plugins keep the SHA-256 of their bytes, not the bytes (see
///   [`keep_bytes`](RuntimeBuilder::keep_bytes)).
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    pub(crate) limits: Limits,
    pub(crate) max_instances: usize,
    pub(crate) granted_capabilities: Vec<String>,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) extism_pooling: bool,
    pub(crate) pre_warm: PreWarm,
    pub(crate) reuse: Reuse,
    pub(crate) keep_resident: Option<usize>,
    pub(crate) resident_budget: Option<usize>,
    pub(crate) keep_bytes: bool,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            limits: Limits::default(),
            max_instances: DEFAULT_MAX_INSTANCES,
            granted_capabilities: Vec::new(),
            cache_dir: None,
            extism_pooling: false,
            pre_warm: PreWarm::Auto,
            reuse: Reuse::Never,
            keep_resident: None,
            resident_budget: None,
            keep_bytes: false,
        }
    }
}

impl RuntimeBuilder {
    /// The ceilings every plugin's limits are clamped to.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Live instances of all plugins together (ready, leased, being created, and `describe`
    /// instances while plugins load). When a plugin needs one and the budget is spent, idle
    /// ready instances of other plugins are given up first; only calls beyond this many at
    /// once wait (up to the call's timeout) and then fail with `Error::Exhausted`. Also sizes
    /// the component engine's pooling allocator.
    pub fn max_instances(mut self, max: usize) -> Self {
        self.max_instances = max.max(1);
        self
    }

    /// Capabilities plugins may ask for in `describe` (none are defined yet).
    pub fn grant(mut self, capability: impl Into<String>) -> Self {
        self.granted_capabilities.push(capability.into());
        self
    }

    /// A folder for the on-disk cache of compiled components (only files it wrote are loaded).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Gives each Extism plugin a pooling allocator of its own: cheaper instances, at a cost
    /// in memory mappings per plugin. Off by default:
    ///
    #[doc = include_str!("../../../docs/src/figures/extism-pooling.md")]
    pub fn extism_pooling(mut self, on: bool) -> Self {
        self.extism_pooling = on;
        self
    }

    /// The pre-warm policy of plugins loaded without their own [`LoadOptions`].
    pub fn pre_warm(mut self, pre_warm: PreWarm) -> Self {
        self.pre_warm = pre_warm;
        self
    }

    /// The reuse policy of plugins loaded without their own [`LoadOptions`]. Keep
    /// `Reuse::Never` unless every plugin is trusted.
    pub fn reuse(mut self, reuse: Reuse) -> Self {
        self.reuse = reuse;
        self
    }

    /// Bytes of each component instance's linear memory kept mapped when the instance is
    /// released: zeroed (only the pages it wrote), so the next instance in that slot touches
    /// them without page faults and sees exactly what a brand-new instance sees. Defaults to
    /// plugrt-wasmtime's `RuntimeConfig::keep_resident`. Extism plugins are not affected.
    pub fn keep_resident(mut self, bytes: usize) -> Self {
        self.keep_resident = Some(bytes);
        self
    }

    /// Bytes of idle memory the component engine may keep resident across all its slots
    /// (see [`Runtime::resident_bytes`]); defaults to plugrt-wasmtime's
    /// `RuntimeConfig::resident_budget`.
    pub fn resident_budget(mut self, bytes: usize) -> Self {
        self.resident_budget = Some(bytes);
        self
    }

    /// Keeps each plugin's wasm bytes in memory after loading it ([`Plugin::bytes`]), as
    /// self-contained plans need (the DataFusion codecs' `CodecOptions::self_contained`).
    /// Off by default: a plugin keeps only the SHA-256 of its bytes, and memory holds no second
    /// copy of them (the JS guest's are 5.4 MB).
    pub fn keep_bytes(mut self, on: bool) -> Self {
        self.keep_bytes = on;
        self
    }

    /// Creates the runtime and the loaders this build has (engines are created here).
    pub fn build(self) -> Result<Runtime, Error> {
        let settings = Settings { budget: Budget::new(self.max_instances), builder: self };
        let component = loaders::component_loader(&settings)?;
        let extism = loaders::extism_loader(&settings)?;
        Ok(Runtime { inner: Arc::new(Inner { component, extism, settings, plugins: RwLock::new(BTreeMap::new()) }) })
    }
}

/// Hosts plugins of both flavours, registered by the name their `describe` gives, under one
/// budget of live instances. Cheap to clone; every method may be called from many threads.
///
/// It does not watch folders, persist its registry, or grant any capability by default.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    component: Box<dyn FlavourLoader>,
    extism: Box<dyn FlavourLoader>,
    settings: Settings,
    plugins: RwLock<BTreeMap<String, Plugin>>,
}

/// Whether a [catalog](Runtime::catalog) entry is a scalar function or an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionKind {
    /// Called with [`Plugin::call`]: one result per row.
    Scalar,
    /// Stepped with [`Plugin::aggregate`]: one result per group, carrying this state (a
    /// column per field) between steps.
    Aggregate {
        /// The declared state fields.
        state: Vec<arrow_schema::FieldRef>,
    },
}

/// One function of the [catalog](Runtime::catalog).
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    /// The plugin declaring it.
    pub plugin: String,
    /// The plugin's version text.
    pub version: String,
    /// Its flavour.
    pub flavour: Flavour,
    /// The function's name.
    pub function: String,
    /// Argument types, in order.
    pub args: Vec<DataType>,
    /// Return type.
    pub returns: DataType,
    /// Volatility.
    pub volatility: Volatility,
    /// Scalar or aggregate (with its state).
    pub kind: FunctionKind,
}

/// What [`Runtime::load_dir`] did with each `.wasm` file of a folder.
#[derive(Debug, Default)]
pub struct DirReport {
    /// Files loaded, with the plugin's name.
    pub loaded: Vec<(PathBuf, String)>,
    /// Files that did not load, with why.
    pub failed: Vec<(PathBuf, Error)>,
}

impl Runtime {
    /// A builder with the documented defaults.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The default load options: the builder's pre-warm and reuse, the ceilings as limits.
    pub(crate) fn options(&self, label: Option<String>) -> LoadOptions {
        let builder = &self.inner.settings.builder;
        LoadOptions { label, limits: None, pre_warm: builder.pre_warm, reuse: builder.reuse }
    }

    /// Loads a plugin from its bytes with the runtime's default options and registers it.
    /// The flavour is told from the bytes; see [`load_with`](Runtime::load_with).
    pub fn load(&self, bytes: &[u8]) -> Result<Plugin, Error> {
        self.load_with(bytes, self.options(None))
    }

    /// Loads a plugin file with the runtime's default options; errors before `describe`
    /// names the plugin carry the path.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Plugin, Error> {
        let path = path.as_ref();
        let mut options = self.options(None);
        let bytes = plugrt_contract::read_plugin_file(path, &mut options.label)?;
        self.load_with(&bytes, options)
    }

    /// Loads a plugin with its own options and registers it by its `describe` name.
    ///
    /// A component goes to the component loader, a core module to the Extism loader; anything
    /// else, or a flavour this build has no loader for, is a load error saying what the bytes
    /// are and what was expected. A name already registered is refused (use
    /// [`reload`](Runtime::reload) to replace a plugin, or [`unload`](Runtime::unload) it
    /// first); the plugin loaded meanwhile is dropped.
    pub fn load_with(&self, bytes: &[u8], options: LoadOptions) -> Result<Plugin, Error> {
        let label = options.label().to_owned();
        let plugin = self.load_unregistered(bytes, options)?;
        let name = plugin.name();
        let mut plugins = self.inner.plugins.write();
        if plugins.contains_key(&name) {
            drop(plugins);
            plugin.close(Duration::ZERO);
            return Err(Error::Load {
                plugin: label,
                message: format!("a plugin named `{name}` is already loaded (reload or unload it first)"),
            });
        }
        plugins.insert(name, plugin.clone());
        Ok(plugin)
    }

    /// Loads a plugin with the loader of its flavour, without registering it.
    pub(crate) fn load_unregistered(&self, bytes: &[u8], options: LoadOptions) -> Result<Plugin, Error> {
        let label = options.label().to_owned();
        let flavour = Flavour::detect(bytes).map_err(|message| Error::Load { plugin: label, message })?;
        let loader = match flavour {
            Flavour::Component => &self.inner.component,
            Flavour::Extism => &self.inner.extism,
        };
        loader.load(bytes, options, Source::of(bytes, self.inner.settings.builder.keep_bytes))
    }

    /// Loads every `*.wasm` file of `dir` (other files are ignored), in name order. A file
    /// that fails is reported and the others still load. Fails only if the folder cannot be
    /// read.
    pub fn load_dir(&self, dir: impl AsRef<Path>) -> Result<DirReport, Error> {
        let dir = dir.as_ref();
        let unreadable = |e: std::io::Error| Error::Load {
            plugin: dir.display().to_string(),
            message: format!("cannot read the folder: {e}"),
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(unreadable)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "wasm"))
            .collect();
        files.sort();
        let mut report = DirReport::default();
        for file in files {
            match self.load_file(&file) {
                Ok(plugin) => report.loaded.push((file, plugin.name())),
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "plugin did not load");
                    report.failed.push((file, e));
                }
            }
        }
        Ok(report)
    }

    /// The plugin registered under `name`.
    pub fn plugin(&self, name: &str) -> Option<Plugin> {
        self.inner.plugins.read().get(name).cloned()
    }

    /// The names of every registered plugin, in order.
    pub fn plugins(&self) -> Vec<String> {
        self.inner.plugins.read().keys().cloned().collect()
    }

    /// Every registered plugin, in name order (one read of the registry).
    #[cfg_attr(not(any(feature = "metrics", feature = "datafusion")), allow(dead_code))]
    pub(crate) fn loaded(&self) -> Vec<Plugin> {
        self.inner.plugins.read().values().cloned().collect()
    }

    /// Replaces the plugin registered under `name` with a new version of the same name (and
    /// flavour), loaded and checked before the swap; on error the current version stays.
    pub fn reload(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        let plugin = self.plugin(name).ok_or_else(|| Error::Load {
            plugin: name.to_owned(),
            message: "no plugin of that name is loaded".into(),
        })?;
        plugin.reload(bytes)
    }

    /// Removes the plugin registered under `name`, then closes it: new calls (also through
    /// clones of its handle) fail with `Error::Closed`, and this waits up to `drain` for calls
    /// in flight. `None` if no plugin has that name. The name is free again at once.
    pub fn unload(&self, name: &str, drain: Duration) -> Option<CloseReport> {
        let plugin = self.inner.plugins.write().remove(name)?;
        Some(plugin.close(drain))
    }

    /// Every function of every registered plugin, by plugin, then its scalar functions and its
    /// aggregates in declaration order.
    pub fn catalog(&self) -> Vec<CatalogEntry> {
        let plugins = self.inner.plugins.read();
        let mut entries = Vec::new();
        for plugin in plugins.values() {
            let description = plugin.description();
            for f in &description.functions {
                entries.push(CatalogEntry {
                    plugin: description.name.clone(),
                    version: description.version.clone(),
                    flavour: plugin.flavour(),
                    function: f.name.clone(),
                    args: f.args.clone(),
                    returns: f.returns.clone(),
                    volatility: f.volatility,
                    kind: FunctionKind::Scalar,
                });
            }
            for a in &description.aggregates {
                entries.push(CatalogEntry {
                    plugin: description.name.clone(),
                    version: description.version.clone(),
                    flavour: plugin.flavour(),
                    function: a.name.clone(),
                    args: a.args.clone(),
                    returns: a.returns.clone(),
                    volatility: a.volatility,
                    kind: FunctionKind::Aggregate { state: a.state.clone() },
                });
            }
        }
        entries
    }

    /// The budget of live instances: how many are held now, by all plugins.
    pub fn budget(&self) -> BudgetStatus {
        self.inner.settings.budget.status()
    }

    /// The ceilings every plugin's limits are clamped to.
    pub fn limits(&self) -> Limits {
        self.inner.settings.builder.limits
    }

    /// Bytes of memory kept resident in slots no instance uses now (zeroed, for the next
    /// instances), all engines together. Only the component engine keeps any; see
    /// [`RuntimeBuilder::resident_budget`].
    pub fn resident_bytes(&self) -> usize {
        self.inner.component.resident_bytes() + self.inner.extism.resident_bytes()
    }

    /// The resident budget in force ([`RuntimeBuilder::resident_budget`] or its default; 0
    /// when no engine keeps memory resident). Idle resident memory stays within about it:
    /// plugrt-wasmtime's `RuntimeConfig::resident_budget` gives the exact bound.
    pub fn resident_budget(&self) -> usize {
        self.inner.component.resident_budget() + self.inner.extism.resident_budget()
    }

    /// Whether this build loads plugins of `flavour` (its Cargo feature is on).
    pub fn supports(flavour: Flavour) -> bool {
        match flavour {
            Flavour::Component => cfg!(feature = "wasmtime"),
            Flavour::Extism => cfg!(feature = "extism"),
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("plugins", &self.inner.plugins.read().len()).finish_non_exhaustive()
    }
}
