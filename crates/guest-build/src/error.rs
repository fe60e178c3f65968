//! What can go wrong while installing a toolchain or building a guest.

use std::fmt;
use std::path::{Path, PathBuf};

/// An install or build step that failed.
///
/// `Display` is what a plugin author should read: for a compiler error it is the compiler's
/// own output, unchanged, after one line naming the step.
#[derive(Debug)]
pub enum Error {
    /// Reading or writing a file or folder failed.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A program the build needs could not be started (python3, npm, node).
    Missing {
        /// The program.
        program: String,
        /// What provides it.
        hint: &'static str,
    },
    /// A tool ran and failed.
    Failed {
        /// What was being done ("compiling the C guest (component)").
        step: String,
        /// The tool's output (stderr, then stdout), as it printed it.
        output: String,
    },
    /// The request cannot be built (a JavaScript guest as an Extism module).
    Unsupported(String),
}

/// The crate's result type.
pub type Result<T = ()> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Missing { program, hint } => write!(f, "cannot run `{program}`: {hint}"),
            Error::Failed { step, output } => {
                write!(f, "{step} failed")?;
                let output = output.trim_end();
                if !output.is_empty() {
                    write!(f, ":\n{output}")?;
                }
                Ok(())
            }
            Error::Unsupported(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
