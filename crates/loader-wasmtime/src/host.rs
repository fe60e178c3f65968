//! What a guest instance's store holds: its limits, and the one import every guest may use
//! (`log`). Nothing else is linked: a component importing anything more does not load.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::{ComponentType, Lift, Linker};

use plugrt_contract::{GuestErrorKind, GuestLog, LogLevel};

/// A store's data.
pub(crate) struct HostState {
    memory_limit: usize,
    table_limit: usize,
    /// Set when growth beyond a limit was refused: a later trap is then a memory limit.
    pub(crate) growth_refused: bool,
    log: GuestLog,
}

impl HostState {
    pub(crate) fn new(plugin: Arc<str>, memory_limit: usize, table_limit: usize) -> Self {
        HostState { log: GuestLog::new(plugin), memory_limit, table_limit, growth_refused: false }
    }

    /// Prepares for the next call of this instance (bounded reuse only).
    pub(crate) fn reset_for_call(&mut self) {
        self.growth_refused = false;
        self.log.reset();
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Refuse like the spec intends (`memory.grow` returns -1); remember it for the report.
        let allowed = desired <= self.memory_limit;
        self.growth_refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.table_limit;
        self.growth_refused |= !allowed;
        Ok(allowed)
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

/// A linker with exactly the contract's imports.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    linker.instance("plugrt:udf/log@0.1.0")?.func_wrap(
        "log",
        |mut cx: wasmtime::StoreContextMut<'_, HostState>, (level, message): (Level, String)| {
            cx.data_mut().log.log(level.into(), &message);
            Ok(())
        },
    )?;
    Ok(linker)
}
