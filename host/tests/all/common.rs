//! The one helper every integration test uses to get real guests: it builds bundles from
//! `examples/` and `subnets/` with the same builder `subnetd build` uses, once per test process,
//! and gives a runtime whose compile cache lives under `target/`, so components compile once
//! across test runs.
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

/// Neurons `0..count` as modules see them: uid 0 a validator (permit, 10 000 alpha of stake),
/// the others miners without stake; hotkeys `h<uid>`.
pub fn neurons(count: u16) -> Vec<subnet_host::bindings::types::Neuron> {
    (0..count)
        .map(|uid| subnet_host::bindings::types::Neuron {
            uid,
            hotkey: format!("h{uid}"),
            stake: if uid == 0 { 10_000.0 } else { 0.0 },
            validator_permit: uid == 0,
            active: true,
            incentive: 0.0,
            dividends: 0.0,
            emission: 0.0,
        })
        .collect()
}

/// The context of a round (netuid 1, block 1, epoch 1, seed 1) of the validator at uid 0 over
/// `miners` miners (uids 1..=miners).
pub fn context(miners: u16) -> subnet_host::bindings::types::EpochContext {
    subnet_host::bindings::types::EpochContext {
        netuid: 1,
        block: 1,
        epoch: 1,
        seed: 1,
        validator_uid: Some(0),
        neurons: neurons(miners + 1),
    }
}

/// A `text/plain` payload.
pub fn text(body: &str) -> subnet_host::bindings::types::Payload {
    subnet_host::bindings::types::Payload {
        content_type: "text/plain; charset=utf-8".into(),
        body: body.as_bytes().to_vec(),
    }
}

/// An `application/json` payload.
pub fn json<T: serde::Serialize>(value: &T) -> subnet_host::bindings::types::Payload {
    subnet_host::bindings::types::Payload {
        content_type: "application/json".into(),
        body: serde_json::to_vec(value).expect("serialisable"),
    }
}

/// Runs the sandbox on `bundle` with the models its `subnet.toml` names granted (unless the
/// config grants others), and checks that no epoch recorded a validator error.
pub async fn sandbox(
    bundle: &BuiltBundle,
    config: subnet_host::sandbox::SandboxConfig,
) -> subnet_host::sandbox::SandboxReport {
    let models: Vec<&str> = bundle.compute_models.iter().map(String::as_str).collect();
    let compute = config.compute.clone().or_else(|| (!models.is_empty()).then(|| compute(&models)));
    let config = subnet_host::sandbox::SandboxConfig { compute, ..config };
    let report = subnet_host::sandbox::run(&runtime(), bundle, &config, |_, _| {}).await.expect("sandbox run");
    for epoch in &report.epochs {
        assert!(epoch.errors.is_empty(), "{}: epoch {}: {:?}", bundle.name, epoch.epoch, epoch.errors);
    }
    report
}

/// A bundle's modules, loaded in a test runtime.
pub struct Modules {
    /// The validator.
    pub validator: subnet_host::runtime::ValidatorModule,
    /// The miners, by their names in `subnet.toml`.
    pub miners: HashMap<String, subnet_host::runtime::MinerModule>,
}

impl Modules {
    /// The miner named `name`.
    pub fn miner(&self, name: &str) -> subnet_host::runtime::MinerModule {
        self.miners.get(name).unwrap_or_else(|| panic!("no miner `{name}` in the bundle")).clone()
    }
}

/// Builds (once) and loads the bundle at `relative`.
pub fn modules(relative: &str) -> Modules {
    let bundle = bundle(relative);
    let runtime = runtime();
    let validator = runtime.load_validator(&bundle.name, &read(&bundle.validator)).expect("load the validator");
    let miners = bundle
        .miners
        .iter()
        .map(|(name, _, path)| (name.clone(), runtime.load_miner(name, &read(path)).expect("load a miner")))
        .collect();
    Modules { validator, miners }
}

/// A call environment for `relative`'s modules: a fresh in-memory store (returned too, to look
/// into) and the models its `subnet.toml` names, granted.
pub fn module_env(relative: &str) -> (subnet_host::runtime::CallEnv, std::sync::Arc<subnet_host::caps::kv::MemoryKv>) {
    let bundle = bundle(relative);
    let models: Vec<&str> = bundle.compute_models.iter().map(String::as_str).collect();
    let kv = subnet_host::caps::kv::MemoryKv::new(16 << 20);
    let env = subnet_host::runtime::CallEnv::new(
        bundle.name.clone(),
        1,
        std::sync::Arc::new(subnet_host::caps::metagraph::MetagraphView::default()),
    )
    .with_subnet(|s| {
        s.caps.kv = Some(kv.clone());
        s.caps.compute = (!models.is_empty()).then(|| compute(&models));
    });
    (env, kv)
}

/// A PNG written here, independently of the subnets' encoder (so their decoders meet another
/// encoder's output, as they do from miners): 8-bit RGB, stored (uncompressed) deflate blocks,
/// CRC-32 and Adler-32 computed by hand.
pub fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut raw = Vec::new();
    for row in rgb.chunks(width as usize * 3) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        zlib.extend_from_slice(&(block.len() as u16).to_le_bytes());
        zlib.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}
