//! The `plugrt` binary, run as a user runs it, on the fixtures `cargo xtask fixtures` builds.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch, StringArray};

fn fixture(flavour: &str, name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/out/{flavour}/{name}.wasm"));
    assert!(path.exists(), "{}: missing; build the fixtures with `cargo xtask fixtures`", path.display());
    path
}

fn plugrt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plugrt")).args(args).output().expect("the plugrt binary runs")
}

/// Runs `plugrt args...`, expects success, returns stdout.
fn ok(args: &[&str]) -> String {
    let out = plugrt(args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "plugrt {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    stdout.into_owned()
}

/// Runs `plugrt args...`, expects exit status 1, returns stderr.
fn fails(args: &[&str]) -> String {
    let out = plugrt(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "plugrt {args:?} should fail: {stderr}");
    stderr
}

fn s(path: &std::path::Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

#[test]
fn inspect_lists_every_flavour() {
    let (component, extism, js) =
        (fixture("component", "c_udf"), fixture("extism", "c_udf"), fixture("component", "js_udf"));
    let out = ok(&["inspect", s(&component), s(&extism), s(&js)]);
    assert!(out.contains("c_udf 0.2.0 (component)"), "{out}");
    assert!(out.contains("c_udf 0.2.0 (Extism module)"), "{out}");
    assert!(out.contains("js_udf 0.2.0 (component)"), "{out}");
    assert!(out.contains("contract   plugrt:udf@0.2.0"), "{out}");
    let digest = <sha2::Sha256 as sha2::Digest>::digest(std::fs::read(&js).unwrap());
    let sha256: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert!(out.contains(&format!("sha256     {sha256} ")), "{out}");
    assert!(out.contains("avg_f64(Float64) -> Float64 state [sum Float64, count Int64]"), "{out}");
    assert!(out.contains("avg(Float64) -> Float64 state [sum Float64, count Float64]"), "{out}");
    assert!(out.contains("scale(Float64, Float64) -> Float64"), "{out}");
    assert!(out.contains("upper(Utf8) -> Utf8") && out.contains("immutable"), "{out}");
    assert!(out.contains("timeout 1.00s, memory 64 MiB"), "{out}");
    assert!(out.contains("allocator  pooling") && out.contains("allocator  on demand"), "{out}");
    assert_eq!(out.matches("loaded in").count(), 3, "{out}");
}

#[test]
fn inspect_of_a_broken_plugin_fails_with_one_line_per_file() {
    let stderr = fails(&["inspect", s(&fixture("component", "describe_malformed")), s(&fixture("extism", "probe"))]);
    assert!(stderr.contains("describe_malformed"), "{stderr}");
    assert!(stderr.contains("1 of 2 plugins did not load"), "{stderr}");
}

#[test]
fn call_takes_literals_sample_rows_and_files() {
    let c = fixture("component", "c_udf");
    let out = ok(&["call", s(&c), "upper", "hello"]);
    assert!(out.contains("| HELLO  |"), "{out}");
    assert!(out.contains("call took") && out.contains("fresh instance"), "{out}");

    let out = ok(&["call", s(&fixture("extism", "c_udf")), "scale", "1.5", "4"]);
    assert!(out.contains("| 6.0    |") || out.contains("| 6      |"), "{out}");

    let out = ok(&["call", s(&c), "add_one", "--rows", "3"]);
    assert!(out.contains("input (3 rows)"), "{out}");

    let out = ok(&["call", s(&fixture("component", "js_udf")), "add_one", "null"]);
    assert!(out.contains("input (1 row)"), "{out}");

    let dir = std::env::temp_dir().join(format!("plugrt-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let batch = RecordBatch::try_from_iter([
        ("word", Arc::new(StringArray::from(vec!["abc", "xyz"])) as _),
        ("n", Arc::new(Int64Array::from(vec![1, 2])) as _),
    ])
    .unwrap();
    let csv = dir.join("words.csv");
    std::fs::write(&csv, "word,n\nabc,1\nxyz,2\n").unwrap();
    let arrow = dir.join("words.arrow");
    let mut writer =
        arrow_ipc::writer::FileWriter::try_new(std::fs::File::create(&arrow).unwrap(), &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    let parquet = dir.join("words.parquet");
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&parquet).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    for file in [&csv, &arrow, &parquet] {
        let out = ok(&["call", s(&c), "upper", "--input", s(file)]);
        assert!(out.contains("| ABC    |") && out.contains("| XYZ    |"), "{}: {out}", file.display());
    }
    // Arguments are the file's first columns: `word` is no Int64.
    let stderr = fails(&["call", s(&c), "add_one", "--input", s(&csv)]);
    assert!(stderr.contains("column `word` cannot be read as Int64"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn call_errors_are_one_line_naming_plugin_and_function() {
    let c = fixture("component", "c_udf");
    let stderr = fails(&["call", s(&c), "nope"]);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("plugin `c_udf` has no function `nope`; it has: add_one"), "{stderr}");

    let stderr = fails(&["call", s(&c), "add_one", "9223372036854775807"]);
    assert!(stderr.starts_with("plugrt: plugin `c_udf`, function `add_one`: InvalidArgument"), "{stderr}");

    let stderr = fails(&["call", s(&fixture("extism", "infinite_loop")), "spin", "1", "--timeout-ms", "100"]);
    assert!(stderr.contains("plugin `infinite_loop`, function `spin`: timed out"), "{stderr}");

    let stderr = fails(&["call", s(&c), "add_one", "two"]);
    assert!(stderr.contains("argument 1 (`two`) cannot be read as Int64"), "{stderr}");

    let stderr = fails(&["call", "/no/such/plugin.wasm", "f"]);
    assert!(stderr.contains("/no/such/plugin.wasm"), "{stderr}");
    // Bad usage is clap's: status 2 and the usage line.
    let out = plugrt(&["call", s(&c)]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_reports_rate_and_percentiles() {
    let out =
        ok(&["bench", s(&fixture("component", "c_udf")), "upper", "--rows", "4", "--threads", "2", "--seconds", "0.5"]);
    assert!(out.contains("4 rows per call, 2 threads"), "{out}");
    let calls_line = out.lines().find(|l| l.starts_with("calls")).expect("a calls line");
    let calls: u64 = calls_line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a call count");
    assert!(calls > 0, "{out}");
    assert!(out.contains("latency    p50 ") && out.contains(", p99 "), "{out}");

    let stderr = fails(&["bench", s(&fixture("extism", "trap")), "boom", "--seconds", "0.2"]);
    assert!(stderr.contains("calls failed") && stderr.contains(" trap)"), "{stderr}");
}

#[test]
fn metrics_prints_openmetrics_with_the_calls_made() {
    let out = ok(&["metrics", s(&fixture("component", "c_udf")), s(&fixture("extism", "trap")), "--calls", "3"]);
    let families = openmetrics_parser::openmetrics::parse_openmetrics(&out)
        .unwrap_or_else(|e| panic!("not OpenMetrics: {e:?}\n{out}"))
        .families;
    let calls = &families["plugrt_calls"];
    let total = |outcome: &str| -> f64 {
        calls
            .iter_samples()
            .filter(|s| s.get_labelset().is_ok_and(|l| l.get_label_value("outcome") == Some(outcome)))
            .map(|s| match &s.value {
                openmetrics_parser::OpenMetricsValue::Counter(c) => c.value.as_f64(),
                other => panic!("{other:?}"),
            })
            .sum()
    };
    // c_udf's four functions on sample rows, then trap's one: three calls each.
    assert_eq!(total("ok"), 12.0, "{out}");
    assert_eq!(total("trap"), 3.0, "{out}");
}

#[test]
fn every_command_has_help() {
    for command in [
        &["--help"][..],
        &["inspect", "--help"],
        &["call", "--help"],
        &["bench", "--help"],
        &["metrics", "--help"],
        &["sql", "--help"],
    ] {
        let out = ok(command);
        assert!(out.contains("Usage: plugrt"), "{command:?}: {out}");
    }
}

#[test]
fn sql_calls_plugin_functions_over_values_generated_data_and_files() {
    let c = fixture("component", "c_udf");
    let out = ok(&[
        "sql",
        "--plugin",
        s(&c),
        "SELECT upper(column1) AS u, add_one(column2) AS a FROM (VALUES ('abc', 1), ('xyz', NULL))",
    ]);
    assert!(out.contains("| ABC | 2 |") && out.contains("| XYZ |   |"), "{out}");
    assert!(out.contains("2 rows in"), "{out}");

    let out = ok(&[
        "sql",
        "--plugin",
        s(&fixture("extism", "c_udf")),
        "--metrics",
        "SELECT sum(add_one(value)) AS total FROM generate_series(1, 10000)",
    ]);
    assert!(out.contains(&format!("| {} |", (2..=10001u64).sum::<u64>())), "{out}");
    assert!(out.contains("c_udf.add_one") && out.contains("10000 rows: "), "{out}");

    let dir = std::env::temp_dir().join(format!("plugrt-cli-sql-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("w.csv");
    std::fs::write(&csv, "word,n\nabc,1\nxyz,2\n").unwrap();
    let table = format!("w={}", s(&csv));
    let out = ok(&[
        "sql",
        "--plugin",
        s(&c),
        "--table",
        &table,
        "--prefixed",
        "SELECT c_udf_str_len(word) AS l FROM w WHERE n > 1",
    ]);
    assert!(out.contains("| 3 |") && out.contains("1 row in"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);

    let stderr = fails(&["sql", "--plugin", s(&fixture("component", "trap")), "SELECT boom(1)"]);
    assert!(stderr.contains("plugin `trap`, function `boom`"), "{stderr}");
    let stderr = fails(&["sql", "--table", "x=/no/such.parquet", "SELECT 1"]);
    assert!(stderr.contains("table `x`: no file /no/such.parquet"), "{stderr}");
}

#[test]
fn sql_on_ballista_prints_the_table_it_prints_locally() {
    let dir = std::env::temp_dir().join(format!("plugrt-cli-ballista-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let parquet = dir.join("t.parquet");
    let copy = format!(
        "COPY (SELECT value AS id, CASE WHEN value % 10 = 0 THEN NULL ELSE value % 1000 END AS n, \
         concat('item-', value % 100) AS s FROM generate_series(1, 20000)) TO '{}' STORED AS PARQUET",
        s(&parquet)
    );
    ok(&["sql", &copy]);
    let c = fixture("component", "c_udf");
    let table = format!("t={}", s(&parquet));
    let query = "SELECT upper(s) AS word, count(*) AS rows, sum_i64(add_one(n)) AS wasm_sum, min_max_spread(n) AS spread \
                 FROM t WHERE str_len(s) > 6 GROUP BY upper(s) ORDER BY rows DESC, word LIMIT 5";
    // The table, without the line of rows and time after it.
    let table_of = |out: &str| out.lines().take_while(|l| !l.contains(" rows in ")).collect::<Vec<_>>().join("\n");
    let local = ok(&["sql", "--plugin", s(&c), "--table", &table, query]);
    let ballista = ok(&["sql", "--ballista", "--plugin", s(&c), "--table", &table, query]);
    assert!(local.contains("| ITEM-10 |"), "{local}");
    assert_eq!(table_of(&ballista), table_of(&local), "{ballista}");
    let _ = std::fs::remove_dir_all(&dir);
}
