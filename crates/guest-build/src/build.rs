//! From sources to plugins: C, JavaScript, and packaging core modules.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::toolchain::{includes, write};
use crate::{Flavour, Toolchain, run};

/// The contract's WIT (`plugrt:udf@0.2.0`), from the repository's one copy.
const CONTRACT: &str = include_str!("../../../wit/udf.wit");

/// The world guests are built against: scalar and aggregate functions.
const WORLD: &str = "aggregates";

/// plugrt's C guest library and the flavour glue, as files.
const C_LIBRARY: [(&str, &str); 5] = [
    ("plugrt.h", include_str!("../sdk/c/plugrt.h")),
    ("plugrt.c", include_str!("../sdk/c/plugrt.c")),
    ("plugrt_glue.h", include_str!("../sdk/c/plugrt_glue.h")),
    ("component.c", include_str!("../sdk/c/component.c")),
    ("extism.c", include_str!("../sdk/c/extism.c")),
];

/// plugrt's JavaScript guest library (module `plugrt`), and the text codecs QuickJS lacks.
const JS_LIBRARY: [(&str, &str); 2] =
    [("plugrt", include_str!("../sdk/js/plugrt.js")), ("polyfill.js", include_str!("../sdk/js/polyfill.js"))];

/// The memory layout of C guests: a 1 MiB stack (zig's default is 16 MiB) and 4 MiB of memory
/// from the start, so an 8,192-row batch never grows memory. A grown memory costs two
/// `mprotect`s per call (one to grow, one when the next instance in the slot starts at the
/// initial size again), each flushing TLBs on every core: `add_one` on 8,192 rows took 59 us
/// growing and 31 us not, and two threads scaled 1.4x instead of 1.8x. Untouched pages of the
/// initial memory cost nothing.
const MEMORY_FLAGS: [&str; 2] = ["-Wl,-z,stack-size=1048576", "-Wl,--initial-memory=4194304"];

/// Writes the contract's WIT into `dir/wit/` and returns that folder (for `wasm-tools` and
/// componentize-qjs).
pub fn write_contract(dir: &Path) -> Result<PathBuf> {
    let wit = dir.join("wit");
    write_if_changed(&wit.join("udf.wit"), CONTRACT)?;
    Ok(wit)
}

/// Writes plugrt's C guest library (`plugrt.h`, `plugrt.c`, `plugrt_glue.h`) and the flavour
/// glue (`component.c`, `extism.c`) into `dir`, and returns it: the include folder of a C
/// guest, also for an editor's code completion. Files already up to date are left alone.
pub fn write_c_library(dir: &Path) -> Result<PathBuf> {
    for (name, text) in C_LIBRARY {
        write_if_changed(&dir.join(name), text)?;
    }
    Ok(dir.to_path_buf())
}

fn write_if_changed(path: &Path, text: &str) -> Result {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    write(path, text)
}

/// A C guest's sources.
#[derive(Clone, Debug, Default)]
pub struct CGuest {
    /// Its `.c` files.
    pub sources: Vec<PathBuf>,
    /// Its own include folders (plugrt's library and nanoarrow's come after them).
    pub include_dirs: Vec<PathBuf>,
    /// Macros defined as C string literals (`("PLUGRT_NAME", "my_udf")` is
    /// `-DPLUGRT_NAME="my_udf"`). plugrt's C library needs `PLUGRT_NAME` and `PLUGRT_VERSION`.
    pub defines: Vec<(String, String)>,
    /// Whether plugrt's C library (`plugrt.c`) is linked in: the guest declares functions with
    /// `plugrt.h`. Without it the guest implements `plugrt_glue.h`'s entry points itself.
    pub sdk: bool,
}

impl CGuest {
    /// Its `defines` as compiler flags (`-DNAME="value"`, the value escaped), for a build of
    /// the same sources outside [`build_c`] (a native test of the guest's logic).
    pub fn define_flags(&self) -> Vec<String> {
        self.defines.iter().map(|(name, value)| format!("-D{name}=\"{}\"", c_escape(value))).collect()
    }
}

/// Builds a C guest into the plugin `out` of `flavour`. `scratch` holds intermediate files
/// (plugrt's C library, the core module, the contract). The toolchain must be installed
/// ([`Toolchain::install`] with `c`); a compiler error is [`Error::Failed`] with zig's output.
/// No optimisation flags of the guest's own: `-O2`, and the memory layout above.
pub fn build_c(tools: &Toolchain, guest: &CGuest, flavour: Flavour, scratch: &Path, out: &Path) -> Result {
    let library = write_c_library(&scratch.join("c"))?;
    let archive = tools.nanoarrow_library(&mut |_| {})?;
    let core = scratch.join(format!("{}.core.wasm", flavour.name()));
    let mut dirs = guest.include_dirs.clone();
    dirs.push(library.clone());
    dirs.extend(tools.nanoarrow_includes()?);
    let mut cc = Command::new(tools.zig());
    cc.args(["cc", "--target=wasm32-wasi", "-O2", "-s", "-mexec-model=reactor"])
        .args(MEMORY_FLAGS)
        .args(includes(&dirs));
    cc.args(guest.define_flags());
    cc.args(&guest.sources);
    if guest.sdk {
        cc.arg(library.join("plugrt.c"));
    }
    cc.arg(library.join(format!("{}.c", flavour.name()))).arg(&archive).arg("-o").arg(&core);
    run(cc, &format!("compiling the C guest ({flavour})"))?;
    package(tools, flavour, &core, out, &write_contract(scratch)?, WORLD)
}

/// `value` as the inside of a C string literal.
fn c_escape(value: &str) -> String {
    value.chars().flat_map(|c| if c == '"' || c == '\\' { vec!['\\', c] } else { vec![c] }).collect()
}

/// A JavaScript guest's entry module.
#[derive(Clone, Debug)]
pub struct JsGuest {
    /// The module esbuild starts from.
    pub entry: PathBuf,
    /// `Some((name, version))`: the module's default export is a plugin for plugrt's
    /// JavaScript library (`plugrt.js`: `{ functions: { NAME: { args, returns, run } } }`),
    /// which writes the describe document with this name and version. `None`: the module
    /// exports the contract's `describe`, `call` and `aggregate` itself.
    pub plugin: Option<(String, String)>,
}

/// Builds a JavaScript guest into the component `out`: esbuild bundles the entry with
/// apache-arrow (from the toolchain's npm packages, or the project's own `node_modules`),
/// componentize-qjs builds the component (QuickJS, WASI stubbed out). The toolchain must be
/// installed ([`Toolchain::install`] with `js`). `Flavour::Extism` is
/// [`Error::Unsupported`]: there is no JavaScript Extism build here.
pub fn build_js(tools: &Toolchain, guest: &JsGuest, flavour: Flavour, scratch: &Path, out: &Path) -> Result {
    if flavour == Flavour::Extism {
        return Err(Error::Unsupported(
            "JavaScript guests build as components only (componentize-qjs); there is no Extism build of them".into(),
        ));
    }
    let dir = scratch.join("js");
    // `import ... from "plugrt"` resolves to the library through NODE_PATH, like apache-arrow.
    let modules = dir.join("modules");
    let [(_, library), (_, polyfill)] = JS_LIBRARY;
    write_if_changed(&modules.join("plugrt/index.js"), library)?;
    write_if_changed(&dir.join("polyfill.js"), polyfill)?;
    let entry = std::path::absolute(&guest.entry).map_err(|e| Error::io(&guest.entry, e))?;
    let entry = json_string(&entry.to_string_lossy());
    let wrapper = match &guest.plugin {
        None => format!("import \"./polyfill.js\";\nexport * from {entry};\n"),
        Some((name, version)) => format!(
            "import \"./polyfill.js\";\nimport plugin from {entry};\nimport {{ guest }} from \"plugrt\";\n\
             const g = guest(plugin, {}, {});\n\
             export function describe() {{ return g.describe(); }}\n\
             export function call(fn, batch) {{ return g.call(fn, batch); }}\n\
             export function aggregate(fn, op, states, rows) {{ return g.aggregate(fn, op, states, rows); }}\n",
            json_string(name),
            json_string(version)
        ),
    };
    let main = dir.join("main.js");
    write_if_changed(&main, &wrapper)?;
    let bundle = dir.join("bundle.js");
    let mut esbuild = Command::new(tools.js_bin("esbuild"));
    // apache-arrow and plugrt resolve through NODE_PATH (a guest project needs no
    // node_modules; one of its own is searched first).
    let node_path =
        std::env::join_paths([modules, tools.node_modules()]).map_err(|e| Error::Unsupported(e.to_string()))?;
    esbuild.env("NODE_PATH", node_path).arg(&main).args([
        "--bundle",
        "--format=esm",
        "--platform=neutral",
        "--main-fields=module,main",
        "--log-level=warning",
    ]);
    esbuild.arg(format!("--outfile={}", bundle.display()));
    run(esbuild, "bundling the JavaScript guest (esbuild)")?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut componentize = Command::new(tools.js_bin("componentize-qjs"));
    componentize.arg("--wit").arg(write_contract(scratch)?).args(["--world", WORLD, "--js"]).arg(&bundle);
    componentize.args(["--sync", "--stub-wasi", "-o"]).arg(out);
    run(componentize, "building the JavaScript component (componentize-qjs)")
}

/// `text` as a JSON (and JavaScript) string literal.
fn json_string(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Turns the core module `core` into the plugin `out` of `flavour`: the module itself
/// (Extism), or a component of `world` from the WIT folder `wit` (component: `wasm-tools
/// component embed`, then `component new`). Creates `out`'s folder.
pub fn package(tools: &Toolchain, flavour: Flavour, core: &Path, out: &Path, wit: &Path, world: &str) -> Result {
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    match flavour {
        Flavour::Extism => {
            std::fs::copy(core, out).map_err(|e| Error::io(out, e))?;
        }
        Flavour::Component => {
            let embedded = core.with_extension("embed.wasm");
            let mut embed = Command::new(tools.wasm_tools());
            embed.args(["component", "embed"]).arg(wit).args(["--world", world]).arg(core).arg("-o").arg(&embedded);
            run(embed, "embedding the contract (wasm-tools component embed)")?;
            let mut new = Command::new(tools.wasm_tools());
            new.args(["component", "new"]).arg(&embedded).arg("-o").arg(out);
            run(new, "building the component (wasm-tools component new)")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{c_escape, json_string, write_c_library};

    #[test]
    fn literals_escape_what_would_end_them() {
        assert_eq!(c_escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(json_string("a\"b\\c\nd"), r#""a\"b\\c\u000ad""#);
    }

    #[test]
    fn the_c_library_is_written_once_and_left_alone_when_unchanged() {
        let dir = std::env::temp_dir().join(format!("plugrt-guest-build-lib-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write_c_library(&dir).unwrap();
        let header = dir.join("plugrt.h");
        let before = std::fs::metadata(&header).and_then(|m| m.modified()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_c_library(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&header).and_then(|m| m.modified()).unwrap(),
            before,
            "an editor's index stays valid"
        );
        for file in ["plugrt.h", "plugrt.c", "plugrt_glue.h", "component.c", "extism.c"] {
            assert!(dir.join(file).is_file(), "{file} missing");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
