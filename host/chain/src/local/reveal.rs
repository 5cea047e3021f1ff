//! Timelocked reveals, as `coinbase/reveal_commits.rs` and the drand pallet: every block, before
//! the coinbase, each subnet whose epoch is not deferred this block reveals the timelocked
//! commits of epoch `current - reveal_period` whose drand pulse is stored.
//!
//! Invariants:
//! * Commits of epochs before the reveal epoch are dropped (expired); a commit whose pulse is
//!   missing stays queued and is retried every block of its reveal epoch, then expires.
//! * A revealed payload goes through every check of `set_weights`; a failure (undecryptable
//!   commit, undecodable payload, a payload naming another hotkey, a rejected weight vector)
//!   is traced and drops that commit only. Success emits `TimelockedWeightsRevealed`.
//! * Pulses: with [`BeaconSource::Local`] the chain stores the pulse of every round whose time
//!   a block has reached (`LastStoredRound = round_at(timestamp)`); the reveal step of a block
//!   sees the pulses stored up to the block before, as on chain, where pulses arrive in
//!   blocks. With [`BeaconSource::Quicknet`] only pulses given to
//!   `LocalChain::store_pulse` exist.
//!
//! Not wired yet: the BLS/timelock crypto comes from the `subnet-drand` crate, which is not in
//! this tree yet. Until it is, [`State::open_commit`] decrypts nothing, so a commit whose round
//! has come is dropped as undecryptable (traced) and quicknet pulses cannot be stored; the
//! commit checks, storage, listing, expiry and the round arithmetic are complete.

use super::state::{State, TimelockedEntry};
use super::{BeaconSource, LocalChain};
use crate::{AccountId, BlockNumber, ChainError, ChainEvent, MechId, NetUid, netuid_index};

/// Seconds between rounds of the local beacon (quicknet's period).
pub const LOCAL_BEACON_PERIOD_SECS: u64 = 3;

impl State {
    /// The latest round the local beacon has published at the time of `block`.
    fn local_round_at_block(&self, block: BlockNumber) -> u64 {
        let genesis = self.global.config.genesis_unix_ms / 1000;
        let t = self.timestamp_ms(block) / 1000;
        if t < genesis { 0 } else { (t - genesis) / LOCAL_BEACON_PERIOD_SECS + 1 }
    }

    /// Drand `LastStoredRound` after the current block's pulses were written.
    pub(super) fn last_stored_round(&self) -> u64 {
        match &self.global.config.beacon {
            BeaconSource::Local { .. } => self.local_round_at_block(self.global.block),
            BeaconSource::Quicknet => self.pulses.keys().next_back().copied().unwrap_or(0),
        }
    }

    /// The signature of `round` if the reveal step of `block` can read it.
    fn stored_signature(&self, round: u64, block: BlockNumber) -> Option<Vec<u8>> {
        match &self.global.config.beacon {
            BeaconSource::Local { seed } => (round >= 1 && round <= self.local_round_at_block(block.saturating_sub(1)))
                .then(|| {
                    let _ = seed;
                    Vec::new()
                }),
            BeaconSource::Quicknet => self.pulses.get(&round).cloned(),
        }
    }

    /// Decrypts a commit with the signature of its round and decodes `WeightsTlockPayload`;
    /// `None` (traced) when any step fails or the payload names another hotkey. Without
    /// `subnet-drand` (see the module docs) nothing decrypts.
    fn open_commit(&self, entry: &TimelockedEntry, signature: &[u8]) -> Option<(Vec<u16>, Vec<u16>, u64)> {
        tracing::trace!(who = %entry.who, signature = signature.len(), "timelock decryption is not wired in this build");
        None
    }

    /// `reveal_crv3_commits`: subnets whose due epoch the per-block cap defers are skipped.
    pub(super) fn reveal_timelocked(&mut self, deferred: &[NetUid]) -> Vec<ChainEvent> {
        let mut events = Vec::new();
        let netuids: Vec<NetUid> = self.subnets.keys().copied().filter(|n| *n != 0 && !deferred.contains(n)).collect();
        for netuid in netuids {
            events.extend(self.reveal_subnet(netuid));
        }
        events
    }

    fn reveal_subnet(&mut self, netuid: NetUid) -> Vec<ChainEvent> {
        let block = self.global.block;
        let Some(sn) = self.subnets.get(&netuid) else { return Vec::new() };
        if sn.meta.timelocked.is_empty() {
            return Vec::new();
        }
        let period = sn.meta.hyper.commit_reveal_period;
        let current = self.current_epoch(sn);
        let reveal_epoch = current.saturating_sub(period);
        let count = sn.mechanism_count();
        let mut events = Vec::new();
        for mecid in 0..count {
            let Ok(sn) = self.subnet_mut(netuid) else { return events };
            sn.meta.timelocked.retain(|(m, epoch), _| *m != mecid || *epoch >= reveal_epoch);
            if current < period {
                // No commits to reveal until at least epoch `reveal_period`.
                return events;
            }
            let Some(entries) = sn.meta.timelocked.remove(&(mecid, reveal_epoch)) else { continue };
            let mut unrevealed = Vec::new();
            for entry in entries {
                let Some(signature) = self.stored_signature(entry.reveal_round, block) else {
                    tracing::trace!(
                        netuid,
                        mecid,
                        round = entry.reveal_round,
                        "pulse not stored yet; retried next block"
                    );
                    unrevealed.push(entry);
                    continue;
                };
                let Some((uids, values, version_key)) = self.open_commit(&entry, &signature) else { continue };
                if let Some(ev) = self.apply_reveal(&entry.who, netuid, mecid, &uids, &values, version_key) {
                    events.push(ev);
                }
            }
            if !unrevealed.is_empty()
                && let Ok(sn) = self.subnet_mut(netuid)
            {
                sn.meta.timelocked.insert((mecid, reveal_epoch), unrevealed);
            }
        }
        events
    }

    /// `do_set_mechanism_weights` for a decrypted commit (a refused one changes nothing).
    fn apply_reveal(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[u16],
        values: &[u16],
        version_key: u64,
    ) -> Option<ChainEvent> {
        match self.set_weights(who, netuid, mecid, uids, values, version_key) {
            Ok(_) => {
                Some(ChainEvent::TimelockedWeightsRevealed { netuid_index: netuid_index(netuid, mecid), who: *who })
            }
            Err(e) => {
                tracing::trace!(netuid, mecid, %who, error = %e, "timelocked reveal refused by set_weights");
                None
            }
        }
    }
}

impl LocalChain {
    /// Drand `LastStoredRound` now: a timelocked commit must name a round at least this.
    pub fn last_stored_round(&self) -> u64 {
        self.lock().state.last_stored_round()
    }

    /// Whether the reveal step of the next block can read the pulse of `round`.
    pub fn has_pulse(&self, round: u64) -> Result<bool, ChainError> {
        let inner = self.lock();
        Ok(inner.state.stored_signature(round, inner.state.global.block + 1).is_some())
    }
}
