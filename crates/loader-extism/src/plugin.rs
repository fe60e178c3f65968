//! [`Plugin`]: a compiled Extism plugin, its description, and a pool of fresh instances.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, RecordBatch};
use extism::{CompiledPlugin, Manifest, PluginBuilder, Wasm};
use plugrt_arrow_ipc::{Limits as IpcLimits, decode_scalar_result, encode_parts};
use plugrt_contract::{
    AggregateOp, AggregateStart, CallOptions, CallReport, GuestError, GuestLog, Loaded, Loader, Parts, check_input,
    lap, parse_description, start_aggregate, start_envelope, write_aggregate_envelope,
};
use plugrt_pool::{Lease, Manager, Pool, PoolError};
use wasmtime::{Trap, WasmBacktrace};

use crate::exports::Shape;
use crate::host::{self, CallContext};
use crate::runtime::{self, RuntimeConfig};
use crate::{Allocator, Error, Limits, LoadOptions};

/// A loaded Extism plugin (see `plugrt_contract::Plugin`, which this loader's
/// [`crate::Plugin`] is). Cheap to clone; calls may run from many threads at once.
///
/// Loading checks the module's `describe` and `call` exports, and `aggregate` if it has one (a
/// plugin declaring aggregates must), all `() -> i32`, and its initial memory (at most the memory limit), moves its start function and `_initialize` /
/// `__wasm_call_ctors` under the call's time limit (see the `exports` module), compiles it once
/// into an engine of its own with no WASI, no HTTP and no host paths, links only the Extism
/// kernel and `plugrt_log` (a module importing anything else is refused), runs `describe` in
/// an instance of its own and validates the document. Each call then runs in an instance from
/// the plugin's pool: a brand-new `extism::Plugin` unless the plugin was loaded with bounded
/// reuse. An instance whose call failed in any way is never used again.
pub type Plugin = plugrt_contract::Plugin<crate::Runtime>;

/// One loaded version of an Extism plugin: its description, limits and pool of instances.
pub struct ModuleVersion {
    parts: Parts<Instances>,
    /// The plugin's name, as errors carry it.
    name: Arc<str>,
    ipc_limits: IpcLimits,
    interrupts: Arc<AtomicU64>,
}

/// The pool's manager: a fresh `extism::Plugin` from the compiled one.
pub struct Instances {
    compiled: CompiledPlugin,
    interrupts: Arc<AtomicU64>,
    /// The module's initialisers, as exports to call (timed) in this order.
    init: Vec<&'static str>,
}

/// An instance, and how many engine interrupts its plugin had seen when it was created.
///
/// extism times a call out by advancing its engine's epoch, and all instances of a compiled
/// plugin share that engine: one call's timeout interrupts every other call running at that
/// moment, and every instance created before it (a pre-warmed one) would be interrupted as
/// soon as it starts. The loader counts the interrupts it sees, retires instances older than
/// the last one, and runs a call interrupted before its own deadline again.
pub struct Instance {
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
/// first call; calling this name makes it instantiate without running any guest function, so
/// a pre-warmed instance is ready to call. (A module with initialisers is instantiated by
/// calling them instead: see the `exports` module.)
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
    /// A new `extism::Plugin`, instantiated: its initialisers run as calls, under extism's
    /// timer (the call's time limit), never as part of the untimed instantiation.
    fn instantiate(&self) -> Result<extism::Plugin, extism::Error> {
        let mut plugin = extism::Plugin::new_from_compiled(&self.compiled)?;
        for init in &self.init {
            plugin.call::<&[u8], &[u8]>(*init, &[])?;
        }
        if !self.init.is_empty() {
            return Ok(plugin);
        }
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

impl Loader for crate::Runtime {
    type Loaded = ModuleVersion;

    fn load_version(&self, bytes: &[u8], options: &LoadOptions) -> Result<ModuleVersion, Error> {
        ModuleVersion::load(&self.config, bytes, options)
    }
}

impl Loaded for ModuleVersion {
    type Manager = Instances;

    fn parts(&self) -> &Parts<Instances> {
        &self.parts
    }

    fn call(
        &self,
        function: &str,
        batch: &RecordBatch,
        options: &CallOptions,
        report: &mut CallReport,
    ) -> Result<ArrayRef, Error> {
        let (plugin, owned) = (|| self.name.to_string(), || function.to_owned());
        let signature = self
            .parts
            .description
            .function(function)
            .ok_or_else(|| Error::UnknownFunction { plugin: plugin(), function: owned() })?;
        check_input(signature, batch).map_err(|message| Error::InvalidInput {
            plugin: plugin(),
            function: owned(),
            message,
        })?;
        let encoding = Instant::now();
        let encoded = encode_parts(&batch.schema(), std::slice::from_ref(batch)).map_err(|e| Error::InvalidInput {
            plugin: plugin(),
            function: owned(),
            message: e.to_string(),
        })?;
        let output = ENVELOPE.with(|envelope| {
            let mut envelope = envelope.borrow_mut();
            start_envelope(function, &mut envelope);
            encoded.append_to(&mut envelope);
            report.phases.encode = encoding.elapsed();
            // The envelope, and the guest's whole memory limit: the host cannot see an Extism
            // guest's memory grow, so it asks for the most the guest may take.
            options.grant(&self.name, function, envelope.len() + self.parts.limits.memory_bytes)?;
            self.run("call", function, &envelope, options, report)
        })?;
        options.grant(&self.name, function, output.len())?;
        let decoding = Instant::now();
        let column = decode_scalar_result(output, &self.ipc_limits, &signature.returns, batch.num_rows())
            .map_err(|source| Error::Contract { plugin: plugin(), function: owned(), source });
        report.phases.decode = decoding.elapsed();
        column
    }

    fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &CallOptions,
        report: &mut CallReport,
    ) -> Result<RecordBatch, Error> {
        let step = match start_aggregate(&self.parts.description, &self.name, function, op, states, rows)? {
            AggregateStart::Run(step) => step,
            AggregateStart::Answered(answer) => return Ok(answer),
        };
        let label = &step.label;
        let encoding = Instant::now();
        let parts = |batch: &RecordBatch| {
            encode_parts(&batch.schema(), std::slice::from_ref(batch)).map_err(|e| step.bad_input(e.to_string()))
        };
        let (states_parts, rows_parts) = (parts(states)?, rows.map(parts).transpose()?);
        let output = ENVELOPE.with(|envelope| {
            let mut envelope = envelope.borrow_mut();
            write_aggregate_envelope(function, op, &states_parts, rows_parts.as_ref(), &mut envelope);
            report.phases.encode = encoding.elapsed();
            options.grant(&self.name, label, envelope.len() + self.parts.limits.memory_bytes)?;
            self.run("aggregate", label, &envelope, options, report)
        })?;
        options.grant(&self.name, label, output.len())?;
        let decoding = Instant::now();
        let answer = step.decode(output, &self.ipc_limits, states.num_rows());
        report.phases.decode = decoding.elapsed();
        answer
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

impl ModuleVersion {
    fn load(config: &RuntimeConfig, bytes: &[u8], options: &LoadOptions) -> Result<ModuleVersion, Error> {
        let label = options.label().to_owned();
        let fail = |message: String| Error::Load { plugin: label.clone(), message };
        let limits = options.limits.unwrap_or(config.limits).within(&config.limits);
        let checked = crate::exports::check(bytes).map_err(&fail)?;
        let shape = checked.shape;
        if shape.initial_memory > limits.memory_bytes as u64 {
            return Err(fail(format!(
                "declares {} bytes of initial memory, above the memory limit of {}",
                shape.initial_memory, limits.memory_bytes
            )));
        }
        let module = checked.rewritten.as_deref().unwrap_or(bytes);
        let (compiled, allocator) =
            compile(module, &limits, shape, config.pooling).map_err(|e| fail(format!("cannot compile: {e}")))?;
        let interrupts = Arc::new(AtomicU64::new(0));
        let instances = Instances { compiled, interrupts: interrupts.clone(), init: checked.init };

        // `describe`, in an instance of its own that serves nothing else (holding a permit of
        // the budget, if the runtime shares one), created like any other: initialisers timed.
        let permit = match &config.budget {
            Some(budget) => {
                Some(budget.acquire(limits.timeout).map_err(|e| fail(format!("no instance for `describe`: {e}")))?)
            }
            None => None,
        };
        let mut instance = instances.create().map_err(|e| {
            fail(match classify_limits(&e, &limits) {
                Some(limit) => format!("creating an instance failed: {limit}"),
                None => format!("imports the host does not grant, or cannot instantiate: {e:#}"),
            })
        })?;
        let context = CallContext { log: GuestLog::new(Arc::from(label.as_str())) };
        let document = instance
            .plugin()
            .call_with_host_context::<&[u8], &[u8], _>("describe", &[], context)
            .map_err(|e| {
                fail(match classify_limits(&e, &limits) {
                    Some(limit) => format!("`describe` failed: {limit}"),
                    None => format!("`describe` failed: {e:#}"),
                })
            })
            .and_then(|out| {
                String::from_utf8(out.to_vec()).map_err(|_| fail("`describe` output is not UTF-8".into()))
            })?;
        drop(instance);
        drop(permit);
        let description = parse_description(&document, &config.granted_capabilities).map_err(fail)?;
        if !description.aggregates.is_empty() && !checked.aggregate {
            return Err(fail("declares aggregates but does not export the function `aggregate`".into()));
        }

        let name: Arc<str> = Arc::from(description.name.as_str());
        let mut pool = Pool::builder(instances)
            .name(name.clone())
            .max_instances(limits.instances)
            .reuse(options.reuse)
            .acquire_timeout(Some(limits.timeout));
        pool = options.pre_warm.configure(pool, limits.instances);
        if let Some(budget) = &config.budget {
            pool = pool.budget(budget.clone());
        }
        let pool = pool.build().map_err(|e| fail(e.to_string()))?;
        let ipc_limits = IpcLimits { max_bytes: limits.output_bytes, ..IpcLimits::default() };
        let parts = Parts { description: Arc::new(description), limits, pool, allocator };
        Ok(ModuleVersion { parts, name, ipc_limits, interrupts })
    }

    /// Runs export `export` (`call`, `aggregate`) in a fresh enough instance, again if another
    /// call's timeout interrupted it; `function` is what errors name.
    fn run(
        &self,
        export: &str,
        function: &str,
        envelope: &[u8],
        options: &CallOptions,
        report: &mut CallReport,
    ) -> Result<Vec<u8>, Error> {
        let mut interrupted = 0;
        // Bounded: each pass retires one instance, and the pool replaces it with a current one.
        for _ in 0..self.parts.limits.instances + 2 * INTERRUPTED_RUNS as usize {
            let mut lease = self.parts.pool.acquire().map_err(|e| self.pool_error(function, e))?;
            report.acquired(&lease);
            if lease.interrupts < self.interrupts.load(Ordering::Acquire) {
                lease.poison(); // created before the engine's last interrupt: it would be interrupted too
                continue;
            }
            let mut clock = Instant::now();
            let outcome = self.invoke(&mut lease, export, function, envelope, options);
            report.phases.guest += lap(&mut clock);
            let done = match outcome {
                Ok(output) => Some(Ok(output)),
                Err(Failure::Error(e)) => {
                    if e.discards_instance() {
                        lease.poison();
                    }
                    Some(Err(e))
                }
                Err(Failure::Interrupted) => {
                    lease.poison();
                    interrupted += 1;
                    None
                }
            };
            drop(lease);
            report.phases.release += lap(&mut clock);
            if let Some(result) = done {
                return result;
            }
            if interrupted == INTERRUPTED_RUNS {
                break;
            }
        }
        Err(Error::Trap {
            plugin: self.name.to_string(),
            function: function.to_owned(),
            message: "interrupted again and again by other calls' timeouts".into(),
        })
    }

    /// Runs the guest's `export` on `envelope` in the leased instance; returns its output
    /// bytes. A cancel of the caller's token interrupts it through extism's `CancelHandle`.
    fn invoke(
        &self,
        lease: &mut Lease<Instances>,
        export: &str,
        function: &str,
        envelope: &[u8],
        options: &CallOptions,
    ) -> Result<Vec<u8>, Failure> {
        options.check(&self.name, function).map_err(Failure::Error)?;
        let _watch =
            options.cancel.as_ref().map(|token| crate::canceller::watch(token, lease.plugin().cancel_handle()));
        let context = CallContext { log: GuestLog::new(self.name.clone()) };
        let started = Instant::now();
        match lease.plugin().call_with_host_context::<&[u8], &[u8], _>(export, envelope, context) {
            Ok(output) if output.len() > self.parts.limits.output_bytes => Err(Failure::Error(Error::OutputTooLarge {
                plugin: self.name.to_string(),
                function: function.to_owned(),
                size: output.len(),
                limit: self.parts.limits.output_bytes,
            })),
            Ok(output) => Ok(output.to_vec()),
            Err(e) if is_interrupt(&e) => {
                // The engine's epoch moved: older instances are stale from now on.
                self.interrupts.fetch_add(1, Ordering::AcqRel);
                options.check(&self.name, function).map_err(Failure::Error)?;
                if started.elapsed() >= self.parts.limits.timeout {
                    Err(Failure::Error(Error::Timeout {
                        plugin: self.name.to_string(),
                        function: function.to_owned(),
                        limit: self.parts.limits.timeout,
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

    /// Names what stopped a call: one of the host's limits ([`limit_hit`]), a trap (which keeps
    /// its type), or else the guest's error, read as the contract's JSON. Interrupts from
    /// another call's timeout are told apart before this, in `invoke`.
    fn classify(&self, function: &str, e: extism::Error) -> Error {
        let (plugin, function, limits) = (self.name.to_string(), function.to_owned(), &self.parts.limits);
        match limit_hit(&e) {
            Some(Hit::Time) => return Error::Timeout { plugin, function, limit: limits.timeout },
            Some(Hit::Fuel) => return Error::OutOfFuel { plugin, function, fuel: limits.fuel.unwrap_or(0) },
            Some(Hit::Memory) => return Error::MemoryLimit { plugin, function, limit: limits.memory_bytes },
            None => {}
        }
        if let Some(trap) = e.downcast_ref::<Trap>() {
            return Error::Trap { plugin, function, message: describe_trap(trap, &e) };
        }
        let guest = GuestError::from_json(&e.to_string());
        Error::Guest { plugin, function, kind: guest.kind, message: guest.message, retryable: guest.retryable }
    }
}

/// Which of the host's limits stopped the guest.
enum Hit {
    Time,
    Fuel,
    Memory,
}

/// Recognises extism's reports of the host's limits: bare messages ("oom", "plugin ran out of
/// fuel", "timeout") or wasmtime traps.
fn limit_hit(e: &extism::Error) -> Option<Hit> {
    if is_interrupt(e) {
        Some(Hit::Time)
    } else if e.to_string() == "plugin ran out of fuel" || e.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
        Some(Hit::Fuel)
    } else if e.root_cause().to_string() == "oom" {
        Some(Hit::Memory)
    } else {
        None
    }
}

/// A load-time failure that is one of the host's limits, described (the load error then says
/// so instead of showing extism's bare text).
fn classify_limits(e: &extism::Error, limits: &Limits) -> Option<String> {
    limit_hit(e).map(|hit| match hit {
        Hit::Time => format!("timed out after {:?}", limits.timeout),
        Hit::Fuel => format!("out of fuel ({} units)", limits.fuel.unwrap_or(0)),
        Hit::Memory => format!("memory limit of {} bytes reached", limits.memory_bytes),
    })
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
        let shape = crate::exports::check(&bytes).unwrap().shape;
        let (compiled, allocator) = compile(&bytes, &limits, shape, true).unwrap();
        assert!(matches!(allocator, Allocator::Pooling { .. }));
        let instances = Instances { compiled, interrupts: Arc::new(AtomicU64::new(0)), init: Vec::new() };
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
