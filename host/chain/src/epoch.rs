//! The one definition of a subnet's epoch, for the whole project.
//!
//! [`EpochSchedule`] holds what a chain stores about a subnet's epoch clock at one block
//! (`SubnetEpochIndex`, `LastEpochBlock`, `PendingEpochAt`, `BlocksSinceLastStep`, `Tempo`,
//! `RevealPeriodEpochs`) and answers the questions every part of subnetd asks: which epoch an
//! extrinsic sent now belongs to ([`EpochSchedule::epoch`]), when an epoch begins
//! ([`EpochSchedule::first_block_of_epoch`]) and which drand round a timelocked commit sent now
//! must name ([`EpochSchedule::reveal_round_at`]). Both backends fill it ([`crate::Chain::epoch_schedule`]):
//! the embedded chain from its own clock, the subtensor backend from storage.
//!
//! # The two epoch models
//!
//! * **Stateful** (subtensor spec >= 423, `epoch_index` is `Some`): the epoch is the stored
//!   counter, plus one when an epoch slot fires in the block the extrinsic lands in
//!   (`current_epoch_with_lookahead`, with `should_run_epoch` as in `coinbase/run_coinbase.rs`).
//!   Future epochs are found by simulating the block step block by block, exactly as
//!   bittensor-drand 2.0's `predict_first_reveal_block` does (no per-block epoch cap, no
//!   owner trigger beyond the one already pending).
//! * **Legacy** (older runtimes, `epoch_index` is `None`): `epoch(b) = (b + netuid + 1) /
//!   (tempo + 1)` and its first block `epoch * (tempo + 1) - (netuid + 1)`, as
//!   `get_epoch_index` / `get_reveal_blocks` were before the stateful counter.
//!
//! # Invariants
//!
//! * Values describe the chain *after* block `block`'s block step (`on_initialize`). An
//!   extrinsic submitted now is applied in [`EpochSchedule::extrinsic_block`]: `block + 1` on a
//!   node (the next block), `block` itself on the embedded chain, which applies extrinsics in
//!   its current block after that block's step. [`EpochSchedule::epoch`] is the epoch of that
//!   block, so on the embedded chain it is exactly the epoch its commit-reveal checks use.
//! * Nothing here panics or loops unboundedly: the simulation stops after
//!   `(epochs ahead + 1) * (MAX_TEMPO + 1)` blocks, the longest any epoch can take. A subnet with
//!   tempo 0 never runs an epoch; its future epochs begin at [`BlockNumber::MAX`].
//!
//! # Failure modes
//!
//! None at run time; an epoch in the past on the stateful model has no stored first block, so
//! [`EpochSchedule::first_block_of_epoch`] extrapolates it back by `tempo` blocks per epoch from
//! `LastEpochBlock` (exact for the current epoch, approximate across tempo changes or deferrals).

use serde::{Deserialize, Serialize};

use crate::{BlockNumber, NetUid};

/// Blocks without an epoch step after which one is forced (pallet `MAX_TEMPO`).
pub const MAX_TEMPO: u16 = 50_400;
/// Blocks bittensor-drand adds after the first reveal block so that the drand pulse it names
/// has been written to the chain by then (`SECURITY_BLOCK_OFFSET`).
pub const REVEAL_SECURITY_BLOCKS: u64 = 3;
/// Block time of subtensor when the runtime does not say, milliseconds.
pub const DEFAULT_BLOCK_TIME_MS: u64 = 12_000;

/// A subnet's epoch clock at one block. See the module docs for the two models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochSchedule {
    /// The subnet.
    pub netuid: NetUid,
    /// The head block these values were read at (after its block step).
    pub block: BlockNumber,
    /// The block an extrinsic submitted now is applied in: `block + 1` on a node, `block` on
    /// the embedded chain (which applies extrinsics in its current block).
    pub extrinsic_block: BlockNumber,
    /// `Tempo`.
    pub tempo: u16,
    /// `RevealPeriodEpochs`.
    pub reveal_period_epochs: u64,
    /// `SubnetEpochIndex`; `None` on runtimes without it (spec < 423): the legacy model.
    pub epoch_index: Option<u64>,
    /// `LastEpochBlock`; `None` on runtimes without it.
    pub last_epoch_block: Option<BlockNumber>,
    /// `PendingEpochAt` (0 = none).
    pub pending_epoch_at: BlockNumber,
    /// `BlocksSinceLastStep`.
    pub blocks_since_last_step: u64,
    /// The chain's block time, milliseconds (`Aura::SlotDuration`; 12000 on finney).
    pub block_time_ms: u64,
    /// `Timestamp::Now` of the head block, milliseconds, when the chain has it.
    pub timestamp_ms: Option<u64>,
}

/// The part of the state the block step changes, simulated forward.
#[derive(Debug, Clone, Copy)]
struct Clock {
    last_epoch_block: BlockNumber,
    pending_epoch_at: BlockNumber,
    epoch_index: u64,
    blocks_since_last_step: u64,
}

/// `should_run_epoch` (`coinbase/run_coinbase.rs`) for a clock state at `block`.
pub fn should_run_epoch(
    tempo: u16,
    last_epoch_block: BlockNumber,
    pending_epoch_at: BlockNumber,
    blocks_since_last_step: u64,
    block: BlockNumber,
) -> bool {
    if tempo == 0 {
        return false;
    }
    if pending_epoch_at > 0 && block >= pending_epoch_at {
        return true;
    }
    if blocks_since_last_step > u64::from(MAX_TEMPO) {
        return true;
    }
    block.saturating_sub(last_epoch_block) >= u64::from(tempo)
}

impl Clock {
    fn should_run(&self, tempo: u16, block: BlockNumber) -> bool {
        should_run_epoch(tempo, self.last_epoch_block, self.pending_epoch_at, self.blocks_since_last_step, block)
    }

    /// The epoch a reveal at the start of `block` (before its coinbase) sees.
    fn epoch_before_step(&self, tempo: u16, block: BlockNumber) -> u64 {
        self.epoch_index.saturating_add(u64::from(self.should_run(tempo, block)))
    }

    /// `run_coinbase`'s effect on the clock in `block`, without the per-block cap.
    fn step(&mut self, tempo: u16, block: BlockNumber) {
        self.blocks_since_last_step = self.blocks_since_last_step.saturating_add(1);
        if self.should_run(tempo, block) {
            self.last_epoch_block = block;
            self.pending_epoch_at = 0;
            self.epoch_index = self.epoch_index.saturating_add(1);
            self.blocks_since_last_step = 0;
        }
    }
}

impl EpochSchedule {
    fn clock(&self) -> Option<Clock> {
        Some(Clock {
            last_epoch_block: self.last_epoch_block.unwrap_or(0),
            pending_epoch_at: self.pending_epoch_at,
            epoch_index: self.epoch_index?,
            blocks_since_last_step: self.blocks_since_last_step,
        })
    }

    /// Whether the stateful model applies (the chain stores `SubnetEpochIndex`).
    pub fn is_stateful(&self) -> bool {
        self.epoch_index.is_some()
    }

    /// The legacy epoch of `block`: `(block + netuid + 1) / (tempo + 1)`.
    pub fn legacy_epoch_of(&self, block: BlockNumber) -> u64 {
        let period = u64::from(self.tempo).saturating_add(1);
        block.saturating_add(u64::from(self.netuid)).saturating_add(1) / period
    }

    /// The epoch an extrinsic submitted now belongs to (`current_epoch_with_lookahead` in
    /// [`EpochSchedule::extrinsic_block`]); legacy: `(extrinsic_block + netuid + 1) / (tempo + 1)`.
    pub fn epoch(&self) -> u64 {
        match self.clock() {
            Some(c) => c.epoch_before_step(self.tempo, self.extrinsic_block),
            None => self.legacy_epoch_of(self.extrinsic_block),
        }
    }

    /// First block whose epoch is `epoch`: the block whose step starts it, where the chain
    /// reveals the commits of `epoch - reveal_period`. Future epochs are found by walking the
    /// block step forward from `block` (as bittensor-drand's `generate_commit_v2`); the
    /// current epoch starts at `LastEpochBlock`; see the module docs for past epochs and tempo
    /// 0. Legacy: `epoch * (tempo + 1) - (netuid + 1)`.
    pub fn first_block_of_epoch(&self, epoch: u64) -> BlockNumber {
        let Some(mut clock) = self.clock() else {
            let period = u64::from(self.tempo).saturating_add(1);
            return epoch.saturating_mul(period).saturating_sub(u64::from(self.netuid).saturating_add(1));
        };
        if epoch <= clock.epoch_index {
            let back = (clock.epoch_index - epoch).saturating_mul(u64::from(self.tempo));
            return clock.last_epoch_block.saturating_sub(back);
        }
        if self.tempo == 0 {
            return BlockNumber::MAX;
        }
        let ahead = epoch - clock.epoch_index;
        let budget = ahead.saturating_add(1).saturating_mul(u64::from(MAX_TEMPO) + 1);
        let mut block = self.block;
        for _ in 0..budget {
            block = block.saturating_add(1);
            if clock.epoch_before_step(self.tempo, block) >= epoch {
                return block;
            }
            clock.step(self.tempo, block);
        }
        BlockNumber::MAX
    }

    /// The first block of the epoch in which a commit sent now is revealed:
    /// `first_block_of_epoch(epoch() + reveal_period_epochs)`.
    pub fn first_reveal_block(&self) -> BlockNumber {
        self.first_block_of_epoch(self.epoch().saturating_add(self.reveal_period_epochs))
    }

    /// The drand round a timelocked (v4) commit sent at `now_unix_secs` must name, as
    /// bittensor-drand 2.0's `generate_commit_v2` computes it for a beacon with genesis
    /// `genesis_unix` and period `period_secs`: the first reveal block plus
    /// [`REVEAL_SECURITY_BLOCKS`], as seconds from `block` at the chain's block time, added to
    /// now; `round = max(1, floor((t - genesis) / period))`. Tempo 0: `u64::MAX` (never).
    pub fn reveal_round_at(&self, genesis_unix: u64, period_secs: u64, now_unix_secs: f64) -> u64 {
        let first = self.first_reveal_block();
        if first == BlockNumber::MAX {
            return u64::MAX;
        }
        let target = first.saturating_add(REVEAL_SECURITY_BLOCKS);
        let blocks_until = target.saturating_sub(self.block);
        let secs_until = blocks_until as f64 * (self.block_time_ms as f64 / 1000.0);
        let t = now_unix_secs + secs_until;
        let round = ((t - genesis_unix as f64) / period_secs.max(1) as f64).floor();
        // `as` saturates (NaN to 0), so a wild clock cannot panic here.
        (round as u64).max(1)
    }

    /// The unix time of the head block in seconds: `Timestamp::Now` when known.
    pub fn timestamp_secs(&self) -> Option<f64> {
        self.timestamp_ms.map(|ms| ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stateful(last: u64, pending: u64, index: u64, tempo: u16, since: u64, head: u64) -> EpochSchedule {
        EpochSchedule {
            netuid: 1,
            block: head,
            extrinsic_block: head + 1,
            tempo,
            reveal_period_epochs: 1,
            epoch_index: Some(index),
            last_epoch_block: Some(last),
            pending_epoch_at: pending,
            blocks_since_last_step: since,
            block_time_ms: DEFAULT_BLOCK_TIME_MS,
            timestamp_ms: None,
        }
    }

    #[test]
    fn bittensor_drand_prediction_vectors() {
        // bittensor-drand 2.0 `epoch_schedule_vectors.rs` `predict_vectors` (period 1).
        assert_eq!(stateful(10, 0, 0, 50, 0, 10).first_reveal_block(), 60, "cycle_reset");
        assert_eq!(stateful(80, 95, 0, 20, 0, 91).first_reveal_block(), 95, "pending_fires_before_auto");
        assert_eq!(stateful(10, 0, 0, 0, 0, 10).first_reveal_block(), BlockNumber::MAX, "tempo_zero");
        // `commit_epoch_vectors`: the commit lands in block 121, before the epoch at 150.
        assert_eq!(stateful(100, 0, 0, 50, 0, 120).epoch(), 0);
    }

    #[test]
    fn lookahead_counts_an_epoch_firing_in_the_extrinsic_block() {
        let s = stateful(100, 0, 7, 10, 9, 109);
        assert_eq!(s.epoch(), 8, "block 110 fires the epoch before the extrinsic runs");
        assert_eq!(s.first_block_of_epoch(8), 110);
        assert_eq!(s.first_block_of_epoch(9), 120);
        assert_eq!(s.first_block_of_epoch(7), 100, "the current epoch starts at LastEpochBlock");
        assert_eq!(s.first_block_of_epoch(5), 80, "earlier epochs are extrapolated by tempo");
        let local = EpochSchedule { extrinsic_block: 109, ..s };
        assert_eq!(local.epoch(), 7, "applied in block 109 itself");
        // Past MAX_TEMPO blocks without a step an epoch is forced.
        let stuck = stateful(0, 0, 3, 60_000, u64::from(MAX_TEMPO) + 1, 100);
        assert_eq!(stuck.epoch(), 4);
    }

    #[test]
    fn legacy_formulas() {
        let s = EpochSchedule {
            epoch_index: None,
            last_epoch_block: None,
            netuid: 3,
            tempo: 9,
            ..stateful(0, 0, 0, 9, 0, 15)
        };
        // Extrinsic in block 16: (16 + 3 + 1) / 10 = 2; epoch 3 starts at 3 * 10 - 4 = 26.
        assert_eq!(s.epoch(), 2);
        assert_eq!(s.first_block_of_epoch(3), 26);
        assert_eq!(s.legacy_epoch_of(26), 3);
        assert_eq!(s.legacy_epoch_of(25), 2);
        assert_eq!(s.first_reveal_block(), 26);
    }

    #[test]
    fn reveal_round_follows_generate_commit_v2() {
        // Quicknet genesis 1692803367, period 3. Reveal block 60 + 3 = 63 is 53 blocks after
        // head 10: 636 s after now.
        let s = stateful(10, 0, 0, 50, 0, 10);
        let now = 1_700_000_000.5;
        let want = ((now + 53.0 * 12.0 - 1_692_803_367.0) / 3.0f64).floor() as u64;
        assert_eq!(s.reveal_round_at(1_692_803_367, 3, now), want);
        assert_eq!(s.reveal_round_at(1_692_803_367, 3, 0.0), 1, "clamped to round 1");
        let fast = EpochSchedule { block_time_ms: 250, ..s.clone() };
        assert!(fast.reveal_round_at(1_692_803_367, 3, now) < want);
        let never = EpochSchedule { tempo: 0, ..s };
        assert_eq!(never.reveal_round_at(1_692_803_367, 3, now), u64::MAX);
    }
}
