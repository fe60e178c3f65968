//! Printing: tables, durations, signatures.

use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_cast::pretty::pretty_format_batches;

/// Rows a table shows before it says how many more there are.
pub const SHOWN_ROWS: usize = 20;

/// `batch` as a text table, cut to [`SHOWN_ROWS`] rows.
pub fn table(batch: &RecordBatch) -> String {
    let shown = batch.slice(0, batch.num_rows().min(SHOWN_ROWS));
    let mut text = match pretty_format_batches(std::slice::from_ref(&shown)) {
        Ok(t) => t.to_string(),
        Err(e) => format!("(cannot print this table: {e})"),
    };
    if batch.num_rows() > SHOWN_ROWS {
        text.push_str(&format!("\n... {} more rows", batch.num_rows() - SHOWN_ROWS));
    }
    text
}

/// `1 row`, `5 rows`.
pub fn rows(n: usize) -> String {
    if n == 1 { "1 row".to_owned() } else { format!("{n} rows") }
}

/// A duration with a unit that suits it (`812ns`, `9.8µs`, `35.2ms`, `1.20s`).
pub fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}µs", ns as f64 / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1}ms", ns as f64 / 1e6)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// `name(Int64, Utf8) -> Utf8`.
pub fn signature(signature: &plugrt::Signature) -> String {
    let args: Vec<String> = signature.args.iter().map(|a| a.to_string()).collect();
    format!("{}({}) -> {}", signature.name, args.join(", "), signature.returns)
}

/// `name(Int64) -> Int64 state [sum Int64]`: an aggregate's signature and its state.
pub fn aggregate(signature: &plugrt::AggregateSignature) -> String {
    let args: Vec<String> = signature.args.iter().map(|a| a.to_string()).collect();
    let state: Vec<String> = signature.state.iter().map(|f| format!("{} {}", f.name(), f.data_type())).collect();
    format!("{}({}) -> {} state [{}]", signature.name, args.join(", "), signature.returns, state.join(", "))
}

/// A byte count in MiB or KiB.
pub fn bytes(n: u64) -> String {
    if n >= 1 << 30 {
        format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64)
    } else if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{} KiB", n >> 10)
    }
}

/// Every function of `description`, one line each: scalar signatures, then aggregates'
/// (prefixed `aggregate`), in declaration order.
pub fn functions(description: &plugrt::Description) -> Vec<String> {
    let scalars = description.functions.iter().map(signature);
    scalars.chain(description.aggregates.iter().map(|a| format!("aggregate {}", aggregate(a)))).collect()
}
