//! Where a batch call's time goes, phase by phase, for each flavour: the C guest's `add_one`
//! (Int64, every 10th row null) on 8,192 rows (DataFusion's batch) and on 1,000,000 rows,
//! through a default `plugrt` runtime, beside arrow's native `unary` kernel in the same run.
//!
//! Each call's [`plugrt::CallReport`] says how long it waited for an instance (and created
//! one), encoded its input, spent in the guest call (copying the input in, the guest's work,
//! copying the output out), released its instance on the caller's thread and decoded the
//! output. The table gives the median of each phase over the calls, so the phases need not
//! add up to the median call exactly.
//!
//! Not a criterion bench: it prints one table (`cargo xtask bench` runs it with the others;
//! `cargo bench -p plugrt --all-features --bench breakdown` alone). It ignores criterion's
//! flags, and skips itself when given a filter that does not match `plugrt_breakdown`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use arrow_array::types::Int64Type;
use arrow_array::{Int64Array, RecordBatch};
use common::{c_udf, input};
use plugrt::{CallOptions, CallReport, Plugin};

mod common;

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 100.0 { format!("{us:.0}") } else { format!("{us:.1}") }
}

/// The median of each phase over `calls` calls (after a warm-up), as table cells.
fn phases(plugin: &Plugin, batch: &RecordBatch, calls: usize) -> (Duration, Vec<String>) {
    let options = CallOptions::default();
    for _ in 0..calls.min(20) {
        plugin.call("add_one", batch).expect("warm-up call");
    }
    // Let pre-warm (where the plugin uses it) refill before measuring.
    std::thread::sleep(Duration::from_millis(50));
    let reports: Vec<CallReport> = (0..calls)
        .map(|_| {
            let (result, report) = plugin.call_reported("add_one", batch, &options);
            black_box(result.expect("add_one"));
            report
        })
        .collect();
    let of = |f: fn(&CallReport) -> Duration| median(reports.iter().map(f).collect());
    let total = of(|r| r.elapsed);
    let cells = vec![
        micros(total),
        micros(of(|r| r.waited.saturating_sub(r.created.unwrap_or_default()))),
        micros(of(|r| r.created.unwrap_or_default())),
        micros(of(|r| r.phases.encode)),
        micros(of(|r| r.phases.guest)),
        micros(of(|r| r.phases.release)),
        micros(of(|r| r.phases.decode)),
    ];
    (total, cells)
}

fn native(values: &Int64Array, calls: usize) -> Duration {
    median(
        (0..calls)
            .map(|_| {
                let started = Instant::now();
                black_box(values.unary::<_, Int64Type>(|v| v.wrapping_add(1)));
                started.elapsed()
            })
            .collect(),
    )
}

fn skipped() -> bool {
    // Criterion's flags and their values are not filters; a word that is must match us.
    let filters: Vec<String> =
        std::env::args().skip(1).filter(|a| !a.starts_with('-') && a.parse::<f64>().is_err()).collect();
    !filters.is_empty() && !filters.iter().any(|f| "plugrt_breakdown".contains(f.as_str()))
}

fn main() {
    if skipped() {
        return;
    }
    let plugins = [("component", c_udf("component")), ("extism", c_udf("extism"))];
    println!("plugrt_breakdown: add_one(Int64) through a default runtime, medians in µs\n");
    println!("| rows | flavour | call | wait | create | encode | guest call | release | decode | native | ratio |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (rows, calls) in [(8_192usize, 2_000usize), (1_000_000, 60)] {
        let (values, batch) = input(rows);
        for (flavour, (_runtime, plugin)) in &plugins {
            let (total, cells) = phases(plugin, &batch, calls);
            let native = native(&values, calls);
            let ratio = total.as_secs_f64() / native.as_secs_f64();
            println!("| {rows} | {flavour} | {} | {} | {ratio:.1}× |", cells.join(" | "), micros(native));
        }
    }
}
