//! What one `Store` holds: WASI (sandboxed to nothing but a granted directory), every
//! capability's per-instance state, the memory limiter, and the call's deadline.
//!
//! A store lives for exactly one call. Nothing here outlives it except what capabilities
//! write through their shared backends (the key-value store).

use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::caps::{HasCaps, InstanceCaps};

/// Error a store raises when its module asks for more memory than its limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit exceeded: the module asked for {desired} bytes, its limit is {limit} bytes")]
pub struct MemoryLimitExceeded {
    /// Bytes the module's memories would hold together after the growth.
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
    pub(crate) caps: InstanceCaps,
    /// Bytes all of the instance's linear memories may hold together.
    pub(crate) memory_limit: usize,
    /// Bytes they hold now (a component may have several core instances, each with memories).
    pub(crate) memory_used: usize,
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

impl HasCaps for HostState {
    fn caps(&mut self) -> &mut InstanceCaps {
        &mut self.caps
    }

    fn caps_and_table(&mut self) -> (&mut InstanceCaps, &mut ResourceTable) {
        (&mut self.caps, &mut self.table)
    }
}

impl wasmtime::ResourceLimiter for HostState {
    /// Bounds the instance's memories *together*: wasmtime asks per memory, and a component may
    /// declare several, so each growth is charged against one total.
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory_used.saturating_sub(current).saturating_add(desired);
        if total > self.memory_limit {
            self.memory_limit_hit = true;
            return Err(MemoryLimitExceeded { desired: total, limit: self.memory_limit }.into());
        }
        self.memory_used = total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|max| desired <= max))
    }
}
