//! Plans that leave the process, for every flavour: logical and physical plans with plugin
//! UDFs (scalar and aggregate) travel through plugrt's codecs to another runtime and give
//! the same rows; another build of the plugin or altered bytes fail with the plugin named;
//! with feature `ballista`, the same queries on Ballista standalone give the rows of local
//! DataFusion on the same Parquet data.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use plugrt::datafusion::datafusion::arrow::util::pretty::pretty_format_batches;
use plugrt::datafusion::datafusion::execution::memory_pool::UnboundedMemoryPool;
use plugrt::datafusion::datafusion::logical_expr::LogicalPlan;
use plugrt::datafusion::datafusion::parquet::arrow::ArrowWriter;
use plugrt::datafusion::datafusion::physical_plan::collect;
use plugrt::datafusion::datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use plugrt::datafusion::datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};
use plugrt::datafusion::datafusion_proto::logical_plan::DefaultLogicalExtensionCodec;
use plugrt::datafusion::datafusion_proto::physical_plan::DefaultPhysicalExtensionCodec;
use plugrt::datafusion::{CodecOptions, Naming, PlanBytes, PluginCodec};

use super::tokio;
use crate::common::{fixture, flavours, runtime};

/// The demo's C-guest query: scalar UDFs in the `WHERE`, the `GROUP BY` and the aggregates'
/// arguments, WASM aggregates beside DataFusion's own.
const QUERY: &str = "SELECT upper(s) AS word, count(*) AS rows, sum(add_one(n)) AS sum_n_plus_1, \
                     sum_i64(add_one(n)) AS wasm_sum, avg(scale(f, 2.0)) AS avg_2f, \
                     avg_f64(scale(f, 2.0)) AS wasm_avg_2f, min_max_spread(n) AS wasm_spread \
                     FROM t WHERE str_len(s) > 6 GROUP BY upper(s) ORDER BY rows DESC, word";

/// The demo's table in `files` Parquet files of `rows` rows each: `id`, `n` (null every
/// 10th row), `f = id / 8` (sums exact in any order), `s` a word of 100 (null every 13th).
fn table(tag: &str, files: i64, rows: i64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sql-distributed-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("n", DataType::Int64, true),
        Field::new("f", DataType::Float64, false),
        Field::new("s", DataType::Utf8, true),
    ]));
    for file in 0..files {
        let ids = file * rows + 1..(file + 1) * rows + 1;
        let id: Int64Array = ids.clone().collect();
        let n: Int64Array = ids.clone().map(|i| (i % 10 != 0).then_some(i % 1000)).collect();
        let f: Float64Array = ids.clone().map(|i| i as f64 / 8.0).collect();
        let s: StringArray = ids.map(|i| (i % 13 != 0).then(|| format!("item-{}", i % 100))).collect();
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(id), Arc::new(n), Arc::new(f), Arc::new(s)]);
        let out = std::fs::File::create(dir.join(format!("part-{file}.parquet"))).unwrap();
        let mut writer = ArrowWriter::try_new(out, schema.clone(), None).unwrap();
        writer.write(&batch.unwrap()).unwrap();
        writer.close().unwrap();
    }
    dir
}

/// The same plugin rebuilt: a custom section appended (the `describe` document is the same,
/// the bytes and so the hash differ).
fn rebuilt(bytes: &[u8]) -> Vec<u8> {
    let name = b"plugrt-rebuilt";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(b"same plugin, other bytes");
    let mut out = bytes.to_vec();
    out.push(0); // custom section
    out.push(u8::try_from(section.len()).expect("a one-byte LEB128 size"));
    out.extend_from_slice(&section);
    out
}

/// A session with `runtime`'s UDFs and table `t` from `dir`, on 2 partitions.
fn local(rt: &tokio::runtime::Runtime, runtime: &plugrt::Runtime, dir: &Path) -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    runtime.register_udfs(&ctx, Naming::Declared);
    let dir = dir.display().to_string();
    rt.block_on(ctx.register_parquet("t", &dir, ParquetReadOptions::default())).unwrap();
    ctx
}

fn run(rt: &tokio::runtime::Runtime, ctx: &SessionContext, plan: LogicalPlan) -> Result<String, String> {
    rt.block_on(async {
        let frame = ctx.execute_logical_plan(plan).await.map_err(|e| e.to_string())?;
        let batches = frame.collect().await.map_err(|e| e.to_string())?;
        Ok(pretty_format_batches(&batches).map_err(|e| e.to_string())?.to_string())
    })
}

fn sql(rt: &tokio::runtime::Runtime, ctx: &SessionContext, query: &str) -> Result<String, String> {
    let plan = rt.block_on(ctx.state().create_logical_plan(query)).map_err(|e| e.to_string())?;
    run(rt, ctx, plan)
}

fn codec(runtime: &plugrt::Runtime, options: CodecOptions) -> Arc<PluginCodec> {
    runtime.codec(Arc::new(UnboundedMemoryPool::default()), options)
}

/// `QUERY`'s logical plan in `sender`, as bytes through `codec`.
fn logical_bytes(rt: &tokio::runtime::Runtime, sender: &SessionContext, codec: &Arc<PluginCodec>) -> Vec<u8> {
    let plan = rt.block_on(sender.state().create_logical_plan(QUERY)).unwrap();
    let logical = codec.logical(Arc::new(DefaultLogicalExtensionCodec {}));
    logical_plan_to_bytes_with_extension_codec(&plan, logical.as_ref()).unwrap().to_vec()
}

/// Decodes a logical plan on a side resolving plugins through `codec`, with no UDF registered.
fn decode(bytes: &[u8], codec: &Arc<PluginCodec>) -> Result<LogicalPlan, String> {
    let receiver = SessionContext::new();
    let logical = codec.logical(Arc::new(DefaultLogicalExtensionCodec {}));
    logical_plan_from_bytes_with_extension_codec(bytes, &receiver.task_ctx(), logical.as_ref())
        .map_err(|e| e.to_string())
}

/// Calls the plugin of `runtime` named `c_udf` has run.
fn calls(runtime: &plugrt::Runtime) -> u64 {
    runtime.plugin("c_udf").unwrap().function_metrics().iter().map(|f| f.total_calls()).sum()
}

#[test]
fn plans_round_trip_through_both_codecs_to_another_runtime_with_the_same_plugin() {
    let rt = tokio();
    for flavour in flavours() {
        let dir = table(&format!("round-trip-{flavour}"), 2, 20_000);
        let sender = runtime();
        sender.load(&fixture(flavour, "c_udf")).unwrap();
        let ctx = local(&rt, &sender, &dir);
        let want = sql(&rt, &ctx, QUERY).unwrap();
        assert!(want.contains("| ITEM-99 "), "{want}");

        // Logical: the receiving session has no UDF; its runtime has the same file loaded.
        let receiver = runtime();
        receiver.load(&fixture(flavour, "c_udf")).unwrap();
        let bytes = logical_bytes(&rt, &ctx, &codec(&sender, CodecOptions::default()));
        let plan = decode(&bytes, &codec(&receiver, CodecOptions::default())).unwrap();
        assert_eq!(run(&rt, &SessionContext::new(), plan).unwrap(), want, "{flavour}: logical plan");
        let after_logical = calls(&receiver);
        assert!(after_logical > 0, "{flavour}: the receiving runtime's plugin ran the UDFs");

        // Physical: scalar calls and aggregate steps in the decoded plan run in the receiver.
        let plan = rt.block_on(ctx.state().create_logical_plan(QUERY)).unwrap();
        let physical = rt.block_on(ctx.state().create_physical_plan(&plan)).unwrap();
        let sending = codec(&sender, CodecOptions::default()).physical(Arc::new(DefaultPhysicalExtensionCodec {}));
        let bytes = physical_plan_to_bytes_with_extension_codec(physical, sending.as_ref()).unwrap();
        let receiving = codec(&receiver, CodecOptions::default()).physical(Arc::new(DefaultPhysicalExtensionCodec {}));
        let task = SessionContext::new().task_ctx();
        let plan = physical_plan_from_bytes_with_extension_codec(&bytes, &task, receiving.as_ref()).unwrap();
        let batches = rt.block_on(collect(plan, task)).unwrap();
        assert_eq!(pretty_format_batches(&batches).unwrap().to_string(), want, "{flavour}: physical plan");
        assert!(calls(&receiver) > after_logical, "{flavour}");
    }
}

#[test]
fn another_build_of_the_plugin_or_altered_bytes_fail_with_the_plugin_named() {
    let rt = tokio();
    for flavour in flavours() {
        let dir = table(&format!("mismatch-{flavour}"), 1, 1000);
        let bytes = fixture(flavour, "c_udf");
        let sender = plugrt::Runtime::builder().keep_bytes(true).build().unwrap();
        let plugin = sender.load(&bytes).unwrap();
        assert!(plugin.bytes().is_some_and(|b| *b == *bytes));
        let ctx = local(&rt, &sender, &dir);
        let want = sql(&rt, &ctx, QUERY).unwrap();

        // The receiver has another build under the same name and version.
        let other = runtime();
        let rebuilt = other.load(&rebuilt(&bytes)).unwrap();
        assert_ne!(rebuilt.sha256(), plugin.sha256());
        let plan = logical_bytes(&rt, &ctx, &codec(&sender, CodecOptions::default()));
        let error = decode(&plan, &codec(&other, CodecOptions::default())).unwrap_err();
        let hex = |h: [u8; 32]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert!(error.contains("plugin `c_udf` here is version"), "{flavour}: {error}");
        assert!(error.contains(&hex(plugin.sha256())) && error.contains(&hex(rebuilt.sha256())), "{error}");

        // A self-contained plan is refused by default: plans are input from another process.
        let self_contained = CodecOptions { self_contained: true, ..CodecOptions::default() };
        let plan = logical_bytes(&rt, &ctx, &codec(&sender, self_contained));
        assert!(plan.len() > bytes.len(), "the plan carries the plugin");
        let error = decode(&plan, &codec(&other, CodecOptions::default())).unwrap_err();
        assert!(
            error.contains("the plan's copy of it is refused: this side runs only plugins it has loaded"),
            "{error}"
        );
        assert_eq!(other.plugins(), ["c_udf"]);
        // A side that opts in loads the plan's own build beside its own, unregistered.
        let accepting = CodecOptions { plan_bytes: Some(PlanBytes::default()), ..CodecOptions::default() };
        let decoded = decode(&plan, &codec(&other, accepting)).unwrap();
        assert_eq!(run(&rt, &SessionContext::new(), decoded).unwrap(), want, "{flavour}");
        assert_eq!(other.plugins(), ["c_udf"]);
        assert_eq!(calls(&other), 0, "{flavour}: the plan's own build ran, not the rebuilt one");

        // One byte of the plugin changed in transit: refused before anything loads.
        let mut altered = plan.clone();
        let at = altered.windows(4).position(|w| w == b"\0asm").expect("the plugin's bytes in the plan");
        altered[at + bytes.len() / 2] ^= 1;
        let error = decode(&altered, &codec(&runtime(), CodecOptions::default())).unwrap_err();
        assert!(error.contains("the plan's bytes for plugin `c_udf` hash to"), "{flavour}: {error}");
        assert!(error.contains("the plan was altered"), "{error}");

        // Plans that name a plugin only by hash cannot reach a runtime without it.
        let plan = logical_bytes(&rt, &ctx, &codec(&sender, CodecOptions::default()));
        let error = decode(&plan, &codec(&runtime(), CodecOptions::default())).unwrap_err();
        assert!(error.contains("plugin `c_udf` (version 0.2.0, sha256 "), "{flavour}: {error}");
        assert!(error.contains("is not loaded here"), "{error}");

        // Self-contained plans need the bytes: a runtime that does not keep them says so, in
        // the physical plan at once; in the logical plan (whose encoder drops errors) as a
        // refusal the receiver reports, even though it has a function of that name (`upper`
        // is also DataFusion's).
        let forgetful = runtime();
        forgetful.load(&bytes).unwrap();
        let ctx = local(&rt, &forgetful, &dir);
        let plan = rt.block_on(ctx.state().create_logical_plan(QUERY)).unwrap();
        let forgetful_codec = codec(&forgetful, self_contained);
        let physical = rt.block_on(ctx.state().create_physical_plan(&plan)).unwrap();
        let encoder = forgetful_codec.physical(Arc::new(DefaultPhysicalExtensionCodec {}));
        let error = physical_plan_to_bytes_with_extension_codec(physical, encoder.as_ref()).unwrap_err().to_string();
        assert!(error.contains("plugin `c_udf` did not keep its bytes"), "{flavour}: {error}");
        let logical = forgetful_codec.logical(Arc::new(DefaultLogicalExtensionCodec {}));
        let plan = logical_plan_to_bytes_with_extension_codec(&plan, logical.as_ref()).unwrap();
        let error = decode(&plan, &codec(&sender, CodecOptions::default())).unwrap_err();
        assert!(error.contains("the sender could not put UDF `str_len` into the plan"), "{flavour}: {error}");
        assert!(error.contains("plugin `c_udf` did not keep its bytes"), "{flavour}: {error}");
    }
}

#[test]
fn a_reload_changes_the_hash_plans_name() {
    let rt = tokio();
    let flavour = flavours()[0];
    let dir = table(&format!("reload-{flavour}"), 1, 1000);
    let (bytes, other) = (fixture(flavour, "c_udf"), rebuilt(&fixture(flavour, "c_udf")));
    let sender = runtime();
    let plugin = sender.load(&bytes).unwrap();
    let before = plugin.sha256();
    sender.reload("c_udf", &other).unwrap();
    assert_ne!(plugin.sha256(), before, "the hash follows the version loaded now");
    let ctx = local(&rt, &sender, &dir);
    let plan = logical_bytes(&rt, &ctx, &codec(&sender, CodecOptions::default()));
    let receiver = runtime();
    receiver.load(&bytes).unwrap();
    let error = decode(&plan, &codec(&receiver, CodecOptions::default())).unwrap_err();
    assert!(error.contains("plugin `c_udf` here is version"), "{error}");
    receiver.reload("c_udf", &other).unwrap();
    assert!(decode(&plan, &codec(&receiver, CodecOptions::default())).is_ok());
}

#[cfg(feature = "ballista")]
mod ballista {
    //! Ballista standalone: a scheduler and an executor in this process, the plans between
    //! them through plugrt's codecs.

    use super::*;

    fn config() -> SessionConfig {
        SessionConfig::new().with_target_partitions(2)
    }

    #[test]
    fn ballista_gives_the_rows_of_local_datafusion_on_the_same_parquet_data() {
        let rt = tokio();
        for flavour in flavours() {
            let dir = table(&format!("ballista-{flavour}"), 3, 20_000);
            let runtime = runtime();
            runtime.load(&fixture(flavour, "c_udf")).unwrap();
            let queries = [
                QUERY,
                "SELECT id, upper(s) AS u, add_one(n) AS n1, scale(f, 0.5) AS half FROM t \
                 WHERE str_len(s) = 7 AND add_one(n) > 990 ORDER BY id",
                "SELECT id % 7 AS g, sum_i64(n), min_max_spread(n), avg_f64(f) FROM t GROUP BY id % 7 ORDER BY g",
            ];
            let ctx = local(&rt, &runtime, &dir);
            let session = runtime.ballista_standalone(config(), Naming::Declared, CodecOptions::default());
            let ballista = rt.block_on(session).unwrap();
            let path = dir.display().to_string();
            rt.block_on(ballista.register_parquet("t", &path, ParquetReadOptions::default())).unwrap();
            for query in queries {
                let want = sql(&rt, &ctx, query).unwrap();
                assert!(want.lines().count() > 5, "{want}");
                let before = calls(&runtime);
                assert_eq!(sql(&rt, &ballista, query).unwrap(), want, "{flavour}: {query}");
                assert!(calls(&runtime) > before, "{flavour}: the executor called the plugin");
            }
        }
    }

    #[test]
    fn ballista_fails_a_query_whose_plugin_differs_on_the_executor_naming_it() {
        let rt = tokio();
        for flavour in flavours() {
            let dir = table(&format!("ballista-mismatch-{flavour}"), 1, 1000);
            let client = runtime();
            client.load(&fixture(flavour, "c_udf")).unwrap();
            // The scheduler and executor resolve plugins in another runtime, with another build.
            let cluster = runtime();
            cluster.load(&rebuilt(&fixture(flavour, "c_udf"))).unwrap();
            let catalog = Arc::new(cluster.clone());
            let session = plugrt::datafusion::ballista::standalone(config(), catalog, CodecOptions::default());
            let ctx = rt.block_on(session).unwrap();
            client.register_udfs(&ctx, Naming::Declared);
            let path = dir.display().to_string();
            rt.block_on(ctx.register_parquet("t", &path, ParquetReadOptions::default())).unwrap();

            let error = sql(&rt, &ctx, QUERY).unwrap_err();
            assert!(error.contains("plugin `c_udf` here is version"), "{flavour}: {error}");
            assert_eq!(calls(&cluster), 0);
            // The session keeps working.
            let count = sql(&rt, &ctx, "SELECT count(*) AS n FROM t").unwrap();
            assert!(count.contains("| 1000 |"), "{count}");
        }
    }
}
