//! `cargo xtask <command>`: the project's task runner.
//!
//! Lean on purpose (xshell and std only): it must build in seconds on a fresh machine and never
//! compile a wasm engine. Commands:
//!
//! - `fixtures`: installs guest toolchains into `.tools/` and builds every guest fixture into
//!   `fixtures/out/` (see `fixtures.rs`).
//! - `test`: everything CI checks, in order: the fixtures (and native checks of the realistic
//!   guests' logic), rustfmt, clippy (warnings are errors; for the `plugrt` façade also with no
//!   loader and with each loader alone), the workspace's tests (all features), the façade's
//!   tests with its default features, the commands of the book's first-UDF chapters (C and
//!   JavaScript: new, build, test, call, sql), the examples the book includes (getting started on both
//!   flavours' fixtures, the loaders, the pool, operating), the resident-memory bound
//!   (`examples/resident.rs`), the docs site (`docs`, below), each fuzz target for a few
//!   seconds (`fuzz`, below), then
//!   the pool's loom models (a separate `--cfg plugrt_loom` build in
//!   `target/loom`, so it never invalidates the normal build).
//! - `demo`: the README's main job: builds the fixtures and the `plugrt` binary (release),
//!   generates a Parquet table of 1M rows into `target/demo/`, and runs SQL in DataFusion
//!   calling the C guest (component, then Extism) and the JS guest, then the C guest's query
//!   on Ballista standalone, each with its result, rows per second and per-function metrics.
//! - `run [--extism] FIXTURE FUNCTION [ARGS]`: builds the fixtures, then runs
//!   `plugrt call FIXTURE.wasm FUNCTION [ARGS]` (crates/cli, release build) on the component
//!   fixture (with `--extism`, the Extism one): input and output tables and timings. ARGS are
//!   `plugrt call`'s (`--rows N`, literals, `--input FILE`).
//! - `docs`: renders the book and the API docs into one site under `target/site/` and checks
//!   its includes and links (see `docs.rs`; installs mdbook into `.tools/` on first use).
//! - `fuzz [SECONDS] [TARGET]`: fuzzes each target in `fuzz/` (or one) for SECONDS (default
//!   60): the IPC decoder, the describe document and declared types, plans' UDF payloads.
//!   Installs cargo-fuzz from crates.io if missing, writes the seed corpora, runs libFuzzer.
//!   `test` runs each for a few seconds.
//! - `bench [ARGS]`: the criterion benches (`cargo bench --workspace --benches`, ARGS passed
//!   to criterion), then a summary of each bench's median and of the ratios in `bench_report`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

use xshell::{Shell, cmd};

mod bench_report;
mod docs;
#[cfg(test)]
mod fixture_checks;
mod fixtures;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: cargo xtask <demo | test | fixtures | docs | run [--extism] FIXTURE FUNCTION [ARGS] | bench [criterion args] | fuzz [seconds] [target]>";

/// When the task started.
static STARTED: OnceLock<Instant> = OnceLock::new();

fn main() {
    STARTED.get_or_init(Instant::now);
    if let Err(e) = run() {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    match args.first().map(String::as_str) {
        Some("test") => test(&sh),
        Some("fixtures") => fixtures::run(&sh),
        Some("docs") => docs::run(&sh),
        Some("demo") => demo(&sh),
        Some("run") => run_fixture(&sh, &args[1..]),
        Some("bench") => bench(&sh, &args[1..]),
        Some("fuzz") => fuzz(&sh, &args[1..]),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives one level below the root").to_path_buf()
}

/// Prints a step's heading with the time since the task started (CI's logs show where the
/// minutes go).
fn step(name: &str) {
    let elapsed = STARTED.get_or_init(Instant::now).elapsed().as_secs();
    println!("\n==> {name} (at {}m{:02}s)", elapsed / 60, elapsed % 60);
}

fn test(sh: &Shell) -> Result {
    fixtures::run(sh)?;
    step("native checks of the realistic guests");
    fixtures::check_native(sh)?;
    step("rustfmt");
    cmd!(sh, "cargo fmt --all --check").run()?;
    step("clippy");
    cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run()?;
    // The façade's other feature combinations (the workspace build above has them all on,
    // through plugrt-cli): each must build warning-free on its own.
    for features in PLUGRT_FEATURE_SETS {
        step(&format!("clippy: plugrt with features [{features}]"));
        cmd!(
            sh,
            "cargo clippy -p plugrt --all-targets --locked --no-default-features --features={features} -- -D warnings"
        )
        .run()?;
    }
    step("tests");
    cmd!(sh, "cargo test --workspace --locked").run()?;
    step("tests: plugrt with its default features only");
    cmd!(sh, "cargo test -p plugrt --locked --test all").run()?;
    for language in ["c", "js"] {
        step(&format!("the book's first-UDF chapter ({language}), its commands as a reader runs them"));
        first_udf_chapter(sh, language)?;
    }
    // The programs the book includes, run as the book says.
    let out = fixtures::out_dir();
    for flavour in ["component", "extism"] {
        step(&format!("example: getting_started on the {flavour} fixtures"));
        let dir = out.join(flavour);
        cmd!(sh, "cargo run --quiet --locked -p plugrt --features extism --example getting_started -- {dir}").run()?;
    }
    step("example: resident memory stays within its bound");
    let touch = out.join("component/touch.wasm");
    cmd!(sh, "cargo run --quiet --locked -p plugrt --features extism --example resident -- {touch}").run()?;
    step("examples: the loaders, the pool, operating, sql");
    let (component, extism) = (out.join("component/c_udf.wasm"), out.join("extism/c_udf.wasm"));
    cmd!(sh, "cargo run --quiet --locked -p plugrt-wasmtime --example call_component -- {component}").run()?;
    cmd!(sh, "cargo run --quiet --locked -p plugrt-extism --example call_extism -- {extism}").run()?;
    cmd!(sh, "cargo run --quiet --locked -p plugrt-pool --example lease").run()?;
    cmd!(sh, "cargo run --quiet --locked -p plugrt --features extism,metrics --example operating -- {component}")
        .run()?;
    // With the workspace build's features (plugrt-cli's): `--features datafusion` alone would
    // build DataFusion a second time, without the default features Ballista turns on.
    let features = "extism,metrics,datafusion,ballista";
    cmd!(sh, "cargo run --quiet --locked -p plugrt --features {features} --example sql -- {component}").run()?;
    docs::run(sh)?;
    fuzz_targets(sh, &FUZZ_TARGETS, TEST_FUZZ_SECONDS)?;
    step("loom models (plugrt-pool)");
    {
        let _flags = sh.push_env("RUSTFLAGS", "--cfg plugrt_loom");
        let _dir = sh.push_env("CARGO_TARGET_DIR", "target/loom");
        cmd!(sh, "cargo test --locked --release -p plugrt-pool --test all").run()?;
    }
    Ok(())
}

/// Runs `docs/src/first-udf/LANGUAGE.sh` (the commands the chapter includes) in an empty
/// folder with the debug `plugrt` binary (which the tests built) first on `PATH`, and the
/// project's `.tools/` as the tool cache; fails unless every command succeeds and the call
/// answers 42.
fn first_udf_chapter(sh: &Shell, language: &str) -> Result {
    let root = project_root();
    let dir = root.join("target/first-udf").join(language);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let script = root.join(format!("docs/src/first-udf/{language}.sh"));
    let path = std::env::join_paths(
        std::iter::once(root.join("target/debug"))
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    let _path = sh.push_env("PATH", path);
    let _tools = sh.push_env("PLUGRT_TOOLS", root.join(".tools"));
    let _dir = sh.push_dir(&dir);
    let output = cmd!(sh, "bash {script}").read().map_err(|e| format!("{}: {e}", script.display()))?;
    println!("{output}");
    if !output.contains("| 42     |") {
        return Err(format!("{}: the call did not answer 42", script.display()).into());
    }
    Ok(())
}

/// plugrt's feature sets checked one by one: none (loading any plugin is a clear error),
/// each loader alone (`wasmtime` is the default), and the metrics exporter and the DataFusion
/// UDFs without a loader.
const PLUGRT_FEATURE_SETS: [&str; 5] = ["", "extism", "wasmtime", "metrics", "datafusion"];

fn bench(sh: &Shell, args: &[String]) -> Result {
    fixtures::run(sh)?;
    let started = SystemTime::now();
    // As in production: no backtraces captured for library errors (with RUST_BACKTRACE=1 in
    // the environment, anyhow would capture one for errors extism builds on its call path).
    let _backtraces = sh.push_env("RUST_LIB_BACKTRACE", "0");
    cmd!(sh, "cargo bench --workspace --benches --locked -- {args...}").run()?;
    let report = bench_report::collect(&project_root().join("target/criterion"), started)?;
    println!("\n{report}");
    Ok(())
}

/// The fuzz targets in `fuzz/` (see its Cargo.toml): where hostile input enters the host.
const FUZZ_TARGETS: [&str; 3] = ["ipc_decode", "describe", "plan_payload"];

/// Seconds `cargo xtask test` fuzzes each target: enough to catch a regression that any input
/// near the seeds reaches, not a search (`cargo xtask fuzz` is).
const TEST_FUZZ_SECONDS: u32 = 10;

/// `cargo xtask fuzz [SECONDS] [TARGET]`: every target (or one) for SECONDS each.
fn fuzz(sh: &Shell, args: &[String]) -> Result {
    let seconds: u32 =
        args.first().map(|s| s.parse()).transpose().map_err(|_| "fuzz takes a number of seconds")?.unwrap_or(60);
    let targets: Vec<&str> = match args.get(1) {
        Some(target) if FUZZ_TARGETS.contains(&target.as_str()) => vec![target.as_str()],
        Some(other) => return Err(format!("unknown fuzz target `{other}`; the targets are {FUZZ_TARGETS:?}").into()),
        None => FUZZ_TARGETS.to_vec(),
    };
    fuzz_targets(sh, &targets, seconds)
}

/// Installs cargo-fuzz if missing, writes each target's seeds, and fuzzes each for `seconds`;
/// fails on the first crash (libFuzzer's artifact is left in `fuzz/artifacts/`).
fn fuzz_targets(sh: &Shell, targets: &[&str], seconds: u32) -> Result {
    if cmd!(sh, "cargo fuzz --version").quiet().ignore_stdout().ignore_stderr().run().is_err() {
        step("installing cargo-fuzz (crates.io)");
        cmd!(sh, "cargo install cargo-fuzz --locked").run()?;
    }
    let root = project_root();
    for target in targets {
        let corpus = root.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        step(&format!("fuzz seeds: {target}"));
        match *target {
            "ipc_decode" => {
                cmd!(sh, "cargo run --quiet --locked -p plugrt-arrow-ipc --example fuzz_seeds -- {corpus}").run()?
            }
            "describe" => {
                for entry in std::fs::read_dir(root.join("crates/contract/tests/documents"))? {
                    let path = entry?.path();
                    std::fs::copy(&path, corpus.join(path.file_name().expect("a file")))?;
                }
                for (i, text) in DESCRIBE_TYPE_SEEDS.iter().enumerate() {
                    std::fs::write(corpus.join(format!("type-{i}")), text)?;
                }
            }
            _ => {}
        }
        step(&format!("fuzzing {target} for {seconds} s"));
        let max_time = format!("-max_total_time={seconds}");
        cmd!(sh, "cargo fuzz run {target} {corpus} -- {max_time} -use_value_profile=1 -print_final_stats=1").run()?;
    }
    Ok(())
}

/// Type strings the `describe` target starts from (the documents in the contract's tests are
/// its other seeds).
const DESCRIBE_TYPE_SEEDS: [&str; 6] = [
    "Int64",
    "List(Int32)",
    "FixedSizeList(4 x Float32)",
    r#"Struct("a": Int64, "b": List(Utf8))"#,
    r#"Map("entries": Struct("key": non-null Utf8, "value": Int64), unsorted)"#,
    r#"Timestamp(Microsecond, Some("+02:00"))"#,
];

/// Rows of the demo's table (every guest gets all of them).
const DEMO_ROWS: u32 = 1_000_000;

fn demo(sh: &Shell) -> Result {
    fixtures::run(sh)?;
    step("building the plugrt binary (release)");
    cmd!(sh, "cargo build --release --locked -p plugrt-cli").run()?;
    let plugrt = project_root().join("target/release/plugrt");
    let dir = project_root().join("target/demo");
    std::fs::create_dir_all(&dir)?;
    let table = |rows: u32, file: &str| {
        let path = dir.join(file);
        let path = path.display();
        format!(
            "COPY (SELECT value AS id, \
               CASE WHEN value % 10 = 0 THEN NULL ELSE value % 1000 END AS n, \
               value / 7.0 AS f, \
               CASE WHEN value % 13 = 0 THEN NULL ELSE concat('item-', value % 100) END AS s \
             FROM generate_series(1, {rows})) TO '{path}' STORED AS PARQUET"
        )
    };
    step(&format!("generating target/demo/t.parquet ({DEMO_ROWS} rows: ints, floats, strings, with nulls)"));
    let generate = table(DEMO_ROWS, "t.parquet");
    cmd!(sh, "{plugrt} sql {generate}").quiet().ignore_stdout().run()?;

    let out = fixtures::out_dir();
    let t = format!("t={}", dir.join("t.parquet").display());
    // Scalar UDFs in the WHERE, the GROUP BY and the aggregates' arguments; WASM aggregates
    // (`sum_i64`, `avg_f64`, `min_max_spread`) beside DataFusion's own `sum` and `avg`.
    let c_query = "SELECT upper(s) AS word, count(*) AS rows, sum(add_one(n)) AS sum_n_plus_1, \
                   sum_i64(add_one(n)) AS wasm_sum, avg(scale(f, 2.0)) AS avg_2f, \
                   avg_f64(scale(f, 2.0)) AS wasm_avg_2f, min_max_spread(n) AS wasm_spread \
                   FROM t WHERE str_len(s) > 6 GROUP BY upper(s) ORDER BY rows DESC, word LIMIT 5";
    for (flavour, label) in [("component", "C guest, component on wasmtime"), ("extism", "C guest, Extism module")] {
        step(&format!("SQL over {DEMO_ROWS} rows with the {label}"));
        let plugin = out.join(flavour).join("c_udf.wasm");
        println!("{c_query}\n");
        cmd!(sh, "{plugrt} sql --plugin {plugin} --table {t} --metrics {c_query}").run()?;
    }
    step(&format!("SQL over {DEMO_ROWS} rows with the JS guest (component on wasmtime)"));
    // Prefixed names: the JS guest's aggregate is called `avg`, like DataFusion's.
    let js_query = "SELECT js_udf_upper(s) AS word, count(*) AS rows, sum(js_udf_add_one(n)) AS sum_n_plus_1, \
                    js_udf_avg(f) AS wasm_avg_f, avg(f) AS avg_f FROM t WHERE js_udf_add_one(n) > 500 \
                    GROUP BY js_udf_upper(s) ORDER BY rows DESC, word LIMIT 5";
    println!("{js_query}\n");
    let js = out.join("component/js_udf.wasm");
    cmd!(sh, "{plugrt} sql --plugin {js} --prefixed --table {t} --metrics {js_query}").run()?;
    step(&format!(
        "the C guest's SQL over {DEMO_ROWS} rows on Ballista (scheduler and executor in-process, component)"
    ));
    println!("{c_query}\n");
    let component = out.join("component/c_udf.wasm");
    cmd!(sh, "{plugrt} sql --ballista --plugin {component} --table {t} --metrics {c_query}").run()?;
    Ok(())
}

fn run_fixture(sh: &Shell, args: &[String]) -> Result {
    let (flavour, args) = match args.first().map(String::as_str) {
        Some("--extism") => ("extism", &args[1..]),
        _ => ("component", args),
    };
    let (Some(fixture), Some(_)) = (args.first(), args.get(1)) else { return Err(USAGE.into()) };
    fixtures::run(sh)?;
    let built = fixtures::out_dir().join(flavour).join(format!("{fixture}.wasm"));
    let path = if built.exists() { built } else { PathBuf::from(fixture) };
    let rest = &args[1..];
    cmd!(sh, "cargo run --quiet --release --locked -p plugrt-cli --bin plugrt -- call {path} {rest...}").run()?;
    Ok(())
}
