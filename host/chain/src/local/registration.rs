//! Registration: subnets, `burned_register` with immunity and pruning (`subnets/registration.rs`,
//! `subnets/uids.rs`), and stake.
//!
//! Invariant: uids are dense (`0..n`); a full subnet replaces the neuron
//! `get_neuron_to_prune` picks, never one of the owner's immortal uids.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::state::{Clock, Neuron, Owners, State, Subnet, SubnetMeta};
use super::{LocalChain, err};
use crate::{
    AccountId, BlockNumber, ChainError, ChainEvent, ExtrinsicOutcome, Hyperparams, NetUid, SubtensorError as E, Uid,
};

impl Subnet {
    /// `get_immune_owner_tuples`: the owner coldkey's registered hotkeys, oldest registration
    /// first, up to `ImmuneOwnerUidsLimit`, with the subnet owner hotkey put first.
    pub(super) fn immune_owner_uids(&self, owners: &Owners) -> Vec<Uid> {
        let limit = usize::from(self.meta.hyper.immune_owner_uids_limit);
        let mut triples: Vec<(BlockNumber, Uid)> = self
            .neurons
            .iter()
            .enumerate()
            .filter(|(_, n)| owners.get(&n.hotkey) == Some(&self.meta.owner_coldkey))
            .map(|(uid, n)| (n.block_at_registration, uid as Uid))
            .collect();
        triples.sort();
        triples.truncate(limit);
        let mut uids: Vec<Uid> = triples.into_iter().map(|(_, u)| u).collect();
        if let Some(owner_uid) = self.owner_uid()
            && !uids.contains(&owner_uid)
        {
            uids.insert(0, owner_uid);
            uids.truncate(limit);
        }
        uids
    }

    /// `get_neuron_to_prune`: lowest emission, then earliest registration, then lowest uid,
    /// among non-immune uids while more than `MinNonImmuneUids` of them remain, else among
    /// immune ones; owner-immortal uids never.
    pub(super) fn neuron_to_prune(&self, owners: &Owners, block: BlockNumber) -> Option<Uid> {
        let immortal = self.immune_owner_uids(owners);
        let mut free_count: u16 = 0;
        let mut best_free: Option<(u64, BlockNumber, Uid)> = None;
        let mut best_immune: Option<(u64, BlockNumber, Uid)> = None;
        for (uid, n) in self.neurons.iter().enumerate() {
            let uid = uid as Uid;
            if immortal.contains(&uid) {
                continue;
            }
            let key = (n.emission, n.block_at_registration, uid);
            let slot = if self.is_immune(usize::from(uid), block) {
                &mut best_immune
            } else {
                free_count = free_count.saturating_add(1);
                &mut best_free
            };
            if slot.is_none_or(|b| key < b) {
                *slot = Some(key);
            }
        }
        if free_count > self.meta.hyper.min_non_immune_uids
            && let Some((_, _, uid)) = best_free
        {
            return Some(uid);
        }
        best_immune.map(|(_, _, uid)| uid)
    }

    /// `replace_neuron`: new hotkey at `uid`, its values cleared, weights set *to* it zeroed.
    pub(super) fn replace_neuron(&mut self, uid: Uid, hotkey: AccountId, block: BlockNumber) {
        let idx = usize::from(uid);
        let count = self.mechanism_count();
        if let Some(n) = self.neurons.get_mut(idx) {
            *n = Neuron::new(hotkey, block, count);
        }
        for other in &mut self.neurons {
            for (target, w) in std::iter::once(&mut other.main)
                .chain(other.mechanisms.iter_mut())
                .flat_map(|row| row.weights.iter_mut())
            {
                if *target == uid {
                    *w = 0;
                }
            }
        }
    }
}

impl State {
    /// `do_register` (burned_register) without the burn.
    pub(super) fn register(
        &mut self,
        hotkey: &AccountId,
        coldkey: &AccountId,
        netuid: NetUid,
    ) -> Result<ChainEvent, ChainError> {
        let block = self.global.block;
        if netuid == 0 {
            return Err(err(E::RegistrationNotPermittedOnRootSubnet));
        }
        let sn = self.subnet(netuid)?;
        if !sn.meta.hyper.registration_allowed {
            return Err(err(E::SubNetRegistrationDisabled));
        }
        if sn.uid_of(hotkey).is_some() {
            return Err(err(E::HotKeyAlreadyRegisteredInSubNet));
        }
        if self.owners.get(hotkey).is_some_and(|c| c != coldkey) {
            return Err(err(E::NonAssociatedColdKey));
        }
        let max = usize::from(sn.meta.hyper.max_allowed_uids);
        if max == 0 {
            return Err(err(E::NoNeuronIdAvailable));
        }
        let prune = if sn.n() >= max {
            Some(sn.neuron_to_prune(&self.owners, block).ok_or_else(|| err(E::NoNeuronIdAvailable))?)
        } else {
            None
        };
        if self.owners.get(hotkey) != Some(coldkey) {
            Arc::make_mut(&mut self.owners).insert(*hotkey, *coldkey);
        }
        let sn = self.subnet_mut(netuid)?;
        let uid = match prune {
            Some(uid) => {
                tracing::debug!(netuid, uid, "pruning neuron for registration");
                sn.replace_neuron(uid, *hotkey, block);
                uid
            }
            None => {
                let count = sn.mechanism_count();
                sn.neurons.push(Neuron::new(*hotkey, block, count));
                (sn.n() - 1) as Uid
            }
        };
        Ok(ChainEvent::NeuronRegistered { netuid, uid, hotkey: *hotkey })
    }
}

impl LocalChain {
    /// [`Hyperparams::default`]. With `owner_hotkey`, that hotkey is registered as uid 0 and
    /// becomes the subnet owner hotkey, as `register_network` does.
    pub fn create_subnet(
        &self,
        owner_coldkey: &AccountId,
        owner_hotkey: Option<&AccountId>,
    ) -> Result<NetUid, ChainError> {
        self.transact(|st| {
            let netuid = (1..=u16::MAX)
                .find(|n| !st.subnets.contains_key(n))
                .ok_or_else(|| ChainError::InvalidInput("no free netuid".into()))?;
            if let Some(h) = owner_hotkey
                && st.owners.get(h).is_some_and(|c| c != owner_coldkey)
            {
                return Err(err(E::NonAssociatedColdKey));
            }
            let block = st.global.block;
            let hyper = Hyperparams::default();
            let mut sn = Subnet {
                meta: SubnetMeta {
                    netuid,
                    owner_coldkey: *owner_coldkey,
                    owner_hotkey: owner_hotkey.copied(),
                    hyper,
                    stake: BTreeMap::new(),
                    commits: BTreeMap::new(),
                    mechanism_commits: BTreeMap::new(),
                    timelocked: BTreeMap::new(),
                    last_mechanism_step_block: 0,
                    owner_coldkey_emission: 0,
                    burned: 0,
                },
                neurons: Vec::new(),
            };
            if let Some(h) = owner_hotkey {
                Arc::make_mut(&mut st.owners).insert(*h, *owner_coldkey);
                sn.neurons.push(Neuron::new(*h, block, 1));
            }
            // `init_new_network`: the schedule is staggered by netuid.
            let period = u64::from(sn.meta.hyper.tempo).max(1);
            let stagger = u64::from(netuid) % period;
            st.clocks.insert(netuid, Clock { last_epoch_block: block.saturating_sub(stagger), ..Clock::default() });
            st.subnets.insert(netuid, Arc::new(sn));
            Ok(netuid)
        })
    }

    /// `add_stake`: stakes `amount` rao from `coldkey` to `hotkey` on `netuid` (minted: the
    /// local chain keeps no balances; the sandbox's way to give validators stake). Fails with
    /// `SubnetNotExists`, `AmountTooLow` (0) or `HotKeyAccountNotExists` (never registered).
    pub fn add_stake(
        &self,
        coldkey: &AccountId,
        hotkey: &AccountId,
        netuid: NetUid,
        amount: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.extrinsic(|st| {
            {
                st.subnet(netuid)?;
                if amount == 0 {
                    return Err(err(E::AmountTooLow));
                }
                if !st.owners.contains_key(hotkey) {
                    return Err(err(E::HotKeyAccountNotExists));
                }
                let sn = st.subnet_mut(netuid)?;
                let s = sn.meta.stake.entry(*hotkey).or_default();
                *s = s.saturating_add(amount);
                Ok(ChainEvent::StakeAdded { coldkey: *coldkey, hotkey: *hotkey, netuid, amount })
            }
            .map(|e| vec![e])
        })
    }

    /// Sync form of [`Chain::register`](crate::Chain::register).
    pub fn register_now(
        &self,
        hotkey: &AccountId,
        coldkey: &AccountId,
        netuid: NetUid,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.extrinsic(|st| st.register(hotkey, coldkey, netuid).map(|e| vec![e]))
    }
}
