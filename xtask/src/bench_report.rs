//! Reads the medians criterion just wrote and prints them with the ratios the targets use.
//!
//! Ratios compare benches measured in the same run, so a busy machine skews both sides alike.

use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

/// A ratio `numerator / denominator` of two bench medians, and the target it is held to.
struct Ratio {
    what: &'static str,
    numerator: &'static str,
    denominator: &'static str,
    target: &'static str,
}

const RATIOS: &[Ratio] = &[
    Ratio {
        what: "SQL GROUP BY g avg(y) over 10M rows, 10k groups, 1 partition(s): component avg_f64 vs built-in avg",
        numerator: "plugrt_sql_avg_10m_10k_groups/component_1p",
        denominator: "plugrt_sql_avg_10m_10k_groups/native_1p",
        target: "one guest call per batch (reported by the bench)",
    },
    Ratio {
        what: "SQL GROUP BY g avg(y) over 10M rows, 10k groups, 2 partition(s): component avg_f64 vs built-in avg",
        numerator: "plugrt_sql_avg_10m_10k_groups/component_2p",
        denominator: "plugrt_sql_avg_10m_10k_groups/native_2p",
        target: "one guest call per batch (reported by the bench)",
    },
    Ratio {
        what: "SQL GROUP BY g avg(y) over 10M rows, 10k groups, 1 partition(s): Extism avg_f64 vs built-in avg",
        numerator: "plugrt_sql_avg_10m_10k_groups/extism_1p",
        denominator: "plugrt_sql_avg_10m_10k_groups/native_1p",
        target: "none (for comparison)",
    },
    Ratio {
        what: "SQL sum(add_one(x)) over 10M rows, 1 partition(s): component UDF vs native",
        numerator: "plugrt_sql_add_one_10m/component_1p",
        denominator: "plugrt_sql_add_one_10m/native_1p",
        target: "<= 5 after the bulk data path",
    },
    Ratio {
        what: "SQL sum(add_one(x)) over 10M rows, 1 partition(s): Extism UDF vs native",
        numerator: "plugrt_sql_add_one_10m/extism_1p",
        denominator: "plugrt_sql_add_one_10m/native_1p",
        target: "<= 5 after the bulk data path",
    },
    Ratio {
        what: "SQL sum(add_one(x)) over 10M rows, 2 partition(s): component UDF vs native",
        numerator: "plugrt_sql_add_one_10m/component_2p",
        denominator: "plugrt_sql_add_one_10m/native_2p",
        target: "<= 5 after the bulk data path",
    },
    Ratio {
        what: "SQL sum(add_one(x)) over 10M rows, 2 partition(s): Extism UDF vs native",
        numerator: "plugrt_sql_add_one_10m/extism_2p",
        denominator: "plugrt_sql_add_one_10m/native_2p",
        target: "<= 5 after the bulk data path",
    },
    Ratio {
        what: "batch: component add_one on 8,192 rows vs arrow's native kernel",
        numerator: "plugrt_add_one_8k/component",
        denominator: "plugrt_add_one_8k/arrow_native",
        target: "<= 10 (stretch <= 3)",
    },
    Ratio {
        what: "batch: component add_one on 1M rows vs arrow's native kernel",
        numerator: "plugrt_add_one_1m/component",
        denominator: "plugrt_add_one_1m/arrow_native",
        target: "<= 5",
    },
    Ratio {
        what: "batch: Extism add_one vs component add_one, 8,192 rows",
        numerator: "plugrt_add_one_8k/extism",
        denominator: "plugrt_add_one_8k/component",
        target: "<= 2",
    },
    Ratio {
        what: "batch: Extism add_one vs component add_one, 1M rows",
        numerator: "plugrt_add_one_1m/extism",
        denominator: "plugrt_add_one_1m/component",
        target: "<= 2",
    },
    Ratio {
        what: "batch: JS guest upper on 8,192 strings vs a native loop",
        numerator: "plugrt_upper_8k/js",
        denominator: "plugrt_upper_8k/arrow_native",
        target: "(context; the target is the JS p50 <= 10 ms)",
    },
    Ratio {
        what: "batch: JS guest upper vs the C guest's, 8,192 strings",
        numerator: "plugrt_upper_8k/js",
        denominator: "plugrt_upper_8k/c",
        target: "(context)",
    },
    Ratio {
        what: "batch: throughput of 2 threads vs 1 (component add_one, 8,192 rows)",
        numerator: "wasmtime_add_one_8k_threads/1_threads",
        denominator: "wasmtime_add_one_8k_threads/2_threads",
        target: ">= 1.6",
    },
    Ratio {
        what: "plugrt: component call with an INFO subscriber recording spans vs none",
        numerator: "plugrt_observe/info_subscriber",
        denominator: "plugrt_observe/no_subscriber",
        target: "<= 1.2",
    },
    Ratio {
        what: "plugrt: component call, pre-warm default (Auto) vs pre-warm off",
        numerator: "plugrt_prewarm/component_default",
        denominator: "plugrt_prewarm/component_off",
        target: "<= 1 (within noise)",
    },
    Ratio {
        what: "plugrt: Extism call, pre-warm default (Auto) vs pre-warm off",
        numerator: "plugrt_prewarm/extism_default",
        denominator: "plugrt_prewarm/extism_off",
        target: "<= 1",
    },
    Ratio {
        what: "wasmtime: plugrt fresh-instance call vs raw wasmtime by hand",
        numerator: "wasmtime_trivial_call/plugrt",
        denominator: "wasmtime_trivial_call/raw_wasmtime",
        target: "<= 1.3",
    },
    Ratio {
        what: "wasmtime: plugrt fresh-instance call vs raw wasmtime tuned like plugrt",
        numerator: "wasmtime_trivial_call/plugrt",
        denominator: "wasmtime_trivial_call/raw_wasmtime_tuned",
        target: "<= 1.3",
    },
    Ratio {
        what: "wasmtime: pre-warmed plugrt call vs raw wasmtime by hand",
        numerator: "wasmtime_trivial_call/plugrt_prewarmed",
        denominator: "wasmtime_trivial_call/raw_wasmtime",
        target: "(context)",
    },
    Ratio {
        what: "wasmtime: throughput of 2 threads vs 1 (trivial calls)",
        numerator: "wasmtime_threads/1_threads",
        denominator: "wasmtime_threads/2_threads",
        target: ">= 1.6",
    },
    Ratio {
        what: "wasmtime: add_one over 1M Int64 (C guest) vs arrow's native kernel",
        numerator: "wasmtime_add_one_1m/plugrt_c_guest",
        denominator: "wasmtime_add_one_1m/arrow_native",
        target: "<= 3",
    },
    Ratio {
        what: "wasmtime: the same with keep_resident = 64 MiB vs arrow's native kernel",
        numerator: "wasmtime_add_one_1m/plugrt_c_guest_keep_resident_64m",
        denominator: "wasmtime_add_one_1m/arrow_native",
        target: "<= 3",
    },
    Ratio {
        what: "wasmtime: load of the C guest from the cache vs a fresh compile",
        numerator: "wasmtime_load_c_guest/from_cache",
        denominator: "wasmtime_load_c_guest/compile",
        target: "<= 0.05",
    },
    Ratio {
        what: "extism: pre-warmed plugrt-extism call vs extism's own Pool (reused)",
        numerator: "extism_probe_call/plugrt_prewarmed",
        denominator: "extism_probe_call/extism_pool_reused",
        target: "(context; p50 <= 10 us)",
    },
    Ratio {
        what: "extism: pre-warmed plugrt-extism call vs extism's Pool, both paced at 1 ms",
        numerator: "extism_probe_call/plugrt_prewarmed",
        denominator: "extism_probe_call/extism_pool_reused_paced",
        target: "(context)",
    },
    Ratio {
        what: "extism: pre-warmed plugrt-extism call vs new_from_compiled per call",
        numerator: "extism_probe_call/plugrt_prewarmed",
        denominator: "extism_probe_call/extism_new_from_compiled",
        target: "(context)",
    },
    Ratio {
        what: "extism: no pre-warm, pooling engine vs on-demand engine",
        numerator: "extism_probe_call/plugrt_no_prewarm_pooling",
        denominator: "extism_probe_call/plugrt_no_prewarm_on_demand",
        target: "(context: the engine choice)",
    },
    Ratio {
        what: "pool: throughput of 2 threads vs 1 (2 us of work per lease)",
        numerator: "pool_2us_work/1_threads",
        denominator: "pool_2us_work/2_threads",
        target: ">= 1.8",
    },
    Ratio {
        what: "pool: fresh acquire+release vs two bare mutex lock/unlock pairs",
        numerator: "pool_acquire_release/fresh_inline",
        denominator: "pool_acquire_release/baseline_mutex_x2",
        target: "(context)",
    },
    Ratio {
        what: "pool: pre-warmed vs inline-created acquire+release",
        numerator: "pool_acquire_release/fresh_prewarmed",
        denominator: "pool_acquire_release/fresh_inline",
        target: "(context)",
    },
];

/// The target of `bench / memcpy` in `group`, as the issues state them.
fn memcpy_target(group: &str, bench: &str) -> &'static str {
    let primitive = ["ipc_int64_1m", "ipc_f64_nullable_1m"].contains(&group);
    match bench {
        "encode" => "<= 1.5",
        "decode" if primitive => "<= 0.05",
        _ => "(context)",
    }
}

/// Medians (ns) of every bench under `dir` whose estimates were written after `since`.
fn medians(dir: &Path, since: SystemTime) -> std::io::Result<Vec<(String, f64)>> {
    let mut found = Vec::new();
    for group in std::fs::read_dir(dir)? {
        let group = group?.path();
        if !group.is_dir() {
            continue;
        }
        for bench in std::fs::read_dir(&group)? {
            let file = bench?.path().join("new/estimates.json");
            let Ok(meta) = std::fs::metadata(&file) else { continue };
            if meta.modified()? < since {
                continue;
            }
            let json = std::fs::read_to_string(&file)?;
            let Some(median) = median_ns(&json) else { continue };
            let id = file.parent().and_then(Path::parent).and_then(|b| b.strip_prefix(dir).ok());
            if let Some(id) = id {
                found.push((id.to_string_lossy().replace('\\', "/"), median));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The median's point estimate from criterion's `estimates.json`.
fn median_ns(json: &str) -> Option<f64> {
    let rest = &json[json.find("\"median\":")?..];
    let rest = &rest[rest.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

fn human(ns: f64) -> String {
    match ns {
        ns if ns < 1e3 => format!("{ns:.1} ns"),
        ns if ns < 1e6 => format!("{:.2} us", ns / 1e3),
        ns => format!("{:.2} ms", ns / 1e6),
    }
}

/// The summary table of this run.
pub fn collect(dir: &Path, since: SystemTime) -> Result<String, Box<dyn std::error::Error>> {
    let medians = medians(dir, since).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    if medians.is_empty() {
        return Err(format!("no criterion results were written under {}", dir.display()).into());
    }
    let mut out = String::from("bench medians (this run)\n");
    for (id, ns) in &medians {
        writeln!(out, "  {id:<48} {:>12}", human(*ns))?;
    }
    out.push_str("ratios (same run)\n");
    let get = |id: &str| medians.iter().find(|(b, _)| b == id).map(|(_, ns)| *ns);
    for r in RATIOS {
        if let (Some(n), Some(d)) = (get(r.numerator), get(r.denominator)) {
            writeln!(out, "  {:<66} {:>7.3}x  target {}", r.what, n / d, r.target)?;
        }
    }
    // Groups with a `memcpy` bench: every other bench of the group against it.
    for (id, ns) in &medians {
        let Some((group, bench)) = id.split_once('/') else { continue };
        if bench == "memcpy" {
            continue;
        }
        if let Some(base) = get(&format!("{group}/memcpy")) {
            let what = format!("{group}: {bench} vs memcpy of the same bytes");
            writeln!(out, "  {what:<66} {:>7.3}x  target {}", ns / base, memcpy_target(group, bench))?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_median_not_the_mean() {
        let json = r#"{"mean":{"point_estimate":9.0,"standard_error":1.0},"median":{"confidence_interval":{"lower_bound":1.0},"point_estimate":1127.5,"standard_error":2.0}}"#;
        assert_eq!(median_ns(json), Some(1127.5));
        assert_eq!(median_ns("{}"), None);
    }

    #[test]
    fn formats_durations() {
        assert_eq!(human(129.3), "129.3 ns");
        assert_eq!(human(2225.8), "2.23 us");
        assert_eq!(human(3_100_000.0), "3.10 ms");
    }
}
