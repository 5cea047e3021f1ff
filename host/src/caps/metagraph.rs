//! The `metagraph` capability: a read-only snapshot of the subnet's neurons.
//!
//! The snapshot is taken by the caller before the call (from the chain, or the sandbox) and
//! shared by reference; a module cannot change it and sees one consistent view per call.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::{CallContext, CapConfigError, Capability, HostResources};
use crate::bindings::types::Neuron;
use crate::bindings::validator::subnet::plugin::metagraph as wit;

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

impl From<&subnet_chain::Metagraph> for MetagraphView {
    /// The contract's view of a chain metagraph: stake and emission in alpha (rao / 1e9),
    /// incentive and dividends as fractions of 1.
    fn from(metagraph: &subnet_chain::Metagraph) -> Self {
        let neurons = metagraph
            .neurons
            .iter()
            .map(|n| Neuron {
                uid: n.uid,
                hotkey: n.hotkey.to_ss58(),
                stake: n.stake as f64 / 1e9,
                validator_permit: n.validator_permit,
                active: n.active,
                incentive: f64::from(n.incentive) / 65535.0,
                dividends: f64::from(n.dividends) / 65535.0,
                emission: n.emission as f64 / 1e9,
            })
            .collect();
        Self { netuid: metagraph.netuid, block: metagraph.block, neurons }
    }
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

/// The capability: always granted, no settings; each call gets the snapshot its caller took.
pub struct Metagraph;

impl Capability for Metagraph {
    const KEYS: &'static [&'static str] = &[];
    type Config = ();
    type Subnet = ();
    type Instance = MetagraphState;

    fn subnet(_: &(), _: &HostResources<'_>) -> Result<(), CapConfigError> {
        Ok(())
    }

    fn instance(_: &(), call: &CallContext<'_>) -> MetagraphState {
        MetagraphState { view: call.metagraph.clone() }
    }

    fn add_to_linker<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut MetagraphState,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<MetagraphState>>(linker, get)
    }
}
