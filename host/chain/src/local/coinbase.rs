//! Coinbase: one block's `on_initialize` (`coinbase/run_coinbase.rs`): emission into the pending
//! pools, the stateful epoch schedule with the per-block cap, and the epoch itself (Yuma through
//! [`crate::yuma::run_epoch`], then `distribute_emission`).
//!
//! Invariant: an epoch pays exactly the drained pending emission (minus truncation); an epoch
//! whose input is malformed keeps the emission pending instead of losing it.

use substrate_fixed::types::U96F32;

use super::LocalChain;
use super::mechanism::{aggregate, split_emissions};
use super::state::{MechRow, Owners, State, Subnet};
use crate::yuma::{self, EpochInput, EpochParams, LiquidAlpha};
use crate::{AccountId, BlockNumber, ChainError, ChainEvent, EpochSchedule, MechId, NetUid};
use serde::{Deserialize, Serialize};

/// One block's emission to a subnet split as `emit_to_subnets` does in `U96F32`: owner cut
/// `emission * cut / 65535`, then miners `(emission - cut) * 0.5` and validators the rest,
/// each truncated to rao on its own (so up to 3 rao per block are lost to truncation).
pub fn block_emission_split(block_emission: u64, owner_cut: u16) -> PendingEmission {
    let alpha_out = U96F32::saturating_from_num(block_emission);
    let pct = U96F32::saturating_from_num(owner_cut)
        .checked_div(U96F32::saturating_from_num(u16::MAX))
        .unwrap_or(U96F32::from_bits(0));
    let owner = alpha_out.saturating_mul(pct);
    let rest = alpha_out.saturating_sub(owner);
    let server = rest.saturating_mul(U96F32::saturating_from_num(0.5));
    let validator = rest.saturating_sub(server);
    PendingEmission {
        server: server.saturating_to_num(),
        validator: validator.saturating_to_num(),
        owner: owner.saturating_to_num(),
    }
}

/// Pending emission of a subnet, rao (pallet `PendingServerEmission`,
/// `PendingValidatorEmission`, `PendingOwnerCut`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEmission {
    /// Miners' half.
    pub server: u64,
    /// Validators' half.
    pub validator: u64,
    /// Owner cut.
    pub owner: u64,
}

impl Subnet {
    /// `get_owner_hotkeys` (coinbase): every registered hotkey of the owner coldkey, plus the
    /// subnet owner hotkey. Their miner incentive is burned.
    pub(super) fn owner_hotkeys(&self, owners: &Owners) -> Vec<AccountId> {
        let mut keys: Vec<AccountId> = self
            .neurons
            .iter()
            .filter(|n| owners.get(&n.hotkey) == Some(&self.meta.owner_coldkey))
            .map(|n| n.hotkey)
            .collect();
        if let Some(h) = self.meta.owner_hotkey
            && self.uid_of(&h).is_some()
            && !keys.contains(&h)
        {
            keys.insert(0, h);
        }
        keys
    }
}

impl State {
    /// One block's `on_initialize`: `run_coinbase` (emission into pending, `drain_pending`
    /// with the per-block epoch cap, then the epochs).
    pub(super) fn step_block(&mut self) -> Vec<ChainEvent> {
        self.global.block += 1;
        let block = self.global.block;
        // `block_step`: matured timelocked weights are revealed before the coinbase.
        let deferred = self.epochs_deferred_this_block(block);
        let mut events = self.reveal_timelocked(&deferred);
        let split = block_emission_split(self.global.config.block_emission_rao, self.global.config.owner_cut);
        let cap = u32::from(self.global.config.max_epochs_per_block);
        let mut epochs_this_block: u32 = 0;
        let mut due: Vec<(NetUid, PendingEmission)> = Vec::new();
        let netuids: Vec<NetUid> = self.subnets.keys().copied().collect();
        for &netuid in &netuids {
            let tempo = self.subnets[&netuid].meta.hyper.tempo;
            let clock = self.clocks.entry(netuid).or_default();
            clock.pending.owner = clock.pending.owner.saturating_add(split.owner);
            clock.pending.server = clock.pending.server.saturating_add(split.server);
            clock.pending.validator = clock.pending.validator.saturating_add(split.validator);
            clock.blocks_since_last_step = clock.blocks_since_last_step.saturating_add(1);
            if !clock.should_run_epoch(tempo, block) {
                continue;
            }
            if epochs_this_block >= cap {
                clock.pending_epoch_at = block + 1;
                tracing::debug!(netuid, block, "epoch deferred by the per-block cap");
                continue;
            }
            clock.blocks_since_last_step = 0;
            due.push((netuid, std::mem::take(&mut clock.pending)));
            epochs_this_block += 1;
            clock.last_epoch_block = block;
            clock.pending_epoch_at = 0;
            clock.epoch_index = clock.epoch_index.saturating_add(1);
        }
        for (netuid, pending) in due {
            match self.run_epoch(netuid, pending) {
                Ok((emitted, burned)) => events.push(ChainEvent::EpochRun { netuid, block, emitted, burned }),
                Err(e) => {
                    // Malformed epoch input cannot arise from this chain's own state; if it
                    // did, keep the emission pending for the next epoch rather than lose it.
                    tracing::warn!(netuid, block, error = %e, "epoch failed");
                    let clock = self.clocks.entry(netuid).or_default();
                    clock.pending.owner = clock.pending.owner.saturating_add(pending.owner);
                    clock.pending.server = clock.pending.server.saturating_add(pending.server);
                    clock.pending.validator = clock.pending.validator.saturating_add(pending.validator);
                }
            }
        }
        events
    }

    /// `epochs_deferred_this_block`: subnets whose epoch is due now but beyond the per-block cap.
    fn epochs_deferred_this_block(&self, block: BlockNumber) -> Vec<NetUid> {
        let cap = usize::from(self.global.config.max_epochs_per_block);
        self.subnets
            .iter()
            .filter(|(netuid, sn)| self.clock(**netuid).should_run_epoch(sn.meta.hyper.tempo, block))
            .map(|(netuid, _)| *netuid)
            .skip(cap)
            .collect()
    }

    /// `distribute_emission`: runs Yuma for a subnet and pays the drained pending emission.
    /// Returns `(rao credited as stake, rao burned)`.
    pub(super) fn run_epoch(&mut self, netuid: NetUid, pending: PendingEmission) -> Result<(u64, u64), ChainError> {
        let block = self.global.block;
        let sn = self.subnet(netuid)?;
        let h = &sn.meta.hyper;
        let params = EpochParams {
            kappa: h.kappa,
            bonds_penalty: h.bonds_penalty,
            bonds_moving_average: h.bonds_moving_average,
            activity_cutoff: h.activity_cutoff_blocks(),
            max_allowed_validators: h.max_allowed_validators,
            tempo: h.tempo,
            yuma3: h.yuma3_enabled,
            liquid_alpha: h.liquid_alpha_enabled.then_some(LiquidAlpha {
                alpha_low: h.alpha_low,
                alpha_high: h.alpha_high,
                alpha_sigmoid_steepness: h.alpha_sigmoid_steepness,
            }),
            stake_threshold: h.stake_threshold,
            tao_weight: 0,
        };
        let to_epoch = pending.server.saturating_add(pending.validator);
        let count = sn.mechanism_count();
        let emissions = split_emissions(to_epoch, count, h.mechanism_emission_split.as_deref());
        let mut outputs = Vec::with_capacity(usize::from(count));
        for (mecid, &emission) in (0..count).zip(&emissions) {
            let input = self.epoch_input(sn, mecid);
            let out = yuma::run_epoch(&params, &input, emission)
                .map_err(|e| ChainError::InvalidInput(format!("epoch input of mechanism {mecid}: {e}")))?;
            outputs.push(out);
        }
        let out = aggregate(&outputs, &emissions, to_epoch);

        // `distribute_emission`: validators get the pending validator alpha (both halves when
        // no miner earned incentive), shared by epoch dividends in `U96F32`.
        let incentive_sum: u64 = out.server_emission.iter().fold(0u64, |a, &x| a.saturating_add(x));
        let validator_alpha =
            if incentive_sum > 0 { pending.validator } else { pending.validator.saturating_add(pending.server) };
        let zero = U96F32::from_bits(0);
        let total_divs =
            out.validator_emission.iter().fold(zero, |a, &d| a.saturating_add(U96F32::saturating_from_num(d)));
        let take_pct = U96F32::saturating_from_num(self.global.config.hotkey_take)
            .checked_div(U96F32::saturating_from_num(u16::MAX))
            .unwrap_or(zero);
        let owner_hotkeys = sn.owner_hotkeys(&self.owners);
        let mut credits: Vec<(AccountId, u64)> = Vec::with_capacity(sn.n());
        let mut burned: u64 = 0;
        for (i, n) in sn.neurons.iter().enumerate() {
            let incentive = out.server_emission.get(i).copied().unwrap_or(0);
            let to_miner = if owner_hotkeys.contains(&n.hotkey) {
                burned = burned.saturating_add(incentive);
                0
            } else {
                incentive
            };
            let dividend = U96F32::saturating_from_num(out.validator_emission.get(i).copied().unwrap_or(0));
            let share = dividend.checked_div(total_divs).unwrap_or(zero);
            let prop = U96F32::saturating_from_num(validator_alpha).saturating_mul(share);
            let take = take_pct.saturating_mul(prop);
            let rest = prop.saturating_sub(take);
            let to_validator = take.saturating_to_num::<u64>().saturating_add(rest.saturating_to_num::<u64>());
            credits.push((n.hotkey, to_miner.saturating_add(to_validator)));
        }
        let owner_hotkey = sn.meta.owner_hotkey;

        let sn = self.subnet_mut(netuid)?;
        let mut paid: u64 = 0;
        for (hotkey, amount) in credits {
            if amount > 0 {
                let s = sn.meta.stake.entry(hotkey).or_default();
                *s = s.saturating_add(amount);
                paid = paid.saturating_add(amount);
            }
        }
        match owner_hotkey {
            Some(h) => {
                let s = sn.meta.stake.entry(h).or_default();
                *s = s.saturating_add(pending.owner);
                paid = paid.saturating_add(pending.owner);
            }
            None => sn.meta.owner_coldkey_emission = sn.meta.owner_coldkey_emission.saturating_add(pending.owner),
        }
        sn.meta.burned = sn.meta.burned.saturating_add(burned);
        for (i, n) in sn.neurons.iter_mut().enumerate() {
            let get16 = |v: &Vec<u16>| v.get(i).copied().unwrap_or(0);
            n.active = out.active.get(i).copied().unwrap_or(false);
            n.validator_permit = out.validator_permit.get(i).copied().unwrap_or(false);
            n.consensus = get16(&out.consensus);
            n.dividends = get16(&out.dividends);
            n.validator_trust = get16(&out.validator_trust);
            n.emission = out.emission.get(i).copied().unwrap_or(0);
            // `persist_mechanism_epoch_terms`: incentive and bonds per mechanism.
            for (mecid, mech_out) in (0..count).zip(&outputs) {
                let row = n.mech_mut(mecid);
                row.incentive = get16(&mech_out.incentive);
                row.bonds = mech_out.bonds.get(i).cloned().unwrap_or_default();
            }
        }
        sn.meta.last_mechanism_step_block = block;
        tracing::debug!(netuid, block, paid, burned, "epoch ran");
        Ok((paid, burned))
    }
}

impl State {
    /// What the epoch of mechanism `mecid` reads (`epoch_mechanism`): its weights, bonds and
    /// `LastUpdate`; the shared stake, registrations and permits; with commit-reveal on, per
    /// uid the earliest block of its unexpired v2 or timelocked commits of that mechanism.
    fn epoch_input(&self, sn: &Subnet, mecid: MechId) -> EpochInput {
        let commit_blocks = sn.meta.hyper.commit_reveal_enabled.then(|| {
            let mut blocks = vec![u64::MAX; sn.n()];
            for (uid, n) in sn.neurons.iter().enumerate() {
                if let Some(c) =
                    sn.commit_queue(mecid, &n.hotkey).and_then(|q| q.iter().find(|c| !self.commit_expired(sn, c.epoch)))
                {
                    blocks[uid] = c.block;
                }
            }
            for ((m, epoch), queue) in &sn.meta.timelocked {
                if *m != mecid || self.commit_expired(sn, *epoch) {
                    continue;
                }
                for entry in queue {
                    if let Some(uid) = sn.uid_of(&entry.who) {
                        let cell = &mut blocks[usize::from(uid)];
                        *cell = (*cell).min(entry.commit_block);
                    }
                }
            }
            blocks
        });
        let rows: Vec<MechRow> = sn.neurons.iter().map(|n| n.mech(mecid)).collect();
        EpochInput {
            current_block: self.global.block,
            last_epoch_block: sn.meta.last_mechanism_step_block,
            last_update: rows.iter().map(|r| r.last_update).collect(),
            block_at_registration: sn.neurons.iter().map(|n| n.block_at_registration).collect(),
            stake: sn.neurons.iter().map(|n| sn.stake_of(&n.hotkey)).collect(),
            tao_stake: Vec::new(),
            weights: rows.iter().map(|r| r.weights.clone()).collect(),
            bonds: rows.into_iter().map(|r| r.bonds).collect(),
            validator_permit: sn.neurons.iter().map(|n| n.validator_permit).collect(),
            owner_uid: sn.owner_uid(),
            commit_blocks,
        }
    }
}

impl LocalChain {
    /// Pending (undistributed) emission of a subnet.
    pub fn pending_emission(&self, netuid: NetUid) -> PendingEmission {
        self.lock().state.clock(netuid).pending
    }

    /// Owner cut withheld because the subnet has no owner hotkey, rao.
    pub fn owner_coldkey_emission(&self, netuid: NetUid) -> u64 {
        self.lock().state.subnets.get(&netuid).map_or(0, |s| s.meta.owner_coldkey_emission)
    }

    /// Miner incentive of the owner's hotkeys burned so far, rao.
    pub fn burned_emission(&self, netuid: NetUid) -> u64 {
        self.lock().state.subnets.get(&netuid).map_or(0, |s| s.meta.burned)
    }

    /// Sync form of [`Chain::epoch_schedule`](crate::Chain::epoch_schedule).
    pub fn epoch_schedule_now(&self, netuid: NetUid) -> Result<EpochSchedule, ChainError> {
        let inner = self.lock();
        let sn = inner.state.subnet(netuid)?;
        Ok(inner.state.schedule_of(sn))
    }

    /// The subnet's epoch index (`SubnetEpochIndex`): epoch slots consumed so far.
    pub fn epoch_index(&self, netuid: NetUid) -> Result<u64, ChainError> {
        let inner = self.lock();
        inner.state.subnet(netuid)?;
        Ok(inner.state.clock(netuid).epoch_index)
    }

    /// The block of the subnet's next epoch (`get_next_epoch_start_block`):
    /// `LastEpochBlock + tempo`, or a deferred epoch's block if earlier. `InvalidInput` when
    /// tempo is 0 (epochs never run). The per-block cap may push an epoch further.
    pub fn next_epoch_block(&self, netuid: NetUid) -> Result<BlockNumber, ChainError> {
        let inner = self.lock();
        let tempo = inner.state.subnet(netuid)?.meta.hyper.tempo;
        if tempo == 0 {
            return Err(ChainError::InvalidInput("tempo 0: epochs never run".into()));
        }
        let clock = inner.state.clock(netuid);
        let auto = clock.last_epoch_block.saturating_add(u64::from(tempo));
        let next = if clock.pending_epoch_at > 0 { auto.min(clock.pending_epoch_at) } else { auto };
        // A slot already due fires in the next block.
        Ok(next.max(inner.state.global.block + 1))
    }

    /// Produces `n` blocks: each adds emission to every subnet's pending pool and runs the
    /// epochs due at that height. The `n` blocks are one transaction: they are committed
    /// together, and on a storage failure none of them happened. Returns the blocks' events
    /// (epochs run).
    pub fn advance_blocks(&self, n: u64) -> Result<Vec<ChainEvent>, ChainError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let (events, block) = self.transact(|st| {
            let mut events = Vec::new();
            for _ in 0..n {
                events.extend(st.step_block());
            }
            Ok((events, st.global.block))
        })?;
        self.blocks.send_replace(block);
        Ok(events)
    }

    /// Advances block by block until `netuid` runs an epoch and returns the events of the
    /// blocks produced. Errors with `SubnetNotExists`, or `InvalidInput` when tempo is 0.
    pub fn advance_to_next_epoch(&self, netuid: NetUid) -> Result<Vec<ChainEvent>, ChainError> {
        let next = self.next_epoch_block(netuid)?;
        let block = self.block();
        let mut events = self.advance_blocks(next.saturating_sub(block))?;
        // Deferred by the per-block cap: one more block each time, bounded by the subnets.
        let subnets = self.lock().state.subnets.len() as u64;
        for _ in 0..=subnets {
            if events.iter().any(|e| matches!(e, ChainEvent::EpochRun { netuid: u, .. } if *u == netuid)) {
                return Ok(events);
            }
            events.extend(self.advance_blocks(1)?);
        }
        Err(ChainError::InvalidInput(format!("subnet {netuid} did not run its epoch")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emission_split_truncates_each_part_like_the_pallet() {
        let p = block_emission_split(1_000_000_000, yuma::DEFAULT_OWNER_CUT);
        // 1e9 * 11796/65535 = 179_995_422.7..; the rest 820_004_577.3.. halves to 410_002_288.6..
        assert_eq!(p.owner, 179_995_422);
        assert_eq!(p.server, 410_002_288);
        assert_eq!(p.validator, 410_002_288);
        assert_eq!(1_000_000_000 - (p.owner + p.server + p.validator), 2);
        let none = block_emission_split(1_000, 0);
        assert_eq!((none.owner, none.server, none.validator), (0, 500, 500));
    }
}
