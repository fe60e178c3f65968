//! The engine's memory layout: 4 GiB reserved per memory (compiled code without bounds
//! checks) where the address space allows it, the compact layout where it does not.

use std::sync::Arc;

use arrow_array::{Array, Int64Array};
use plugrt_wasmtime::{Allocator, LoadOptions, Runtime, RuntimeConfig};

use crate::common::{batch, fixture};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

#[test]
fn a_default_runtime_reserves_4_gib_and_a_32_mib_guard_per_memory() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    // Two memory slots per instance.
    assert_eq!(runtime.allocator(), Allocator::Pooling { reserved_bytes: 2 * 256 * (4 * GIB + 32 * MIB) });
}

/// 33,000 memory slots of 4 GiB (133 TiB) do not fit in x86-64's 128 TiB of user address
/// space; of 64 MiB (2 TiB) they do. The runtime must fall back to the compact layout, still
/// pooling, and its calls must work with the bounds checks compiled in.
#[test]
fn a_runtime_too_large_to_reserve_4_gib_per_memory_pools_compact_memories() {
    let config = RuntimeConfig { total_instances: 16_500, ..RuntimeConfig::default() };
    let memory_bytes = config.limits.memory_bytes as u64;
    let runtime = Runtime::new(config).unwrap();
    assert_eq!(runtime.allocator(), Allocator::Pooling { reserved_bytes: 33_000 * (memory_bytes + (64 << 10)) });
    let plugin = runtime.load(&fixture("c_udf"), LoadOptions::default()).unwrap();
    let values: Vec<Option<i64>> = (0..8_192).map(|i| (i % 10 != 0).then_some(i)).collect();
    let out = plugin.call("add_one", &batch(vec![Arc::new(Int64Array::from(values.clone()))])).unwrap();
    let expected = Int64Array::from(values.iter().map(|v| v.map(|v| v + 1)).collect::<Vec<_>>());
    assert_eq!(out.as_ref(), &expected as &dyn Array);
}
