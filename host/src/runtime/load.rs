//! Loading and validating modules.
//!
//! Loading checks, in order, and stops at the first failure with a [`LoadError`] that says
//! what to fix: the file is WebAssembly at all; it is a component, not a core module; it
//! parses and compiles; every import is one the host provides (`subnet:plugin/*`, WASI 0.2);
//! it exports the interface of the expected world with the expected function types.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::Linker;
use wasmtime::component::types::ComponentItem;

use super::cache::{CacheOutcome, CompileCache, content_hash};
use super::config::{EpochTicker, RuntimeConfig};
use super::errors::{LoadError, World};
use super::state::HostState;
use crate::bindings::{self, ContractVersion, miner, validator};
use crate::caps;

/// What is known about a loaded module version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModuleInfo {
    /// Name given at load time (usually the file name).
    pub name: String,
    /// SHA-256 of the component bytes, hex.
    pub hash: String,
    /// Size of the component, in bytes.
    pub size: usize,
    /// The world it implements.
    pub world: World,
    /// The contract version its export names (on the host's track).
    pub contract: Option<ContractVersion>,
    /// Its imports, by name.
    pub imports: Vec<String>,
    /// Its exports, by name.
    pub exports: Vec<String>,
    /// Whether it came from the compile cache.
    #[serde(skip)]
    pub cache: CacheOutcome,
    /// Time to get a runnable component (compile, or load from cache).
    #[serde(skip)]
    pub load_time: Duration,
}

pub(super) struct Inner {
    pub(super) engine: Engine,
    pub(super) linker: Linker<HostState>,
    pub(super) cache: CompileCache,
    pub(super) config: RuntimeConfig,
    /// One permit per pool slot: calls wait for a free slot instead of failing to instantiate
    /// when many run at once (the wait counts against the call's time limit).
    pub(super) slots: Arc<tokio::sync::Semaphore>,
    _ticker: EpochTicker,
}

/// The shared runtime: engine, linker with every capability, compile cache, epoch ticker.
/// Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    pub(super) inner: Arc<Inner>,
}

/// A loaded component of either world.
pub enum LoadedModule {
    /// A validator.
    Validator(ValidatorModule),
    /// A miner.
    Miner(MinerModule),
}

impl LoadedModule {
    /// What is known about it.
    pub fn info(&self) -> &ModuleInfo {
        match self {
            LoadedModule::Validator(m) => m.info(),
            LoadedModule::Miner(m) => m.info(),
        }
    }
}

/// A validated validator component, ready to call. Cheap to clone.
#[derive(Clone)]
pub struct ValidatorModule {
    pub(super) info: Arc<ModuleInfo>,
    pub(super) pre: validator::ValidatorPre<HostState>,
    /// When the module exports `deferred-scorer` (0.1.2): the same component seen through the
    /// `validator-deferred` world, to call it.
    pub(super) deferred: Option<bindings::validator_deferred::ValidatorDeferredPre<HostState>>,
    pub(super) runtime: Runtime,
}

/// A validated miner component, ready to call. Cheap to clone.
#[derive(Clone)]
pub struct MinerModule {
    pub(super) info: Arc<ModuleInfo>,
    pub(super) pre: miner::MinerPre<HostState>,
    pub(super) runtime: Runtime,
}

/// Checks the first bytes: WebAssembly, and component rather than core module.
fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm(if bytes.len() < 8 {
            format!("only {} bytes long", bytes.len())
        } else {
            "it does not start with the `\\0asm` magic number".into()
        }));
    }
    // Core modules are version 1, layer 0; components carry layer 1 in bytes 6..8.
    if bytes[6..8] == [0, 0] {
        return Err(LoadError::CoreModule);
    }
    Ok(())
}

pub(super) fn first_line(err: &wasmtime::Error) -> String {
    let text = format!("{err:#}");
    text.lines().next().unwrap_or_default().to_owned()
}

impl Runtime {
    /// A runtime with `config`.
    pub fn new(config: RuntimeConfig) -> wasmtime::Result<Self> {
        let engine = config.build_engine()?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        caps::add_to_linker(&mut linker)?;
        let cache = CompileCache::new(&engine, config.cache_dir.as_deref());
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                slots: Arc::new(tokio::sync::Semaphore::new(config.max_instances as usize)),
                config,
                _ticker: ticker,
            }),
        })
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The compile cache.
    pub fn cache(&self) -> &CompileCache {
        &self.inner.cache
    }

    /// Loads a component file of either world.
    pub fn load_file(&self, path: &Path) -> Result<LoadedModule, LoadError> {
        let bytes = std::fs::read(path).map_err(|error| LoadError::Io { path: path.display().to_string(), error })?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("module").to_owned();
        self.load(&name, &bytes)
    }

    /// Loads a component of either world from bytes.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<LoadedModule, LoadError> {
        check_header(bytes)?;
        let started = Instant::now();
        let hash = content_hash(bytes);
        let (component, cache) = self
            .inner
            .cache
            .load_or_compile(&self.inner.engine, bytes, &hash)
            .map_err(|e| LoadError::Invalid(first_line(&e)))?;
        let load_time = started.elapsed();

        let ty = component.component_type();
        let engine = &self.inner.engine;
        let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
        let export_names: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();

        for import in &imports {
            if !import.starts_with("subnet:plugin/") && !import.starts_with("wasi:") {
                return Err(LoadError::UnknownImport(import.clone()));
            }
        }
        // The world is named by the export's interface; any version on the host's semver track
        // is accepted (wasmtime resolves names by track too).
        let mut found: Option<(World, String, Option<ContractVersion>)> = None;
        for name in &export_names {
            let world = match bindings::contract_interface(name) {
                Some(("validator-api", version)) => (World::Validator, version),
                Some(("miner-api", version)) => (World::Miner, version),
                _ => continue,
            };
            found = Some((world.0, name.clone(), world.1));
            break;
        }
        let Some((world, export, contract)) = found else {
            return Err(LoadError::WrongWorld {
                expected: "validator or miner".into(),
                missing: format!("{}` or `{}", World::Validator.export_name(), World::Miner.export_name()),
                found: export_names.join(", "),
            });
        };
        match contract {
            Some(v) if v.is_supported() => {}
            other => {
                return Err(LoadError::UnsupportedContract {
                    found: other.map_or_else(|| "(no version)".to_owned(), |v| v.to_string()),
                    supported: ContractVersion::supported_range(),
                });
            }
        }
        // Name the missing function precisely; wrong signatures are caught by `*Pre::new`.
        if let Some((_, item)) = ty.exports(engine).find(|(n, _)| *n == export.as_str())
            && let ComponentItem::ComponentInstance(instance) = item.ty
        {
            let present: Vec<&str> = instance.exports(engine).map(|(n, _)| n).collect();
            if let Some(missing) = world.functions().iter().find(|f| !present.contains(f)) {
                return Err(LoadError::MissingFunction {
                    export: export.to_owned(),
                    function: (*missing).to_owned(),
                    world,
                });
            }
        }

        let instance_pre = self.inner.linker.instantiate_pre(&component).map_err(|e| {
            // The linker names the first import it cannot satisfy (an unknown WASI version,
            // an interface of a newer contract).
            let text = first_line(&e);
            match text.split('`').nth(1) {
                Some(name) if text.contains("not found") || text.contains("matching") => {
                    LoadError::UnknownImport(name.to_owned())
                }
                _ => LoadError::Invalid(text),
            }
        })?;
        let info = Arc::new(ModuleInfo {
            name: name.to_owned(),
            hash,
            size: bytes.len(),
            world,
            contract,
            imports,
            exports: export_names,
            cache,
            load_time,
        });
        let mismatch = |export: &str, e: wasmtime::Error| LoadError::ExportMismatch {
            export: export.to_owned(),
            world,
            detail: format!("{e:#}"),
        };
        // The optional export is looked up by interface name on the host's track.
        let deferred_export =
            info.exports.iter().find(|n| matches!(bindings::contract_interface(n), Some(("deferred-scorer", _))));
        Ok(match world {
            World::Validator => LoadedModule::Validator(ValidatorModule {
                deferred: match deferred_export {
                    Some(name) => Some(
                        bindings::validator_deferred::ValidatorDeferredPre::new(instance_pre.clone())
                            .map_err(|e| mismatch(name, e))?,
                    ),
                    None => None,
                },
                info,
                pre: validator::ValidatorPre::new(instance_pre).map_err(|e| mismatch(&export, e))?,
                runtime: self.clone(),
            }),
            World::Miner => LoadedModule::Miner(MinerModule {
                info,
                pre: miner::MinerPre::new(instance_pre).map_err(|e| mismatch(&export, e))?,
                runtime: self.clone(),
            }),
        })
    }

    /// Loads a component that must implement the validator world.
    pub fn load_validator(&self, name: &str, bytes: &[u8]) -> Result<ValidatorModule, LoadError> {
        match self.load(name, bytes)? {
            LoadedModule::Validator(m) => Ok(m),
            LoadedModule::Miner(m) => Err(wrong_world(World::Validator, m.info())),
        }
    }

    /// Loads a component that must implement the miner world.
    pub fn load_miner(&self, name: &str, bytes: &[u8]) -> Result<MinerModule, LoadError> {
        match self.load(name, bytes)? {
            LoadedModule::Miner(m) => Ok(m),
            LoadedModule::Validator(m) => Err(wrong_world(World::Miner, m.info())),
        }
    }
}

fn wrong_world(expected: World, found: &ModuleInfo) -> LoadError {
    LoadError::WrongWorld {
        expected: expected.to_string(),
        missing: expected.export_name().into(),
        found: found.exports.join(", "),
    }
}
