//! [`Runtime`]: one wasmtime `Engine` shared by every plugin it loads.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache::Cache;
use crate::{Allocator, Budget, Error, Limits, LoadOptions, Plugin};

/// Host-wide settings. Defaults: [`Limits::default`] as ceilings, 256 instances in total, a
/// 1 ms epoch tick, up to 1 MiB of the pages each instance wrote kept resident (zeroed)
/// for the next one within a budget of 256 MiB of idle resident memory, released memories
/// decommitted in batches of 32, no capabilities granted.
///
/// The memory defaults, measured (`cargo bench -p plugrt --bench breakdown`, the C guest's
/// `add_one`, medians):
///
#[doc = include_str!("../../../docs/src/figures/resident.md")]
///
#[doc = include_str!("../../../docs/src/figures/decommit.md")]
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The ceilings every plugin's limits are clamped to.
    pub limits: Limits,
    /// Instances of all plugins alive at once; sizes the pooling allocator.
    pub total_instances: u32,
    /// How often the epoch advances: the granularity of call timeouts.
    pub epoch_tick: Duration,
    /// Bytes of each linear memory kept mapped between instances: when an instance is
    /// dropped, up to this many bytes of the pages it wrote are zeroed in place (`memset`)
    /// instead of unmapped, so the next instance in that slot reads zeroes, exactly as a
    /// brand-new one, without a page fault per 4 KiB. Needs the kernel's `PAGEMAP_SCAN`
    /// (Linux 6.7+) to find the written pages; without it, the first bytes of each memory are
    /// zeroed whether written or not, so the engine keeps at most
    /// [`KEEP_RESIDENT_WITHOUT_SCAN`] then.
    pub keep_resident: usize,
    /// Bytes of idle linear memory kept resident across all the engine's memory slots: sets
    /// how many released slots may stay warm (`resident_budget / keep_resident`, less
    /// `decommit_batch`, at least one) before a new instance takes over the least recently
    /// used one instead of a cold slot. Idle resident memory then stays within about this
    /// budget plus `keep_resident` per instance alive at the last peak
    /// ([`Runtime::resident_bytes`] reads it). Every released slot waits for its decommit
    /// batch first, so at least `decommit_batch` slots rotate even for one plugin called by
    /// one thread: `keep_resident` × `decommit_batch` is resident whatever the budget.
    pub resident_budget: usize,
    /// Instance memories released before wasmtime decommits them in one batch. Decommitting
    /// (`madvise`) flushes TLBs on every core, so batching is what lets calls on several
    /// threads scale; a batch keeps up to this many released memories mapped.
    pub decommit_batch: usize,
    /// Capabilities plugins may ask for in `describe` (none are defined yet).
    pub granted_capabilities: Vec<String>,
    /// Folder of the on-disk cache of compiled components; `None` (default): compile on every
    /// load. Only files this cache wrote (authenticated with its own key) are ever loaded.
    pub cache_dir: Option<std::path::PathBuf>,
    /// A budget of live instances shared with other pools (other plugins, other loaders):
    /// every plugin's pool takes a permit per instance, and `describe` one while it runs.
    /// `None` (default): each plugin is bounded by its own cap only. Keep its cap at or below
    /// `total_instances`, or the engine refuses instances the budget allows.
    pub budget: Option<Budget>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            limits: Limits::default(),
            total_instances: 256,
            epoch_tick: Duration::from_millis(1),
            keep_resident: 1 << 20,
            resident_budget: 256 << 20,
            decommit_batch: 32,
            granted_capabilities: Vec::new(),
            cache_dir: None,
            budget: None,
        }
    }
}

/// Loads plugins and owns what they share: the engine and its epoch ticker.
///
/// Cheap to clone. Plugins keep the runtime alive; the ticker thread stops when the last
/// clone and plugin are dropped. It does not cache compiled artifacts across processes.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    pub(crate) config: RuntimeConfig,
    pub(crate) allocator: Allocator,
    pub(crate) cache: Option<Cache>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}

/// Core instances, linear memories and tables one component instance may create (its core
/// modules, their adapters and shims): the pooling allocator's slots are sized by them, and
/// the store's limiter enforces them with the on-demand allocator too.
pub(crate) const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
/// See [`CORE_INSTANCES_PER_COMPONENT`].
pub(crate) const MEMORIES_PER_COMPONENT: u32 = 4;
/// See [`CORE_INSTANCES_PER_COMPONENT`].
pub(crate) const TABLES_PER_COMPONENT: u32 = 8;
/// Table bytes kept resident per table slot when an instance is released: the pages of it
/// the instance wrote are zeroed in place (found with the page scan) instead of decommitted.
/// A decommitted table page is mapped to the shared zero page on the next instance's first
/// read and replaced on its first write (wasmtime fills funcref tables lazily), and that
/// replacement flushes TLBs on every core running the process: on two threads calling the C
/// guest on 8,192 rows it took a fifth of the time, and calls on two threads were barely
/// faster than on one (1.05x one thread's rate, 1.86x with 64 KiB kept; `cargo xtask bench`,
/// `wasmtime_add_one_8k_threads`). 64 KiB holds 8,192 funcref elements.
pub const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// How each linear memory sits in the address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// wasmtime's own default: 4 GiB reserved and a 32 MiB guard, so compiled code needs no
    /// bounds check on a load or store (a 32-bit address cannot leave the reservation). The
    /// C guest's `add_one` on 8,192 rows: 45 -> 38 us. ~2 TiB of address space for the
    /// default 512 memory slots, nothing of it memory.
    Reserved,
    /// Only the memory limit reserved, a 64 KiB guard, explicit bounds checks compiled in: for
    /// hosts whose address space cannot take the reservation (`ulimit -v`, 32-bit-like
    /// limits).
    Compact,
}

impl Layout {
    /// Reserved bytes and guard bytes of one memory.
    fn sizes(self, memory_bytes: usize) -> (u64, u64) {
        match self {
            Layout::Reserved => ((memory_bytes as u64).max(4 << 30), 32 << 20),
            Layout::Compact => (memory_bytes as u64, 64 << 10),
        }
    }
}

fn base_config(config: &RuntimeConfig, layout: Layout) -> Config {
    let (reservation, guard) = layout.sizes(config.limits.memory_bytes);
    let mut c = Config::new();
    c.wasm_component_model(true);
    // Proposals the contract does not need are attack surface: off, so a plugin using them is
    // refused at load. GC is compiled into wasmtime (extism needs it) and never enabled here;
    // nor are 64-bit memories, shared-everything threads, exceptions, stack switching and the
    // component model's GC extension. (Threads and the component model's async are not
    // compiled in at all.) Multiple memories stay on: wasmtime's own adapter modules between
    // a component's core instances use them (and its compiler panics without them); the
    // store's limiter counts every memory against one ceiling instead.
    c.wasm_gc(false);
    c.wasm_shared_everything_threads(false);
    c.wasm_exceptions(false);
    c.wasm_memory64(false);
    c.wasm_custom_page_sizes(false);
    c.wasm_wide_arithmetic(false);
    c.wasm_stack_switching(false);
    c.wasm_component_model_gc(false);
    c.epoch_interruption(true);
    c.consume_fuel(config.limits.fuel.is_some());
    c.memory_init_cow(true);
    c.memory_reservation(reservation);
    c.memory_guard_size(guard);
    c
}

/// What is kept resident per memory where the kernel cannot tell written pages apart
/// (`PAGEMAP_SCAN`, Linux 6.7+): the first bytes of each memory are then zeroed whether
/// written or not, so only a small prefix pays (the default before the scan was used).
pub const KEEP_RESIDENT_WITHOUT_SCAN: usize = 256 << 10;

/// Released memory slots that may stay warm: the resident budget in slots of `keep`, less
/// the slots a decommit batch holds back (those stay resident until the batch is flushed).
fn warm_slots(config: &RuntimeConfig, keep: usize, memories: u32) -> u32 {
    let slots = (config.resident_budget / keep.max(1)).saturating_sub(config.decommit_batch);
    u32::try_from(slots).unwrap_or(u32::MAX).clamp(1, memories.max(1))
}

impl Runtime {
    /// Creates the engine (pooling allocator sized from `config`, with 4 GiB reserved per
    /// memory, or only `memory_bytes` per memory when that reservation fails, falling back to
    /// on-demand allocation, with a warning, when even that fails) and starts its epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, Error> {
        let total = config.total_instances.max(1);
        let memories = total.saturating_mul(2);
        let pooling = |layout: Layout, scan: bool| {
            // Without the scan, keeping a large prefix resident would zero it on every drop.
            let keep = if scan { config.keep_resident } else { config.keep_resident.min(KEEP_RESIDENT_WITHOUT_SCAN) };
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(total)
                .total_core_instances(total.saturating_mul(4))
                .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
                .total_memories(memories)
                .max_memories_per_component(MEMORIES_PER_COMPONENT)
                .total_tables(total.saturating_mul(4))
                .max_tables_per_component(TABLES_PER_COMPONENT)
                .max_memory_size(config.limits.memory_bytes)
                .table_elements(config.limits.table_elements)
                .linear_memory_keep_resident(keep)
                .table_keep_resident(TABLE_KEEP_RESIDENT)
                .pagemap_scan(if scan { wasmtime::Enabled::Yes } else { wasmtime::Enabled::No })
                .max_unused_warm_slots(warm_slots(&config, keep, memories))
                // A batch holds released memories back from reuse: keep it to a quarter of them.
                .decommit_batch_size(config.decommit_batch.clamp(1, (memories / 4).max(1) as usize));
            let mut pooled = base_config(&config, layout);
            pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
            let (reservation, guard) = layout.sizes(config.limits.memory_bytes);
            Engine::new(&pooled).map(|engine| (engine, u64::from(memories) * (reservation + guard)))
        };
        // The reserved layout with the page scan where the kernel has it, else without; then
        // the compact layout the same way; else on-demand allocation.
        let attempts =
            [(Layout::Reserved, true), (Layout::Reserved, false), (Layout::Compact, true), (Layout::Compact, false)];
        let mut last_error = None;
        let pooled = attempts
            .into_iter()
            .find_map(|(layout, scan)| pooling(layout, scan).map_err(|e| last_error = Some(e)).ok());
        let (engine, allocator) = match pooled {
            Some((engine, reserved_bytes)) => (engine, Allocator::Pooling { reserved_bytes }),
            None => {
                let error = last_error.map(|e| e.to_string()).unwrap_or_default();
                tracing::warn!(%error, "pooling allocator unavailable; using on-demand allocation");
                let engine =
                    Engine::new(&base_config(&config, Layout::Compact)).map_err(|e| Error::Runtime(e.to_string()))?;
                (engine, Allocator::OnDemand)
            }
        };
        let cache = match &config.cache_dir {
            Some(dir) => Some(
                Cache::open(dir, &engine)
                    .map_err(|e| Error::Runtime(format!("cannot open the component cache {}: {e}", dir.display())))?,
            ),
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (weak, stop, tick) = (engine.weak(), stop.clone(), config.epoch_tick);
            std::thread::Builder::new()
                .name("plugrt-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        match weak.upgrade() {
                            Some(engine) => engine.increment_epoch(),
                            None => return,
                        }
                    }
                })
                .map_err(|e| Error::Runtime(format!("cannot start the epoch ticker: {e}")))?
        };
        Ok(Runtime { inner: Arc::new(RuntimeInner { engine, config, allocator, cache, stop, ticker: Some(ticker) }) })
    }

    /// Which allocator the engine uses (and how much address space pooling reserved).
    pub fn allocator(&self) -> Allocator {
        self.inner.allocator
    }

    /// The settings this runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Bytes of linear memory kept resident in memory slots no instance uses now (zeroed,
    /// ready for the next instance); `None` with on-demand allocation, which keeps nothing.
    pub fn resident_bytes(&self) -> Option<usize> {
        self.inner.engine.pooling_allocator_metrics().map(|m| m.unused_memory_bytes_resident())
    }

    /// Component-cache hits and misses so far, if a cache is configured.
    pub fn cache_stats(&self) -> Option<(u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        self.inner.cache.as_ref().map(|c| (c.hits.load(Relaxed), c.misses.load(Relaxed)))
    }

    /// Loads a component from its bytes (binary, or text if wasmtime can parse it); see
    /// [`Plugin`] for what loading checks.
    pub fn load(&self, bytes: &[u8], options: LoadOptions) -> Result<Plugin, Error> {
        Plugin::load(self.clone(), bytes, options)
    }

    /// Loads a component file; errors before `describe` names the plugin carry the path.
    pub fn load_file(&self, path: impl AsRef<Path>, mut options: LoadOptions) -> Result<Plugin, Error> {
        let bytes = plugrt_contract::read_plugin_file(path.as_ref(), &mut options.label)?;
        self.load(&bytes, options)
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("allocator", &self.inner.allocator).finish_non_exhaustive()
    }
}
