//! A subnet of simulated neurons on the embedded chain, set up the same way for the sandbox and
//! the daemon's `local` backend: the subnet made if missing (the local chain gives out netuids
//! in order, so lower missing netuids are made as empty subnets too), its hyperparameters set,
//! missing neurons registered under their own coldkeys (the chain burns the incentive of
//! hotkeys the subnet owner's coldkey owns, as subtensor does) and staked, and, when anything
//! was registered, one epoch run so validators hold their permits before the first round.
//!
//! Idempotent: a resumed chain with every neuron registered is left as it is, apart from what
//! `configure` changes.

use subnet_chain::local::LocalChain;
use subnet_chain::{AccountId, Chain, ChainError, Hyperparams, NetUid};

/// A neuron to have on the subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimNeuron {
    /// Its hotkey.
    pub hotkey: AccountId,
    /// The coldkey owning it.
    pub coldkey: AccountId,
    /// Stake to add when it is registered, in rao.
    pub stake_rao: u64,
}

/// What [`ensure_local_subnet`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalSubnet {
    /// The subnet.
    pub netuid: NetUid,
    /// It was made now.
    pub created: bool,
    /// Some neuron was registered now (and an epoch was run).
    pub registered: bool,
}

/// Makes sure subnet `netuid` exists on `chain` (with `None`: the first subnet, made if there
/// is none), owned by `owner` when made; applies `configure(hyperparams, created)`; registers
/// and stakes the `neurons` not yet registered; runs one epoch when it registered any.
pub async fn ensure_local_subnet(
    chain: &LocalChain,
    netuid: Option<NetUid>,
    owner: &AccountId,
    configure: impl FnOnce(&mut Hyperparams, bool),
    neurons: &[SimNeuron],
) -> Result<LocalSubnet, ChainError> {
    let mut created = false;
    let netuid = match netuid {
        None => match chain.subnets().await?.first() {
            Some(netuid) => *netuid,
            None => {
                created = true;
                chain.create_subnet(owner, None)?
            }
        },
        Some(netuid) => {
            while !chain.subnets().await?.contains(&netuid) {
                let got = chain.create_subnet(owner, None)?;
                created |= got == netuid;
                if got > netuid {
                    return Err(ChainError::InvalidInput(format!("the local chain skipped netuid {netuid}")));
                }
            }
            netuid
        }
    };
    chain.update_hyperparams(netuid, |h| configure(h, created))?;
    let metagraph = chain.metagraph_now(netuid)?;
    let mut registered = false;
    for n in neurons {
        if metagraph.uid_of(&n.hotkey).is_some() {
            continue;
        }
        chain.register_now(&n.hotkey, &n.coldkey, netuid)?;
        if n.stake_rao > 0 {
            chain.add_stake(&n.coldkey, &n.hotkey, netuid, n.stake_rao)?;
        }
        registered = true;
    }
    if registered {
        chain.advance_to_next_epoch(netuid)?;
    }
    Ok(LocalSubnet { netuid, created, registered })
}
