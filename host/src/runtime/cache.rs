//! The compile cache: precompiled `.cwasm` artifacts on disk, so a 20 MB Python component is
//! compiled once, not at every start or test.
//!
//! Layout: `<dir>/<engine-key>/<sha256 of the component>.cwasm`, where `engine-key` hashes
//! wasmtime's `precompile_compatibility_hash` (wasmtime version, target, and every setting that
//! changes generated code). An engine configured differently never reads another's artifacts.
//!
//! An artifact is native code that runs outside the wasm sandbox, so the cache trusts nothing it
//! did not write itself:
//! - the cache root must be a directory owned by this user with no access for group or others
//!   (it is made `0700` when missing); any other root disables the cache (a warning says why) and
//!   components are compiled in memory;
//! - every artifact carries a keyed BLAKE2b MAC over the engine key, the component's hash and
//!   the artifact, with a 32-byte key in `<root>/cache.key` (`0600`, made on first use, owned by
//!   the same user; a key file with other permissions disables the cache too). The sandbox,
//!   `check`, `miner` and `run` of one user share the root and the key;
//! - the MAC is checked on the bytes in memory and those same bytes are deserialized, so a file
//!   swapped after the check is never loaded.
//!
//! Failure modes: an entry that fails the MAC or fails to load (forged, corrupt, truncated,
//! foreign) is recompiled and overwritten; a cache that cannot be written degrades to in-memory
//! compilation. Artifacts are written to a temporary file and renamed into place, so a crash or a
//! concurrent writer never leaves a half-written artifact under the final name.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use blake2::Blake2bMac;
use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
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
#[derive(Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
    key: [u8; 32],
    engine_key: String,
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileCache").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// Name of the MAC key file in the cache root.
pub const KEY_FILE: &str = "cache.key";
/// Bytes of the MAC in front of each artifact.
const MAC_LEN: usize = 32;

/// Why a cache root cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum CacheRootError {
    /// The root or its key is not this user's, or others may read or write it.
    #[error("{path}: {reason}")]
    Untrusted {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong (owner, mode).
        reason: String,
    },
    /// The root or its key cannot be made or read.
    #[error("{path}: {error}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), CacheRootError> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let untrusted = |reason: String| CacheRootError::Untrusted { path: path.to_path_buf(), reason };
    if meta.uid() != me {
        return Err(untrusted(format!("owned by uid {}, not by this user (uid {me})", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(untrusted(format!(
            "mode {:o} lets others in; `chmod go-rwx` it (the cache holds native code)",
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata) -> Result<(), CacheRootError> {
    Ok(())
}

/// Makes (or checks) the cache root and returns its MAC key. See the module docs.
pub fn open_root(root: &Path) -> Result<[u8; 32], CacheRootError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CacheRootError::Io { path, error }
    };
    if !root.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(root).map_err(io(root))?;
    }
    let meta = std::fs::symlink_metadata(root).map_err(io(root))?;
    if !meta.is_dir() {
        return Err(CacheRootError::Untrusted { path: root.to_path_buf(), reason: "not a directory".into() });
    }
    check_private(root, &meta)?;
    let key_path = root.join(KEY_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&key_path) {
        Ok(mut file) => {
            let mut key = [0u8; 32];
            rand::fill(&mut key);
            file.write_all(&key).and_then(|()| file.sync_all()).map_err(io(&key_path))?;
            return Ok(key);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(&key_path)(e)),
    }
    let meta = std::fs::symlink_metadata(&key_path).map_err(io(&key_path))?;
    if !meta.is_file() {
        return Err(CacheRootError::Untrusted { path: key_path, reason: "not a regular file".into() });
    }
    check_private(&key_path, &meta)?;
    let bytes = std::fs::read(&key_path).map_err(io(&key_path))?;
    bytes.try_into().map_err(|_| CacheRootError::Untrusted {
        path: key_path.clone(),
        reason: "not a 32-byte key (remove it to make a new one)".into(),
    })
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
    /// A cache under `dir` for `engine`'s configuration; `None` disables caching, and so does a
    /// root that cannot be trusted (logged with the reason).
    pub fn new(engine: &Engine, dir: Option<&Path>) -> Self {
        let engine_key = engine_key(engine);
        let opened = dir.and_then(|root| match open_root(root) {
            Ok(key) => Some((root.join(&engine_key), key)),
            Err(e) => {
                tracing::warn!(error = %e, "compile cache disabled; components are compiled in memory");
                None
            }
        });
        match opened {
            Some((dir, key)) => Self { dir: Some(dir), key, engine_key },
            None => Self { dir: None, key: [0; 32], engine_key },
        }
    }

    /// The MAC of `artifact` for component `hash`, ready to finalize or verify.
    fn mac(&self, hash: &str, artifact: &[u8]) -> Blake2bMac<U32> {
        // The key is 32 bytes, which BLAKE2b takes (up to 64), so this cannot fail.
        let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(&self.key).expect("a 32-byte BLAKE2b key is valid");
        mac.update(self.engine_key.as_bytes());
        mac.update(hash.as_bytes());
        mac.update(artifact);
        mac
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
        if let Ok(file) = std::fs::read(&path) {
            let authentic = file.len() > MAC_LEN && {
                let (mac, artifact) = file.split_at(MAC_LEN);
                self.mac(hash, artifact).verify_slice(mac).is_ok()
            };
            if authentic {
                // SAFETY: these bytes carry this cache's MAC, so `store` below wrote them from
                // `precompile_component` of an engine with the same compatibility hash; they are
                // the bytes checked (not re-read), and wasmtime checks header and settings again.
                match unsafe { Component::deserialize(engine, &file[MAC_LEN..]) } {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(err) => tracing::warn!(path = %path.display(), error = %err,
                        "discarding unreadable compile-cache entry"),
                }
            } else {
                tracing::warn!(path = %path.display(), "discarding a compile-cache entry this cache did not write");
            }
        }
        let artifact = engine.precompile_component(bytes)?;
        let mut file = self.mac(hash, &artifact).finalize().into_bytes().to_vec();
        file.extend_from_slice(&artifact);
        if let Err(err) = store(dir, &path, &file) {
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
