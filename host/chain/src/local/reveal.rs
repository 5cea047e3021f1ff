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
//! * A local beacon's pulses are derived from its seed ([`subnet_drand::LocalBeacon`], round 1
//!   at the chain's genesis), so they need no storage; quicknet pulses are verified against
//!   quicknet's public key before they are stored, as the drand pallet's `QuicknetVerifier`.

use std::sync::Arc;

use subnet_drand::{BeaconInfo, LocalBeacon, Pulse, WeightsTlockPayload};

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

    /// The local beacon of a chain configured with one.
    fn local_beacon(&self) -> Option<LocalBeacon> {
        match &self.global.config.beacon {
            BeaconSource::Local { seed } => {
                Some(LocalBeacon::from_seed(*seed, self.global.config.genesis_unix_ms / 1000, LOCAL_BEACON_PERIOD_SECS))
            }
            BeaconSource::Quicknet => None,
        }
    }

    /// The beacon whose rounds timelocked commits must be encrypted to.
    pub(super) fn beacon_info(&self) -> BeaconInfo {
        self.local_beacon().map_or_else(BeaconInfo::quicknet, |b| b.info())
    }

    /// The signature of `round` if the reveal step of `block` can read it.
    pub(super) fn stored_signature(&self, round: u64, block: BlockNumber) -> Option<Vec<u8>> {
        match self.local_beacon() {
            Some(beacon) => (round >= 1 && round <= self.local_round_at_block(block.saturating_sub(1)))
                .then(|| beacon.pulse(round).signature),
            None => self.pulses.get(&round).cloned(),
        }
    }

    /// Decrypts a commit with the signature of its round and decodes `WeightsTlockPayload`;
    /// `None` (traced) when any step fails or the payload names another hotkey.
    fn open_commit(&self, entry: &TimelockedEntry, signature: &[u8]) -> Option<(Vec<u16>, Vec<u16>, u64)> {
        let plaintext = subnet_drand::decrypt(&entry.commit, signature)
            .inspect_err(|e| tracing::debug!(who = %entry.who, round = entry.reveal_round, error = %e, "timelocked commit does not decrypt; dropped"))
            .ok()?;
        let payload = WeightsTlockPayload::decode(&plaintext)
            .inspect_err(
                |e| tracing::debug!(who = %entry.who, error = %e, "timelocked payload does not decode; dropped"),
            )
            .ok()?;
        if payload.account() != Some(entry.who.0) {
            tracing::debug!(who = %entry.who, "timelocked payload names another hotkey; dropped");
            return None;
        }
        Some((payload.uids, payload.values, payload.version_key))
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
    /// Stores a drand quicknet pulse (`Drand::write_pulse`) after checking its signature
    /// against quicknet's public key. A chain with a local beacon derives its pulses and
    /// refuses stored ones.
    pub fn store_pulse(&self, pulse: &Pulse) -> Result<(), ChainError> {
        self.transact(|st| {
            if !matches!(st.global.config.beacon, BeaconSource::Quicknet) {
                return Err(ChainError::InvalidInput(
                    "this chain's beacon is local: its pulses are derived, not stored".into(),
                ));
            }
            subnet_drand::verify_pulse(&BeaconInfo::quicknet(), pulse)
                .map_err(|e| ChainError::InvalidInput(format!("drand pulse refused: {e}")))?;
            Arc::make_mut(&mut st.pulses).insert(pulse.round, pulse.signature.clone());
            Ok(())
        })
    }

    /// The beacon this chain reveals timelocked commits with.
    pub fn beacon(&self) -> BeaconInfo {
        self.lock().state.beacon_info()
    }

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
