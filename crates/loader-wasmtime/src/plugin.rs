//! [`Plugin`]: a loaded component, its description, and a pool of fresh instances.

use std::cell::RefCell;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, RecordBatch};
use plugrt_arrow_ipc::{Limits as IpcLimits, decode_scalar_result, encode_into};
use plugrt_pool::{Lease, Manager, Pool, PoolError};
use wasmtime::component::{Component, ComponentExportIndex, Instance, InstancePre};
use wasmtime::{Store, Trap, WasmBacktrace};

use crate::host::{self, CallError, HostState, Op, Stop};
use crate::runtime::RuntimeInner;
use crate::{Error, Limits, LoadOptions};
use plugrt_contract::{
    AggregateOp, AggregateStart, CallOptions, CallReport, GuestError, Loaded, Loader, Parts, check_input, lap,
    parse_description, start_aggregate,
};

/// A loaded component (see `plugrt_contract::Plugin`, which this loader's [`crate::Plugin`]
/// is). Cheap to clone; calls may run from many threads at once.
///
/// Loading compiles the component once, links only the contract's `log` import (of contract
/// 0.1.0 or 0.2.0; a component importing anything else is refused, naming the import), checks
/// the `describe` and `call` exports' types (and `aggregate`'s, which a plugin declaring
/// aggregates must have), runs `describe` in an instance of its own (under the call's time limit, and
/// holding a permit of the runtime's budget if it has one) and validates the document. Each
/// call then runs in an instance from the plugin's pool: a brand-new one unless the plugin
/// was loaded with bounded reuse. An instance that trapped is never used again.
pub type Plugin = plugrt_contract::Plugin<crate::Runtime>;

/// One loaded version of a component: its description, limits and pool of instances.
pub struct ComponentVersion {
    parts: Parts<Instances>,
    /// The plugin's name, as errors carry it.
    name: Arc<str>,
    ipc_limits: IpcLimits,
    call_index: ComponentExportIndex,
    /// `aggregate` (contract 0.2.0), when the plugin declares aggregates.
    aggregate_index: Option<ComponentExportIndex>,
    ticks: u64,
}

/// What one guest call asks for: a scalar call, or one step of an aggregate.
#[derive(Clone, Copy)]
enum Request<'a> {
    Call { function: &'a str, input: &'a [u8] },
    Aggregate { function: &'a str, op: AggregateOp, states: &'a [u8], rows: &'a [u8] },
}

/// `aggregate`'s parameters.
type AggregateParams<'a> = (&'a str, Op, &'a [u8], &'a [u8]);

/// The pool's manager: instantiates the cached `InstancePre` in a new store.
pub struct Instances {
    runtime: Arc<RuntimeInner>,
    pre: InstancePre<HostState>,
    name: Arc<str>,
    limits: Limits,
    ticks: u64,
}

/// One instance and its store.
pub struct Live {
    store: Store<HostState>,
    instance: Instance,
}

impl Manager for Instances {
    type Instance = Live;
    type Error = wasmtime::Error;

    fn create(&self) -> wasmtime::Result<Live> {
        let mut store = new_store(&self.runtime, self.name.clone(), &self.limits, self.ticks)?;
        let instance = self.pre.instantiate(&mut store)?;
        Ok(Live { store, instance })
    }

    fn recycle(&self, live: &mut Live) -> wasmtime::Result<()> {
        live.store.data_mut().reset_for_call();
        Ok(())
    }
}

/// Epoch ticks covering `timeout` (at least one).
fn ticks(timeout: Duration, tick: Duration) -> u64 {
    (timeout.as_nanos().div_ceil(tick.as_nanos().max(1)) as u64).max(1)
}

fn new_store(
    runtime: &RuntimeInner,
    name: Arc<str>,
    limits: &Limits,
    ticks: u64,
) -> wasmtime::Result<Store<HostState>> {
    let mut store = Store::new(&runtime.engine, HostState::new(name, limits.memory_bytes, limits.table_elements));
    store.limiter(|state| state as &mut dyn wasmtime::ResourceLimiter);
    store.epoch_deadline_callback(HostState::on_epoch);
    // Instantiation (start functions included) runs under the same deadline and fuel as a call.
    store.set_epoch_deadline(ticks);
    if let Some(fuel) = limits.fuel {
        store.set_fuel(fuel)?;
    }
    Ok(store)
}

/// `call`'s result, lifted eagerly: wasmtime 49 runs the guest's post-return (which frees the
/// output) as soon as the call returns, so a lazy `WasmList` would read freed memory. The copy
/// is bounded by the instance's memory limit; the output limit is checked right after it.
type CallResult = (Result<Vec<u8>, CallError>,);

thread_local! {
    /// Input IPC bytes, reused across calls on this thread.
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// An aggregate step's rows, beside its states in `INPUT`.
    static ROWS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Loader for crate::Runtime {
    type Loaded = ComponentVersion;

    fn load_version(&self, bytes: &[u8], options: &LoadOptions) -> Result<ComponentVersion, Error> {
        ComponentVersion::load(&self.inner, bytes, options)
    }
}

impl Loaded for ComponentVersion {
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
        let signature = self
            .parts
            .description
            .function(function)
            .ok_or_else(|| Error::UnknownFunction { plugin: self.name.to_string(), function: function.to_owned() })?;
        check_input(signature, batch).map_err(|message| Error::InvalidInput {
            plugin: self.name.to_string(),
            function: function.to_owned(),
            message,
        })?;
        let mut lease = self.parts.pool.acquire().map_err(|e| self.pool_error(function, e))?;
        report.acquired(&lease);
        let mut clock = Instant::now();
        let output = INPUT.with(|input| {
            let mut input = input.borrow_mut();
            encode_into(batch, &mut input).map_err(|e| Error::InvalidInput {
                plugin: self.name.to_string(),
                function: function.to_owned(),
                message: e.to_string(),
            })?;
            report.phases.encode = lap(&mut clock);
            options.grant(&self.name, function, input.len())?;
            let output = self.invoke(&mut lease, function, Request::Call { function, input: &input }, options);
            report.phases.guest = lap(&mut clock);
            output
        });
        drop(lease);
        report.phases.release = lap(&mut clock);
        let output = output?;
        options.grant(&self.name, function, output.len())?;
        let column = decode_scalar_result(output, &self.ipc_limits, &signature.returns, batch.num_rows())
            .map_err(|source| Error::Contract { plugin: self.name.to_string(), function: function.to_owned(), source });
        report.phases.decode = lap(&mut clock);
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
        let (label, bad_input) = (&step.label, |message: String| step.bad_input(message));
        let mut lease = self.parts.pool.acquire().map_err(|e| self.pool_error(label, e))?;
        report.acquired(&lease);
        let mut clock = Instant::now();
        let output = INPUT.with(|input| {
            ROWS.with(|rows_bytes| {
                let (mut input, mut rows_bytes) = (input.borrow_mut(), rows_bytes.borrow_mut());
                encode_into(states, &mut input).map_err(|e| bad_input(e.to_string()))?;
                rows_bytes.clear();
                if let Some(rows) = rows {
                    encode_into(rows, &mut rows_bytes).map_err(|e| bad_input(e.to_string()))?;
                }
                report.phases.encode = lap(&mut clock);
                options.grant(&self.name, label, input.len() + rows_bytes.len())?;
                let request = Request::Aggregate { function, op, states: &input, rows: &rows_bytes };
                let output = self.invoke(&mut lease, label, request, options);
                report.phases.guest = lap(&mut clock);
                output
            })
        });
        drop(lease);
        report.phases.release = lap(&mut clock);
        let output = output?;
        options.grant(&self.name, label, output.len())?;
        let answer = step.decode(output, &self.ipc_limits, states.num_rows());
        report.phases.decode = lap(&mut clock);
        answer
    }
}

impl ComponentVersion {
    fn load(runtime: &Arc<RuntimeInner>, bytes: &[u8], options: &LoadOptions) -> Result<ComponentVersion, Error> {
        let label = options.label().to_owned();
        let fail = |message: String| Error::Load { plugin: label.clone(), message };
        let engine = &runtime.engine;
        let cached = runtime.cache.as_ref().and_then(|cache| cache.get(engine, bytes));
        let component = match cached {
            Some(component) => component,
            None => {
                let component =
                    Component::new(engine, bytes).map_err(|e| fail(format!("not a valid component: {e:#}")))?;
                if let Some(cache) = &runtime.cache {
                    cache.put(&component, bytes);
                }
                component
            }
        };
        let linker = host::linker(engine).map_err(|e| fail(format!("cannot link the contract: {e:#}")))?;
        let pre =
            linker.instantiate_pre(&component).map_err(|e| fail(format!("imports the host does not grant: {e:#}")))?;
        let export = |name: &str| {
            component.get_export_index(None, name).ok_or_else(|| fail(format!("does not export `{name}`")))
        };
        let (describe_index, call_index) = (export("describe")?, export("call")?);
        let aggregate_index = component.get_export_index(None, "aggregate");
        let limits = options.limits.unwrap_or(runtime.config.limits).within(&runtime.config.limits);
        let ticks = ticks(limits.timeout, runtime.config.epoch_tick);

        // `describe`, in an instance of its own that serves nothing else (an engine slot: a
        // permit of the budget, if the runtime shares one).
        let _permit = match &runtime.config.budget {
            Some(budget) => {
                Some(budget.acquire(limits.timeout).map_err(|e| fail(format!("no instance for `describe`: {e}")))?)
            }
            None => None,
        };
        let mut store = new_store(runtime, Arc::from(label.as_str()), &limits, ticks)
            .map_err(|e| fail(format!("cannot create a store: {e:#}")))?;
        let instance = pre.instantiate(&mut store).map_err(|e| {
            fail(match e.downcast_ref::<Trap>() {
                Some(Trap::Interrupt) => format!("creating an instance timed out after {:?}", limits.timeout),
                Some(Trap::OutOfFuel) => format!("creating an instance ran out of fuel ({:?} units)", limits.fuel),
                _ => format!("cannot instantiate: {e:#}"),
            })
        })?;
        let describe = instance
            .get_typed_func::<(), (String,)>(&mut store, &describe_index)
            .map_err(|e| fail(format!("export `describe` has the wrong type: {e:#}")))?;
        instance
            .get_typed_func::<(&str, &[u8]), CallResult>(&mut store, &call_index)
            .map_err(|e| fail(format!("export `call` has the wrong type: {e:#}")))?;
        if let Some(index) = &aggregate_index {
            instance
                .get_typed_func::<AggregateParams<'_>, CallResult>(&mut store, index)
                .map_err(|e| fail(format!("export `aggregate` has the wrong type: {e:#}")))?;
        }
        let (document,) = describe.call(&mut store, ()).map_err(|e| fail(format!("`describe` failed: {e:#}")))?;
        // Bounded by the instance's memory limit when lifted; the document's own bound is
        // checked before it is parsed.
        drop(store);
        let description = parse_description(&document, &runtime.config.granted_capabilities).map_err(fail)?;
        // Aggregates need the `aggregate` export (its type was checked above); a plugin without
        // them need not have it (every 0.1.0 plugin, and 0.2.0 plugins of world `udf`).
        let aggregate_index = match (description.aggregates.is_empty(), aggregate_index) {
            (true, _) => None,
            (false, None) => return Err(fail("declares aggregates but does not export `aggregate`".into())),
            (false, Some(index)) => Some(index),
        };

        let name: Arc<str> = Arc::from(description.name.as_str());
        let manager = Instances { runtime: runtime.clone(), pre, name: name.clone(), limits, ticks };
        let mut pool = Pool::builder(manager)
            .name(name.clone())
            .max_instances(limits.instances)
            .reuse(options.reuse)
            .acquire_timeout(Some(limits.timeout));
        pool = options.pre_warm.configure(pool, limits.instances);
        if let Some(budget) = &runtime.config.budget {
            pool = pool.budget(budget.clone());
        }
        let pool = pool.build().map_err(|e| fail(e.to_string()))?;
        let ipc_limits = IpcLimits { max_bytes: limits.output_bytes, ..IpcLimits::default() };
        let parts = Parts { description: Arc::new(description), limits, pool, allocator: runtime.allocator };
        Ok(ComponentVersion { parts, name, ipc_limits, call_index, aggregate_index, ticks })
    }
}

impl ComponentVersion {
    /// Runs the guest's `call` in the leased instance and returns its output bytes; poisons
    /// the lease when the failure leaves the instance unfit ([`Error::discards_instance`]).
    /// `function` is what errors name (`AGGREGATE/OP` for an aggregate step).
    fn invoke(
        &self,
        lease: &mut Lease<Instances>,
        function: &str,
        request: Request<'_>,
        options: &CallOptions,
    ) -> Result<Vec<u8>, Error> {
        let result = self.run_guest(lease, function, request, options);
        lease.store.data_mut().end_call();
        if let Err(e) = &result
            && e.discards_instance()
        {
            lease.poison();
        }
        result
    }

    fn run_guest(
        &self,
        lease: &mut Lease<Instances>,
        function: &str,
        request: Request<'_>,
        options: &CallOptions,
    ) -> Result<Vec<u8>, Error> {
        options.check(&self.name, function)?;
        let live = &mut **lease;
        let store = &mut live.store;
        // The memory the instance already holds, then every page it grows by (the limiter).
        options.grant(&self.name, function, store.data().memory_held())?;
        let deadline = store.data_mut().begin_call(options, self.ticks);
        store.set_epoch_deadline(deadline);
        if let Some(fuel) = self.parts.limits.fuel {
            // Cannot fail: metering is on whenever a plugin has a fuel limit.
            let _ = store.set_fuel(fuel);
        }
        let instance = live.instance;
        let outcome = match request {
            Request::Call { function, input } => instance
                .get_typed_func::<(&str, &[u8]), CallResult>(&mut *store, &self.call_index)
                .and_then(|call| call.call(&mut *store, (function, input))),
            Request::Aggregate { function, op, states, rows } => {
                // Checked at load: a plugin declaring aggregates exports `aggregate`.
                let index = self.aggregate_index.as_ref().expect("aggregates have their export");
                instance
                    .get_typed_func::<AggregateParams<'_>, CallResult>(&mut *store, index)
                    .and_then(|aggregate| aggregate.call(&mut *store, (function, op.into(), states, rows)))
            }
        };
        let call_err = |e| self.classify(function, e, &store.data().stop);
        match outcome {
            Ok((Ok(output),)) => {
                if output.len() > self.parts.limits.output_bytes {
                    return Err(Error::OutputTooLarge {
                        plugin: self.name.to_string(),
                        function: function.to_owned(),
                        size: output.len(),
                        limit: self.parts.limits.output_bytes,
                    });
                }
                Ok(output)
            }
            Ok((Err(e),)) => {
                // Cut like the Extism flavour's: a guest must not fill the host's errors.
                let e = GuestError::new(e.kind.into(), e.message, e.retryable);
                Err(Error::Guest {
                    plugin: self.name.to_string(),
                    function: function.to_owned(),
                    kind: e.kind,
                    message: e.message,
                    retryable: e.retryable,
                })
            }
            Err(e) => Err(call_err(e)),
        }
    }

    /// Maps a failed acquire. A failed instantiation (start functions run under the call's
    /// deadline and fuel) is classified like a failed call; its store is gone, so refused
    /// growth cannot be told apart from another trap there.
    fn pool_error(&self, function: &str, e: PoolError<wasmtime::Error>) -> Error {
        match e {
            PoolError::Closed { .. } => Error::Closed { plugin: self.name.to_string() },
            PoolError::Create { source, .. } => match self.classify(function, source, &Stop::default()) {
                Error::Trap { plugin, function, message } => {
                    Error::Trap { plugin, function, message: format!("instantiation failed: {message}") }
                }
                other => other,
            },
            other => Error::Exhausted {
                plugin: self.name.to_string(),
                function: function.to_owned(),
                message: other.to_string(),
            },
        }
    }

    /// Names what stopped a call: the caller's cancel or memory budget, the deadline, fuel,
    /// refused growth, or another trap.
    fn classify(&self, function: &str, e: wasmtime::Error, stop: &Stop) -> Error {
        let (plugin, function) = (self.name.to_string(), function.to_owned());
        if let Some((requested, message)) = &stop.budget_refused {
            return Error::MemoryBudget { plugin, function, requested: *requested, message: message.clone() };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) if stop.cancelled => Error::Cancelled { plugin, function },
            Some(Trap::Interrupt) => Error::Timeout { plugin, function, limit: self.parts.limits.timeout },
            Some(Trap::OutOfFuel) => Error::OutOfFuel { plugin, function, fuel: self.parts.limits.fuel.unwrap_or(0) },
            _ if stop.growth_refused => Error::MemoryLimit { plugin, function, limit: self.parts.limits.memory_bytes },
            _ => Error::Trap { plugin, function, message: describe_trap(&e) },
        }
    }
}

/// The trap and the innermost guest frames.
fn describe_trap(e: &wasmtime::Error) -> String {
    let mut text = match e.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{e}"),
    };
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
