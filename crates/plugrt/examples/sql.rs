//! SQL calling a plugin's functions: DataFusion with every function of the C guest registered
//! as a scalar UDF. The book's "SQL with DataFusion" chapter includes it; `cargo xtask test`
//! runs it (feature `datafusion`):
//! `cargo run -p plugrt --features datafusion --example sql -- fixtures/out/component/c_udf.wasm`

use plugrt::datafusion::Naming;
use plugrt::datafusion::datafusion::arrow::util::pretty::pretty_format_batches;
use plugrt::datafusion::datafusion::error::DataFusionError;
use plugrt::datafusion::datafusion::execution::runtime_env::RuntimeEnvBuilder;
use plugrt::datafusion::datafusion::prelude::{SessionConfig, SessionContext};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: sql C_UDF.wasm")?;
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    tokio.block_on(async {
        // ANCHOR: register
        let runtime = plugrt::Runtime::builder().build()?;
        runtime.load_file(&path)?;
        let ctx = SessionContext::new();
        // Every function of every loaded plugin, under its declared name.
        let names = runtime.register_udfs(&ctx, Naming::Declared);
        // ANCHOR_END: register
        println!("registered: {}", names.join(", "));
        // ANCHOR: query
        let sql = "SELECT upper(word) AS shout, str_len(word) AS len, add_one(n) AS next \
                   FROM (VALUES ('hello', 1), ('wörld', NULL), (NULL, 41)) AS t(word, n) \
                   WHERE add_one(n) IS NULL OR add_one(n) > 1";
        // `plugrt::datafusion::collect` runs it like `DataFrame::collect`, with a cancel token:
        // dropping the future interrupts the plugin calls still running.
        let batches = plugrt::datafusion::collect(ctx.sql(sql).await?).await?;
        // ANCHOR_END: query
        println!("{}", pretty_format_batches(&batches)?);
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 3, "every row passes the filter");
        // ANCHOR: error
        // A UDF that fails fails its query, naming the plugin and function; the session stays
        // usable.
        let error = ctx.sql("SELECT add_one(9223372036854775807)").await?.collect().await.unwrap_err();
        println!("as expected: {error}");
        // ANCHOR_END: error
        assert!(error.to_string().contains("plugin `c_udf`, function `add_one`"));
        // ANCHOR: memory
        // Calls take their memory (IPC buffers, the guest's linear memory) from the session's
        // memory pool: under a limit too small for one call, the query fails as DataFusion's
        // own operators do.
        let small = RuntimeEnvBuilder::new().with_memory_limit(64 << 10, 1.0).build_arc()?;
        let tight = SessionContext::new_with_config_rt(SessionConfig::new(), small);
        runtime.register_udfs(&tight, Naming::Declared);
        let error = tight.sql("SELECT add_one(1)").await?.collect().await.unwrap_err();
        println!("as expected: {error}");
        // ANCHOR_END: memory
        assert!(matches!(error.find_root(), DataFusionError::ResourcesExhausted(_)), "{error}");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
