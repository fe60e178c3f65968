//! Resident memory stays bounded: 3,000 calls that each dirty 8 MiB of fresh guest memory (the
//! `touch` fixture), from 2 threads, in one default runtime. Memory kept resident between
//! instances (so the next one touches it without page faults) must stay within the runtime's
//! resident budget, and the process's RSS within that plus what wasmtime's decommit queues
//! hold (released memories wait there, still mapped, until a batch of 32 is unmapped at once:
//! one queue per CPU) plus a constant.
//!
//! `cargo run --release -p plugrt --example resident -- fixtures/out/component/touch.wasm`
//! (`cargo xtask test` runs it). Prints what it measured; exits non-zero past the bound.

use std::time::Instant;

/// What the process may hold beyond the budget: the instances alive at once (two calls of
/// 8 MiB each, plus the module's own pages), slots they left warm beyond the budget, and the
/// allocator's and runtime's own memory.
const SLACK: usize = 48 << 20;

/// Resident set size of this process, from `/proc/self/statm` (Linux).
fn rss() -> Result<usize, Box<dyn std::error::Error>> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: usize = statm.split_whitespace().nth(1).ok_or("statm has no resident field")?.parse()?;
    Ok(pages * 4096)
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// Calls `touch` `calls` times from 2 threads; returns the peak of idle resident memory seen.
fn run(runtime: &plugrt::Runtime, plugin: &plugrt::Plugin, calls: usize) -> Result<usize, String> {
    let batch = plugrt_arrow_ipc::input_batch(&[], 1).map_err(|e| e.to_string())?; // no arguments
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| -> Result<usize, String> {
                    let mut peak = 0;
                    for _ in 0..calls / 2 {
                        plugin.call("touch", &batch).map_err(|e| e.to_string())?;
                        peak = peak.max(runtime.resident_bytes());
                    }
                    Ok(peak)
                })
            })
            .collect();
        let mut peak = 0;
        for worker in workers {
            peak = peak.max(worker.join().map_err(|_| "a worker panicked")??);
        }
        Ok(peak)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: resident PATH/TO/touch.wasm")?;
    let runtime = plugrt::Runtime::builder().build()?;
    let plugin = runtime.load_file(&path)?;
    let before = rss()?;
    let started = Instant::now();
    // A first 1,000 calls fill much of what the engine keeps (warm slots, decommit queues),
    // 2,000 more show where it levels off.
    let mut peak = run(&runtime, &plugin, 1_000)?;
    let filled = rss()?;
    peak = peak.max(run(&runtime, &plugin, 2_000)?);
    let after = rss()?;
    let budget = runtime.resident_budget();
    // Released memories wait, still mapped, for their decommit batch: wasmtime keeps one
    // queue per CPU (at most 16), each flushed at 32 regions; every region here is at most
    // what a call dirtied (8 MiB).
    let queues = std::thread::available_parallelism().map_or(1, |n| n.get()).min(16);
    let pending = queues * 32 * (8 << 20);
    println!(
        "3000 calls dirtying 8 MiB each in {:.2?}: RSS {} before, {} after 1000 calls, {} after 3000 \
         (bound: + budget {} + decommit queues {} + {}); idle resident memory peaked at {}",
        started.elapsed(),
        mib(before),
        mib(filled),
        mib(after),
        mib(budget),
        mib(pending),
        mib(SLACK),
        mib(peak),
    );
    // Two calls at once may leave two warm slots even when the budget has room for one.
    if peak > budget + SLACK {
        return Err(format!("idle resident memory reached {}, over the budget of {}", mib(peak), mib(budget)).into());
    }
    if after > before + budget + pending + SLACK {
        return Err(format!(
            "RSS grew by {}, more than the budget ({}) plus the decommit queues ({}) plus {}",
            mib(after - before),
            mib(budget),
            mib(pending),
            mib(SLACK)
        )
        .into());
    }
    Ok(())
}
