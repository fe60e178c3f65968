//! The loaders' errors: one model for both flavours. Every message names the plugin, and every
//! call error the function.

use std::time::Duration;

use crate::GuestErrorKind;
use plugrt_arrow_ipc::IpcError;

/// Why loading a plugin or calling one of its functions failed, in either loader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The runtime could not be created (engine configuration).
    #[error("cannot create the runtime: {0}")]
    Runtime(String),
    /// The plugin could not be loaded: not a component, wrong or missing exports, imports the
    /// host does not grant, or a `describe` document that breaks the contract.
    #[error("plugin `{plugin}`: cannot load: {message}")]
    Load {
        /// The plugin (its file or the name given to the loader, until `describe` names it).
        plugin: String,
        /// What is wrong.
        message: String,
    },
    /// The plugin declares no function of that name.
    #[error("plugin `{plugin}` has no function `{function}`")]
    UnknownFunction {
        /// The plugin.
        plugin: String,
        /// The function asked for.
        function: String,
    },
    /// The input batch does not match the function's declared arguments.
    #[error("plugin `{plugin}`, function `{function}`: bad input: {message}")]
    InvalidInput {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
        /// What does not match.
        message: String,
    },
    /// The call ran past its deadline and was interrupted.
    #[error("plugin `{plugin}`, function `{function}`: timed out after {limit:?}")]
    Timeout {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
        /// The time limit.
        limit: Duration,
    },
    /// The call used up its fuel.
    #[error("plugin `{plugin}`, function `{function}`: out of fuel ({fuel} units)")]
    OutOfFuel {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
        /// The fuel it had.
        fuel: u64,
    },
    /// The guest was refused memory (or table) growth beyond its limit and then failed.
    #[error("plugin `{plugin}`, function `{function}`: memory limit of {limit} bytes reached")]
    MemoryLimit {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
        /// The limit.
        limit: usize,
    },
    /// The guest trapped (crashed). Its instance was discarded.
    #[error("plugin `{plugin}`, function `{function}`: guest trapped: {message}")]
    Trap {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
        /// The trap and a short guest backtrace.
        message: String,
    },
    /// The guest answered with a `call-error`.
    #[error("plugin `{plugin}`, function `{function}`: {kind:?}: {message}")]
    Guest {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
        /// The guest's classification.
        kind: GuestErrorKind,
        /// The guest's message.
        message: String,
        /// Whether the guest says the same call may succeed if tried again.
        retryable: bool,
    },
    /// The guest's output breaks the contract (not IPC, wrong type, wrong rows, too large).
    #[error("plugin `{plugin}`, function `{function}`: output breaks the contract: {source}")]
    Contract {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
        /// What is wrong with it.
        #[source]
        source: IpcError,
    },
    /// The output was larger than the limit (checked before decoding it).
    #[error("plugin `{plugin}`, function `{function}`: output of {size} bytes exceeds the limit of {limit}")]
    OutputTooLarge {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
        /// The output's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No instance became available in time (the plugin's pool is at its cap).
    #[error("plugin `{plugin}`, function `{function}`: {message}")]
    Exhausted {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
        /// The pool's explanation (timeout or exhaustion).
        message: String,
    },
    /// The caller cancelled the call ([`CallOptions::cancel`](crate::CallOptions::cancel)):
    /// before it started, or while the guest ran (its instance was discarded).
    #[error("plugin `{plugin}`, function `{function}`: cancelled by the caller")]
    Cancelled {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
    },
    /// The caller's memory budget ([`CallOptions::memory`](crate::CallOptions::memory))
    /// refused memory the call needed; the plugin's own limit was not reached.
    #[error("plugin `{plugin}`, function `{function}`: the host's memory budget refused {requested} bytes: {message}")]
    MemoryBudget {
        /// The plugin.
        plugin: String,
        /// The function.
        function: String,
        /// The bytes asked for.
        requested: usize,
        /// The budget's reason.
        message: String,
    },
    /// The plugin was closed (unloaded or replaced and drained).
    #[error("plugin `{plugin}` is closed")]
    Closed {
        /// The plugin.
        plugin: String,
    },
}

impl Error {
    /// Whether the instance a call ran in must be dropped rather than reused: the guest did
    /// not return normally (trap, timeout, fuel, memory, cancelled) or answered more than allowed. A
    /// guest's own `call-error` returns normally and leaves its instance sound; errors raised
    /// before or after the guest ran say nothing about the instance. Both loaders poison their
    /// lease by this rule.
    pub fn discards_instance(&self) -> bool {
        matches!(
            self,
            Error::Trap { .. }
                | Error::Timeout { .. }
                | Error::OutOfFuel { .. }
                | Error::MemoryLimit { .. }
                | Error::MemoryBudget { .. }
                | Error::Cancelled { .. }
                | Error::OutputTooLarge { .. }
        )
    }

    /// Whether the failure is a resource limit of the host (timeout, fuel, memory, output
    /// size, pool exhausted, the caller's memory budget) rather than the guest's own error, a
    /// broken contract or the caller's cancellation.
    pub fn is_resource_limit(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. }
                | Error::OutOfFuel { .. }
                | Error::MemoryLimit { .. }
                | Error::MemoryBudget { .. }
                | Error::OutputTooLarge { .. }
                | Error::Exhausted { .. }
        )
    }
}
