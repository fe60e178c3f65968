//! `SELECT sum(add_one(x)) FROM t` over 10M Int64 rows in DataFusion's default 8,192-row
//! batches: the C guest's `add_one` as a WASM UDF (component, Extism) against the same
//! function as a native `ScalarUDFImpl`, on 1 and 2 partitions, in one run; and
//! `SELECT g, avg_f64(y) FROM t GROUP BY g` over 10M rows and 10,000 groups, the C guest's
//! aggregate against DataFusion's built-in `avg`, with the guest calls per batch it made.
//! `cargo xtask bench` prints rows/s and the ratios to native.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use plugrt::datafusion::datafusion::arrow::compute::kernels::numeric::add;
use plugrt::datafusion::datafusion::common::{Result, ScalarValue};
use plugrt::datafusion::datafusion::datasource::MemTable;
use plugrt::datafusion::datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use plugrt::datafusion::datafusion::prelude::{SessionConfig, SessionContext};
use plugrt::datafusion::{Naming, PluginIdentity, UdfPlugin};

const ROWS: i64 = 10_000_000;
const BATCH: i64 = 8192;

/// `add_one` written natively: arrow's checked add (an overflow is an error, as in the guest).
#[derive(Debug, PartialEq, Eq, Hash)]
struct NativeAddOne {
    signature: Signature,
}

impl ScalarUDFImpl for NativeAddOne {
    fn name(&self) -> &str {
        "add_one"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let x = args.args[0].to_array(args.number_rows)?;
        let one = ScalarValue::Int64(Some(1)).to_scalar()?;
        Ok(ColumnarValue::Array(add(&x, &one)?))
    }
}

fn fixture(flavour: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/out/{flavour}/c_udf.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; run `cargo xtask fixtures`"))
}

/// Table `t`: `x` = 0..ROWS (every 10th null) in `partitions` partitions of 8,192-row batches.
fn session(partitions: usize) -> SessionContext {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let mut parts = vec![Vec::new(); partitions];
    for (i, start) in (0..ROWS).step_by(BATCH as usize).enumerate() {
        let x: ArrayRef =
            Arc::new((start..(start + BATCH).min(ROWS)).map(|v| (v % 10 != 0).then_some(v)).collect::<Int64Array>());
        parts[i % partitions].push(RecordBatch::try_new(schema.clone(), vec![x]).unwrap());
    }
    let config = SessionConfig::new().with_target_partitions(partitions).with_batch_size(BATCH as usize);
    let ctx = SessionContext::new_with_config(config);
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap())).unwrap();
    ctx
}

fn sql(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("plugrt_sql_add_one_10m");
    group.sample_size(10).throughput(Throughput::Elements(ROWS as u64));
    let want: i64 = (0..ROWS).filter(|v| v % 10 != 0).map(|v| v + 1).sum();
    for partitions in [1, 2] {
        for udf in ["native", "component", "extism"] {
            let ctx = session(partitions);
            let runtime = plugrt::Runtime::builder().build().unwrap();
            match udf {
                "native" => ctx.register_udf(ScalarUDF::new_from_impl(NativeAddOne {
                    signature: Signature::exact(vec![DataType::Int64], Volatility::Immutable),
                })),
                flavour => {
                    runtime.load(&fixture(flavour)).unwrap();
                    runtime.register_udfs(&ctx, Naming::Declared);
                }
            }
            let run = || {
                tokio.block_on(async {
                    let batches = ctx.sql("SELECT sum(add_one(x)) FROM t").await?.collect().await?;
                    let sum = batches[0].column(0).as_any().downcast_ref::<Int64Array>().map(|a| a.value(0));
                    Ok::<_, plugrt::datafusion::datafusion::error::DataFusionError>(sum)
                })
            };
            assert_eq!(run().unwrap(), Some(want), "{udf} on {partitions} partitions");
            group.bench_function(format!("{udf}_{partitions}p"), |b| b.iter(|| run().unwrap()));
        }
    }
    group.finish();
}

const GROUPS: i64 = 10_000;

/// Table `t`: `g` = a group of 10,000 (spread over the rows), `y` = a float (every 10th null),
/// 10M rows in `partitions` partitions of 8,192-row batches; and its batch count.
fn grouped_session(partitions: usize) -> (SessionContext, usize) {
    let schema =
        Arc::new(Schema::new(vec![Field::new("g", DataType::Int64, false), Field::new("y", DataType::Float64, true)]));
    let mut parts = vec![Vec::new(); partitions];
    let mut batches = 0;
    for (i, start) in (0..ROWS).step_by(BATCH as usize).enumerate() {
        let rows = start..(start + BATCH).min(ROWS);
        let g: ArrayRef = Arc::new(rows.clone().map(|v| v * 7919 % GROUPS).collect::<Int64Array>());
        let y: ArrayRef =
            Arc::new(rows.map(|v| (v % 10 != 0).then_some((v % 1000) as f64 * 0.5)).collect::<Float64Array>());
        parts[i % partitions].push(RecordBatch::try_new(schema.clone(), vec![g, y]).unwrap());
        batches += 1;
    }
    let config = SessionConfig::new().with_target_partitions(partitions).with_batch_size(BATCH as usize);
    let ctx = SessionContext::new_with_config(config);
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap())).unwrap();
    (ctx, batches)
}

/// A plugin that counts the aggregate steps it forwards, by operation.
struct Counting {
    inner: plugrt::Plugin,
    steps: [AtomicU64; 3],
}

impl UdfPlugin for Counting {
    fn description(&self) -> Arc<plugrt::Description> {
        self.inner.description()
    }
    fn limits(&self) -> plugrt::Limits {
        self.inner.limits()
    }
    fn call(
        &self,
        function: &str,
        batch: &RecordBatch,
        options: &plugrt::CallOptions,
    ) -> Result<ArrayRef, plugrt::Error> {
        self.inner.call_with(function, batch, options)
    }
    fn aggregate(
        &self,
        function: &str,
        op: plugrt::AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &plugrt::CallOptions,
    ) -> Result<RecordBatch, plugrt::Error> {
        self.steps[op.code() as usize].fetch_add(1, Ordering::Relaxed);
        self.inner.aggregate_reported(function, op, states, rows, options).0
    }
    fn identity(&self) -> PluginIdentity {
        UdfPlugin::identity(&self.inner)
    }
}

fn grouped_avg(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("plugrt_sql_avg_10m_10k_groups");
    group.sample_size(10).throughput(Throughput::Elements(ROWS as u64));
    for partitions in [1, 2] {
        let mut want = None;
        for udf in ["native", "component", "extism"] {
            let (ctx, batches) = grouped_session(partitions);
            let runtime = plugrt::Runtime::builder().build().unwrap();
            let mut counting = None;
            let function = match udf {
                "native" => "avg",
                flavour => {
                    let plugin = runtime.load(&fixture(flavour)).unwrap();
                    let plugin = Arc::new(Counting { inner: plugin, steps: Default::default() });
                    plugrt::datafusion::register(&ctx, plugin.clone(), Naming::Declared);
                    counting = Some(plugin);
                    "avg_f64"
                }
            };
            let sql = format!("SELECT g, {function}(y) AS a FROM t GROUP BY g ORDER BY g");
            let run = || {
                tokio.block_on(async {
                    let batches = ctx.sql(&sql).await?.collect().await?;
                    Ok::<_, plugrt::datafusion::datafusion::error::DataFusionError>(batches)
                })
            };
            let answer = run().unwrap();
            let rows: usize = answer.iter().map(RecordBatch::num_rows).sum();
            assert_eq!(rows as i64, GROUPS, "{udf} on {partitions} partitions");
            let values: Vec<Option<f64>> = answer
                .iter()
                .flat_map(|b| b.column(1).as_any().downcast_ref::<Float64Array>().unwrap().iter().collect::<Vec<_>>())
                .collect();
            match &want {
                None => want = Some(values),
                Some(want) => assert_eq!(&values, want, "{udf} on {partitions} partitions equals the built-in avg"),
            }
            if let Some(counting) = &counting {
                let [update, merge, finish] = counting.steps.each_ref().map(|s| s.load(Ordering::Relaxed));
                // What the report quotes: update calls per input batch (1 is the contract).
                eprintln!(
                    "plugrt_sql_avg_10m_10k_groups/{udf}_{partitions}p: {batches} input batches -> {update} update, \
                     {merge} merge, {finish} finish calls ({:.2} update calls per batch)",
                    update as f64 / batches as f64
                );
                assert_eq!(update as usize, batches, "one update call per input batch");
            }
            group.bench_function(format!("{udf}_{partitions}p"), |b| b.iter(|| run().unwrap()));
        }
    }
    group.finish();
}

criterion_group!(benches, sql, grouped_avg);
criterion_main!(benches);
