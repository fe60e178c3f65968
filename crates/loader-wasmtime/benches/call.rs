//! Call overhead of plugrt-wasmtime, each beside its baseline measured in the same run:
//! - a trivial call (the `probe` fixture) through plugrt vs raw wasmtime doing the same work by
//!   hand: a fresh Store, `InstancePre::instantiate`, the call, drop, with the same IPC encode
//!   and decode, on an engine with the pooling allocator as first written, and on one tuned
//!   with plugrt's own settings (copy-on-write images, epoch interruption, the memory kept
//!   resident found by the page scan, decommit batches);
//! - the same call with a pre-warmed pool;
//! - throughput of 2 threads vs 1, on trivial calls and on `add_one` over 8,192 rows;
//! - `add_one` over 1M Int64 rows (the C guest) vs arrow's native `unary` kernel;
//! - loading the C guest from the on-disk cache vs compiling it.
//!
//! `cargo xtask bench` runs it (after building the fixtures) and prints the ratios.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Schema};
use criterion::{Criterion, criterion_group, criterion_main};
use plugrt_arrow_ipc::{Limits as IpcLimits, decode_scalar_result, encode_into};
use plugrt_wasmtime::{Limits, LoadOptions, Plugin, PreWarm, Runtime, RuntimeConfig};
use wasmtime::component::{Component, ComponentType, Lift, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/out/component/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; build the fixtures with `cargo xtask fixtures`"))
}

fn no_args(rows: usize) -> RecordBatch {
    RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .unwrap()
}

fn runtime() -> Runtime {
    let limits = Limits { instances: 16, ..Limits::default() };
    let mut config = RuntimeConfig { limits, total_instances: 64, ..RuntimeConfig::default() };
    // Tuning experiments: PLUGRT_BENCH_KEEP_RESIDENT, PLUGRT_BENCH_DECOMMIT_BATCH.
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<usize>().ok());
    config.keep_resident = env("PLUGRT_BENCH_KEEP_RESIDENT").unwrap_or(config.keep_resident);
    config.decommit_batch = env("PLUGRT_BENCH_DECOMMIT_BATCH").unwrap_or(config.decommit_batch);
    Runtime::new(config).unwrap()
}

#[derive(ComponentType, Lift)]
#[component(enum)]
#[repr(u8)]
#[allow(dead_code, reason = "built by Lift")]
enum Kind {
    #[component(name = "invalid-argument")]
    InvalidArgument,
    #[component(name = "unsupported")]
    Unsupported,
    #[component(name = "resource-exhausted")]
    ResourceExhausted,
    #[component(name = "internal")]
    Internal,
}

#[derive(ComponentType, Lift)]
#[component(record)]
#[allow(dead_code, reason = "built by Lift")]
struct CallError {
    kind: Kind,
    message: String,
    retryable: bool,
}

/// The baseline: what a host does by hand with wasmtime for one fresh-instance call.
struct Raw {
    engine: Engine,
    pre: wasmtime::component::InstancePre<()>,
}

impl Raw {
    /// Pooling as a host would first write it.
    fn new(bytes: &[u8]) -> Raw {
        Raw::with(bytes, false)
    }

    /// Pooling tuned as plugrt's runtime tunes it: copy-on-write images, epoch interruption,
    /// the same memory kept resident and the same decommit batches (its defaults).
    fn tuned(bytes: &[u8]) -> Raw {
        Raw::with(bytes, true)
    }

    fn with(bytes: &[u8], tuned: bool) -> Raw {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(64)
            .total_core_instances(256)
            .total_memories(128)
            .total_tables(256)
            .max_memory_size(64 << 20);
        let defaults = RuntimeConfig::default();
        if tuned {
            pool.linear_memory_keep_resident(defaults.keep_resident)
                .table_keep_resident(plugrt_wasmtime::TABLE_KEEP_RESIDENT)
                .pagemap_scan(wasmtime::Enabled::Auto)
                .decommit_batch_size(defaults.decommit_batch);
        }
        let mut config = Config::new();
        config.wasm_component_model(true).allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if tuned {
            // The runtime's layout: 4 GiB reserved per memory, no bounds checks in the code.
            config.memory_reservation(4 << 30).memory_guard_size(32 << 20);
            config.memory_init_cow(true).epoch_interruption(true);
        } else {
            config.memory_reservation(64 << 20).memory_guard_size(64 << 10);
        }
        let engine = Engine::new(&config).unwrap();
        let component = Component::new(&engine, bytes).unwrap();
        // The probe imports nothing (not even `log`).
        let linker = Linker::<()>::new(&engine);
        let pre = linker.instantiate_pre(&component).unwrap();
        Raw { engine, pre }
    }

    fn call(&self, function: &str, batch: &RecordBatch, input: &mut Vec<u8>) -> ArrayRef {
        encode_into(batch, input).unwrap();
        let mut store = Store::new(&self.engine, ());
        store.set_epoch_deadline(u64::MAX / 2); // only read when epoch interruption is on
        let instance = self.pre.instantiate(&mut store).unwrap();
        let call = instance.get_typed_func::<(&str, &[u8]), (Result<Vec<u8>, CallError>,)>(&mut store, "call").unwrap();
        let (out,) = call.call(&mut store, (function, input)).unwrap();
        drop(store);
        let Ok(out) = out else { panic!("the probe failed") };
        decode_scalar_result(out, &IpcLimits::default(), &DataType::Int64, batch.num_rows()).unwrap()
    }
}

fn trivial(c: &mut Criterion) {
    let bytes = fixture("probe");
    let input = no_args(1);
    let mut g = c.benchmark_group("wasmtime_trivial_call");
    let raw = Raw::new(&bytes);
    let mut buf = Vec::new();
    g.bench_function("raw_wasmtime", |b| b.iter(|| black_box(raw.call("calls", &input, &mut buf))));
    let tuned = Raw::tuned(&bytes);
    g.bench_function("raw_wasmtime_tuned", |b| b.iter(|| black_box(tuned.call("calls", &input, &mut buf))));
    let rt = runtime();
    let plugin = rt.load(&bytes, LoadOptions { pre_warm: PreWarm::Off, ..LoadOptions::default() }).unwrap();
    g.bench_function("plugrt", |b| b.iter(|| black_box(plugin.call("calls", &input).unwrap())));
    let warm = rt.load(&bytes, LoadOptions { pre_warm: PreWarm::Ready(8), ..LoadOptions::default() }).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    g.bench_function("plugrt_prewarmed", |b| b.iter(|| black_box(warm.call("calls", &input).unwrap())));
    g.finish();
}

fn scaling(c: &mut Criterion) {
    let rt = runtime();
    let probe: Plugin = rt.load(&fixture("probe"), LoadOptions::default()).unwrap();
    threads(c, "wasmtime_threads", &probe, "calls", &no_args(1));
    let c_udf: Plugin = rt.load(&fixture("c_udf"), LoadOptions::default()).unwrap();
    let values: ArrayRef = Arc::new(Int64Array::from_iter((0..8_192i64).map(|i| (i % 10 != 0).then_some(i))));
    let batch = plugrt_arrow_ipc::input_batch(std::slice::from_ref(&values), 8_192).unwrap();
    threads(c, "wasmtime_add_one_8k_threads", &c_udf, "add_one", &batch);
}

/// Time per call of 1 and of 2 threads calling `function` on `input` at once: the ratio of the
/// two is the throughput gained by the second thread.
fn threads(c: &mut Criterion, group: &str, plugin: &Plugin, function: &'static str, input: &RecordBatch) {
    let mut g = c.benchmark_group(group);
    for threads in [1usize, 2] {
        g.bench_function(format!("{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads as u64);
                let start = Arc::new(Barrier::new(threads + 1));
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        let (plugin, input, start) = (plugin.clone(), input.clone(), start.clone());
                        std::thread::spawn(move || {
                            start.wait();
                            for _ in 0..per_thread {
                                black_box(plugin.call(function, &input).unwrap());
                            }
                        })
                    })
                    .collect();
                start.wait();
                let t0 = Instant::now();
                for h in handles {
                    h.join().unwrap();
                }
                t0.elapsed().mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
            })
        });
    }
    g.finish();
}

fn add_one(c: &mut Criterion) {
    let rt = runtime();
    let plugin = rt.load(&fixture("c_udf"), LoadOptions::default()).unwrap();
    // The same call with the working set (~40 MB of linear memory) kept resident: memset on
    // drop instead of a page fault per 4 KiB page on the next instance.
    let resident =
        Runtime::new(RuntimeConfig { keep_resident: 64 << 20, total_instances: 64, ..RuntimeConfig::default() })
            .unwrap();
    let resident_plugin = resident.load(&fixture("c_udf"), LoadOptions::default()).unwrap();
    let values: ArrayRef = Arc::new(Int64Array::from_iter((0..1_000_000i64).map(|i| (i % 10 != 0).then_some(i))));
    let input = plugrt_arrow_ipc::input_batch(std::slice::from_ref(&values), 1_000_000).unwrap();
    let native = values.as_any().downcast_ref::<Int64Array>().unwrap().clone();
    let mut g = c.benchmark_group("wasmtime_add_one_1m");
    g.sample_size(20);
    g.bench_function("arrow_native", |b| b.iter(|| black_box(native.unary::<_, Int64Type>(|v| v + 1))));
    g.bench_function("plugrt_c_guest", |b| b.iter(|| black_box(plugin.call("add_one", &input).unwrap())));
    g.bench_function("plugrt_c_guest_keep_resident_64m", |b| {
        b.iter(|| black_box(resident_plugin.call("add_one", &input).unwrap()))
    });
    g.finish();
}

fn load(c: &mut Criterion) {
    let bytes = fixture("c_udf");
    let dir = std::env::temp_dir().join(format!("plugrt-bench-cache-{}", std::process::id()));
    let compiling = runtime();
    let cached =
        Runtime::new(RuntimeConfig { total_instances: 64, cache_dir: Some(dir.clone()), ..RuntimeConfig::default() })
            .unwrap();
    cached.load(&bytes, LoadOptions::default()).unwrap(); // fills the cache
    let mut g = c.benchmark_group("wasmtime_load_c_guest");
    g.sample_size(10);
    g.bench_function("compile", |b| b.iter(|| black_box(compiling.load(&bytes, LoadOptions::default()).unwrap())));
    g.bench_function("from_cache", |b| b.iter(|| black_box(cached.load(&bytes, LoadOptions::default()).unwrap())));
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = trivial, scaling, add_one, load
}
criterion_main!(benches);
