//! What an operator wires up: `tracing` output with a span per call, and the Prometheus text a
//! `/metrics` endpoint serves. The book's "Operating plugrt" chapter includes it, and
//! `cargo xtask test` runs it (feature `metrics`):
//! `cargo run -p plugrt --features metrics --example operating -- fixtures/out/component/c_udf.wasm`

use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: operating C_UDF.wasm")?;

    // ANCHOR: tracing
    // Spans and guest log lines go to whatever subscriber the host installs. Here: plugrt's
    // spans at INFO, printed when they close (with their fields and time), guest lines too.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("plugrt=info"))
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_target(true)
        .init();
    // ANCHOR_END: tracing

    let runtime = plugrt::Runtime::builder().build()?;
    let plugin = runtime.load_file(&path)?;
    let ok = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2, 3])) as _)])?;
    let overflow = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![i64::MAX])) as _)])?;
    plugin.call("add_one", &ok)?;
    let refused = plugin.call("add_one", &overflow).expect_err("add_one refuses to overflow");
    println!("the second call failed as expected: {refused}");

    // ANCHOR: metrics
    // What a `/metrics` handler answers (content type
    // `application/openmetrics-text; version=1.0.0; charset=utf-8`). A host with its own
    // `prometheus_client` registry registers `runtime.metrics_collector()` in it instead.
    let mut body = String::new();
    runtime.encode_metrics(&mut body)?;
    // ANCHOR_END: metrics
    for line in body.lines().filter(|l| l.starts_with("plugrt_calls_total{") && l.contains("add_one")) {
        println!("{line}");
    }
    let counted = |outcome: &str| {
        body.lines().any(|l| l.contains(r#"function="add_one""#) && l.contains(&format!(r#"outcome="{outcome}"}} 1"#)))
    };
    assert!(counted("ok") && counted("guest_error"), "one ok call and one guest error are counted:\n{body}");
    Ok(())
}
