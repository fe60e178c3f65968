//! `plugrt bench PLUGIN FUNCTION [--rows N] [--threads T] [--seconds S]`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use plugrt::Outcome;

use crate::{Ceilings, input, load, show, signature};

/// Call one function from several threads for a while.
#[derive(Args)]
pub struct BenchArgs {
    /// The plugin file (.wasm).
    plugin: PathBuf,
    /// The function to call.
    function: String,
    /// Sample rows per call.
    #[arg(long, value_name = "N", default_value_t = 1)]
    rows: usize,
    /// Threads calling at once.
    #[arg(long, value_name = "T", default_value_t = 1)]
    threads: usize,
    /// How long to call, in seconds (fractions allowed).
    #[arg(long, value_name = "S", default_value_t = 3.0)]
    seconds: f64,
}

/// What one thread measured.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    /// Failed calls by outcome, in the order of `Outcome::ALL`.
    failures: [u64; Outcome::ALL.len()],
    first_failure: Option<String>,
    created: u64,
}

pub fn run(ceilings: Ceilings, args: BenchArgs) -> Result<(), String> {
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        return Err(format!("--seconds must be a positive number, not {}", args.seconds));
    }
    let runtime = ceilings.runtime()?;
    let (plugin, loaded) = load(&runtime, &args.plugin)?;
    let signature = signature(&plugin, &args.function)?;
    let batch = input::samples(&signature.args, args.rows)?;
    let threads = args.threads.max(1);
    let length = Duration::from_secs_f64(args.seconds);
    println!(
        "bench {}.{} ({}, loaded in {}): {} rows per call, {threads} threads, {}",
        plugin.name(),
        args.function,
        plugin.flavour(),
        show::duration(loaded),
        args.rows,
        show::duration(length)
    );

    let calls = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut tally = Tally::default();
                    while !done.load(Ordering::Relaxed) {
                        let t0 = Instant::now();
                        let (result, report) =
                            plugin.call_reported(&args.function, &batch, &plugrt::CallOptions::default());
                        tally.latencies.push(t0.elapsed());
                        tally.created += u64::from(report.created.is_some());
                        if let Err(e) = result {
                            tally.failures[report.outcome.index()] += 1;
                            tally.first_failure.get_or_insert_with(|| e.to_string());
                        }
                        calls.fetch_add(1, Ordering::Relaxed);
                    }
                    tally
                })
            })
            .collect();
        progress(length, &calls);
        done.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().expect("a bench thread panicked")).collect()
    });
    let elapsed = started.elapsed();

    let mut latencies: Vec<Duration> = tallies.iter().flat_map(|t| t.latencies.iter().copied()).collect();
    latencies.sort_unstable();
    let total = latencies.len();
    let percentile = |p: f64| latencies.get(((total as f64 * p).ceil() as usize).clamp(1, total.max(1)) - 1).copied();
    let per_second = total as f64 / elapsed.as_secs_f64();
    println!(
        "calls      {total} in {} = {per_second:.0} calls/s, {:.0} rows/s",
        show::duration(elapsed),
        per_second * args.rows as f64
    );
    if let (Some(p50), Some(p99), Some(max)) = (percentile(0.50), percentile(0.99), latencies.last()) {
        println!("latency    p50 {}, p99 {}, max {}", show::duration(p50), show::duration(p99), show::duration(*max));
    }
    let created: u64 = tallies.iter().map(|t| t.created).sum();
    println!("instances  {created} of {total} calls created their own instance; the others found one ready");
    let failures: Vec<(Outcome, u64)> = Outcome::ALL
        .iter()
        .map(|&o| (o, tallies.iter().map(|t| t.failures[o.index()]).sum()))
        .filter(|&(_, n)| n > 0)
        .collect();
    if let Some(first) = tallies.iter().find_map(|t| t.first_failure.as_ref()) {
        let failed: u64 = failures.iter().map(|(_, n)| n).sum();
        let counts: Vec<String> = failures.iter().map(|(o, n)| format!("{n} {o}")).collect();
        return Err(format!("{failed} of {total} calls failed ({}); the first: {first}", counts.join(", ")));
    }
    Ok(())
}

/// Waits `length`, showing progress: a bar on a terminal, a plain line per second otherwise.
fn progress(length: Duration, calls: &AtomicU64) {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = ProgressBar::new(length.as_millis() as u64);
        let style =
            ProgressStyle::with_template("{bar:40} {elapsed} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    let tick = if terminal { Duration::from_millis(100) } else { Duration::from_secs(1) };
    loop {
        let elapsed = started.elapsed();
        if elapsed >= length {
            break;
        }
        std::thread::sleep(tick.min(length - elapsed));
        let n = calls.load(Ordering::Relaxed);
        let rate = n as f64 / started.elapsed().as_secs_f64();
        match &bar {
            Some(bar) => {
                bar.set_position(started.elapsed().as_millis() as u64);
                bar.set_message(format!("{n} calls, {rate:.0}/s"));
            }
            None if started.elapsed() < length => {
                eprintln!("{:.0}s: {n} calls, {rate:.0}/s", started.elapsed().as_secs_f64())
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
