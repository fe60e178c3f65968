//! Dropping used instances off the caller's thread.
//!
//! Dropping an `extism::Plugin` frees its store: two instances, their memories and a GC heap,
//! which costs about as much as the call itself (~100 us measured). The loader's
//! [`Reaper`](plugrt_contract::Reaper) takes that off the calls' path.

use plugrt_contract::Reaper;

/// Instances that may wait to be dropped. Each plugin's pooling allocator has this many slots
/// beyond its instance cap (and one for the instance being dropped), so waiting instances
/// never starve new ones.
pub(crate) const BACKLOG: usize = 4;

static REAPER: Reaper<extism::Plugin> = Reaper::new("plugrt-extism-reaper", BACKLOG);

/// Drops `plugin` in the background if the queue has room, here otherwise.
pub(crate) fn reap(plugin: extism::Plugin) {
    REAPER.reap(plugin);
}
