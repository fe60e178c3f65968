//! [`CallReport`] and [`Outcome`]: what one call did, as its `tracing` span and the metrics
//! report it.

use std::time::{Duration, Instant};

use plugrt_pool::{Lease, Manager};

use crate::Error;

/// How a call ended, one label value per kind of [`Error`] an operator tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The call returned its result column.
    Ok,
    /// The guest answered with a `call-error`.
    GuestError,
    /// The guest trapped (crashed).
    Trap,
    /// The call ran past its time limit.
    Timeout,
    /// The call used up its fuel.
    OutOfFuel,
    /// The guest was refused memory beyond its limit.
    MemoryLimit,
    /// The caller's memory budget refused memory the call needed.
    MemoryBudget,
    /// The caller cancelled the call.
    Cancelled,
    /// The guest's output broke the contract (not IPC, wrong type or rows, too large).
    Contract,
    /// No instance was free in time (the plugin's cap or the runtime's budget).
    Exhausted,
    /// The plugin was closed.
    Closed,
    /// The caller's batch did not match the declared arguments (no guest ran).
    InvalidInput,
}

impl Outcome {
    /// Every outcome, in the order metrics list them.
    pub const ALL: [Outcome; 12] = [
        Outcome::Ok,
        Outcome::GuestError,
        Outcome::Trap,
        Outcome::Timeout,
        Outcome::OutOfFuel,
        Outcome::MemoryLimit,
        Outcome::MemoryBudget,
        Outcome::Cancelled,
        Outcome::Contract,
        Outcome::Exhausted,
        Outcome::Closed,
        Outcome::InvalidInput,
    ];

    /// How `result` ended. Errors a call cannot return (load and runtime errors) and an unknown
    /// function count as `InvalidInput`: the caller asked for something that is not there.
    pub fn of<T>(result: &Result<T, Error>) -> Outcome {
        match result {
            Ok(_) => Outcome::Ok,
            Err(e) => match e {
                Error::Guest { .. } => Outcome::GuestError,
                Error::Trap { .. } => Outcome::Trap,
                Error::Timeout { .. } => Outcome::Timeout,
                Error::OutOfFuel { .. } => Outcome::OutOfFuel,
                Error::MemoryLimit { .. } => Outcome::MemoryLimit,
                Error::MemoryBudget { .. } => Outcome::MemoryBudget,
                Error::Cancelled { .. } => Outcome::Cancelled,
                Error::Contract { .. } | Error::OutputTooLarge { .. } => Outcome::Contract,
                Error::Exhausted { .. } => Outcome::Exhausted,
                Error::Closed { .. } => Outcome::Closed,
                Error::InvalidInput { .. } | Error::UnknownFunction { .. } | Error::Load { .. } | Error::Runtime(_) => {
                    Outcome::InvalidInput
                }
            },
        }
    }

    /// The label value: `ok`, `guest_error`, `trap`, `timeout`, `out_of_fuel`, `memory_limit`,
    /// `memory_budget`, `cancelled`, `contract`, `exhausted`, `closed`, `invalid_input`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::GuestError => "guest_error",
            Outcome::Trap => "trap",
            Outcome::Timeout => "timeout",
            Outcome::OutOfFuel => "out_of_fuel",
            Outcome::MemoryLimit => "memory_limit",
            Outcome::MemoryBudget => "memory_budget",
            Outcome::Cancelled => "cancelled",
            Outcome::Contract => "contract",
            Outcome::Exhausted => "exhausted",
            Outcome::Closed => "closed",
            Outcome::InvalidInput => "invalid_input",
        }
    }

    /// Its position in [`Outcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one call did besides its result: filled in by the loader while it runs, then reported
/// in the call's `plugrt.call` span and counted by the façade's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallReport {
    /// How it ended.
    pub outcome: Outcome,
    /// Rows of the input batch.
    pub rows: usize,
    /// The whole call, instance wait included.
    pub elapsed: Duration,
    /// Time spent getting an instance (waiting, and creating one when none was ready).
    pub waited: Duration,
    /// Time spent creating the instance(s) it ran in, when the call had to create them itself;
    /// `None` when it ran in a ready (pre-warmed or reused) instance, or got none.
    pub created: Option<Duration>,
    /// Whether its instance had served an earlier call (bounded reuse only).
    pub reused: bool,
    /// Where the rest of the call's time went, phase by phase.
    pub phases: Phases,
}

/// The phases of one call after it has an instance, as the loader timed them (a phase the
/// call did not reach stays zero). With [`CallReport::waited`] they account for a call's time
/// within a few hundred nanoseconds (the input check and the clock reads themselves).
///
/// They are measured on every call (a clock read per phase) and are what the bulk-path
/// breakdown in the book is made of. They are not exported as metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    /// Writing the input batch as Arrow IPC bytes (for Extism, in its envelope).
    pub encode: Duration,
    /// The guest call: copying the input into the instance, the guest's work (its own IPC
    /// reading and writing included), and copying the output back out.
    pub guest: Duration,
    /// Giving the instance up on the caller's thread: dropping it (wasmtime then zeroes or
    /// decommits its memory) or handing it to a background thread that does.
    pub release: Duration,
    /// Validating the guest's output and decoding it into the result column.
    pub decode: Duration,
}

impl CallReport {
    /// A report for a call on `rows` rows that has not run yet.
    pub fn new(rows: usize) -> CallReport {
        CallReport {
            outcome: Outcome::Ok,
            rows,
            elapsed: Duration::ZERO,
            waited: Duration::ZERO,
            created: None,
            reused: false,
            phases: Phases::default(),
        }
    }

    /// Adds what getting `lease` cost. A loader that acquires more than once for one call (a
    /// retry) calls this for each; times add up.
    pub fn acquired<M: Manager>(&mut self, lease: &Lease<M>) {
        let a = lease.acquisition();
        self.waited += a.waited;
        if let Some(took) = a.created {
            self.created = Some(self.created.unwrap_or_default() + took);
        }
        self.reused = a.reused;
    }

    /// `"fresh"` or `"reused"`, as the span's `instance` field says it.
    pub fn instance(&self) -> &'static str {
        if self.reused { "reused" } else { "fresh" }
    }
}

/// The time since `clock`, which then moves to now: one phase of [`Phases`] per call.
pub fn lap(clock: &mut Instant) -> Duration {
    let now = Instant::now();
    let took = now.duration_since(*clock);
    *clock = now;
    took
}
