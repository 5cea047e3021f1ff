//! The compile cache: precompiled `.cwasm` artifacts on disk, so a 20 MB Python component is
//! compiled once, not at every start or test.
//!
//! Layout: `<dir>/<engine-key>/<sha256 of the component>.cwasm`, where `engine-key` hashes
//! wasmtime's `precompile_compatibility_hash` (wasmtime version, target, and every setting that
//! changes generated code). An engine configured differently never reads another's artifacts.
//!
//! Invariants and failure modes:
//! - Artifacts are written to a temporary file and renamed into place, so a crash or a
//!   concurrent writer never leaves a half-written `.cwasm` under the final name.
//! - A cache entry that fails to load (corrupt, truncated, foreign) is recompiled and
//!   overwritten; a cache directory that cannot be written degrades to in-memory compilation.
//! - Only files this cache wrote are deserialized (deserializing is `unsafe` in wasmtime
//!   because a forged artifact is native code); the directory must not be writable by others.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from a precompiled artifact.
    Hit,
    /// Compiled now (and stored, if the cache is writable).
    Compiled,
}

/// A directory of precompiled components for one engine configuration.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
}

/// Feeds `Hash` output into SHA-256, giving a key that is stable across processes and
/// Rust versions (unlike `DefaultHasher`).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]))
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn engine_key(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..12])
}

/// SHA-256 of a component's bytes, hex: the identity of a module version.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl CompileCache {
    /// A cache under `dir` for `engine`'s configuration; `None` disables caching.
    pub fn new(engine: &Engine, dir: Option<&Path>) -> Self {
        Self { dir: dir.map(|d| d.join(engine_key(engine))) }
    }

    /// The directory artifacts of this engine go to, if caching is on.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Returns the component for `bytes`, from the cache when possible.
    ///
    /// `hash` must be [`content_hash`] of `bytes`. Compilation errors (the bytes are not a
    /// valid component) are returned as they are.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        hash: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, bytes)?, CacheOutcome::Compiled));
        };
        let path = dir.join(format!("{hash}.cwasm"));
        if path.is_file() {
            // SAFETY: the file was written by `store` below from `precompile_component` of an
            // engine with the same compatibility hash (the directory name); wasmtime checks
            // the header and configuration again when loading.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(err) => tracing::warn!(path = %path.display(), error = %err,
                    "discarding unreadable compile-cache entry"),
            }
        }
        let artifact = engine.precompile_component(bytes)?;
        if let Err(err) = store(dir, &path, &artifact) {
            tracing::warn!(dir = %dir.display(), error = %err,
                "compile cache not writable; continuing without it");
        }
        // SAFETY: `artifact` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        Ok((component, CacheOutcome::Compiled))
    }
}

fn store(dir: &Path, path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Unique per process and per write, so concurrent writers never share a temporary file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("artifact"),
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&tmp, artifact)?;
    std::fs::rename(&tmp, path)
}
