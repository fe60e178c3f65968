//! `SELECT sum(add_one(x)) FROM t` over 10M Int64 rows in DataFusion's default 8,192-row
//! batches: the C guest's `add_one` as a WASM UDF (component, Extism) against the same
//! function as a native `ScalarUDFImpl`, on 1 and 2 partitions, in one run. `cargo xtask bench`
//! prints rows/s and the ratios to native.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use plugrt::datafusion::Naming;
use plugrt::datafusion::datafusion::arrow::compute::kernels::numeric::add;
use plugrt::datafusion::datafusion::common::{Result, ScalarValue};
use plugrt::datafusion::datafusion::datasource::MemTable;
use plugrt::datafusion::datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use plugrt::datafusion::datafusion::prelude::{SessionConfig, SessionContext};

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

criterion_group!(benches, sql);
criterion_main!(benches);
