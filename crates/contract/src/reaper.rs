//! [`Reaper`]: dropping used instances off the caller's thread.

use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

/// One background thread that drops what it is handed, behind a short bounded queue; when the
/// queue is full (or the thread could not start), the caller drops the value itself.
///
/// Dropping a used instance frees its store: wasmtime zeroes the memory it keeps resident and
/// decommits the rest, which can cost as much as the call. A loader keeps one `Reaper` in a
/// `static` and hands it every retired instance, so callers get their result without paying
/// for that. An instance in the queue still holds its engine slot: size the engine for
/// `backlog + 1` instances beyond those that can be alive (the one being dropped).
///
/// It does not order drops across reapers, and does not wait for the queue at exit (values
/// still queued when the process ends are never dropped: they hold only memory).
pub struct Reaper<T: Send + 'static> {
    name: &'static str,
    backlog: usize,
    queue: OnceLock<Option<SyncSender<T>>>,
}

impl<T: Send + 'static> Reaper<T> {
    /// A reaper whose thread (named `name`) starts on first use, with room for `backlog`
    /// values waiting.
    pub const fn new(name: &'static str, backlog: usize) -> Reaper<T> {
        Reaper { name, backlog, queue: OnceLock::new() }
    }

    /// Values that may wait to be dropped.
    pub fn backlog(&self) -> usize {
        self.backlog
    }

    /// Drops `value` on the reaper's thread if its queue has room, here otherwise.
    pub fn reap(&'static self, value: T) {
        match self.queue() {
            Some(queue) => match queue.try_send(value) {
                Ok(()) => {}
                Err(TrySendError::Full(value) | TrySendError::Disconnected(value)) => drop(value),
            },
            None => drop(value),
        }
    }

    fn queue(&'static self) -> Option<&'static SyncSender<T>> {
        self.queue
            .get_or_init(|| {
                let (tx, rx) = sync_channel::<T>(self.backlog);
                let spawned = std::thread::Builder::new().name(self.name.into()).spawn(move || {
                    for value in rx {
                        drop(value);
                    }
                });
                match spawned {
                    Ok(_) => Some(tx),
                    Err(e) => {
                        tracing::warn!(error = %e, thread = self.name, "cannot start a reaper thread; instances drop on the caller's thread");
                        None
                    }
                }
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// Counts its drops and says on which thread it was dropped.
    struct Noted(Arc<AtomicUsize>, Arc<parking_lot::Mutex<Vec<String>>>);

    impl Drop for Noted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1.lock().push(std::thread::current().name().unwrap_or("").to_owned());
        }
    }

    #[test]
    fn everything_handed_over_is_dropped_and_mostly_elsewhere() {
        static REAPER: Reaper<Noted> = Reaper::new("plugrt-test-reaper", 2);
        let (dropped, threads) = (Arc::new(AtomicUsize::new(0)), Arc::new(parking_lot::Mutex::new(Vec::new())));
        for _ in 0..100 {
            REAPER.reap(Noted(dropped.clone(), threads.clone()));
        }
        let started = Instant::now();
        while dropped.load(Ordering::SeqCst) < 100 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "only {} of 100 dropped",
                dropped.load(Ordering::SeqCst)
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let threads = threads.lock();
        assert!(threads.iter().any(|t| t == "plugrt-test-reaper"), "none dropped on the reaper's thread");
        assert_eq!(REAPER.backlog(), 2);
    }
}
