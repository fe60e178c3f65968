//! An on-disk cache of compiled components that only ever loads files it wrote itself.
//!
//! Deserializing a compiled artifact runs native code it contains, so a file planted in the
//! cache folder must never be loaded. Each file is `HMAC-SHA256(key, name || payload) ||
//! payload`, the key being 32 random bytes created with the cache (file `key`, mode 0600) and
//! never leaving it; a file whose MAC does not verify is ignored and recompiled over. The name
//! hashes the component's bytes with the engine's compatibility fingerprint, so a different
//! wasmtime or engine configuration never finds another's artifacts, and, being under the MAC,
//! it ties each artifact to the plugin it was compiled from: one plugin's file renamed to
//! another's does not verify.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub(crate) struct Cache {
    dir: PathBuf,
    key: [u8; 32],
    fingerprint: [u8; 32],
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
}

/// HMAC-SHA256 of the concatenation of `message`'s parts.
fn hmac(key: &[u8; 32], message: &[&[u8]]) -> [u8; 32] {
    let mut inner = Sha256::new();
    inner.update(key.map(|b| b ^ 0x36));
    inner.update([0x36; 32]); // the key padded to the 64-byte block
    for part in message {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(key.map(|b| b ^ 0x5c));
    outer.update([0x5c; 32]);
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Equality without an early exit.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Cache {
    pub(crate) fn open(dir: &Path, engine: &Engine) -> std::io::Result<Cache> {
        std::fs::create_dir_all(dir)?;
        let key_path = dir.join("key");
        let key: [u8; 32] = match std::fs::read(&key_path) {
            Ok(bytes) if bytes.len() == 32 => bytes.try_into().expect("32 bytes"),
            _ => {
                let mut key = [0u8; 32];
                std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut key)?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                options.open(&key_path)?.write_all(&key)?;
                key
            }
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let fingerprint = Sha256::digest(hasher.finish().to_le_bytes()).into();
        Ok(Cache { dir: dir.to_owned(), key, fingerprint, hits: AtomicU64::new(0), misses: AtomicU64::new(0) })
    }

    /// The name of the compilation of `bytes`: a hash of the engine's fingerprint and them.
    fn name(&self, bytes: &[u8]) -> [u8; 32] {
        Sha256::new().chain_update(self.fingerprint).chain_update(bytes).finalize().into()
    }

    fn path(&self, name: &[u8; 32]) -> PathBuf {
        let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}.cwasm"))
    }

    /// The cached compilation of `bytes`, if this cache wrote it.
    #[allow(unsafe_code)]
    pub(crate) fn get(&self, engine: &Engine, bytes: &[u8]) -> Option<Component> {
        let name = self.name(bytes);
        let file = std::fs::read(self.path(&name)).ok();
        let found = file.as_deref().and_then(|file| {
            let (mac, payload) = file.split_at_checked(32)?;
            if !same(mac, &hmac(&self.key, &[&name, payload])) {
                tracing::warn!(dir = %self.dir.display(), "ignoring a cached component this cache did not write");
                return None;
            }
            // SAFETY: the payload is authenticated, with its name, by a MAC under a key only this
            // cache holds, so it is exactly what `put` wrote for these bytes:
            // `Component::serialize` output of an engine with the same compatibility
            // fingerprint (part of the name).
            unsafe { Component::deserialize(engine, payload) }.ok()
        });
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Relaxed);
        found
    }

    /// Writes `component` (the compilation of `bytes`); failures only cost a later recompile.
    pub(crate) fn put(&self, component: &Component, bytes: &[u8]) {
        let Ok(payload) = component.serialize() else { return };
        let name = self.name(bytes);
        let path = self.path(&name);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mac = hmac(&self.key, &[&name, &payload]);
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&mac).and_then(|()| f.write_all(&payload)))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::debug!(error = %e, "could not write to the component cache");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_shape() {
        // HMAC-SHA256 with a 32-byte key of 0x0b and "Hi There" (RFC 4231 case 1 uses a
        // 20-byte key; this checks the construction against a reference computed the same way
        // with the key zero-padded to the block, which is what HMAC does for short keys).
        let key = [0x0b; 32];
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&key);
        let inner = Sha256::new().chain_update(block.map(|b| b ^ 0x36)).chain_update(b"Hi There").finalize();
        let expected: [u8; 32] =
            Sha256::new().chain_update(block.map(|b| b ^ 0x5c)).chain_update(inner).finalize().into();
        assert_eq!(hmac(&key, &[b"Hi ", b"There"]), expected);
        assert_ne!(hmac(&key, &[b"Hi There"]), hmac(&[0x0c; 32], &[b"Hi There"]));
    }

    #[test]
    fn an_artifact_renamed_to_another_plugins_name_is_not_loaded() {
        let dir = std::env::temp_dir().join(format!("plugrt-cache-test-{}", std::process::id()));
        let engine = Engine::default();
        let cache = Cache::open(&dir, &engine).unwrap();
        let (a, b) = (b"(component)".as_slice(), b"(component (core module))".as_slice());
        cache.put(&Component::new(&engine, a).unwrap(), a);
        assert!(cache.get(&engine, a).is_some(), "its own file loads");
        // The same artifact, planted under b's name by someone who cannot write the key.
        std::fs::copy(cache.path(&cache.name(a)), cache.path(&cache.name(b))).unwrap();
        assert!(cache.get(&engine, b).is_none(), "another plugin's artifact must not load");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
