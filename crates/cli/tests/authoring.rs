//! `plugrt new`, `build`, `test` and `dev` on fresh template projects, run as an author runs
//! them. The toolchains come from the repository's `.tools/` (what `cargo xtask fixtures`
//! installs); if they are missing there, `plugrt build` installs them, as it would for a user.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A fresh folder under the target directory for one test's projects.
fn workspace(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authoring").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn plugrt(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plugrt"));
    let tools = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools");
    command.args(args).current_dir(dir).env("PLUGRT_TOOLS", tools);
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    plugrt(dir, args).output().expect("the plugrt binary runs")
}

/// Runs `plugrt args...` in `dir`, expects success, returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "plugrt {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    stdout.into_owned()
}

/// Runs `plugrt args...` in `dir`, expects exit status 1, returns stdout and stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "plugrt {args:?} should fail:\n{text}");
    text
}

#[test]
fn c_template_builds_passes_its_test_and_answers_in_both_flavours() {
    let dir = workspace("c");
    let out = ok(&dir, &["new", "--lang", "c", "my_c"]);
    assert!(out.contains("created my_c (C guest) in my_c"), "{out}");
    let project = dir.join("my_c");
    for file in ["plugrt.toml", "README.md", ".gitignore", "src/udf.c", "tests/add_one.sql", "tests/add_one.out"] {
        assert!(project.join(file).is_file(), "plugrt new wrote no {file}");
    }
    // No copy of the contract in the project: it comes from plugrt at build time.
    assert!(!project.join("wit").exists());
    // A version with a backslash must reach the describe document escaped (the build loads
    // each plugin: a document that is not JSON fails it).
    let manifest = project.join("plugrt.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(r#"version = "0.1.0""#, r"version = 'beta\1'");
    std::fs::write(&manifest, text).unwrap();

    let out = ok(&project, &["build"]);
    assert_eq!(out.matches("add_one(Int64) -> Int64").count(), 2, "{out}");
    for flavour in ["component", "extism"] {
        assert!(project.join(format!("build/{flavour}/my_c.wasm")).is_file(), "{out}");
    }
    let out = ok(&project, &["test"]);
    assert!(out.contains("ok    add_one.sql (component)") && out.contains("ok    add_one.sql (extism)"), "{out}");

    let out = ok(&project, &["call", "build/extism/my_c.wasm", "add_one", "41"]);
    assert!(out.contains("| 42     |"), "{out}");
    let out = fails(&project, &["call", "build/component/my_c.wasm", "add_one", "9223372036854775807"]);
    assert!(out.contains("plugin `my_c`, function `add_one`") && out.contains("overflow at row 0"), "{out}");

    // A wrong expectation fails the test run, with both tables shown.
    std::fs::write(project.join("tests/add_one.out"), "+---+\n| 0 |\n+---+\n").unwrap();
    let out = fails(&project, &["test", "--flavour", "extism"]);
    assert!(out.contains("FAIL  add_one.sql (extism)") && out.contains("| 41 | 42 |"), "{out}");
    assert!(out.contains("1 check(s) failed"), "{out}");
}

#[test]
fn c_build_errors_are_the_compilers_and_bad_declarations_fail_the_build() {
    let dir = workspace("c-errors");
    ok(&dir, &["new", "--lang", "c", "broken"]);
    let project = dir.join("broken");
    let source = project.join("src/udf.c");
    let good = std::fs::read_to_string(&source).unwrap();

    std::fs::write(&source, good.replace("value + 1", "value + undeclared")).unwrap();
    let out = fails(&project, &["build", "--flavour", "component"]);
    assert!(out.contains("compiling the C guest (component) failed"), "{out}");
    assert!(out.contains("src/udf.c:") && out.contains("undeclared"), "zig's own message: {out}");

    // A type plugrt.h cannot carry: the build's load check names the function.
    std::fs::write(
        &source,
        good.replace("NANOARROW_TYPE_INT64, NANOARROW_TYPE_INT64)", "NANOARROW_TYPE_INT64, NANOARROW_TYPE_STRUCT)"),
    )
    .unwrap();
    let out = fails(&project, &["build", "--flavour", "extism"]);
    assert!(out.contains("does not load") && out.contains("not supported by plugrt.h"), "{out}");
}

#[test]
fn js_template_builds_passes_its_test_and_answers() {
    let dir = workspace("js");
    ok(&dir, &["new", "--lang", "js", "my_js"]);
    let project = dir.join("my_js");
    let out = ok(&project, &["build"]);
    assert!(out.contains("add_one(Int64) -> Int64") && project.join("build/component/my_js.wasm").is_file(), "{out}");
    let out = fails(&project, &["build", "--flavour", "extism"]);
    assert!(out.contains("components only"), "{out}");
    let out = ok(&project, &["test"]);
    assert!(out.contains("ok    add_one.sql (component)"), "{out}");
    let out = fails(&project, &["call", "build/component/my_js.wasm", "add_one", "9223372036854775807"]);
    assert!(out.contains("plugin `my_js`, function `add_one`") && out.contains("overflow at row 0"), "{out}");

    // A result of the wrong length is the guest library's error, naming the function.
    let source = project.join("src/udf.js");
    let good = std::fs::read_to_string(&source).unwrap();
    std::fs::write(
        &source,
        good.replace("return Array.from(x,", "return [1n].concat(Array.from(x,")
            .replace("return value + 1n;\n        });", "return value + 1n;\n        }));"),
    )
    .unwrap();
    ok(&project, &["build"]);
    let out = fails(&project, &["call", "build/component/my_js.wasm", "add_one", "1"]);
    assert!(out.contains("add_one returned 2 rows for 1"), "{out}");
}

#[test]
fn new_refuses_bad_names_and_non_empty_folders() {
    let dir = workspace("new");
    let out = fails(&dir, &["new", "--lang", "c", "Bad Name"]);
    assert!(out.contains("must be 1-64 characters"), "{out}");
    ok(&dir, &["new", "--lang", "js", "taken"]);
    let out = fails(&dir, &["new", "--lang", "c", "taken"]);
    assert!(out.contains("exists and is not empty"), "{out}");
    let out = fails(&dir, &["build", "nowhere"]);
    assert!(out.contains("plugrt new"), "{out}");
}

/// `plugrt dev`'s output, line by line, as it comes.
struct Dev {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Dev {
    fn start(project: &Path, args: &[&str]) -> Dev {
        let mut command = plugrt(project, &[&["dev"], args].concat());
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("plugrt dev starts");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Dev { child, lines, seen: Vec::new() }
    }

    /// Reads lines until one satisfies `wanted`; returns the lines read meanwhile. Fails if
    /// the loop starts more than `rounds` rounds before (a rebuild must not trigger another),
    /// or stops. The timeout only keeps a hung loop from hanging the test.
    fn until(&mut self, rounds: usize, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let mut read = Vec::new();
        loop {
            let Ok(line) = self.lines.recv_timeout(Duration::from_secs(600)) else {
                panic!("plugrt dev stopped or hung; its output:\n{}", self.seen.join("\n"));
            };
            self.seen.push(line.clone());
            read.push(line.clone());
            let started = self.seen.iter().filter(|l| l.contains("] changed: ")).count() + 1;
            assert!(started <= rounds, "more rounds than saves; output:\n{}", self.seen.join("\n"));
            if wanted(&line) {
                return read;
            }
        }
    }
}

#[test]
fn dev_rebuilds_and_reruns_on_save_survives_a_broken_one_and_reports_a_changed_signature() {
    let dir = workspace("dev");
    ok(&dir, &["new", "--lang", "c", "live"]);
    let project = dir.join("live");
    let source = project.join("src/udf.c");
    let original = std::fs::read_to_string(&source).unwrap();
    let mut dev = Dev::start(&project, &["--call", "add_one", "--rows", "3"]);

    let first = dev.until(1, |l| l.starts_with("[1] round took"));
    assert!(first.iter().any(|l| l == "[1] functions: add_one(Int64) -> Int64"), "{first:?}");
    assert!(first.iter().any(|l| l.starts_with("| 2    | 3 ")), "add_one(2) = 3: {first:?}");

    std::fs::write(&source, original.replace("value + 1", "value + 100")).unwrap();
    let second = dev.until(2, |l| l.starts_with("[2] round took"));
    assert!(second.iter().any(|l| l == "[2] changed: src/udf.c"), "{second:?}");
    assert!(second.iter().any(|l| l.starts_with("[2] built in") && l.contains("reloaded in")), "{second:?}");
    assert!(second.iter().any(|l| l == "[2] functions: unchanged"), "{second:?}");
    assert!(second.iter().any(|l| l.starts_with("| 2    | 102 ")), "the new code's result: {second:?}");

    // Build output is written during every round and never starts one; a broken save is
    // reported and the loop waits.
    std::fs::write(&source, format!("{original}\nbroken(\n")).unwrap();
    let third = dev.until(3, |l| l == "[3] waiting for the next save");
    assert!(third.iter().any(|l| l.contains("[3] build failed")), "{third:?}");
    assert!(third.iter().any(|l| l.contains("src/udf.c:") && l.contains("error")), "zig's message: {third:?}");

    let two_args = "PLUGRT_FUNCTION(add_one, NANOARROW_TYPE_INT64, NANOARROW_TYPE_INT64, NANOARROW_TYPE_INT64)";
    std::fs::write(
        &source,
        original.replace("PLUGRT_FUNCTION(add_one, NANOARROW_TYPE_INT64, NANOARROW_TYPE_INT64)", two_args),
    )
    .unwrap();
    let fourth = dev.until(4, |l| l.starts_with("[4] round took"));
    assert!(
        fourth
            .iter()
            .any(|l| l == "[4] functions: changed signature add_one(Int64) -> Int64 => add_one(Int64, Int64) -> Int64"),
        "{fourth:?}"
    );
    assert!(fourth.iter().any(|l| l.starts_with("| 2    | 3    | 3 ")), "two argument columns now: {fourth:?}");

    let pid = dev.child.id().to_string();
    let signal = Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
    assert!(signal.success());
    dev.until(4, |l| l == "plugrt dev: stopped");
    let status = dev.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "Ctrl-C exits 0; output:\n{}", dev.seen.join("\n"));
}
