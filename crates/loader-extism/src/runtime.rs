//! [`Runtime`]: the host's ceilings and the engine settings each loaded plugin gets.

use std::path::Path;
use std::sync::Arc;

use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::exports::Shape;
use crate::{Allocator, Budget, Error, Limits, LoadOptions, Plugin};

/// How a [`Runtime`] loads plugins. Defaults: [`Limits::default`], on-demand allocation, no
/// capabilities, no budget.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// The ceilings every plugin's limits are clamped to.
    pub limits: Limits,
    /// Give each plugin's engine a pooling allocator sized to that plugin's pool (its instance
    /// cap plus 6: `describe`'s instance and 5 used ones waiting to be dropped), instead of
    /// wasmtime's on-demand allocator. Default `false`.
    ///
    /// Pooling makes a fresh instance cheaper to create and to drop, but costs mappings:
    ///
    #[doc = include_str!("../../../docs/src/figures/extism-pooling.md")]
    ///
    /// On demand, hundreds load, and pre-warm
    /// ([`PreWarm::Auto`](crate::PreWarm)) keeps the slower creation off the calls' path.
    /// Turn it on for a runtime that hosts a few hot plugins. It reserves address space per
    /// plugin: `(instances + 6 + room for a decommit batch of 8 memories) x (3 + the module's
    /// memories) x (memory_bytes + the module's initial memory + 128 KiB)`; if that fails, the
    /// plugin falls back to on-demand allocation with a warning ([`Plugin::allocator`] says
    /// which).
    pub pooling: bool,
    /// Capabilities plugins may ask for in `describe` (none are defined yet).
    pub granted_capabilities: Vec<String>,
    /// A budget of live instances shared with other pools (other plugins, other loaders):
    /// every plugin's pool takes a permit per instance, and `describe` one while it runs.
    /// `None` (default): each plugin is bounded by its own cap only.
    pub budget: Option<Budget>,
}

/// Loads Extism plugins under the host's ceilings. Cheap to clone.
///
/// Unlike `plugrt-wasmtime`'s runtime it owns no engine: extism compiles every plugin into an
/// engine of its own and runs its own timer thread for timeouts.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub(crate) config: Arc<RuntimeConfig>,
}

/// A wasm page.
const PAGE: usize = 64 << 10;
/// Bytes of each memory kept mapped between instances.
const KEEP_RESIDENT: usize = 256 << 10;
/// Guard region after each memory (memories are small; bounds checks are explicit).
const GUARD_BYTES: u64 = 64 << 10;
/// What extism itself adds to each instance beyond the module's own memories and tables
/// (its kernel, and a GC heap: extism turns on wasm GC). Measured with extism 1.41 by
/// instantiating plugins until the pool refused; `tests::engine_slots_hold_the_cap` checks it.
const EXTISM_CORE_INSTANCES: u32 = 3;
pub(crate) const EXTISM_MEMORIES: u32 = 3;
const EXTISM_TABLES: u32 = 1;
/// Released memories decommitted together. A batch being flushed is out of the pool for a
/// moment (wasmtime takes the queue before it `madvise`s), and an allocation then finds
/// neither free slots nor a queue to flush: memories get one batch of room on top.
pub(crate) const DECOMMIT_BATCH: u32 = 8;

impl Runtime {
    /// A runtime with these ceilings. Fails if they cannot hold a plugin (no instances, or
    /// less than one 64 KiB page of memory).
    pub fn new(config: RuntimeConfig) -> Result<Runtime, Error> {
        if config.limits.instances == 0 || config.limits.memory_bytes < 64 << 10 {
            return Err(Error::Runtime("limits must allow one instance and one 64 KiB page of memory".into()));
        }
        Ok(Runtime { config: Arc::new(config) })
    }

    /// The settings this runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Loads an Extism plugin from its bytes (a core wasm module); see [`Plugin`] for what
    /// loading checks.
    pub fn load(&self, bytes: &[u8], options: LoadOptions) -> Result<Plugin, Error> {
        Plugin::load(self.clone(), bytes, options)
    }

    /// Loads a plugin file; errors before `describe` names the plugin carry the path.
    pub fn load_file(&self, path: impl AsRef<Path>, mut options: LoadOptions) -> Result<Plugin, Error> {
        let bytes = plugrt_contract::read_plugin_file(path.as_ref(), &mut options.label)?;
        self.load(&bytes, options)
    }
}

/// The wasmtime configuration for one plugin whose pool holds at most `instances`, for a
/// module of the given shape, and the allocator it asks for. extism then turns on epoch
/// interruption, wasm GC and (with a fuel limit) metering itself.
pub(crate) fn engine_config(limits: &Limits, shape: Shape, pooling: bool) -> (Config, Allocator) {
    // extism's own limiter must be what stops growth (it reports "oom"): it lets the memories
    // grow by `memory_bytes` in all after instantiation, so a slot holds the initial size plus
    // that. A smaller slot would make `memory.grow` fail first, and the guest's failure would
    // look like any other trap.
    let initial = usize::try_from(shape.initial_memory).unwrap_or(usize::MAX);
    let slot = limits.memory_bytes.saturating_add(initial).saturating_add(PAGE);
    let mut c = Config::new();
    c.memory_init_cow(true);
    c.memory_reservation(slot as u64);
    c.memory_guard_size(GUARD_BYTES);
    if !pooling {
        return (c, Allocator::OnDemand);
    }
    // Instances alive at once: the cap, `describe`'s own instance, and used ones waiting to be
    // dropped (the reaper's queue and the one it is dropping).
    let slots = u32::try_from(limits.instances).unwrap_or(u32::MAX).saturating_add(2 + crate::reaper::BACKLOG as u32);
    // Room for that many instances, and for the decommit batch (in whole instances).
    let per_instance = EXTISM_MEMORIES + shape.memories;
    let room = slots.saturating_add(DECOMMIT_BATCH.div_ceil(per_instance));
    let memories = room.saturating_mul(per_instance);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(0)
        .total_core_instances(room.saturating_mul(EXTISM_CORE_INSTANCES))
        .total_memories(memories)
        .total_tables(room.saturating_mul(EXTISM_TABLES + shape.tables))
        .total_gc_heaps(room)
        .max_memory_size(slot)
        // As in plugrt-wasmtime: keep a small working set mapped, and decommit released
        // memories in batches (each `madvise` flushes TLBs on every core).
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .decommit_batch_size(DECOMMIT_BATCH as usize);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    (c, Allocator::Pooling { reserved_bytes: u64::from(memories) * (slot as u64 + GUARD_BYTES) })
}
