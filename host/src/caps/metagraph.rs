//! The `metagraph` capability: a read-only snapshot of the subnet's neurons.
//!
//! The snapshot is taken by the caller before the call (from the chain, or the sandbox) and
//! shared by reference; a module cannot change it and sees one consistent view per call.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::types::Neuron;
use crate::bindings::validator::subnet::plugin::metagraph as wit;
use crate::runtime::HostState;

/// A metagraph as modules see it.
#[derive(Debug, Clone, Default)]
pub struct MetagraphView {
    /// The subnet.
    pub netuid: u16,
    /// The block the snapshot was read at.
    pub block: u64,
    /// Neurons, ordered by uid.
    pub neurons: Vec<Neuron>,
}

/// Per-instance state: the snapshot.
pub struct MetagraphState {
    pub(crate) view: Arc<MetagraphView>,
}

impl wit::Host for MetagraphState {
    async fn netuid(&mut self) -> wasmtime::Result<u16> {
        Ok(self.view.netuid)
    }

    async fn block(&mut self) -> wasmtime::Result<u64> {
        Ok(self.view.block)
    }

    async fn neurons(&mut self) -> wasmtime::Result<Vec<Neuron>> {
        Ok(self.view.neurons.clone())
    }

    async fn get_neuron(&mut self, uid: u16) -> wasmtime::Result<Option<Neuron>> {
        Ok(self.view.neurons.iter().find(|n| n.uid == uid).cloned())
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<HostState, HasSelf<MetagraphState>>(linker, |s| &mut s.metagraph)
}
