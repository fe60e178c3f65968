//! What a guest instance's store holds: its limits, and the one import every guest may use
//! (`log`). Nothing else is linked: a component importing anything more does not load.

use std::sync::Arc;

use wasmtime::component::{ComponentType, Lift, Linker, Lower, WasmStr};
use wasmtime::{ResourceLimiter, StoreContextMut, UpdateDeadline};

use crate::runtime::{CORE_INSTANCES_PER_COMPONENT, MEMORIES_PER_COMPONENT, TABLES_PER_COMPONENT};
use plugrt_contract::{AggregateOp, CallMemory, CallOptions, CancelToken, GuestErrorKind, GuestLog, LogLevel};

/// A store's data.
pub(crate) struct HostState {
    memory_limit: usize,
    table_limit: usize,
    /// Bytes of linear memory the instance holds (all its memories), as growth was allowed.
    memory_held: usize,
    /// The last growth allowed, taken back if the engine then fails it.
    last_growth: usize,
    log: GuestLog,
    /// What the running call's caller controls; empty between calls.
    cancel: Option<CancelToken>,
    memory: Option<Arc<dyn CallMemory>>,
    /// Epoch ticks left before the deadline, beyond the one the store waits for.
    ticks_left: u64,
    /// Why the running call stopped, when the host stopped it.
    pub(crate) stop: Stop,
}

/// What the host did to a call that failed: read to name its error.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stop {
    /// Growth beyond the plugin's limits was refused: a later trap is then a memory limit.
    pub(crate) growth_refused: bool,
    /// The caller's token was cancelled and the guest interrupted.
    pub(crate) cancelled: bool,
    /// The caller's memory budget refused this many bytes, for this reason.
    pub(crate) budget_refused: Option<(usize, String)>,
}

/// The error a refused memory budget traps the guest with (its details are in [`Stop`]).
#[derive(Debug)]
struct BudgetRefused;

impl std::fmt::Display for BudgetRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host's memory budget refused the growth")
    }
}

impl std::error::Error for BudgetRefused {}

impl HostState {
    pub(crate) fn new(plugin: Arc<str>, memory_limit: usize, table_limit: usize) -> Self {
        HostState {
            log: GuestLog::new(plugin),
            memory_limit,
            table_limit,
            memory_held: 0,
            last_growth: 0,
            cancel: None,
            memory: None,
            ticks_left: 0,
            stop: Stop::default(),
        }
    }

    /// Prepares for the next call of this instance (bounded reuse only).
    pub(crate) fn reset_for_call(&mut self) {
        self.stop = Stop::default();
        self.log.reset();
    }

    /// Bytes of linear memory the instance holds now.
    pub(crate) fn memory_held(&self) -> usize {
        self.memory_held
    }

    /// Starts a call of `ticks` epoch ticks under `options`; returns the epoch deadline to
    /// set: one tick at a time when the call can be cancelled, so each tick checks the token.
    pub(crate) fn begin_call(&mut self, options: &CallOptions, ticks: u64) -> u64 {
        self.memory = options.memory.clone();
        self.cancel = options.cancel.clone();
        let deadline = if self.cancel.is_some() { 1 } else { ticks };
        self.ticks_left = ticks - deadline;
        deadline
    }

    /// Forgets the caller's token and budget once its call is over.
    pub(crate) fn end_call(&mut self) {
        self.cancel = None;
        self.memory = None;
        self.ticks_left = 0;
    }

    /// The store's epoch callback: interrupt a cancelled call, else wait one more tick until
    /// the deadline's ticks are spent. Instantiation (no call yet) runs to its deadline.
    pub(crate) fn on_epoch(mut cx: StoreContextMut<'_, HostState>) -> wasmtime::Result<UpdateDeadline> {
        let state = cx.data_mut();
        if state.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            state.stop.cancelled = true;
            return Ok(UpdateDeadline::Interrupt);
        }
        if state.ticks_left == 0 {
            return Ok(UpdateDeadline::Interrupt);
        }
        state.ticks_left -= 1;
        Ok(UpdateDeadline::Continue(1))
    }
}

/// Bytes one table element is counted as against the instance's memory ceiling (a function
/// reference is a pointer).
const TABLE_ELEMENT_BYTES: usize = 8;

impl ResourceLimiter for HostState {
    /// One ceiling for the whole instance: every linear memory and table it creates or grows
    /// is counted together (a component holds several core instances, each with its own
    /// memory), so no number of memories multiplies the plugin's limit.
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.last_growth = 0;
        let more = desired.saturating_sub(current);
        // Beyond the plugin's limit: refuse like the spec intends (`memory.grow` returns -1)
        // and remember it for the report.
        if self.memory_held.saturating_add(more) > self.memory_limit {
            self.stop.growth_refused = true;
            return Ok(false);
        }
        if let Some(memory) = &self.memory
            && more > 0
            && let Err(reason) = memory.try_grow(more)
        {
            // The host cannot afford it: stop the call (a trap), whatever the guest would do.
            self.stop.budget_refused = Some((more, reason));
            return Err(BudgetRefused.into());
        }
        self.memory_held += more;
        self.last_growth = more;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // Allowed here but refused by the engine: the instance does not hold it. (What the
        // budget granted stays granted until the call ends; the caller frees it then.)
        self.memory_held -= std::mem::take(&mut self.last_growth);
        Ok(())
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.last_growth = 0;
        let more = desired.saturating_sub(current).saturating_mul(TABLE_ELEMENT_BYTES);
        let allowed = desired <= self.table_limit && self.memory_held.saturating_add(more) <= self.memory_limit;
        self.stop.growth_refused |= !allowed;
        if allowed {
            self.memory_held += more;
            self.last_growth = more;
        }
        Ok(allowed)
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_held -= std::mem::take(&mut self.last_growth);
        Ok(())
    }

    // What the pooling allocator's slots are sized by, enforced with the on-demand
    // allocator too.
    fn instances(&self) -> usize {
        CORE_INSTANCES_PER_COMPONENT as usize
    }

    fn tables(&self) -> usize {
        TABLES_PER_COMPONENT as usize
    }

    fn memories(&self) -> usize {
        MEMORIES_PER_COMPONENT as usize
    }
}

/// `plugrt:udf/log.level`.
#[derive(ComponentType, Lift, Clone, Copy, Debug)]
#[component(enum)]
#[repr(u8)]
#[allow(dead_code, reason = "variants are built by `Lift` from guest values")]
enum Level {
    #[component(name = "trace")]
    Trace,
    #[component(name = "debug")]
    Debug,
    #[component(name = "info")]
    Info,
    #[component(name = "warn")]
    Warn,
    #[component(name = "error")]
    Error,
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// `plugrt:udf/types.error-kind`.
#[derive(ComponentType, Lift, Clone, Copy, Debug)]
#[component(enum)]
#[repr(u8)]
#[allow(dead_code, reason = "variants are built by `Lift` from guest values")]
pub(crate) enum ErrorKind {
    #[component(name = "invalid-argument")]
    InvalidArgument,
    #[component(name = "unsupported")]
    Unsupported,
    #[component(name = "resource-exhausted")]
    ResourceExhausted,
    #[component(name = "internal")]
    Internal,
}

impl From<ErrorKind> for GuestErrorKind {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => GuestErrorKind::InvalidArgument,
            ErrorKind::Unsupported => GuestErrorKind::Unsupported,
            ErrorKind::ResourceExhausted => GuestErrorKind::ResourceExhausted,
            ErrorKind::Internal => GuestErrorKind::Internal,
        }
    }
}

/// `plugrt:udf/types.call-error`.
#[derive(ComponentType, Lift, Debug)]
#[component(record)]
pub(crate) struct CallError {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    pub(crate) retryable: bool,
}

/// `plugrt:udf/types.aggregate-op` (contract 0.2.0).
#[derive(ComponentType, Lower, Clone, Copy, Debug)]
#[component(enum)]
#[repr(u8)]
pub(crate) enum Op {
    #[component(name = "update")]
    Update,
    #[component(name = "merge")]
    Merge,
    #[component(name = "finish")]
    Finish,
}

impl From<AggregateOp> for Op {
    fn from(op: AggregateOp) -> Self {
        match op {
            AggregateOp::Update => Op::Update,
            AggregateOp::Merge => Op::Merge,
            AggregateOp::Finish => Op::Finish,
        }
    }
}

/// The versions of the contract's `log` interface a component may import: a 0.1.0 plugin
/// imports `plugrt:udf/log@0.1.0`, a 0.2.0 one `@0.2.0`; both are the same function.
const LOG_INTERFACES: [&str; 2] = ["plugrt:udf/log@0.1.0", "plugrt:udf/log@0.2.0"];

/// A linker with exactly the contract's imports, in every contract version.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    for interface in LOG_INTERFACES {
        linker.instance(interface)?.func_wrap(
            "log",
            |mut cx: wasmtime::StoreContextMut<'_, HostState>, (level, message): (Level, WasmStr)| {
                // Bounds-checked by wasmtime when lifted; read (and cut) only while the
                // budget lasts, so a spent budget copies nothing.
                if cx.data_mut().log.admit() {
                    cx.data().log.emit(level.into(), &message.to_str(&cx)?);
                }
                Ok(())
            },
        )?;
    }
    Ok(linker)
}
