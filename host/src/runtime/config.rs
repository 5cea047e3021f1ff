//! The one place that configures wasmtime: the `Engine` every module shares, and the limits
//! each per-call `Store` gets.
//!
//! Defaults, and why:
//! - **Pooling allocator, copy-on-write memory images.** Every call runs in a fresh instance
//!   (no state leaks between calls or miners), so instantiation must be cheap: the pool keeps
//!   slots mapped and `memory_init_cow` maps a module's data segments instead of copying them.
//!   Slot sizes are generous because interpreted guests (componentize-py, componentize-js)
//!   have several core instances, large tables and tens of MB of memory.
//! - **Epoch interruption, 10 ms ticks.** A background thread bumps the engine's epoch; each
//!   store yields to tokio at every tick and traps once its wall-clock deadline has passed.
//!   This stops pure-wasm loops; a `tokio::time::timeout` around every call also stops calls
//!   blocked in async host functions, which epochs alone cannot interrupt.
//! - **Memory limit per instance** (256 MiB), enforced by a resource limiter that records the
//!   breach so the error can say "memory limit" rather than a generic trap.
//! - **Fuel off by default.** Fuel costs about 2x in speed; operators who want a deterministic
//!   bound on work turn it on with [`RuntimeConfig::fuel`].
//! - **No component-model concurrency.** The worlds are synchronous from the guest's view;
//!   leaving the async component ABI out makes each call about 4x cheaper.
//!
//! Failure modes: an invalid combination of limits makes [`RuntimeConfig::build_engine`]
//! return an error; nothing here panics.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Limits and knobs of the runtime. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Largest linear memory an instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    /// Wall-clock limit of one call into a module (`generate-tasks`, `score`, `reward`,
    /// `handle`), unless the caller gives a shorter one.
    pub call_timeout: Duration,
    /// How often the epoch ticker bumps the engine's epoch; the granularity of deadlines.
    pub epoch_tick: Duration,
    /// Fuel per call; `None` (the default) leaves fuel metering off.
    pub fuel: Option<u64>,
    /// Largest wasm stack per call, in bytes.
    pub max_wasm_stack: usize,
    /// How many instances may be live at once across all modules (pool slots).
    pub max_instances: u32,
    /// Where precompiled `.cwasm` files are kept; `None` compiles in memory every time.
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_memory_bytes: 256 << 20,
            call_timeout: Duration::from_secs(30),
            epoch_tick: Duration::from_millis(10),
            fuel: None,
            max_wasm_stack: 1 << 20,
            max_instances: 256,
            cache_dir: default_cache_dir(),
        }
    }
}

/// `$SUBNETD_CACHE_DIR`, else `$XDG_CACHE_HOME/subnetd`, else `~/.cache/subnetd`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SUBNETD_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("subnetd"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("subnetd"))
}

impl RuntimeConfig {
    /// Builds the engine these limits describe.
    pub fn build_engine(&self) -> wasmtime::Result<Engine> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(self.max_instances)
            // Interpreted guests are made of many core instances, memories and tables.
            .max_core_instances_per_component(64)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            .total_core_instances(self.max_instances.saturating_mul(16))
            .total_memories(self.max_instances.saturating_mul(4))
            .total_tables(self.max_instances.saturating_mul(8))
            .total_stacks(self.max_instances)
            .max_component_instance_size(4 << 20)
            .max_core_instance_size(4 << 20)
            .table_elements(100_000)
            .max_memory_size(self.max_memory_bytes);

        let mut config = Config::new();
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(true)
            .epoch_interruption(true)
            .consume_fuel(self.fuel.is_some())
            .max_wasm_stack(self.max_wasm_stack)
            .concurrency_support(false)
            .wasm_component_model(true);
        Engine::new(&config)
    }
}

/// Bumps an engine's epoch every tick until dropped.
///
/// A plain thread rather than a tokio task: the ticker must keep going when every runtime
/// worker is busy inside wasm, which is exactly when deadlines matter.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("subnetd-epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .ok();
        Self { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
