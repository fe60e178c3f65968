//! Dropping used instances off the caller's thread.
//!
//! Dropping an `extism::Plugin` frees its store: two instances, their memories and a GC heap,
//! which costs about as much as the call itself (~100 us measured). One background thread
//! takes that off the calls' path. Its queue is short and bounded; when it is full (or the
//! thread could not start), the caller drops the instance itself.

use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

/// Instances that may wait to be dropped. Each plugin's pooling allocator has this many slots
/// beyond its instance cap, so waiting instances never starve new ones.
pub(crate) const BACKLOG: usize = 4;

fn queue() -> Option<&'static SyncSender<extism::Plugin>> {
    static QUEUE: OnceLock<Option<SyncSender<extism::Plugin>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<extism::Plugin>(BACKLOG);
            let spawned = std::thread::Builder::new().name("plugrt-extism-reaper".into()).spawn(move || {
                for plugin in rx {
                    drop(plugin);
                }
            });
            match spawned {
                Ok(_) => Some(tx),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the reaper thread; instances drop on the caller's thread");
                    None
                }
            }
        })
        .as_ref()
}

/// Drops `plugin` in the background if the queue has room, here otherwise.
pub(crate) fn reap(plugin: extism::Plugin) {
    if let Some(queue) = queue() {
        match queue.try_send(plugin) {
            Ok(()) => {}
            Err(TrySendError::Full(plugin) | TrySendError::Disconnected(plugin)) => drop(plugin),
        }
    }
}
