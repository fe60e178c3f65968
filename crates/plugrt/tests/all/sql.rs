//! SQL through DataFusion calling plugin functions (feature `datafusion`), for every flavour:
//! results equal a native implementation on the same data (nulls, literals, empty input,
//! several partitions), a broken UDF fails its query with the plugin's error while the session
//! keeps working, a dropped query interrupts its calls, and calls take their memory from the
//! session's pool. Aggregates are in `aggregates`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use arrow_array::{Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use futures_core::Stream;
use plugrt::Error;
use plugrt::datafusion::Naming;
use plugrt::datafusion::datafusion::datasource::MemTable;
use plugrt::datafusion::datafusion::error::DataFusionError;
use plugrt::datafusion::datafusion::execution::runtime_env::RuntimeEnvBuilder;
use plugrt::datafusion::datafusion::prelude::{SessionConfig, SessionContext};

use crate::common::{fixture, flavours, runtime};

mod aggregates;
mod distributed;

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Rows `i` in `from..to`: `x = i` (null every 7th), `s` a word (null every 5th), `f = i / 4`.
fn batch(from: i64, to: i64) -> RecordBatch {
    let words = ["alpha", "Beta", "gämma", "", "delta-9"];
    let x: Int64Array = (from..to).map(|i| (i % 7 != 3).then_some(i)).collect();
    let s: StringArray = (from..to).map(|i| (i % 5 != 2).then(|| words[i as usize % words.len()])).collect();
    let f: Float64Array = (from..to).map(|i| Some(i as f64 / 4.0)).collect();
    RecordBatch::try_new(schema(), vec![Arc::new(x), Arc::new(s), Arc::new(f)]).unwrap()
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("x", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("f", DataType::Float64, false),
    ]))
}

/// A session with table `t`: three partitions of several batches, planned on 4 partitions.
fn session(runtime: &plugrt::Runtime) -> SessionContext {
    let partitions = vec![vec![batch(0, 1500), batch(1500, 1600)], vec![batch(1600, 4000)], vec![batch(4000, 4001)]];
    session_of(runtime, partitions, 4, 1000)
}

/// A session with table `t` of these partitions, `target` planned partitions and this batch
/// size, and every function of `runtime`'s plugins registered under its declared name.
fn session_of(
    runtime: &plugrt::Runtime,
    partitions: Vec<Vec<RecordBatch>>,
    target: usize,
    rows: usize,
) -> SessionContext {
    let ctx =
        SessionContext::new_with_config(SessionConfig::new().with_target_partitions(target).with_batch_size(rows));
    ctx.register_table("t", Arc::new(MemTable::try_new(schema(), partitions).unwrap())).unwrap();
    runtime.register_udfs(&ctx, Naming::Declared);
    ctx
}

fn query(rt: &tokio::runtime::Runtime, ctx: &SessionContext, sql: &str) -> Result<RecordBatch, String> {
    rt.block_on(async {
        let frame = ctx.sql(sql).await.map_err(|e| e.to_string())?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(|e| e.to_string())?;
        arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| e.to_string())
    })
}

fn column<T: 'static>(batch: &RecordBatch, i: usize) -> &T {
    batch.column(i).as_any().downcast_ref::<T>().expect("column type")
}

#[test]
fn sql_results_equal_a_native_implementation() {
    let rt = tokio();
    for flavour in flavours() {
        let runtime = runtime();
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        let ctx = session(&runtime);
        let got = query(&rt, &ctx, "SELECT x, s, f, add_one(x), upper(s), str_len(s), scale(f, 2.0) FROM t ORDER BY f")
            .unwrap_or_else(|e| panic!("{flavour}: {e}"));
        let want = batch(0, 4001);
        assert_eq!(got.num_rows(), 4001, "{flavour}");
        let (x, s) = (column::<Int64Array>(&want, 0), column::<StringArray>(&want, 1));
        let f = column::<Float64Array>(&want, 2);
        let (add_one, upper) = (column::<Int64Array>(&got, 3), column::<StringArray>(&got, 4));
        let (str_len, scale) = (column::<Int32Array>(&got, 5), column::<Float64Array>(&got, 6));
        for i in 0..want.num_rows() {
            let xi = x.is_valid(i).then(|| x.value(i));
            assert_eq!(add_one.is_valid(i).then(|| add_one.value(i)), xi.map(|v| v + 1), "{flavour} add_one row {i}");
            let si = s.is_valid(i).then(|| s.value(i));
            let native_upper = si.map(|v| v.to_ascii_uppercase());
            assert_eq!(upper.is_valid(i).then(|| upper.value(i).to_owned()), native_upper, "{flavour} upper row {i}");
            let native_len = si.map(|v| v.chars().count() as i32);
            assert_eq!(str_len.is_valid(i).then(|| str_len.value(i)), native_len, "{flavour} str_len row {i}");
            assert_eq!(scale.value(i), f.value(i) * 2.0, "{flavour} scale row {i}");
        }
        // Literals: one value, no table.
        let got = query(&rt, &ctx, "SELECT upper('abc') AS u, add_one(41) AS a").unwrap();
        assert_eq!(column::<StringArray>(&got, 0).value(0), "ABC", "{flavour}");
        assert_eq!(column::<Int64Array>(&got, 1).value(0), 42, "{flavour}");
        // A literal beside a column, in a WHERE and a GROUP BY.
        let got = query(
            &rt,
            &ctx,
            "SELECT str_len(s) AS n, count(*) AS c FROM t WHERE add_one(x) > 10 AND upper(s) <> 'BETA' GROUP BY str_len(s) ORDER BY n",
        )
        .unwrap();
        let native: std::collections::BTreeMap<i32, i64> = (0..want.num_rows())
            .filter(|&i| {
                x.is_valid(i) && x.value(i) + 1 > 10 && s.is_valid(i) && !s.value(i).eq_ignore_ascii_case("BETA")
            })
            .fold(Default::default(), |mut m, i| {
                *m.entry(s.value(i).chars().count() as i32).or_default() += 1;
                m
            });
        let (n, c) = (column::<Int32Array>(&got, 0), column::<Int64Array>(&got, 1));
        let sql: std::collections::BTreeMap<i32, i64> = (0..got.num_rows()).map(|i| (n.value(i), c.value(i))).collect();
        assert_eq!(sql, native, "{flavour}");
        // Empty input: no rows, no call.
        let calls_before = calls(&runtime, "add_one");
        let got = query(&rt, &ctx, "SELECT add_one(x) FROM t WHERE x < -5").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.num_rows(), 0);
        assert_eq!(calls(&runtime, "add_one"), calls_before, "{flavour}: an empty batch calls nothing");
    }
}

fn calls(runtime: &plugrt::Runtime, function: &str) -> u64 {
    let plugin = runtime.plugin("c_udf").unwrap();
    plugin.function_metrics().iter().find(|f| f.function == function).map_or(0, |f| f.total_calls())
}

#[test]
fn a_broken_udf_fails_its_query_and_the_session_keeps_working() {
    let rt = tokio();
    for flavour in flavours() {
        let runtime = runtime();
        for name in ["c_udf", "trap", "infinite_loop", "wrong_type"] {
            runtime.load(&fixture(flavour, name)).unwrap();
        }
        let ctx = session(&runtime);
        for (sql, plugin, function) in [
            ("SELECT boom(x) FROM t", "trap", "boom"),
            ("SELECT spin(x) FROM t", "infinite_loop", "spin"),
            ("SELECT liar(x) FROM t", "wrong_type", "liar"),
        ] {
            let error = rt.block_on(async { ctx.sql(sql).await.unwrap().collect().await.unwrap_err() });
            let text = error.to_string();
            assert!(
                text.contains(&format!("plugin `{plugin}`, function `{function}`")),
                "{flavour}: the message names the UDF: {text}"
            );
            let source = error.find_root();
            let plugrt_error = match source {
                plugrt::datafusion::datafusion::error::DataFusionError::External(e) => e.downcast_ref::<Error>(),
                _ => None,
            };
            let kind = plugrt_error.unwrap_or_else(|| panic!("{flavour}: the source is plugrt's error: {error:?}"));
            match function {
                "boom" => assert!(matches!(kind, Error::Trap { .. }), "{kind}"),
                "spin" => assert!(matches!(kind, Error::Timeout { .. }), "{kind}"),
                _ => assert!(matches!(kind, Error::Contract { .. }), "{kind}"),
            }
            let ok = query(&rt, &ctx, "SELECT count(add_one(x)) FROM t").unwrap();
            assert_eq!(column::<Int64Array>(&ok, 0).value(0), (0..4001).filter(|i| i % 7 != 3).count() as i64);
        }
    }
}

#[test]
fn many_partitions_share_a_small_pool_without_failing() {
    let rt = tokio();
    for flavour in flavours() {
        // Two instances for 8 partitions: calls queue on the pool.
        let limits = plugrt::Limits { instances: 2, ..crate::common::limits() };
        let runtime = plugrt::Runtime::builder().limits(limits).build().unwrap();
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        let partitions: Vec<Vec<RecordBatch>> = (0..8).map(|p| vec![batch(p * 500, p * 500 + 500)]).collect();
        let ctx = session_of(&runtime, partitions, 8, 64);
        let got = query(&rt, &ctx, "SELECT sum(add_one(x)) FROM t").unwrap_or_else(|e| panic!("{flavour}: {e}"));
        let want: i64 = (0..4000).filter(|i| i % 7 != 3).map(|i| i + 1).sum();
        assert_eq!(column::<Int64Array>(&got, 0).value(0), want, "{flavour}");
    }
}

#[test]
fn prefixed_names_keep_plugins_apart() {
    let rt = tokio();
    for flavour in flavours() {
        let runtime = runtime();
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        let ctx = SessionContext::new();
        let names = runtime.register_udfs(&ctx, Naming::Prefixed);
        assert!(names.contains(&"c_udf_upper".to_owned()), "{names:?}");
        let got = query(&rt, &ctx, "SELECT c_udf_upper('x') AS u").unwrap();
        assert_eq!(column::<StringArray>(&got, 0).value(0), "X");
    }
}

#[test]
fn batches_too_large_for_the_limits_are_split_and_joined() {
    let rt = tokio();
    for flavour in flavours() {
        // 16 KiB of output allowed: a 4001-row batch of words (~40 KiB of arguments) needs
        // several calls.
        let limits = plugrt::Limits { output_bytes: 16 << 10, ..crate::common::limits() };
        let runtime = plugrt::Runtime::builder().limits(limits).build().unwrap();
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        let ctx = session_of(&runtime, vec![vec![batch(0, 4001)]], 1, 8192);
        let got = query(&rt, &ctx, "SELECT upper(s) FROM t").unwrap_or_else(|e| panic!("{flavour}: {e}"));
        let want = batch(0, 4001);
        let (s, upper) = (column::<StringArray>(&want, 1), column::<StringArray>(&got, 0));
        assert_eq!(got.num_rows(), 4001);
        for i in 0..4001 {
            let native = s.is_valid(i).then(|| s.value(i).to_ascii_uppercase());
            assert_eq!(upper.is_valid(i).then(|| upper.value(i).to_owned()), native, "{flavour} row {i}");
        }
        let calls = calls(&runtime, "upper");
        assert!(calls > 1, "{flavour}: one batch went in {calls} call(s); it should have been split");
    }
}

/// A runtime whose calls may run 30 s: only a cancel stops a spinning call early.
fn patient_runtime() -> plugrt::Runtime {
    let limits = plugrt::Limits { timeout: Duration::from_secs(30), ..crate::common::limits() };
    plugrt::Runtime::builder().limits(limits).build().unwrap()
}

/// Waits (up to 10 s) until `plugin` has `leased` instances in calls; returns how long it took.
fn wait_for_leased(plugin: &plugrt::Plugin, leased: usize, what: &str) -> Duration {
    let started = Instant::now();
    while plugin.metrics().status.leased != leased {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: {} instance(s) still in calls after 10 s, want {leased}",
            plugin.metrics().status.leased
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    started.elapsed()
}

fn outcome_count(plugin: &plugrt::Plugin, function: &str, outcome: plugrt::Outcome) -> u64 {
    plugin.function_metrics().iter().find(|f| f.function == function).map_or(0, |f| f.calls_with(outcome))
}

#[test]
fn a_dropped_query_interrupts_its_spinning_calls() {
    // Enough workers for the spinning partitions and the ones that finish.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(6).enable_all().build().unwrap();
    for flavour in flavours() {
        let runtime = patient_runtime();
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        runtime.load(&fixture(flavour, "infinite_loop")).unwrap();
        let spin = runtime.plugin("infinite_loop").unwrap();
        let ctx = session_of(&runtime, vec![vec![batch(0, 10)], vec![batch(10, 20)]], 2, 8192);

        // The stream dropped while both partitions spin.
        let frame = rt.block_on(ctx.sql("SELECT spin(x) FROM t")).unwrap();
        let mut stream = rt.block_on(plugrt::datafusion::execute_stream(frame)).unwrap();
        rt.block_on(std::future::poll_fn(|cx| {
            let _ = Pin::new(&mut stream).poll_next(cx);
            Poll::Ready(())
        }));
        wait_for_leased(&spin, 2, &format!("{flavour}: both partitions should be spinning"));
        std::thread::sleep(Duration::from_millis(100));
        let dropped = Instant::now();
        drop(stream);
        wait_for_leased(&spin, 0, &format!("{flavour}: dropping the stream"));
        let took = dropped.elapsed();
        eprintln!("{flavour}: spinning calls interrupted {took:?} after the stream was dropped");
        assert!(took < Duration::from_secs(2), "{flavour}: interrupted after {took:?}");
        assert_eq!(outcome_count(&spin, "spin", plugrt::Outcome::Cancelled), 2, "{flavour}");

        // A LIMIT satisfied by fast partitions while others spin: the query returns, and its
        // spinning calls are interrupted rather than left to their 30 s.
        let sql = "SELECT v FROM (SELECT add_one(x) AS v FROM t WHERE x IS NOT NULL \
                   UNION ALL SELECT spin(x) AS v FROM t) LIMIT 1";
        let started = Instant::now();
        let rows: usize = rt
            .block_on(async { plugrt::datafusion::collect(ctx.sql(sql).await?).await })
            .unwrap_or_else(|e| panic!("{flavour}: {e}"))
            .iter()
            .map(RecordBatch::num_rows)
            .sum();
        assert_eq!(rows, 1, "{flavour}");
        wait_for_leased(&spin, 0, &format!("{flavour}: a LIMIT satisfied"));
        let took = started.elapsed();
        eprintln!("{flavour}: LIMIT 1 answered and its spinning calls interrupted in {took:?}");
        assert!(took < Duration::from_secs(2), "{flavour}: the LIMIT query took {took:?}");

        // The session and the plugin keep working.
        let ok = query(&rt, &ctx, "SELECT count(add_one(x)) FROM t").unwrap();
        assert_eq!(column::<Int64Array>(&ok, 0).value(0), (0..20).filter(|i| i % 7 != 3).count() as i64);
    }
}

#[test]
fn queries_take_their_calls_memory_from_the_session_pool() {
    let rt = tokio();
    for flavour in flavours() {
        let runtime = runtime(); // memory limit 64 MiB per call
        runtime.load(&fixture(flavour, "c_udf")).unwrap();
        runtime.load(&fixture(flavour, "memory_bomb")).unwrap();
        let limited = |bytes: usize| {
            let env = RuntimeEnvBuilder::new().with_memory_limit(bytes, 1.0).build_arc().unwrap();
            let config = SessionConfig::new().with_target_partitions(2);
            let ctx = SessionContext::new_with_config_rt(config, env);
            ctx.register_table("t", Arc::new(MemTable::try_new(schema(), vec![vec![batch(0, 1000)]]).unwrap()))
                .unwrap();
            runtime.register_udfs(&ctx, Naming::Declared);
            ctx
        };
        let exhausted = |ctx: &SessionContext, sql: &str, function: &str| {
            let error = rt.block_on(async { ctx.sql(sql).await.unwrap().collect().await.unwrap_err() });
            assert!(
                matches!(error.find_root(), DataFusionError::ResourcesExhausted(_)),
                "{flavour}: {sql} should exhaust the pool: {error:?}"
            );
            assert!(error.to_string().contains(function), "{flavour}: the message names the UDF: {error}");
        };

        // Room for two calls at once: the query runs, and gives everything back.
        let roomy = limited(256 << 20);
        let got = query(&rt, &roomy, "SELECT sum(add_one(x)) FROM t").unwrap_or_else(|e| panic!("{flavour}: {e}"));
        let want: i64 = (0..1000).filter(|i| i % 7 != 3).map(|i| i + 1).sum();
        assert_eq!(column::<Int64Array>(&got, 0).value(0), want, "{flavour}");
        assert_eq!(roomy.runtime_env().memory_pool.reserved(), 0, "{flavour}: calls free what they took");

        // Less than one call needs: refused before the guest runs.
        let tight = limited(1 << 20);
        exhausted(&tight, "SELECT add_one(x) FROM t", "plugin `c_udf`, function `add_one`");
        // A guest growing past what the pool has left (below its own 64 MiB limit) is stopped
        // by the pool, not by its limit.
        let half = limited(32 << 20);
        exhausted(&half, "SELECT eat(x) FROM t", "plugin `memory_bomb`, function `eat`");
        let refused = outcome_count(&runtime.plugin("memory_bomb").unwrap(), "eat", plugrt::Outcome::MemoryBudget);
        assert!(refused >= 1, "{flavour}: counted as memory_budget");
        for ctx in [&tight, &half] {
            assert_eq!(ctx.runtime_env().memory_pool.reserved(), 0, "{flavour}: refused calls free what they took");
        }
        // The sessions keep working.
        assert!(query(&rt, &roomy, "SELECT add_one(1)").is_ok(), "{flavour}");
    }
}
