//! The compiled-component cache: hits on a second load, never loads files it did not write.

use std::sync::Arc;

use arrow_array::Int64Array;
use plugrt_wasmtime::{LoadOptions, Runtime, RuntimeConfig};

use crate::common::{batch, fixture};

fn cached_runtime(dir: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeConfig { total_instances: 16, cache_dir: Some(dir.to_owned()), ..RuntimeConfig::default() })
        .unwrap()
}

fn works(runtime: &Runtime) {
    let plugin = runtime.load(&fixture("c_udf"), LoadOptions::default()).unwrap();
    let out = plugin.call("add_one", &batch(vec![Arc::new(Int64Array::from(vec![1]))])).unwrap();
    assert_eq!(out.len(), 1);
}

#[test]
fn second_load_hits_and_tampered_or_foreign_files_are_ignored() {
    let dir = std::env::temp_dir().join(format!("plugrt-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = cached_runtime(&dir);
    works(&runtime);
    assert_eq!(runtime.cache_stats(), Some((0, 1)));
    works(&runtime);
    assert_eq!(runtime.cache_stats(), Some((1, 1)), "the second load should come from the cache");

    // Tamper with the artifact: it must not be deserialized, only recompiled over.
    let artifact = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("an artifact was written");
    let mut bytes = std::fs::read(&artifact).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    std::fs::write(&artifact, &bytes).unwrap();
    works(&runtime);
    assert_eq!(runtime.cache_stats(), Some((1, 2)), "a tampered artifact was loaded");
    works(&runtime);
    assert_eq!(runtime.cache_stats(), Some((2, 2)), "the recompiled artifact should be cached again");

    // A new key (another cache's files): every existing artifact is foreign now.
    std::fs::remove_file(dir.join("key")).unwrap();
    let other = cached_runtime(&dir);
    works(&other);
    assert_eq!(other.cache_stats(), Some((0, 1)), "an artifact under another key was loaded");
    let _ = std::fs::remove_dir_all(&dir);
}
