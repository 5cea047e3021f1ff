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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::caps::metagraph::MetagraphView;
    use crate::caps::{CallContext, SubnetCaps};

    const PAGE: usize = 64 * 1024;

    fn state(limit: usize) -> HostState {
        let label: Arc<str> = "test".into();
        let metagraph = Arc::new(MetagraphView { netuid: 1, block: 0, neurons: Vec::new() });
        let call = CallContext { subnet: &label, module: "m", seed: 0, metagraph: &metagraph, epoch: None };
        HostState {
            wasi: wasmtime_wasi::WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
            caps: InstanceCaps::new(&SubnetCaps::default(), &call),
            memory_limit: limit,
            memory_used: 0,
            memory_limit_hit: false,
            deadline: Instant::now() + std::time::Duration::from_secs(60),
            stdout: MemoryOutputPipe::new(1024),
            stderr: MemoryOutputPipe::new(1024),
        }
    }

    /// Issue 14 item 9: a module with several memories cannot multiply the limit by their count.
    #[test]
    fn several_memories_share_one_limit() {
        let engine = wasmtime::Engine::default();
        let wasm = wat::parse_str(
            r#"(module
                (memory $a 1) (memory $b 1) (memory $c 1)
                (func (export "grow_a") (param i32) (result i32) (memory.grow $a (local.get 0)))
                (func (export "grow_b") (param i32) (result i32) (memory.grow $b (local.get 0)))
                (func (export "grow_c") (param i32) (result i32) (memory.grow $c (local.get 0))))"#,
        )
        .unwrap();
        let module = wasmtime::Module::new(&engine, wasm).unwrap();
        // 3 initial pages, then room for 7 more in all.
        let mut store = wasmtime::Store::new(&engine, state(10 * PAGE));
        store.limiter(|s| s);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        assert_eq!(store.data().memory_used, 3 * PAGE, "every memory is counted from its first page");
        let grow = |store: &mut wasmtime::Store<HostState>, name: &str, pages: i32| {
            instance.get_typed_func::<i32, i32>(&mut *store, name).unwrap().call(&mut *store, pages)
        };
        assert_eq!(grow(&mut store, "grow_a", 4).unwrap(), 1, "4 pages fit");
        assert!(grow(&mut store, "grow_b", 4).is_err(), "4 more would pass the limit across memories");
        assert!(store.data().memory_limit_hit);
        assert_eq!(grow(&mut store, "grow_c", 3).unwrap(), 1, "exactly up to the limit is fine");
        assert_eq!(store.data().memory_used, 10 * PAGE);
    }
}
