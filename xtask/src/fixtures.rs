//! `cargo xtask fixtures`: installs the guest toolchains into `.tools/` (git-ignored) and
//! builds every fixture into `fixtures/out/` (git-ignored), rebuilding only what changed.
//!
//! Edge-case fixtures (`fixtures/wat/*.wat`) and the hostile suite (`fixtures/hostile/*.wat`,
//! built as `hostile_NAME` with `_hostile.wat`'s helpers) hold only behaviour: a `$run`
//! function and data.
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
//! The C and JS guests are built against `wit/` (contract 0.2.0) by `plugrt-guest-build`, the
//! crate `plugrt build` uses too (toolchains, plugrt's C and JS guest libraries, the flavour
//! glue):
//! - the realistic C guest (`fixtures/c/udf.c`, on plugrt.h and nanoarrow) is compiled by zig
//!   once per flavour, with the component glue (canonical ABI by hand) or the Extism glue;
//! - the JS guest (`fixtures/js/udf.js`, component flavour only) is bundled by esbuild and
//!   built by componentize-qjs (QuickJS).

use std::path::{Path, PathBuf};

use plugrt_guest_build::{CGuest, Flavour, JsGuest, Needs, Toolchain, up_to_date};
use xshell::{Shell, cmd};

use crate::{Result, project_root, step};

/// The project's toolchains: `.tools/` (git-ignored), the same layout as `plugrt build`'s
/// cache folder (so `PLUGRT_TOOLS=.tools` shares them).
pub fn tools() -> Toolchain {
    Toolchain::at(project_root().join(".tools"))
}

/// The realistic C guest, as `plugrt-guest-build` builds it.
fn c_guest() -> CGuest {
    let defines = [("PLUGRT_NAME", "c_udf"), ("PLUGRT_VERSION", "0.2.0")];
    CGuest {
        sources: vec![project_root().join("fixtures/c/udf.c")],
        include_dirs: vec![],
        defines: defines.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        sdk: true,
    }
}

/// Runs the realistic guests' logic natively: `fixtures/c/test_udf.c` (built for the host by
/// zig, with UBSan) and `fixtures/js/test_udf.mjs` (bundled with esbuild, run by Node). The
/// wasm builds of the same code are exercised by the loaders' tests.
pub fn check_native(sh: &Shell) -> Result {
    let tools = tools();
    let root = project_root();
    let native = out_dir().join("native");
    let library = plugrt_guest_build::write_c_library(&native.join("c"))?;
    let zig = tools.zig();
    let guest = c_guest();
    let mut dirs = vec![library.clone()];
    dirs.extend(tools.nanoarrow_includes()?);
    let includes: Vec<String> = dirs.iter().map(|d| format!("-I{}", d.display())).collect();
    let defines = guest.define_flags();
    let sources =
        [vec![root.join("fixtures/c/test_udf.c"), library.join("plugrt.c")], guest.sources, tools.nanoarrow_sources()?]
            .concat();
    let exe = native.join("test_udf");
    cmd!(sh, "{zig} cc -O1 -g -fsanitize=undefined {includes...} {defines...} {sources...} -o {exe}")
        .quiet()
        .run()
        .map_err(|e| format!("building the native check of fixtures/c failed: {e}"))?;
    cmd!(sh, "{exe}").run().map_err(|e| format!("native checks of the C guest failed: {e}"))?;

    let (esbuild, test_js, bundle) =
        (tools.js_bin("esbuild"), root.join("fixtures/js/test_udf.mjs"), native.join("test_udf.mjs"));
    let _path = sh.push_env("NODE_PATH", tools.node_modules());
    cmd!(sh, "{esbuild} {test_js} --bundle --format=esm --platform=node --log-level=warning --outfile={bundle}")
        .quiet()
        .run()
        .map_err(|e| format!("bundling fixtures/js/test_udf.mjs failed: {e}"))?;
    cmd!(sh, "node {bundle}").run().map_err(|e| format!("native checks of the JS guest failed: {e}"))?;
    Ok(())
}

/// Where built fixtures go.
pub fn out_dir() -> PathBuf {
    project_root().join("fixtures/out")
}

pub fn run(sh: &Shell) -> Result {
    let tools = tools();
    tools.install(Needs { c: true, js: true, wasm_tools: true }, &mut |line| step(line))?;
    step("building fixtures");
    let built = build_wat(sh, &tools)? + build_c(&tools)? + build_js(&tools)?;
    let total = all()?.len();
    println!("fixtures: {built} of {total} rebuilt, the rest up to date, in {}", out_dir().display());
    Ok(())
}

/// One WAT fixture: its source and which flavours it builds for.
pub struct WatFixture {
    pub path: PathBuf,
    pub name: String,
    pub flavours: Vec<Flavour>,
    /// Helpers added to the flavour's prelude (the hostile suite's).
    pub helpers: Option<PathBuf>,
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
    all.sort_by(|a, b| (&a.0, a.1.name()).cmp(&(&b.0, b.1.name())));
    Ok(all)
}

/// Where WAT fixtures live: the edge cases, and the hostile suite (named `hostile_NAME`, with
/// the helpers of `fixtures/hostile/_hostile.wat` added to the flavour's prelude).
const WAT_DIRS: [(&str, &str); 2] = [("fixtures/wat", ""), ("fixtures/hostile", "hostile_")];

pub fn wat_fixtures() -> Result<Vec<WatFixture>> {
    let mut found = Vec::new();
    for (folder, prefix) in WAT_DIRS {
        let dir = project_root().join(folder);
        let helpers = dir.join("_hostile.wat");
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
            let helpers = helpers.exists().then(|| helpers.clone());
            found.push(WatFixture { name: format!("{prefix}{name}"), flavours, path, helpers });
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// `(module ...)` of prelude + fixture, with every `(import` line first (WAT requires imports
/// before definitions).
fn assemble(prelude: &str, fixture: &str) -> String {
    let lines = prelude.lines().chain(fixture.lines());
    let (imports, rest): (Vec<&str>, Vec<&str>) = lines.partition(|l| l.trim_start().starts_with("(import"));
    format!("(module\n{}\n{}\n)\n", imports.join("\n"), rest.join("\n"))
}

fn build_wat(sh: &Shell, tools: &Toolchain) -> Result<usize> {
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
            let mut preludes = vec![root.join(format!("fixtures/wat/_{}.wat", flavour.name()))];
            if aggregates {
                preludes.push(root.join(format!("fixtures/wat/_{}.aggregate.wat", flavour.name())));
            }
            preludes.extend(fixture.helpers.iter().cloned());
            let out = out_dir().join(flavour.name()).join(format!("{}.wasm", fixture.name));
            let mut inputs = vec![fixture.path.clone(), contract_wit.clone()];
            inputs.extend(preludes.iter().cloned());
            inputs.extend(world.map(|_| root.join("fixtures/wit/evil.wit")));
            if up_to_date(&out, &inputs) {
                continue;
            }
            std::fs::create_dir_all(out.parent().expect("out has a parent"))?;
            let fail = |e: &dyn std::fmt::Display| {
                format!("fixture {} ({:?}) failed to build: {e}", fixture.path.display(), flavour)
            };
            let prelude = preludes.iter().map(std::fs::read_to_string).collect::<std::io::Result<Vec<_>>>()?.join("\n");
            let text = assemble(&prelude, &source);
            let wat = scratch.join(format!("{}-{}.wat", flavour.name(), fixture.name));
            let core = scratch.join(format!("{}-{}.core.wasm", flavour.name(), fixture.name));
            std::fs::write(&wat, text)?;
            cmd!(sh, "{wasm_tools} parse {wat} -o {core}").quiet().run().map_err(|e| fail(&e))?;
            let (wit, world) = match world {
                Some(world) if flavour == Flavour::Component => (fixture_wit_dir(&scratch)?, world),
                _ if aggregates => (root.join("wit"), "aggregates"),
                _ => (root.join("wit/0.1.0"), "udf"),
            };
            plugrt_guest_build::package(tools, flavour, &core, &out, &wit, world).map_err(|e| fail(&e))?;
            built += 1;
        }
    }
    Ok(built)
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

/// Builds `fixtures/c` for both flavours into `c_udf.wasm`.
fn build_c(tools: &Toolchain) -> Result<usize> {
    let root = project_root();
    let guest = c_guest();
    let library_dir = root.join("crates/guest-build/sdk/c");
    // plugrt's C library and glue, and the contract, are compiled into plugrt-guest-build.
    let mut inputs =
        vec![root.join("fixtures/c/udf.c"), root.join("wit/udf.wit"), root.join("crates/guest-build/src/build.rs")];
    for entry in std::fs::read_dir(&library_dir)? {
        inputs.push(entry?.path());
    }
    let mut built = 0;
    for flavour in Flavour::ALL {
        let out = out_dir().join(flavour.name()).join("c_udf.wasm");
        if up_to_date(&out, &inputs) {
            continue;
        }
        let scratch = out_dir().join("scratch").join(format!("c_udf-{}", flavour.name()));
        plugrt_guest_build::build_c(tools, &guest, flavour, &scratch, &out)
            .map_err(|e| format!("fixture fixtures/c ({flavour}) failed to build: {e}"))?;
        built += 1;
    }
    Ok(built)
}

/// Builds `fixtures/js` into `component/js_udf.wasm`.
fn build_js(tools: &Toolchain) -> Result<usize> {
    let root = project_root();
    let out = out_dir().join("component/js_udf.wasm");
    let inputs = [
        root.join("fixtures/js/udf.js"),
        root.join("crates/guest-build/sdk/js/polyfill.js"),
        root.join("crates/guest-build/sdk/js/package-lock.json"),
        root.join("crates/guest-build/src/build.rs"),
        root.join("wit/udf.wit"),
    ];
    if up_to_date(&out, &inputs) {
        return Ok(0);
    }
    let guest = JsGuest { entry: root.join("fixtures/js/udf.js"), plugin: None };
    let scratch = out_dir().join("scratch/js_udf");
    plugrt_guest_build::build_js(tools, &guest, Flavour::Component, &scratch, &out)
        .map_err(|e| format!("fixture fixtures/js failed to build: {e}"))?;
    Ok(1)
}
