//! Plugin aggregates in SQL (feature `datafusion`), for every flavour: `GROUP BY` results equal
//! DataFusion's built-in `sum`/`avg` on the same Parquet data (nulls, groups without values,
//! one group, 100k groups, several partitions), ungrouped aggregates, one guest call per
//! batch, and failing aggregates failing their query cleanly.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use plugrt::datafusion::datafusion::datasource::MemTable;
use plugrt::datafusion::datafusion::parquet::arrow::ArrowWriter;
use plugrt::datafusion::datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use plugrt::datafusion::{Naming, PluginIdentity, UdfPlugin};
use plugrt::{AggregateOp, CallOptions, Description, Error, Limits, Plugin};

use super::{query, tokio};
use crate::common::{fixture, flavours, runtime};

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("g", DataType::Int64, false),
        Field::new("x", DataType::Int64, true),
        Field::new("y", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
    ]))
}

/// Rows `i` in `from..to` over `groups` groups: `g = i % groups`; `x = i` (null every 7th row
/// and in group 5, which has no value at all); `y` a multiple of 0.5 (sums are exact in any
/// order; null every 11th row); `s` a word (null every 5th row).
fn rows(from: i64, to: i64, groups: i64) -> RecordBatch {
    let words = ["alpha", "beta", "gamma", "", "delta"];
    let g: Int64Array = (from..to).map(|i| i % groups).collect();
    let x: Int64Array = (from..to).map(|i| (i % 7 != 3 && i % groups != 5).then_some(i)).collect();
    let y: Float64Array = (from..to).map(|i| (i % 11 != 4).then_some((i % 1000) as f64 * 0.5)).collect();
    let s: StringArray = (from..to).map(|i| (i % 5 != 2).then(|| words[i as usize % words.len()])).collect();
    RecordBatch::try_new(schema(), vec![Arc::new(g), Arc::new(x), Arc::new(y), Arc::new(s)]).unwrap()
}

/// `files` Parquet files of `rows_each` rows over `groups` groups, in a folder of their own.
fn parquet(tag: &str, files: i64, rows_each: i64, groups: i64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sql-aggregates-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in 0..files {
        let file = std::fs::File::create(dir.join(format!("part-{f}.parquet"))).unwrap();
        let mut writer = ArrowWriter::try_new(file, schema(), None).unwrap();
        writer.write(&rows(f * rows_each, (f + 1) * rows_each, groups)).unwrap();
        writer.close().unwrap();
    }
    dir
}

fn session(partitions: usize) -> SessionContext {
    SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions).with_batch_size(4096))
}

/// Asserts that columns `a` and `b` of `batch` are equal, row by row.
fn same(batch: &RecordBatch, a: usize, b: usize, what: &str) {
    assert_eq!(batch.column(a).as_ref(), batch.column(b).as_ref(), "{what}: columns {a} and {b}");
}

const GROUPED: &str = "SELECT g, sum_i64(x), sum(x), avg_f64(y), avg(y), min_max_spread(x), max(x) - min(x), \
                       sum_i64(x) FILTER (WHERE x % 3 = 0), sum(x) FILTER (WHERE x % 3 = 0) \
                       FROM t GROUP BY g ORDER BY g";

#[test]
fn grouped_aggregates_equal_the_built_in_ones_on_parquet() {
    let rt = tokio();
    // (files, rows per file, groups, planned partitions)
    let shapes = [("many", 3, 100_000, 100_000, 4), ("one", 2, 5000, 1, 2), ("some", 4, 3000, 97, 1)];
    for flavour in flavours() {
        let runtime = runtime();
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        for (tag, files, rows_each, groups, partitions) in shapes {
            let dir = parquet(&format!("{tag}-{flavour}"), files, rows_each, groups);
            let ctx = session(partitions);
            runtime.register_udfs(&ctx, Naming::Declared);
            rt.block_on(ctx.register_parquet("t", dir.to_str().unwrap(), ParquetReadOptions::default())).unwrap();
            let out = query(&rt, &ctx, GROUPED).unwrap_or_else(|e| panic!("{flavour} {tag}: {e}"));
            assert_eq!(out.num_rows() as i64, groups, "{flavour} {tag}");
            let what = format!("{flavour} {tag}");
            same(&out, 1, 2, &what);
            same(&out, 3, 4, &what);
            same(&out, 5, 6, &what);
            same(&out, 7, 8, &format!("{what}, FILTER"));
            if groups > 5 {
                assert!(out.column(1).is_null(5), "{what}: group 5 has no x: its sum is null");
            }
            let ungrouped = query(&rt, &ctx, "SELECT sum_i64(x), sum(x), avg_f64(y), avg(y) FROM t").unwrap();
            same(&ungrouped, 0, 1, &what);
            same(&ungrouped, 2, 3, &what);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[test]
fn no_rows_give_no_groups_and_null_ungrouped_results() {
    let rt = tokio();
    for flavour in flavours() {
        let runtime = runtime();
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        let ctx = session(2);
        runtime.register_udfs(&ctx, Naming::Declared);
        ctx.register_table("t", Arc::new(MemTable::try_new(schema(), vec![vec![rows(0, 100, 10)]]).unwrap())).unwrap();
        let grouped = query(&rt, &ctx, "SELECT g, sum_i64(x) FROM t WHERE x < 0 GROUP BY g").unwrap();
        assert_eq!(grouped.num_rows(), 0, "{flavour}");
        let ungrouped = query(&rt, &ctx, "SELECT sum_i64(x), sum(x), avg_f64(y), avg(y) FROM t WHERE x < 0").unwrap();
        assert_eq!(ungrouped.num_rows(), 1);
        for c in 0..4 {
            assert!(ungrouped.column(c).is_null(0), "{flavour}: column {c} of an empty input is null");
        }
    }
}

/// `concat_ws` is also DataFusion's scalar function, which SQL finds first: the aggregate is
/// reached under its prefixed name.
#[test]
fn concat_ws_joins_each_groups_values() {
    let rt = tokio();
    for flavour in flavours() {
        let runtime = runtime();
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        let ctx = session(3);
        runtime.register_udfs(&ctx, Naming::Prefixed);
        let partitions = vec![vec![rows(0, 500, 13)], vec![rows(500, 1200, 13), rows(1200, 1300, 13)]];
        ctx.register_table("t", Arc::new(MemTable::try_new(schema(), partitions).unwrap())).unwrap();
        let sql = "SELECT g, c_udf_concat_ws('|', s), count(s), string_agg(s, '|') FROM t GROUP BY g ORDER BY g";
        let out = query(&rt, &ctx, sql).unwrap();
        let ours = out.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        let builtin = out
            .column(3)
            .as_any()
            .downcast_ref::<arrow_array::LargeStringArray>()
            .map(|a| a.iter().map(|v| v.map(str::to_owned)).collect::<Vec<_>>())
            .or_else(|| {
                out.column(3)
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .map(|a| a.iter().map(|v| v.map(str::to_owned)).collect())
            })
            .expect("string_agg answers strings");
        let counts = out.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
        for row in 0..out.num_rows() {
            // The order of values depends on the plan; the values themselves do not.
            let sorted = |text: &str| {
                let mut parts: Vec<&str> = text.split('|').collect();
                parts.sort_unstable();
                parts.join("|")
            };
            let builtin = builtin[row].as_deref().expect("every group has words");
            assert_eq!(sorted(ours.value(row)), sorted(builtin), "{flavour}: group {row}");
            assert_eq!(ours.value(row).split('|').count() as i64, counts.value(row));
        }
    }
}

/// A plugin that counts each aggregate step it forwards.
struct Counting {
    inner: Plugin,
    steps: [AtomicU64; 3],
}

impl UdfPlugin for Counting {
    fn description(&self) -> Arc<Description> {
        self.inner.description()
    }
    fn limits(&self) -> Limits {
        self.inner.limits()
    }
    fn call(&self, function: &str, batch: &RecordBatch, options: &CallOptions) -> Result<ArrayRef, Error> {
        self.inner.call_with(function, batch, options)
    }
    fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &CallOptions,
    ) -> Result<RecordBatch, Error> {
        self.steps[op.code() as usize].fetch_add(1, Ordering::Relaxed);
        UdfPlugin::aggregate(&self.inner, function, op, states, rows, options)
    }
    fn identity(&self) -> PluginIdentity {
        UdfPlugin::identity(&self.inner)
    }
}

#[test]
fn each_batch_is_one_guest_call_whatever_the_number_of_groups() {
    let rt = tokio();
    for flavour in flavours() {
        let runtime = runtime();
        let plugin = runtime.load(&fixture(flavour, "c_udf")).unwrap();
        let counting = Arc::new(Counting { inner: plugin, steps: Default::default() });
        let ctx = session(2);
        plugrt::datafusion::register(&ctx, counting.clone(), Naming::Declared);
        // Two partitions of 3 and 2 batches of 2,000 rows, 1,500 groups.
        let partitions = vec![
            vec![rows(0, 2000, 1500), rows(2000, 4000, 1500), rows(4000, 6000, 1500)],
            vec![rows(6000, 8000, 1500), rows(8000, 10_000, 1500)],
        ];
        ctx.register_table("t", Arc::new(MemTable::try_new(schema(), partitions).unwrap())).unwrap();
        let out = query(&rt, &ctx, "SELECT g, avg_f64(y), avg(y) FROM t GROUP BY g ORDER BY g").unwrap();
        assert_eq!(out.num_rows(), 1500);
        same(&out, 1, 2, &flavour.to_string());
        let [update, merge, finish] = counting.steps.each_ref().map(|c| c.load(Ordering::Relaxed));
        assert_eq!(update, 5, "{flavour}: one update per input batch");
        assert!(merge >= 2, "{flavour}: the final phase merges each partition's partial states ({merge})");
        assert!(merge <= 8 && (1..=4).contains(&finish), "{flavour}: merge {merge}, finish {finish}");
    }
}

#[test]
fn a_failing_aggregate_fails_its_query_and_the_session_keeps_working() {
    let rt = tokio();
    for flavour in flavours() {
        let runtime = runtime();
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        runtime.load(&fixture(flavour, "bad_state")).unwrap();
        let ctx = session(2);
        runtime.register_udfs(&ctx, Naming::Declared);
        let big = Int64Array::from(vec![i64::MAX, 1, 2]);
        let t = RecordBatch::try_from_iter([
            ("g", Arc::new(Int64Array::from(vec![0, 0, 1])) as ArrayRef),
            ("x", Arc::new(big) as ArrayRef),
        ])
        .unwrap();
        ctx.register_table("t", Arc::new(MemTable::try_new(t.schema(), vec![vec![t]]).unwrap())).unwrap();
        let err = query(&rt, &ctx, "SELECT g, crash(x) FROM t GROUP BY g").unwrap_err();
        assert!(
            err.contains("bad_state") && err.contains("crash/update") && err.contains("trapped"),
            "{flavour}: {err}"
        );
        let err = query(&rt, &ctx, "SELECT g, liar(x) FROM t GROUP BY g").unwrap_err();
        assert!(err.contains("liar/update") && err.contains("breaks the contract"), "{flavour}: {err}");
        let err = query(&rt, &ctx, "SELECT g, sum_i64(x) FROM t GROUP BY g").unwrap_err();
        assert!(err.contains("sum_i64/update") && err.contains("overflow"), "{flavour}: {err}");
        let ok = query(&rt, &ctx, "SELECT min_max_spread(x) FROM t WHERE x < 10").unwrap();
        assert_eq!(ok.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0), 1, "{flavour}");
        let plugin = runtime.plugin("bad_state").unwrap();
        assert_eq!(plugin.metrics().status.leased, 0, "{flavour}: no lease leaked");
    }
}
