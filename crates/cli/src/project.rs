//! A guest project: a folder with `plugrt.toml`, sources under `src/`, SQL checks under
//! `tests/`, builds under `build/` (made by `plugrt build`, never to be committed).
//!
//! ```toml
//! [plugin]
//! name = "my_udf"       # the plugin's name: 1-64 characters of a-z, 0-9, _ and -
//! version = "0.1.0"
//! language = "c"        # or "js"
//! ```
//!
//! A C project compiles every `src/*.c` (with `src/` on the include path) against plugrt.h; a
//! JavaScript project starts from `src/udf.js`, whose default export is the plugin.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plugrt_guest_build::{CGuest, Flavour, JsGuest, Needs, Toolchain};
use serde::Deserialize;

/// The manifest's file name.
pub const MANIFEST: &str = "plugrt.toml";
/// Where builds go, inside the project.
pub const BUILD_DIR: &str = "build";

/// A guest's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// C on nanoarrow, compiled by zig; both flavours.
    C,
    /// JavaScript on apache-arrow, built by componentize-qjs (QuickJS); components only.
    Js,
}

impl Language {
    pub fn label(self) -> &'static str {
        match self {
            Language::C => "C",
            Language::Js => "JavaScript",
        }
    }

    /// The flavours it builds for.
    pub fn flavours(self) -> &'static [Flavour] {
        match self {
            Language::C => &Flavour::ALL,
            Language::Js => &[Flavour::Component],
        }
    }
}

/// A flavour on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FlavourArg {
    /// A WebAssembly component.
    Component,
    /// An Extism module.
    Extism,
}

impl From<FlavourArg> for Flavour {
    fn from(f: FlavourArg) -> Self {
        match f {
            FlavourArg::Component => Flavour::Component,
            FlavourArg::Extism => Flavour::Extism,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    plugin: PluginSection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginSection {
    name: String,
    version: String,
    language: Language,
}

/// An opened project.
pub struct Project {
    pub dir: PathBuf,
    pub name: String,
    pub version: String,
    pub language: Language,
}

/// Whether `name` is a valid plugin name (the contract's rule).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Project {
    /// Reads `dir/plugrt.toml`.
    pub fn open(dir: &Path) -> Result<Project, String> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!("{}: {e} (is {} a guest project? `plugrt new` creates one)", path.display(), dir.display())
        })?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let PluginSection { name, version, language } = manifest.plugin;
        if !valid_name(&name) {
            return Err(format!(
                "{}: plugin name `{name}` must be 1-64 characters of a-z, 0-9, _ and -",
                path.display()
            ));
        }
        if version.trim().is_empty() || version.contains('"') {
            return Err(format!("{}: version `{version}` must be non-empty, without quotes", path.display()));
        }
        let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Project { dir, name, version, language })
    }

    /// The flavours to build: `only`, or all the language has.
    pub fn flavours(&self, only: Option<FlavourArg>) -> Result<Vec<Flavour>, String> {
        match only.map(Flavour::from) {
            None => Ok(self.language.flavours().to_vec()),
            Some(f) if self.language.flavours().contains(&f) => Ok(vec![f]),
            Some(f) => Err(format!(
                "{}: {} guests build as components only (componentize-qjs); there is no {f} build of them",
                self.name,
                self.language.label()
            )),
        }
    }

    /// Where the plugin of `flavour` is built.
    pub fn output(&self, flavour: Flavour) -> PathBuf {
        self.dir.join(BUILD_DIR).join(flavour.name()).join(format!("{}.wasm", self.name))
    }

    /// The toolchains this project needs.
    pub fn needs(&self) -> Needs {
        Needs { c: self.language == Language::C, js: self.language == Language::Js, wasm_tools: true }
    }

    /// Installs what is missing, one line on stderr per step.
    pub fn install(&self, tools: &Toolchain) -> Result<(), String> {
        tools.install(self.needs(), &mut |line| eprintln!("plugrt: {line}")).map_err(|e| e.to_string())
    }

    /// Builds the plugin of `flavour` (the toolchain installed); returns its path and how long
    /// the build took. A compiler error is returned as the compiler printed it.
    pub fn build(&self, tools: &Toolchain, flavour: Flavour) -> Result<(PathBuf, Duration), String> {
        let started = Instant::now();
        let out = self.output(flavour);
        let scratch = self.dir.join(BUILD_DIR).join("scratch");
        let built = match self.language {
            Language::C => {
                let src = self.dir.join("src");
                let guest = CGuest {
                    sources: self.c_sources(&src)?,
                    include_dirs: vec![src],
                    defines: vec![
                        ("PLUGRT_NAME".into(), self.name.clone()),
                        ("PLUGRT_VERSION".into(), self.version.clone()),
                    ],
                    sdk: true,
                };
                plugrt_guest_build::build_c(tools, &guest, flavour, &scratch, &out)
            }
            Language::Js => {
                let entry = self.dir.join("src/udf.js");
                if !entry.exists() {
                    return Err(format!(
                        "{}: no src/udf.js (the module whose default export is the plugin)",
                        self.name
                    ));
                }
                let guest = JsGuest { entry, plugin: Some((self.name.clone(), self.version.clone())) };
                plugrt_guest_build::build_js(tools, &guest, flavour, &scratch, &out)
            }
        };
        built.map_err(|e| e.to_string())?;
        Ok((out, started.elapsed()))
    }

    fn c_sources(&self, src: &Path) -> Result<Vec<PathBuf>, String> {
        let sources = files(src, "c")?;
        if sources.is_empty() {
            return Err(format!("{}: no .c files in {}", self.name, src.display()));
        }
        Ok(sources)
    }

    /// Whether a change to `path` should trigger a rebuild: anything in the project except
    /// the build folder, hidden files and folders, and editors' backup and swap files.
    pub fn watches(&self, path: &Path) -> bool {
        let Ok(relative) = path.strip_prefix(&self.dir) else { return false };
        let mut parts = relative.components().map(|c| c.as_os_str().to_string_lossy());
        let Some(first) = parts.next() else { return false };
        if first == BUILD_DIR {
            return false;
        }
        let name = relative.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let ignored = |part: &str| part.starts_with('.') || part.ends_with('~') || part.starts_with('#');
        !ignored(&first)
            && !parts.any(|p| ignored(&p))
            && !name.ends_with(".swp")
            && !name.ends_with(".swx")
            && !name.ends_with(".tmp")
    }
}

/// The files of `dir` whose extension is `extension`, sorted.
pub fn files(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    Ok(files)
}
