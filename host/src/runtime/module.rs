//! Loading, validating and calling modules.
//!
//! Loading checks, in order, and stops at the first failure with a [`LoadError`] that says
//! what to fix: the file is WebAssembly at all; it is a component, not a core module; it
//! parses and compiles; every import is one the host provides (`subnet:plugin/*`, WASI 0.2);
//! it exports the interface of the expected world with the expected function types.
//!
//! Calling: every call runs in a new store with the call's memory limit, an epoch deadline
//! (wasm that loops is trapped at its deadline) and a `tokio::time::timeout` (a call blocked in
//! an async host function is dropped at its deadline). Whatever the guest does, the caller
//! gets `Ok` or a [`CallError`] naming the module and the call; the runtime stays usable.

use std::fmt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::cache::{CacheOutcome, CompileCache, content_hash};
use super::config::{EpochTicker, RuntimeConfig};
use super::state::{DeadlineExceeded, HostState, MemoryLimitExceeded};
use crate::bindings::types::{
    EpochContext, MinerRequest, MinerResponse, Payload, RewardResult, Task, UidScore, UidState,
};
use crate::bindings::{MINER_EXPORT, VALIDATOR_EXPORT, miner, validator};
use crate::caps::{self, CallEnv, compute, kv, log, metagraph, random};

/// Bytes of a guest's stdout/stderr kept per call (the tail goes into error messages).
const CAPTURE_BYTES: usize = 64 << 10;
/// Slack between the epoch deadline and the tokio timeout, so a looping guest is normally
/// stopped by its epoch trap (which says where it was) before the future is dropped.
const TIMEOUT_GRACE: Duration = Duration::from_millis(250);

/// The world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    /// Exports `validator-api`.
    Validator,
    /// Exports `miner-api`.
    Miner,
}

impl World {
    /// The interface a component of this world exports.
    pub fn export_name(self) -> &'static str {
        match self {
            World::Validator => VALIDATOR_EXPORT,
            World::Miner => MINER_EXPORT,
        }
    }

    /// The functions that interface must contain.
    pub fn functions(self) -> &'static [&'static str] {
        match self {
            World::Validator => &["generate-tasks", "score", "reward"],
            World::Miner => &["handle"],
        }
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            World::Validator => "validator",
            World::Miner => "miner",
        })
    }
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        error: std::io::Error,
    },
    /// Not WebAssembly at all.
    #[error("not a WebAssembly file: {0}")]
    NotWasm(String),
    /// A core module where a component was expected.
    #[error(
        "this is a core WebAssembly module, not a component: build the guest for \
         `wasm32-wasip2` (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// The component does not parse or compile.
    #[error("invalid component: {0}")]
    Invalid(String),
    /// The component imports something the host does not provide.
    #[error(
        "imports `{0}`, which subnetd does not provide (a module may import subnet:plugin/* \
         and WASI 0.2 interfaces)"
    )]
    UnknownImport(String),
    /// The component exports neither world's interface, or not the one asked for.
    #[error("does not implement world `{expected}`: it lacks the export `{missing}`; it exports [{found}]")]
    WrongWorld {
        /// The world asked for, or `validator or miner`.
        expected: String,
        /// The export that is missing.
        missing: String,
        /// What it does export.
        found: String,
    },
    /// The export exists but lacks a function of the world.
    #[error("does not implement world `{world}`: its `{export}` export lacks the function `{function}`")]
    MissingFunction {
        /// The export.
        export: String,
        /// The function it lacks.
        function: String,
        /// The world.
        world: World,
    },
    /// The export exists but its functions do not match the world.
    #[error("its `{export}` export does not match world `{world}`: {detail}")]
    ExportMismatch {
        /// The export.
        export: String,
        /// The world.
        world: World,
        /// What wasmtime found wrong (a missing function, a wrong type).
        detail: String,
    },
}

/// Why a call into a module failed. Every variant names the module and the call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call ran past its time limit and was stopped.
    #[error("module `{module}`: `{call}` exceeded its time limit of {limit:?} and was stopped")]
    Timeout {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// The limit.
        limit: Duration,
    },
    /// The call tried to grow memory past its limit and was stopped.
    #[error("module `{module}`: `{call}` exceeded its memory limit of {limit} bytes and was stopped")]
    MemoryLimit {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The call used all its fuel.
    #[error("module `{module}`: `{call}` ran out of fuel")]
    OutOfFuel {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
    },
    /// The guest trapped (a panic, an `unreachable`, an uncaught exception).
    #[error("module `{module}`: `{call}` trapped: {message}{}", stderr_suffix(guest_output))]
    Trap {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// The trap and its wasm backtrace.
        message: String,
        /// The tail of what the guest wrote to stderr (a panic message, a Python traceback).
        guest_output: String,
    },
    /// The guest returned its own error.
    #[error("module `{module}`: `{call}` returned an error: {message}{}", stderr_suffix(guest_output))]
    Guest {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// The guest's error text.
        message: String,
        /// The tail of what the guest wrote to stderr.
        guest_output: String,
    },
    /// The guest returned data that breaks the contract.
    #[error("module `{module}`: `{call}` returned malformed data: {reason}")]
    Malformed {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No instance could be made (the pool is full, a start function failed).
    #[error("module `{module}`: could not instantiate for `{call}`: {message}")]
    Instantiate {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// Why.
        message: String,
    },
}

fn stderr_suffix(output: &str) -> String {
    if output.trim().is_empty() { String::new() } else { format!("\n--- guest stderr ---\n{}", output.trim_end()) }
}

impl CallError {
    /// A short label of the failure class, for metrics and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout { .. } => "timeout",
            CallError::MemoryLimit { .. } => "memory",
            CallError::OutOfFuel { .. } => "fuel",
            CallError::Trap { .. } => "trap",
            CallError::Guest { .. } => "guest-error",
            CallError::Malformed { .. } => "malformed",
            CallError::Instantiate { .. } => "instantiate",
        }
    }

    /// A malformed-data error for `module`'s `call`.
    pub fn malformed(module: &str, call: &'static str, reason: impl Into<String>) -> Self {
        CallError::Malformed { module: module.to_owned(), call, reason: reason.into() }
    }
}

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

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CompileCache,
    config: RuntimeConfig,
    /// One permit per pool slot: calls wait for a free slot instead of failing to instantiate
    /// when many run at once (the wait counts against the call's time limit).
    slots: Arc<tokio::sync::Semaphore>,
    _ticker: EpochTicker,
}

/// The shared runtime: engine, linker with every capability, compile cache, epoch ticker.
/// Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
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
    info: Arc<ModuleInfo>,
    pre: validator::ValidatorPre<HostState>,
    runtime: Runtime,
}

/// A validated miner component, ready to call. Cheap to clone.
#[derive(Clone)]
pub struct MinerModule {
    info: Arc<ModuleInfo>,
    pre: miner::MinerPre<HostState>,
    runtime: Runtime,
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

fn first_line(err: &wasmtime::Error) -> String {
    let text = format!("{err:#}");
    text.lines().next().unwrap_or_default().to_owned()
}

impl Runtime {
    /// A runtime with `config`.
    pub fn new(config: RuntimeConfig) -> wasmtime::Result<Self> {
        let engine = config.build_engine()?;
        let mut linker = Linker::new(&engine);
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
        let world = if export_names.iter().any(|n| n == VALIDATOR_EXPORT) {
            World::Validator
        } else if export_names.iter().any(|n| n == MINER_EXPORT) {
            World::Miner
        } else {
            return Err(LoadError::WrongWorld {
                expected: "validator or miner".into(),
                missing: format!("{VALIDATOR_EXPORT}` or `{MINER_EXPORT}"),
                found: export_names.join(", "),
            });
        };
        // Name the missing function precisely; wrong signatures are caught by `*Pre::new`.
        let export = world.export_name();
        if let Some((_, item)) = ty.exports(engine).find(|(n, _)| *n == export)
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
        Ok(match world {
            World::Validator => LoadedModule::Validator(ValidatorModule {
                info,
                pre: validator::ValidatorPre::new(instance_pre).map_err(|e| mismatch(VALIDATOR_EXPORT, e))?,
                runtime: self.clone(),
            }),
            World::Miner => LoadedModule::Miner(MinerModule {
                info,
                pre: miner::MinerPre::new(instance_pre).map_err(|e| mismatch(MINER_EXPORT, e))?,
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

    /// A store for one call of `module` under `env`. Fails only when the call's preopened
    /// directory cannot be opened.
    fn new_store(&self, module: &ModuleInfo, env: &CallEnv, limit: Duration) -> wasmtime::Result<Store<HostState>> {
        let stdout = MemoryOutputPipe::new(CAPTURE_BYTES);
        let stderr = MemoryOutputPipe::new(CAPTURE_BYTES);
        let mut builder = WasiCtxBuilder::new();
        if let Some(dir) = &env.preopen {
            let perms = if dir.writable { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
            builder.preopened_dir(&dir.host, &dir.guest, perms)?;
        }
        // WASI randomness follows the call seed too, so guests that use their language's
        // RNG replay exactly in the sandbox.
        let wasi = builder
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .secure_random(rand_chacha::ChaCha12Rng::seed_from_u64(random::derive_seed(&[env.seed, 1])))
            .insecure_random(rand_chacha::ChaCha12Rng::seed_from_u64(random::derive_seed(&[env.seed, 2])))
            .insecure_random_seed(u128::from(random::derive_seed(&[env.seed, 3])))
            .build();
        let memory_limit = env.memory_limit.unwrap_or(usize::MAX).min(self.inner.config.max_memory_bytes);
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            log: log::LogState { subnet: env.subnet.clone(), module: module.name.as_str().into() },
            random: random::RandomState::new(env.seed),
            kv: kv::KvState { store: env.kv.clone() },
            metagraph: metagraph::MetagraphState { view: env.metagraph.clone() },
            compute: compute::ComputeState { backend: env.compute.clone() },
            memory_limit,
            memory_limit_hit: false,
            deadline: Instant::now() + limit,
            stdout,
            stderr,
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| s);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Err(DeadlineExceeded.into())
            } else {
                // Yield at every tick so the tokio timeout and other tasks can run.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        if let Some(fuel) = self.inner.config.fuel {
            // Fuel is enabled on the engine whenever `fuel` is set, so this cannot fail.
            let _ = store.set_fuel(env.fuel.unwrap_or(fuel));
        }
        Ok(store)
    }

    /// Runs `body` in a fresh store under `env`'s limits, mapping every failure to a
    /// [`CallError`] for `module`'s `call`.
    async fn guarded<R>(
        &self,
        module: &ModuleInfo,
        call: &'static str,
        env: &CallEnv,
        body: impl for<'a> FnOnce(&'a mut Store<HostState>) -> Pin<Box<dyn Future<Output = Result<R, Failure>> + Send + 'a>>,
    ) -> Result<R, CallError> {
        let started = Instant::now();
        let result = self.guarded_inner(module, call, env, body).await;
        if let Some(observer) = &env.observer {
            observer.call_finished(module, call, started.elapsed(), result.as_ref().err());
        }
        result
    }

    async fn guarded_inner<R>(
        &self,
        module: &ModuleInfo,
        call: &'static str,
        env: &CallEnv,
        body: impl for<'a> FnOnce(&'a mut Store<HostState>) -> Pin<Box<dyn Future<Output = Result<R, Failure>> + Send + 'a>>,
    ) -> Result<R, CallError> {
        let limit = env.timeout.unwrap_or(self.inner.config.call_timeout);
        let mut store = self.new_store(module, env, limit).map_err(|e| CallError::Instantiate {
            module: module.name.clone(),
            call,
            message: format!("cannot open its preopened directory: {}", first_line(&e)),
        })?;
        let slots = self.inner.slots.clone();
        let outcome = tokio::time::timeout(limit + TIMEOUT_GRACE, async {
            // The semaphore is never closed, so acquiring only waits.
            let _slot = slots.acquire_owned().await.ok();
            body(&mut store).await
        })
        .await;
        let state = store.data();
        forward_output(module, call, &state.stdout, &state.stderr);
        let name = || module.name.clone();
        let guest_output = || tail(&state.stderr.contents(), 4096);
        match outcome {
            Err(_) => Err(CallError::Timeout { module: name(), call, limit }),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(Failure::Instantiate(e))) => {
                Err(CallError::Instantiate { module: name(), call, message: first_line(&e) })
            }
            Ok(Err(Failure::Guest(message))) => {
                Err(CallError::Guest { module: name(), call, message, guest_output: guest_output() })
            }
            Ok(Err(Failure::Wasm(e))) => Err(if e.downcast_ref::<DeadlineExceeded>().is_some() {
                CallError::Timeout { module: name(), call, limit }
            } else if e.downcast_ref::<MemoryLimitExceeded>().is_some() || state.memory_limit_hit {
                CallError::MemoryLimit { module: name(), call, limit: state.memory_limit }
            } else if matches!(e.downcast_ref::<Trap>(), Some(Trap::OutOfFuel)) {
                CallError::OutOfFuel { module: name(), call }
            } else {
                CallError::Trap { module: name(), call, message: format!("{e:#}"), guest_output: guest_output() }
            }),
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

/// How a guarded body failed, before it is attributed to a module and call.
enum Failure {
    Instantiate(wasmtime::Error),
    Wasm(wasmtime::Error),
    Guest(String),
}

fn tail(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Sends what the guest printed to the logs, so `println!` debugging works.
fn forward_output(module: &ModuleInfo, call: &str, stdout: &MemoryOutputPipe, stderr: &MemoryOutputPipe) {
    for (stream, pipe) in [("stdout", stdout), ("stderr", stderr)] {
        let bytes = pipe.contents();
        if bytes.is_empty() {
            continue;
        }
        for line in String::from_utf8_lossy(&bytes).lines() {
            tracing::debug!(target: "guest", module = %module.name, call, stream,
                "{}", log::truncate(line, log::MAX_LINE));
        }
    }
}

fn flatten<T>(result: wasmtime::Result<Result<T, String>>) -> Result<T, Failure> {
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(message)) => Err(Failure::Guest(message)),
        Err(e) => Err(Failure::Wasm(e)),
    }
}

impl ValidatorModule {
    /// What is known about this module version.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// Calls `generate-tasks`.
    pub async fn generate_tasks(&self, env: &CallEnv, ctx: &EpochContext) -> Result<Vec<Task>, CallError> {
        let pre = self.pre.clone();
        let ctx = ctx.clone();
        self.runtime
            .guarded(&self.info, "generate-tasks", env, move |store| {
                Box::pin(async move {
                    let bindings = pre.instantiate_async(&mut *store).await.map_err(Failure::Instantiate)?;
                    flatten(bindings.subnet_plugin_validator_api().call_generate_tasks(&mut *store, &ctx).await)
                })
            })
            .await
    }

    /// Calls `score` for one task and its responses.
    pub async fn score(
        &self,
        env: &CallEnv,
        ctx: &EpochContext,
        task: &Task,
        responses: &[MinerResponse],
    ) -> Result<Vec<UidScore>, CallError> {
        let pre = self.pre.clone();
        let (ctx, task, responses) = (ctx.clone(), task.clone(), responses.to_vec());
        self.runtime
            .guarded(&self.info, "score", env, move |store| {
                Box::pin(async move {
                    let bindings = pre.instantiate_async(&mut *store).await.map_err(Failure::Instantiate)?;
                    flatten(
                        bindings.subnet_plugin_validator_api().call_score(&mut *store, &ctx, &task, &responses).await,
                    )
                })
            })
            .await
    }

    /// Calls `reward` with the running state and the round's scores.
    pub async fn reward(
        &self,
        env: &CallEnv,
        ctx: &EpochContext,
        state: &[UidState],
        round: &[UidScore],
    ) -> Result<RewardResult, CallError> {
        let pre = self.pre.clone();
        let (ctx, state, round) = (ctx.clone(), state.to_vec(), round.to_vec());
        self.runtime
            .guarded(&self.info, "reward", env, move |store| {
                Box::pin(async move {
                    let bindings = pre.instantiate_async(&mut *store).await.map_err(Failure::Instantiate)?;
                    flatten(bindings.subnet_plugin_validator_api().call_reward(&mut *store, &ctx, &state, &round).await)
                })
            })
            .await
    }

    /// Instantiates the module and drops the instance: the cost every call pays before its
    /// export runs. For benchmarks and smoke checks.
    pub async fn instantiate_only(&self, env: &CallEnv) -> Result<(), CallError> {
        let pre = self.pre.clone();
        self.runtime
            .guarded(&self.info, "instantiate", env, move |store| {
                Box::pin(async move {
                    pre.instantiate_async(&mut *store).await.map_err(Failure::Instantiate)?;
                    Ok(())
                })
            })
            .await
    }
}

impl MinerModule {
    /// What is known about this module version.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// Calls `handle` for one request.
    pub async fn handle(&self, env: &CallEnv, request: &MinerRequest) -> Result<Payload, CallError> {
        let pre = self.pre.clone();
        let request = request.clone();
        self.runtime
            .guarded(&self.info, "handle", env, move |store| {
                Box::pin(async move {
                    let bindings = pre.instantiate_async(&mut *store).await.map_err(Failure::Instantiate)?;
                    flatten(bindings.subnet_plugin_miner_api().call_handle(&mut *store, &request).await)
                })
            })
            .await
    }
}
