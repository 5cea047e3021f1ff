//! The one helper every integration test uses to get real guests: it builds bundles from
//! `examples/` and `subnets/` with the same builder `subnetd build` uses, once per test process,
//! and gives a runtime whose compile cache lives under `target/`, so components compile once
//! across test runs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use subnet_host::bundle::{BuiltBundle, Bundle};
use subnet_host::guest_build::Toolchain;
use subnet_host::runtime::{Runtime, RuntimeConfig};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("repository root")
}

/// The toolchain rooted at this repository.
pub fn toolchain() -> Toolchain {
    let root = root();
    Toolchain { cargo_target_dir: root.join("target"), root, release: true }
}

/// Builds the bundle at `relative` (e.g. `examples/hello-subnet`), once per process.
pub fn bundle(relative: &str) -> BuiltBundle {
    static BUILT: OnceLock<Mutex<HashMap<String, BuiltBundle>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(b) = built.get(relative) {
        return b.clone();
    }
    let bundle = Bundle::resolve(&root().join(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
        .build(&toolchain())
        .unwrap_or_else(|e| panic!("building {relative}: {e}"));
    built.insert(relative.to_owned(), bundle.clone());
    bundle
}

/// Runtime settings for tests: the default limits, the compile cache under `target/`.
pub fn runtime_config() -> RuntimeConfig {
    RuntimeConfig { cache_dir: Some(root().join("target").join("subnetd-test-cache")), ..RuntimeConfig::default() }
}

/// A runtime with [`runtime_config`].
pub fn runtime() -> Runtime {
    Runtime::new(runtime_config()).expect("runtime")
}

/// The bytes of a built component.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The compute capability with `models` from the model registry `scripts/setup.sh` writes (or
/// `$SUBNETD_MODELS`), started once per process per set of models. Panics with the setup step
/// when the models are missing: tests that need real models never pass without them.
pub fn compute(models: &[&str]) -> std::sync::Arc<dyn subnet_host::caps::compute::ComputeBackend> {
    use subnet_host::caps::compute::{ComputeBackend, GrantedModels};
    type Started = HashMap<Vec<String>, std::sync::Arc<dyn ComputeBackend>>;
    static STARTED: OnceLock<Mutex<Started>> = OnceLock::new();
    let names: Vec<String> = models.iter().map(|m| m.to_string()).collect();
    let mut started = STARTED.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(backend) = started.get(&names) {
        return backend.clone();
    }
    let registry = subnet_host::models::ModelRegistry::discover(&root())
        .unwrap_or_else(|e| panic!("model registry: {e}; run scripts/setup.sh"));
    let specs = registry.select(&names).unwrap_or_else(|e| panic!("{e}"));
    let service =
        subnet_compute::ComputeService::start(subnet_compute::ComputeConfig { models: specs, ..Default::default() })
            .unwrap_or_else(|e| panic!("starting the model service: {e}; run scripts/setup.sh"));
    let backend: std::sync::Arc<dyn ComputeBackend> = std::sync::Arc::new(GrantedModels::new(service, names.clone()));
    started.insert(names, backend.clone());
    backend
}
