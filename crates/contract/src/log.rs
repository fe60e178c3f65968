//! The contract's `log` import, as the host handles it: levels mapped to `tracing`, a budget of
//! messages per call.

use std::sync::Arc;

/// Messages one call may log; later ones are dropped (and counted in one trace event).
pub const LOG_BUDGET: u32 = 100;

/// The `tracing` target of guest log lines: filter them with `plugrt::guest=LEVEL`. Inside a
/// call they sit in its `plugrt.call` span.
pub const GUEST_TARGET: &str = "plugrt::guest";

/// Longest guest message the host keeps (log line or error), in bytes.
pub const MAX_MESSAGE: usize = 4096;

/// The first [`MAX_MESSAGE`] bytes of `text`, cut at a character boundary: a guest must not
/// fill the host's logs or errors.
pub fn cut_message(text: &str) -> &str {
    let mut end = text.len().min(MAX_MESSAGE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A guest log level (`plugrt:udf/log.level`; in the Extism flavour, its number 0-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// 0.
    Trace,
    /// 1.
    Debug,
    /// 2.
    Info,
    /// 3.
    Warn,
    /// 4.
    Error,
}

impl LogLevel {
    /// The level numbered `n` (0 trace .. 4 error); other numbers are `None`.
    pub fn from_number(n: i32) -> Option<LogLevel> {
        Some(match n {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            _ => return None,
        })
    }
}

/// One instance's log: passes guest messages to `tracing` (field `plugin`) until the call's
/// budget of [`LOG_BUDGET`] messages is used up, then drops them. It does not buffer or
/// deduplicate; a guest cannot make the host log more than the budget per call.
#[derive(Debug)]
pub struct GuestLog {
    plugin: Arc<str>,
    budget: u32,
    dropped: u32,
}

impl GuestLog {
    /// A log for `plugin` with a full budget.
    pub fn new(plugin: Arc<str>) -> GuestLog {
        GuestLog { plugin, budget: LOG_BUDGET, dropped: 0 }
    }

    /// Refills the budget (the instance is about to serve another call).
    pub fn reset(&mut self) {
        self.budget = LOG_BUDGET;
        self.dropped = 0;
    }

    /// Messages dropped since the last reset.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Takes one message from the budget: `true` if it may be logged, `false` (and counted as
    /// dropped) once the budget is used up. A loader asks before it reads the message from
    /// guest memory, so a guest past its budget costs the host no copy.
    pub fn admit(&mut self) -> bool {
        if self.budget == 0 {
            self.dropped += 1;
            if self.dropped == 1 {
                tracing::trace!(target: GUEST_TARGET, plugin = %self.plugin, "guest log budget used up; dropping messages");
            }
            return false;
        }
        self.budget -= 1;
        true
    }

    /// Logs `message` at `level` (target [`GUEST_TARGET`], field `plugin`), cut to 4 KiB, if the budget allows.
    pub fn log(&mut self, level: LogLevel, message: &str) {
        if self.admit() {
            self.emit(level, message);
        }
    }

    /// Logs `message` at `level`, cut to 4 KiB, for a message [`admit`](GuestLog::admit) let
    /// through.
    pub fn emit(&self, level: LogLevel, message: &str) {
        let (plugin, message) = (&*self.plugin, cut_message(message));
        match level {
            LogLevel::Trace => tracing::trace!(target: GUEST_TARGET, plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(target: GUEST_TARGET, plugin, "{message}"),
            LogLevel::Info => tracing::info!(target: GUEST_TARGET, plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(target: GUEST_TARGET, plugin, "{message}"),
            LogLevel::Error => tracing::error!(target: GUEST_TARGET, plugin, "{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_drops_what_is_over_it_until_reset() {
        let mut log = GuestLog::new(Arc::from("p"));
        for _ in 0..LOG_BUDGET + 7 {
            log.log(LogLevel::Info, "hi");
        }
        assert_eq!(log.dropped(), 7);
        log.reset();
        log.log(LogLevel::Info, "hi");
        assert_eq!(log.dropped(), 0);
        assert_eq!(LogLevel::from_number(4), Some(LogLevel::Error));
        assert_eq!(LogLevel::from_number(5), None);
    }
}
