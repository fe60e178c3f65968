//! `plugrt dev [DIR] [--sql SQL [--table NAME=FILE]... | --call FUNCTION [--rows N]]`: build,
//! load, run; then rebuild, hot-reload and rerun on every save, until Ctrl-C.
//!
//! Each round prints lines that start with `[N]` (the round); the last line of a round is
//! `[N] watching for changes` (after a result) or `[N] waiting for the next save` (after a
//! build or load error). Changes are debounced (200 ms: an editor's save is often several
//! writes); the build folder, hidden files and editors' swap and backup files are ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use clap::Args;
use notify::{EventKind, RecursiveMode, Watcher};
use plugrt_guest_build::{Flavour, Toolchain};

use crate::project::{FlavourArg, Project};
use crate::{Ceilings, input, show, sql};

/// How long changes must settle before a rebuild.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Build, load and run a guest project, then rebuild, reload and rerun on every save.
#[derive(Args)]
pub struct DevArgs {
    /// The project folder (with plugrt.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The flavour to build and run (default: component).
    #[arg(long, value_enum)]
    flavour: Option<FlavourArg>,
    /// Run this SQL after each build (the plugin's functions under their declared names).
    #[arg(long, conflicts_with = "call")]
    sql: Option<String>,
    /// A table for --sql: NAME=FILE, FILE ending in .csv (with a header) or .parquet.
    #[arg(long = "table", value_name = "NAME=FILE", requires = "sql")]
    tables: Vec<String>,
    /// Call this function on sample rows after each build (default: every scalar function).
    #[arg(long, value_name = "FUNCTION")]
    call: Option<String>,
    /// Sample rows per call.
    #[arg(long, value_name = "N", default_value_t = 5, conflicts_with = "sql")]
    rows: usize,
}

/// The loop's state between rounds.
struct Dev {
    project: Project,
    flavour: Flavour,
    tools: Toolchain,
    runtime: plugrt::Runtime,
    args: DevArgs,
    /// The plugin loaded last, and its functions' signatures by name.
    loaded: Option<(plugrt::Plugin, BTreeMap<String, String>)>,
}

pub fn run(ceilings: Ceilings, args: DevArgs) -> Result<(), String> {
    let project = Project::open(&args.dir)?;
    let flavour = match args.flavour {
        Some(f) => project.flavours(Some(f))?[0],
        None => Flavour::Component,
    };
    let tools = Toolchain::from_env();
    project.install(&tools)?;
    stop_on_ctrl_c()?;
    let (events, changes) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(events).map_err(|e| format!("cannot watch files: {e}"))?;
    watcher
        .watch(&project.dir, RecursiveMode::Recursive)
        .map_err(|e| format!("cannot watch {}: {e}", project.dir.display()))?;
    println!(
        "plugrt dev: {} ({}, {flavour}) in {}; Ctrl-C stops",
        project.name,
        project.language.label(),
        project.dir.display()
    );
    let runtime = ceilings.runtime()?;
    let mut dev = Dev { project, flavour, tools, runtime, args, loaded: None };
    let mut round = 1;
    dev.round(round);
    while let Some(changed) = next_change(&changes, &dev.project) {
        round += 1;
        let names: Vec<String> =
            changed.iter().map(|p| p.strip_prefix(&dev.project.dir).unwrap_or(p).display().to_string()).collect();
        println!("\n[{round}] changed: {}", names.join(", "));
        dev.round(round);
    }
    Err("the file watcher stopped".into())
}

/// Waits for a change to a watched file, then for [`DEBOUNCE`] without one; returns the
/// changed files, sorted, or `None` when the watcher is gone. Reads (access events), changes
/// in the build folder and to ignored files do not count, so a build never triggers the next.
fn next_change(changes: &mpsc::Receiver<notify::Result<notify::Event>>, project: &Project) -> Option<Vec<PathBuf>> {
    let mut changed = Vec::new();
    let relevant = |event: notify::Result<notify::Event>, changed: &mut Vec<PathBuf>| match event {
        Ok(event) if !matches!(event.kind, EventKind::Access(_)) => {
            changed.extend(event.paths.into_iter().filter(|p| project.watches(p)));
        }
        Ok(_) => {}
        Err(e) => eprintln!("plugrt dev: watching: {e}"),
    };
    while changed.is_empty() {
        relevant(changes.recv().ok()?, &mut changed);
    }
    loop {
        match changes.recv_timeout(DEBOUNCE) {
            Ok(event) => relevant(event, &mut changed),
            Err(mpsc::RecvTimeoutError::Timeout) => break,
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
    changed.sort();
    changed.dedup();
    Some(changed)
}

/// Ctrl-C ends the loop with status 0 (a child compiler gets the same signal and stops too).
fn stop_on_ctrl_c() -> Result<(), String> {
    let signals = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    // Registered before the loop starts, so an early Ctrl-C is not the default (status 130).
    let ctrl_c = signals.block_on(async { tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) });
    let mut ctrl_c = ctrl_c.map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    std::thread::spawn(move || {
        signals.block_on(ctrl_c.recv());
        println!("\nplugrt dev: stopped");
        std::process::exit(0);
    });
    Ok(())
}

impl Dev {
    /// Build, (re)load, report what changed, run.
    fn round(&mut self, round: usize) {
        let started = Instant::now();
        // plugrt.toml may have changed too (a new name or version).
        match Project::open(&self.project.dir) {
            Ok(project) => self.project = project,
            Err(e) => {
                println!("[{round}] {e}\n[{round}] waiting for the next save");
                return;
            }
        }
        let (path, built) = match self.project.build(&self.tools, self.flavour) {
            Ok(built) => built,
            Err(e) => {
                println!("[{round}] build failed:\n{e}\n[{round}] waiting for the next save");
                return;
            }
        };
        let loading = Instant::now();
        let plugin = match self.load(&path) {
            Ok(plugin) => plugin,
            Err(e) => {
                println!(
                    "[{round}] built in {}; load failed: {e}\n[{round}] waiting for the next save",
                    show::duration(built)
                );
                return;
            }
        };
        let verb = if self.loaded.is_some() { "reloaded" } else { "loaded" };
        println!("[{round}] built in {}, {verb} in {}", show::duration(built), show::duration(loading.elapsed()));
        let now = signatures(&plugin.description());
        let before = self.loaded.take().map(|(_, before)| before);
        println!("[{round}] functions: {}", changes(before.as_ref(), &now));
        self.loaded = Some((plugin.clone(), now));
        self.exercise(&plugin, round);
        println!("[{round}] round took {}; watching for changes", show::duration(started.elapsed()));
    }

    /// Loads the first build; swaps in later ones (a renamed plugin is unloaded and loaded).
    fn load(&self, path: &std::path::Path) -> Result<plugrt::Plugin, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some((plugin, _)) = &self.loaded {
            if plugin.name() == self.project.name {
                return plugin.reload(&bytes).map(|()| plugin.clone()).map_err(|e| e.to_string());
            }
            self.runtime.unload(&plugin.name(), Duration::ZERO);
        }
        self.runtime.load(&bytes).map_err(|e| e.to_string())
    }

    /// Runs the query, the call, or every scalar function on sample rows.
    fn exercise(&self, plugin: &plugrt::Plugin, round: usize) {
        if let Some(query) = &self.args.sql {
            let started = Instant::now();
            match sql::query(&self.runtime, &self.args.tables, query) {
                Ok(batch) => {
                    println!("{}", show::table(&batch));
                    println!(
                        "[{round}] query: {} in {}",
                        show::rows(batch.num_rows()),
                        show::duration(started.elapsed())
                    );
                }
                Err(e) => println!("[{round}] query failed: {e}"),
            }
            return;
        }
        let description = plugin.description();
        let functions: Vec<&plugrt::Signature> = match &self.args.call {
            Some(name) => match description.function(name) {
                Some(f) => vec![f],
                None => {
                    let known: Vec<&str> = description.functions.iter().map(|f| f.name.as_str()).collect();
                    println!("[{round}] no function `{name}`; the plugin has: {}", known.join(", "));
                    return;
                }
            },
            None => description.functions.iter().collect(),
        };
        for signature in functions {
            let started = Instant::now();
            match call(plugin, signature, self.args.rows) {
                Ok(table) => {
                    println!("{table}");
                    println!(
                        "[{round}] {}: {} in {}",
                        signature.name,
                        show::rows(self.args.rows),
                        show::duration(started.elapsed())
                    );
                }
                Err(e) => println!("[{round}] {} failed: {e}", signature.name),
            }
        }
        if !description.aggregates.is_empty() && self.args.call.is_none() {
            println!("[{round}] (aggregates run in SQL: --sql \"SELECT ...\")");
        }
    }
}

/// One call on sample rows: the input columns and the result, as one table.
fn call(plugin: &plugrt::Plugin, signature: &plugrt::Signature, rows: usize) -> Result<String, String> {
    let input = input::samples(&signature.args, rows)?;
    let result = plugin.call(&signature.name, &input).map_err(|e| e.to_string())?;
    let mut columns: Vec<(String, arrow_array::ArrayRef)> =
        input.schema().fields().iter().map(|f| f.name().clone()).zip(input.columns().iter().cloned()).collect();
    columns.push((format!("{}(..)", signature.name), result));
    let table = RecordBatch::try_from_iter(columns).map_err(|e| e.to_string())?;
    Ok(show::table(&table))
}

/// Each function's signature line, by name.
fn signatures(description: &plugrt::Description) -> BTreeMap<String, String> {
    let scalars = description.functions.iter().map(|f| (f.name.clone(), show::signature(f)));
    let aggregates =
        description.aggregates.iter().map(|a| (a.name.clone(), format!("aggregate {}", show::aggregate(a))));
    scalars.chain(aggregates).collect()
}

/// What changed between two sets of signatures: `added ...; removed ...; changed A => B`,
/// `unchanged`, or the whole list the first time.
fn changes(before: Option<&BTreeMap<String, String>>, now: &BTreeMap<String, String>) -> String {
    let Some(before) = before else {
        return now.values().cloned().collect::<Vec<_>>().join(", ");
    };
    let mut parts = Vec::new();
    let added: Vec<&str> = now.iter().filter(|(n, _)| !before.contains_key(*n)).map(|(_, s)| s.as_str()).collect();
    let removed: Vec<&str> = before.iter().filter(|(n, _)| !now.contains_key(*n)).map(|(_, s)| s.as_str()).collect();
    let changed: Vec<String> = now
        .iter()
        .filter_map(|(n, s)| before.get(n).filter(|old| *old != s).map(|old| format!("{old} => {s}")))
        .collect();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed {}", removed.join(", ")));
    }
    if !changed.is_empty() {
        parts.push(format!("changed signature {}", changed.join(", ")));
    }
    if parts.is_empty() { "unchanged".to_owned() } else { parts.join("; ") }
}

#[cfg(test)]
mod tests {
    use super::changes;
    use std::collections::BTreeMap;

    fn set(items: &[(&str, &str)]) -> BTreeMap<String, String> {
        items.iter().map(|(n, s)| ((*n).to_owned(), (*s).to_owned())).collect()
    }

    #[test]
    fn changes_name_what_was_added_removed_and_changed() {
        let before = set(&[("a", "a(Int64) -> Int64"), ("b", "b(Utf8) -> Utf8")]);
        let now = set(&[("a", "a(Int64, Int64) -> Int64"), ("c", "c(Float64) -> Float64")]);
        assert_eq!(
            changes(Some(&before), &now),
            "added c(Float64) -> Float64; removed b(Utf8) -> Utf8; changed signature a(Int64) -> Int64 => a(Int64, Int64) -> Int64"
        );
        assert_eq!(changes(Some(&now), &now), "unchanged");
        assert_eq!(changes(None, &before), "a(Int64) -> Int64, b(Utf8) -> Utf8");
    }
}
