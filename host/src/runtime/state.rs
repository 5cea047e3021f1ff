//! What one `Store` holds: WASI (sandboxed to nothing), the capabilities' per-instance state,
//! the memory limiter, and the call's deadline.
//!
//! A store lives for exactly one call. Nothing here outlives it except what capabilities
//! write through their shared backends (the key-value store).

use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::caps::{compute, kv, log, metagraph, random};

/// Error a store raises when its module asks for more memory than its limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit exceeded: the module asked for {desired} bytes, its limit is {limit} bytes")]
pub struct MemoryLimitExceeded {
    /// Bytes the module tried to grow a memory or table to.
    pub desired: usize,
    /// The limit it broke.
    pub limit: usize,
}

/// Error the epoch callback raises once a call is past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
pub struct DeadlineExceeded;

/// Per-store data of every instance the host runs.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) log: log::LogState,
    pub(crate) random: random::RandomState,
    pub(crate) kv: kv::KvState,
    pub(crate) metagraph: metagraph::MetagraphState,
    pub(crate) compute: compute::ComputeState,
    pub(crate) memory_limit: usize,
    pub(crate) memory_limit_hit: bool,
    pub(crate) deadline: Instant,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_limit_hit = true;
            return Err(MemoryLimitExceeded { desired, limit: self.memory_limit }.into());
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|max| desired <= max))
    }
}
