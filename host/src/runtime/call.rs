//! Calling modules.
//!
//! Calling: every call runs in a new store with the call's memory limit, an epoch deadline
//! (wasm that loops is trapped at its deadline) and a `tokio::time::timeout` (a call blocked in
//! an async host function is dropped at its deadline). Whatever the guest does, the caller
//! gets `Ok` or a [`CallError`] naming the module and the call; the runtime stays usable.

use std::pin::Pin;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::env::CallEnv;
use super::errors::CallError;
use super::load::{MinerModule, ModuleInfo, Runtime, ValidatorModule, first_line};
use super::state::{DeadlineExceeded, HostState, MemoryLimitExceeded};
use crate::bindings::types::{
    EpochContext, MinerRequest, MinerResponse, Payload, RewardResult, Task, UidScore, UidState,
};
use crate::caps::scoring::ScoringRequests;
use crate::caps::{CallContext, InstanceCaps, log, random};

/// Bytes of a guest's stdout/stderr kept per call (the tail goes into error messages).
const CAPTURE_BYTES: usize = 64 << 10;
/// Slack between the epoch deadline and the tokio timeout, so a looping guest is normally
/// stopped by its epoch trap (which says where it was) before the future is dropped.
const TIMEOUT_GRACE: Duration = Duration::from_millis(250);

/// wasmtime's default hostcall fuel: the most bytes one guest-to-host call may transfer.
const MAX_HOSTCALL_BYTES: usize = 128 << 20;

impl Runtime {
    /// A store for one call of `module` under `env`. Fails only when the call's preopened
    /// directory cannot be opened.
    fn new_store(&self, module: &ModuleInfo, env: &CallEnv, limit: Duration) -> wasmtime::Result<Store<HostState>> {
        let stdout = MemoryOutputPipe::new(CAPTURE_BYTES);
        let stderr = MemoryOutputPipe::new(CAPTURE_BYTES);
        let mut builder = WasiCtxBuilder::new();
        if let Some(dir) = &env.subnet.preopen {
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
        let memory_limit = env.subnet.limits.memory.unwrap_or(usize::MAX).min(self.inner.config.max_memory_bytes);
        let call = CallContext {
            subnet: &env.subnet.label,
            module: &module.name,
            seed: env.seed,
            metagraph: &env.metagraph,
            epoch: env.epoch,
        };
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            caps: InstanceCaps::new(&env.subnet.caps, &call),
            memory_limit,
            memory_used: 0,
            memory_limit_hit: false,
            deadline: Instant::now() + limit,
            stdout,
            stderr,
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| s);
        // What one guest-to-host transfer may make the host allocate: no more than the guest's
        // own memory could hold, and never above wasmtime's default (128 MiB).
        store.set_hostcall_fuel(memory_limit.min(MAX_HOSTCALL_BYTES));
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
            let _ = store.set_fuel(env.fuel_or(fuel));
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
        if let Some(observer) = &env.subnet.observer {
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
        let limit = env.time_limit(self.inner.config.call_timeout);
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
                "{}", crate::util::truncate(line, log::MAX_LINE));
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
            .guarded(&self.info, "generate-tasks", &env.with_epoch(&ctx), move |store| {
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
        self.score_with_requests(env, ctx, task, responses).await.map(|(scores, _)| scores)
    }

    /// Calls `score`, and returns with the scores what the call asked through `scoring`
    /// (abstentions, a deferral) for the round to apply.
    pub async fn score_with_requests(
        &self,
        env: &CallEnv,
        ctx: &EpochContext,
        task: &Task,
        responses: &[MinerResponse],
    ) -> Result<(Vec<UidScore>, ScoringRequests), CallError> {
        let pre = self.pre.clone();
        let (ctx, task, responses) = (ctx.clone(), task.clone(), responses.to_vec());
        self.runtime
            .guarded(&self.info, "score", &env.with_epoch(&ctx), move |store| {
                Box::pin(async move {
                    let bindings = pre.instantiate_async(&mut *store).await.map_err(Failure::Instantiate)?;
                    let scores = flatten(
                        bindings.subnet_plugin_validator_api().call_score(&mut *store, &ctx, &task, &responses).await,
                    )?;
                    Ok((scores, std::mem::take(&mut store.data_mut().caps.scoring)))
                })
            })
            .await
    }

    /// Whether the module exports `deferred-scorer` (and so may defer tasks).
    pub fn can_defer(&self) -> bool {
        self.deferred.is_some()
    }

    /// Calls `deferred-scorer.score-deferred` for a kept task; `Ok(None)` when the module
    /// wants to wait longer, and when it has no such export.
    pub async fn score_deferred(
        &self,
        env: &CallEnv,
        ctx: &EpochContext,
        key: &str,
        task: &Task,
        responses: &[MinerResponse],
        age: u32,
    ) -> Result<Option<Vec<UidScore>>, CallError> {
        let Some(pre) = self.deferred.clone() else { return Ok(None) };
        let (ctx, key, task, responses) = (ctx.clone(), key.to_owned(), task.clone(), responses.to_vec());
        self.runtime
            .guarded(&self.info, "score-deferred", &env.with_epoch(&ctx), move |store| {
                Box::pin(async move {
                    let bindings = pre.instantiate_async(&mut *store).await.map_err(Failure::Instantiate)?;
                    flatten(
                        bindings
                            .subnet_plugin_deferred_scorer()
                            .call_score_deferred(&mut *store, &ctx, &key, &task, &responses, age)
                            .await,
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
            .guarded(&self.info, "reward", &env.with_epoch(&ctx), move |store| {
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
