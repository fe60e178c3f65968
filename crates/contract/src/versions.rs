//! What both loaders do for hot reload: hold the current version of a plugin and swap in a
//! new one atomically, never under another name.

use std::path::Path;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::Error;

/// A loaded version of a plugin, as [`Versions`] needs to see it.
pub trait Version {
    /// The plugin's name, from its `describe` document.
    fn name(&self) -> &str;
}

/// The current version of a plugin. Readers take an `Arc` of it, so a call started before a
/// swap finishes on the version it started with, which is dropped with its last user. It
/// holds no lock across a call and does not drain the old version itself.
pub struct Versions<T> {
    current: RwLock<Arc<T>>,
}

impl<T: Version> Versions<T> {
    /// Starts with `first`.
    pub fn new(first: T) -> Versions<T> {
        Versions { current: RwLock::new(Arc::new(first)) }
    }

    /// The current version.
    pub fn current(&self) -> Arc<T> {
        self.current.read().clone()
    }

    /// Makes `next` current, unless it carries another plugin name (then nothing changes and
    /// the error names both).
    pub fn replace(&self, next: T) -> Result<(), Error> {
        let mut current = self.current.write();
        if next.name() != current.name() {
            return Err(Error::Load {
                plugin: current.name().to_owned(),
                message: format!("a reload must keep the plugin's name; the new version is `{}`", next.name()),
            });
        }
        *current = Arc::new(next);
        Ok(())
    }
}

/// Reads a plugin file for a loader's `load_file`; until `describe` names the plugin, errors
/// call it by its path (set in `label` unless one was given).
pub fn read_plugin_file(path: &Path, label: &mut Option<String>) -> Result<Vec<u8>, Error> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Load { plugin: shown.clone(), message: format!("cannot read the file: {e}") })?;
    label.get_or_insert(shown);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str, u32);

    impl Version for Named {
        fn name(&self) -> &str {
            self.0
        }
    }

    #[test]
    fn a_swap_keeps_the_name_and_leaves_old_readers_their_version() {
        let versions = Versions::new(Named("p", 1));
        let old = versions.current();
        versions.replace(Named("p", 2)).unwrap();
        assert_eq!((old.1, versions.current().1), (1, 2));
        let err = versions.replace(Named("q", 3)).unwrap_err();
        assert!(err.to_string().contains("new version is `q`"), "{err}");
        assert_eq!(versions.current().1, 2);
    }

    #[test]
    fn a_missing_file_is_a_load_error_naming_it() {
        let mut label = None;
        let err = read_plugin_file(Path::new("/nonexistent/p.wasm"), &mut label).unwrap_err();
        assert!(err.to_string().contains("plugin `/nonexistent/p.wasm`: cannot load: cannot read"), "{err}");
        assert_eq!(label, None);
    }
}
