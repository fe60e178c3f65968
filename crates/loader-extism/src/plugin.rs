//! [`Plugin`]: a compiled Extism plugin, its description, and a pool of fresh instances.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch};
use extism::{CompiledPlugin, Manifest, PluginBuilder, Wasm};
use plugrt_arrow_ipc::{Limits as IpcLimits, decode_scalar_result, encode_parts};
use plugrt_contract::{
    Description, GuestError, GuestLog, Version, Versions, check_input, parse_description, start_envelope,
};
use plugrt_pool::{Lease, Manager, MetricsSnapshot, Pool, PoolError, Reuse};
use wasmtime::{Trap, WasmBacktrace};

use crate::exports::Shape;
use crate::host::{self, CallContext};
use crate::runtime::{self, Allocator, RuntimeConfig};
use crate::{Error, Limits};

/// Fresh instances a plugin keeps ready by default (clamped to its instance cap): creating
/// one costs tens of microseconds, a call on a ready one a few.
pub const DEFAULT_MIN_READY: usize = 4;

/// How to load one plugin. Defaults: the runtime's limits, [`DEFAULT_MIN_READY`] instances
/// kept ready, `Reuse::Never`.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// What errors call the plugin until its `describe` has named it. Default: `<bytes>`.
    pub label: Option<String>,
    /// Limits for this plugin, clamped to the runtime's ceilings. `None`: the ceilings.
    pub limits: Option<Limits>,
    /// Fresh instances kept ready ahead of calls by the pool's maintenance thread (at most
    /// the instance cap). 0 turns pre-warm off: every call then creates its instance.
    pub min_ready: usize,
    /// Whether instances may serve more than one call. Keep `Reuse::Never` unless the plugin
    /// is trusted: reuse lets one call see what the previous one left in memory (which is
    /// what extism's own `Pool` does).
    pub reuse: Reuse,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { label: None, limits: None, min_ready: DEFAULT_MIN_READY, reuse: Reuse::Never }
    }
}

/// A loaded Extism plugin. Cheap to clone; calls may run from many threads at once.
///
/// Loading checks the module's `describe` and `call` exports (`() -> i32`), compiles it once
/// into an engine of its own with no WASI, no HTTP and no host paths, links only the Extism
/// kernel and `plugrt_log` (a module importing anything else is refused), runs `describe` in
/// an instance of its own and validates the document. Each call then runs in an instance from
/// the plugin's pool: a brand-new `extism::Plugin` unless the plugin was loaded with bounded
/// reuse. An instance whose call failed in any way is never used again.
///
/// [`reload`](Plugin::reload) swaps in a new version atomically, as in `plugrt-wasmtime`.
#[derive(Clone)]
pub struct Plugin {
    shared: Arc<Shared>,
}

struct Shared {
    versions: Versions<PluginInner>,
    config: Arc<RuntimeConfig>,
    options: LoadOptions,
}

struct PluginInner {
    name: Arc<str>,
    description: Arc<Description>,
    pool: Pool<Instances>,
    limits: Limits,
    ipc_limits: IpcLimits,
    allocator: Allocator,
    interrupts: Arc<AtomicU64>,
}

/// The pool's manager: a fresh `extism::Plugin` from the compiled one.
struct Instances {
    compiled: CompiledPlugin,
    interrupts: Arc<AtomicU64>,
}

/// An instance, and how many engine interrupts its plugin had seen when it was created.
///
/// extism times a call out by advancing its engine's epoch, and all instances of a compiled
/// plugin share that engine: one call's timeout interrupts every other call running at that
/// moment, and every instance created before it (a pre-warmed one) would be interrupted as
/// soon as it starts. The loader counts the interrupts it sees, retires instances older than
/// the last one, and runs a call interrupted before its own deadline again.
struct Instance {
    /// Always `Some` until dropped (then handed to the reaper).
    plugin: Option<extism::Plugin>,
    interrupts: u64,
}

impl Instance {
    fn plugin(&mut self) -> &mut extism::Plugin {
        self.plugin.as_mut().expect("an instance holds its plugin until dropped")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(plugin) = self.plugin.take() {
            crate::reaper::reap(plugin);
        }
    }
}

/// An export name no toolchain produces. extism instantiates a plugin's module lazily, in its
/// first call; calling this name makes it instantiate (and run the module's initialisers)
/// without running any guest function, so a pre-warmed instance is ready to call.
const INSTANTIATE: &str = "\u{0}plugrt-instantiate";

impl Manager for Instances {
    type Instance = Instance;
    type Error = extism::Error;

    /// A new, instantiated `extism::Plugin`. The engine's slots cover every instance the
    /// loader can have alive (see `runtime::engine_config`), but a slot freed by a drop on
    /// another thread can reach the engine's pool a moment late (wasmtime's decommit queue):
    /// a refusal is tried again a few times, 1 ms apart, before it fails the creation.
    fn create(&self) -> Result<Instance, extism::Error> {
        let interrupts = self.interrupts.load(Ordering::Acquire);
        let mut attempt = 0;
        loop {
            match self.instantiate() {
                Err(e) if attempt < SLOT_RETRIES && format!("{e:#}").contains("maximum concurrent limit") => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                other => return other.map(|plugin| Instance { plugin: Some(plugin), interrupts }),
            }
        }
    }
}

impl Instances {
    fn instantiate(&self) -> Result<extism::Plugin, extism::Error> {
        let mut plugin = extism::Plugin::new_from_compiled(&self.compiled)?;
        match plugin.call::<&[u8], &[u8]>(INSTANTIATE, &[]) {
            Err(e) if e.to_string().starts_with("Function not found") => Ok(plugin),
            Err(e) => Err(e), // instantiation itself failed
            Ok(_) => Err(extism::Error::msg("the module exports plugrt's reserved name")),
        }
    }
}

/// Extra attempts at creating an instance the engine's pool refused.
const SLOT_RETRIES: u32 = 5;

/// Runs of a call interrupted by another call's timeout before the loader gives up.
const INTERRUPTED_RUNS: u32 = 3;

/// How one run of a call failed.
enum Failure {
    /// Interrupted before its own deadline (another call of the plugin timed out).
    Interrupted,
    /// Anything else: the call's error.
    Error(Error),
}

thread_local! {
    /// Call envelopes, reused across calls on this thread.
    static ENVELOPE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Plugin {
    pub(crate) fn load(config: Arc<RuntimeConfig>, bytes: &[u8], options: LoadOptions) -> Result<Plugin, Error> {
        let inner = PluginInner::load(&config, bytes, &options)?;
        Ok(Plugin { shared: Arc::new(Shared { versions: Versions::new(inner), config, options }) })
    }

    fn current(&self) -> Arc<PluginInner> {
        self.shared.versions.current()
    }

    /// Replaces this plugin (and every clone of it) with a new version of the same name.
    ///
    /// The new version is loaded and checked completely before the swap; if that fails, the
    /// current version stays. Calls started before the swap finish on the old version; later
    /// calls use the new one. The old version's instances drop when its last call ends.
    pub fn reload(&self, bytes: &[u8]) -> Result<(), Error> {
        let next = PluginInner::load(&self.shared.config, bytes, &self.shared.options)?;
        self.shared.versions.replace(next)
    }

    /// The plugin's name (from its `describe` document).
    pub fn name(&self) -> Arc<str> {
        self.current().name.clone()
    }

    /// The validated `describe` document of the current version.
    pub fn description(&self) -> Arc<Description> {
        self.current().description.clone()
    }

    /// The limits this plugin runs under (its request clamped to the runtime's ceilings).
    pub fn limits(&self) -> Limits {
        self.current().limits
    }

    /// The allocator of the current version's engine, and what it reserved.
    pub fn allocator(&self) -> Allocator {
        self.current().allocator
    }

    /// The current version's instance pool: counters, gauges and histograms.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.current().pool.metrics()
    }

    /// Stops new calls and waits up to `drain` for calls in flight; see `plugrt_pool::Pool::close`.
    pub fn close(&self, drain: Duration) -> plugrt_pool::CloseReport {
        self.current().pool.close(drain)
    }

    /// Calls `function` on `batch` (its columns are the arguments) and returns the result
    /// column, checked against the declared type and the batch's row count.
    pub fn call(&self, function: &str, batch: &RecordBatch) -> Result<ArrayRef, Error> {
        self.current().call(function, batch)
    }
}

/// Compiles `bytes` with the plugin's settings; with pooling, falls back to on-demand
/// allocation (logged) when only the pooling engine cannot be created.
fn compile(bytes: &[u8], limits: &Limits, shape: Shape, pooling: bool) -> Result<(CompiledPlugin, Allocator), String> {
    let build = |pooling: bool| {
        let (config, allocator) = runtime::engine_config(limits, shape, pooling);
        let pages = u32::try_from(limits.memory_bytes / (64 << 10)).unwrap_or(u32::MAX);
        let manifest = Manifest::new([Wasm::data(bytes.to_vec())]).with_memory_max(pages).with_timeout(limits.timeout);
        let mut builder = PluginBuilder::new(manifest)
            .with_wasi(false)
            .with_functions([host::log_function()])
            .with_cache_disabled()
            .with_wasmtime_config(config);
        if let Some(fuel) = limits.fuel {
            builder = builder.with_fuel_limit(fuel);
        }
        builder.compile().map(|compiled| (compiled, allocator))
    };
    match build(pooling) {
        Ok(done) => Ok(done),
        Err(pooled) if pooling => match build(false) {
            Ok(done) => {
                tracing::warn!(error = %pooled, "pooling allocator unavailable for a plugin; using on-demand allocation");
                Ok(done)
            }
            Err(e) => Err(format!("{e:#}")),
        },
        Err(e) => Err(format!("{e:#}")),
    }
}

impl PluginInner {
    fn load(config: &RuntimeConfig, bytes: &[u8], options: &LoadOptions) -> Result<PluginInner, Error> {
        let label = options.label.clone().unwrap_or_else(|| "<bytes>".to_owned());
        let fail = |message: String| Error::Load { plugin: label.clone(), message };
        let shape = crate::exports::check(bytes).map_err(&fail)?;
        let limits = options.limits.unwrap_or(config.limits).within(&config.limits);
        let (compiled, allocator) =
            compile(bytes, &limits, shape, config.pooling).map_err(|e| fail(format!("cannot compile: {e}")))?;

        // `describe`, in an instance of its own that serves nothing else.
        let mut instance = extism::Plugin::new_from_compiled(&compiled)
            .map_err(|e| fail(format!("imports the host does not grant, or cannot instantiate: {e:#}")))?;
        let context = CallContext { log: GuestLog::new(Arc::from(label.as_str())) };
        let document = instance
            .call_with_host_context::<&[u8], &[u8], _>("describe", &[], context)
            .map_err(|e| fail(format!("`describe` failed: {e:#}")))
            .and_then(|out| {
                String::from_utf8(out.to_vec()).map_err(|_| fail("`describe` output is not UTF-8".into()))
            })?;
        drop(instance);
        let description = parse_description(&document, &config.granted_capabilities).map_err(fail)?;

        let name: Arc<str> = Arc::from(description.name.as_str());
        let interrupts = Arc::new(AtomicU64::new(0));
        let pool = Pool::builder(Instances { compiled, interrupts: interrupts.clone() })
            .name(name.clone())
            .max_instances(limits.instances)
            .min_ready(options.min_ready.min(limits.instances))
            .reuse(options.reuse)
            .acquire_timeout(Some(limits.timeout))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let ipc_limits = IpcLimits { max_bytes: limits.output_bytes, ..IpcLimits::default() };
        Ok(PluginInner { name, description: Arc::new(description), pool, limits, ipc_limits, allocator, interrupts })
    }

    fn call(&self, function: &str, batch: &RecordBatch) -> Result<ArrayRef, Error> {
        let (plugin, owned) = (|| self.name.to_string(), || function.to_owned());
        let signature = self
            .description
            .function(function)
            .ok_or_else(|| Error::UnknownFunction { plugin: plugin(), function: owned() })?;
        check_input(signature, batch).map_err(|message| Error::InvalidInput {
            plugin: plugin(),
            function: owned(),
            message,
        })?;
        let encoded = encode_parts(&batch.schema(), std::slice::from_ref(batch)).map_err(|e| Error::InvalidInput {
            plugin: plugin(),
            function: owned(),
            message: e.to_string(),
        })?;
        let output = ENVELOPE.with(|envelope| {
            let mut envelope = envelope.borrow_mut();
            start_envelope(function, &mut envelope);
            encoded.append_to(&mut envelope);
            self.run(function, &envelope)
        })?;
        decode_scalar_result(output, &self.ipc_limits, &signature.returns, batch.num_rows())
            .map_err(|source| Error::Contract { plugin: plugin(), function: owned(), source })
    }

    /// Runs the call in a fresh enough instance, again if another call's timeout interrupted it.
    fn run(&self, function: &str, envelope: &[u8]) -> Result<Vec<u8>, Error> {
        let mut interrupted = 0;
        // Bounded: each pass retires one instance, and the pool replaces it with a current one.
        for _ in 0..self.limits.instances + 2 * INTERRUPTED_RUNS as usize {
            let mut lease = self.pool.acquire().map_err(|e| self.pool_error(function, e))?;
            if lease.interrupts < self.interrupts.load(Ordering::Acquire) {
                lease.poison(); // created before the engine's last interrupt: it would be interrupted too
                continue;
            }
            match self.invoke(&mut lease, function, envelope) {
                Ok(output) => return Ok(output),
                Err(failure) => {
                    lease.poison();
                    match failure {
                        Failure::Error(e) => return Err(e),
                        Failure::Interrupted => {
                            interrupted += 1;
                            if interrupted == INTERRUPTED_RUNS {
                                break;
                            }
                        }
                    }
                }
            }
        }
        Err(Error::Trap {
            plugin: self.name.to_string(),
            function: function.to_owned(),
            message: "interrupted again and again by other calls' timeouts".into(),
        })
    }

    /// Runs the guest's `call` on `envelope` in the leased instance; returns its output bytes.
    fn invoke(&self, lease: &mut Lease<Instances>, function: &str, envelope: &[u8]) -> Result<Vec<u8>, Failure> {
        let context = CallContext { log: GuestLog::new(self.name.clone()) };
        let started = std::time::Instant::now();
        match lease.plugin().call_with_host_context::<&[u8], &[u8], _>("call", envelope, context) {
            Ok(output) if output.len() > self.limits.output_bytes => Err(Failure::Error(Error::OutputTooLarge {
                plugin: self.name.to_string(),
                function: function.to_owned(),
                size: output.len(),
                limit: self.limits.output_bytes,
            })),
            Ok(output) => Ok(output.to_vec()),
            Err(e) if is_interrupt(&e) => {
                // The engine's epoch moved: older instances are stale from now on.
                self.interrupts.fetch_add(1, Ordering::AcqRel);
                if started.elapsed() >= self.limits.timeout {
                    Err(Failure::Error(Error::Timeout {
                        plugin: self.name.to_string(),
                        function: function.to_owned(),
                        limit: self.limits.timeout,
                    }))
                } else {
                    Err(Failure::Interrupted)
                }
            }
            Err(e) => Err(Failure::Error(self.classify(function, e))),
        }
    }

    /// Maps a failed acquire; a failed instance creation is classified like a failed call.
    fn pool_error(&self, function: &str, e: PoolError<extism::Error>) -> Error {
        match e {
            PoolError::Closed { .. } => Error::Closed { plugin: self.name.to_string() },
            // Creating an instance runs no guest function: what is not a limit is a failed
            // instantiation (a trap in the module's initialisers, or the engine refusing).
            PoolError::Create { source, .. } => {
                let text = format!("{source:#}");
                match self.classify(function, source) {
                    Error::Trap { plugin, function, message } => {
                        Error::Trap { plugin, function, message: format!("instantiation failed: {message}") }
                    }
                    Error::Guest { plugin, function, .. } => {
                        Error::Trap { plugin, function, message: format!("instantiation failed: {text}") }
                    }
                    other => other,
                }
            }
            other => Error::Exhausted {
                plugin: self.name.to_string(),
                function: function.to_owned(),
                message: other.to_string(),
            },
        }
    }

    /// Names what stopped a call (interrupts aside). extism reports its own limits as bare
    /// messages ("oom", "plugin ran out of fuel"); traps keep their type; anything else is
    /// the guest's error, read as the contract's JSON.
    fn classify(&self, function: &str, e: extism::Error) -> Error {
        let (plugin, function) = (self.name.to_string(), function.to_owned());
        if e.to_string() == "plugin ran out of fuel" || e.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
            return Error::OutOfFuel { plugin, function, fuel: self.limits.fuel.unwrap_or(0) };
        }
        if e.root_cause().to_string() == "oom" {
            return Error::MemoryLimit { plugin, function, limit: self.limits.memory_bytes };
        }
        if let Some(trap) = e.downcast_ref::<Trap>() {
            return Error::Trap { plugin, function, message: describe_trap(trap, &e) };
        }
        let guest = GuestError::from_json(&e.to_string());
        Error::Guest { plugin, function, kind: guest.kind, message: guest.message, retryable: guest.retryable }
    }
}

/// Whether extism stopped the call by advancing the engine's epoch: its "timeout" (a trap
/// during the call) or a bare interrupt trap (during instantiation). A guest setting the text
/// "timeout" as its error only earns a rerun, then a timeout once its deadline has passed.
fn is_interrupt(e: &extism::Error) -> bool {
    e.to_string() == "timeout" || e.downcast_ref::<Trap>() == Some(&Trap::Interrupt)
}

/// The trap and the innermost guest frames.
fn describe_trap(trap: &Trap, e: &extism::Error) -> String {
    let mut text = trap.to_string();
    if let Some(trace) = e.downcast_ref::<WasmBacktrace>() {
        let frames: Vec<String> = trace
            .frames()
            .iter()
            .take(5)
            .map(|f| f.func_name().map(str::to_owned).unwrap_or_else(|| format!("func {}", f.func_index())))
            .collect();
        if !frames.is_empty() {
            text.push_str(&format!(" (at {})", frames.join(" <- ")));
        }
    }
    text
}

impl Version for PluginInner {
    fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current();
        f.debug_struct("Plugin").field("name", &current.name).field("limits", &current.limits).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine's slots hold the instances the loader can have alive at once (the cap,
    /// `describe`'s, the reaper's backlog) plus the decommit batch's room, and no more: the
    /// per-instance counts in `runtime` are neither short (calls would fail under load) nor
    /// padded.
    #[test]
    fn engine_slots_hold_the_cap_and_no_more() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/out/extism/probe.wasm");
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}; run `cargo xtask fixtures`"));
        let limits = Limits { instances: 2, memory_bytes: 1 << 20, ..Limits::default() };
        let shape = crate::exports::check(&bytes).unwrap();
        let (compiled, allocator) = compile(&bytes, &limits, shape, true).unwrap();
        assert!(matches!(allocator, Allocator::Pooling { .. }));
        let instances = Instances { compiled, interrupts: Arc::new(AtomicU64::new(0)) };
        let per_instance = crate::runtime::EXTISM_MEMORIES + shape.memories;
        let alive = limits.instances + 2 + crate::reaper::BACKLOG;
        let room = alive + crate::runtime::DECOMMIT_BATCH.div_ceil(per_instance) as usize;
        let held: Vec<Instance> =
            (0..room).map(|i| instances.create().unwrap_or_else(|e| panic!("{i}: {e:#}"))).collect();
        let refused = instances.create().err().expect("one instance more than the slots should be refused");
        assert!(refused.to_string().contains("maximum concurrent limit"), "{refused:#}");
        drop(held);
    }
}
