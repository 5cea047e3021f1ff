//! The compile cache holds native code that runs outside the wasm sandbox (issue 14 item 10):
//! only artifacts this cache wrote (its MAC, keyed by `<root>/cache.key`) are ever loaded, and a
//! root others can write disables the cache instead of trusting it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common;
use subnet_host::runtime::cache::KEY_FILE;
use subnet_host::runtime::{CacheOutcome, Runtime, RuntimeConfig, content_hash};

fn runtime_at(root: &Path) -> Runtime {
    Runtime::new(RuntimeConfig { cache_dir: Some(root.to_path_buf()), ..RuntimeConfig::default() }).unwrap()
}

fn hello_validator() -> Vec<u8> {
    common::read(&common::bundle("examples/hello-subnet").validator)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_cache_root_and_key_are_private_and_artifacts_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    let bytes = hello_validator();
    let first = runtime_at(&root).load("hello", &bytes).unwrap();
    assert_eq!(first.info().cache, CacheOutcome::Compiled);
    assert_eq!(mode(&root), 0o700, "the root is made private");
    assert_eq!(mode(&root.join(KEY_FILE)), 0o600, "the key is private");
    // A second process of the same user (a new runtime) reads the artifact back.
    let second = runtime_at(&root).load("hello", &bytes).unwrap();
    assert_eq!(second.info().cache, CacheOutcome::Hit);
}

#[test]
fn a_forged_artifact_is_never_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    let bytes = hello_validator();
    let runtime = runtime_at(&root);
    runtime.load("hello", &bytes).unwrap();
    let dir = runtime.cache().dir().unwrap().to_path_buf();
    let entry = dir.join(format!("{}.cwasm", content_hash(&bytes)));
    let written = std::fs::read(&entry).unwrap();

    // An attacker with write access to the entry plants a real wasmtime artifact (of another
    // component, as native code would be): without this cache's MAC it is refused and the
    // component compiled from its bytes instead.
    let other = common::read(&common::bundle("examples/hello-subnet").miners[0].2);
    let planted = runtime.engine().precompile_component(&other).unwrap();
    for forged in [planted.clone(), [vec![0u8; 32], planted].concat(), {
        let mut flipped = written.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        flipped
    }] {
        std::fs::write(&entry, &forged).unwrap();
        let loaded = runtime_at(&root).load("hello", &bytes).expect("the real component still loads");
        assert_eq!(loaded.info().cache, CacheOutcome::Compiled, "a forged entry is recompiled, not loaded");
        assert_eq!(loaded.info().world, subnet_host::runtime::World::Validator, "the module is the real one");
        assert_eq!(std::fs::read(&entry).unwrap().len(), written.len(), "and the entry rewritten");
    }
    // Another key (another user's cache) does not authenticate this cache's entries either.
    std::fs::write(root.join(KEY_FILE), [7u8; 32]).unwrap();
    assert_eq!(runtime_at(&root).load("hello", &bytes).unwrap().info().cache, CacheOutcome::Compiled);
}

#[test]
fn a_root_others_can_write_disables_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = hello_validator();

    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let runtime = runtime_at(&shared);
    assert!(runtime.cache().dir().is_none(), "a world-writable root is not used");
    assert_eq!(runtime.load("hello", &bytes).unwrap().info().cache, CacheOutcome::Compiled);
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0, "nothing is written there");

    let readable = tmp.path().join("readable");
    std::fs::create_dir(&readable).unwrap();
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(runtime_at(&readable).cache().dir().is_none(), "a root others can read is not used");

    // A key file others can read is as good as public.
    let leaky = tmp.path().join("leaky");
    runtime_at(&leaky);
    std::fs::set_permissions(leaky.join(KEY_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(runtime_at(&leaky).cache().dir().is_none(), "a readable key disables the cache");

    // A symlink as the root is not followed.
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&leaky, &link).unwrap();
    assert!(runtime_at(&link).cache().dir().is_none(), "a symlinked root is not used");
}
