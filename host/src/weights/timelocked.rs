//! Commit-reveal v4, as today's network runs it: the weights are encrypted to a future drand
//! round ([`subnet_drand::encrypt`] of a [`subnet_drand::WeightsTlockPayload`]) and committed
//! with `commit_timelocked_(mechanism_)weights`; the chain decrypts and applies them itself in
//! the reveal epoch, so the validator need not be online then and cannot withhold a reveal.
//!
//! Invariants:
//! - One commit per window: while a commit is pending nothing new is committed, and a pending
//!   commit is settled only once the chain no longer stores it *and* its epoch has passed, so a
//!   commit whose answer was lost (or a daemon killed while sending) is never sent again for the
//!   same epoch.
//! - The commit is recorded ([`super::CommitStore`]) before it is sent.
//! - Settling reads the chain: the uid's stored Weights row equal to the commit (and its
//!   `last_update` at or after the commit) means the chain revealed it; anything else means the
//!   chain dropped it (no pulse in time, the reveal failed the set_weights checks). The reveal's
//!   own block is not in storage (under commit-reveal `last_update` stays at the commit, as in
//!   subtensor), so a settled reveal names the head block it was seen at; a caller that
//!   produces the blocks (the sandbox) reads the exact block from the chain's events.
//!
//! `reveal_round` follows bittensor-drand 2.0's `generate_commit_v2` through
//! [`EpochSchedule::reveal_round_at`], with the chain's own timestamp as "now" when the chain
//! has one (so the sandbox's virtual time and the chain's rounds agree), else the wall clock.

use subnet_chain::{ChainError, EpochSchedule, Metagraph};
use subnet_drand::{BeaconInfo, WeightsTlockPayload};

use super::{CommitRecord, Submission, WeightSetter, WeightsRecord};
use crate::util::unix_ms;

/// The commit-reveal version of the timelocked payload this module sends.
pub const COMMIT_REVEAL_VERSION: u16 = 4;

fn now_secs(schedule: &EpochSchedule) -> f64 {
    schedule.timestamp_secs().unwrap_or_else(|| unix_ms() as f64 / 1000.0)
}

impl WeightSetter<'_> {
    /// Encrypts and commits (v4) to `beacon`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn commit_timelocked(
        &self,
        beacon: &BeaconInfo,
        metagraph: &Metagraph,
        schedule: &EpochSchedule,
        uids: Vec<u16>,
        weights: Vec<u16>,
        version_key: u64,
        module: &str,
    ) -> Submission {
        let reveal_round = schedule.reveal_round_at(beacon.genesis_unix, beacon.period_secs, now_secs(schedule));
        let payload = WeightsTlockPayload {
            hotkey: self.hotkey.0.to_vec(),
            uids: uids.clone(),
            values: weights.clone(),
            version_key,
        };
        let mut entropy = [0u8; 32];
        rand::fill(&mut entropy);
        let commit = match subnet_drand::encrypt(beacon, reveal_round, &payload.encode(), entropy) {
            Ok(commit) => commit,
            Err(e) => return Submission::Invalid(format!("the weights cannot be encrypted: {e}")),
        };
        let epoch = schedule.epoch();
        let reveal_epoch = epoch + schedule.reveal_period_epochs.max(1);
        let mut record = CommitRecord {
            hash: [0; 32],
            uids,
            weights,
            salt: Vec::new(),
            version_key,
            sent_at: metagraph.block,
            block: None,
            module: module.to_owned(),
            epoch,
            reveal_epoch,
            reveal_round: Some(reveal_round),
        };
        if let Err(e) = self.commits.store(Some(&record)) {
            return Submission::Store(format!("commit not sent: recording it failed: {e}"));
        }
        let sent = self
            .chain
            .commit_timelocked_weights(
                &self.hotkey,
                self.netuid,
                self.mecid,
                &commit,
                reveal_round,
                COMMIT_REVEAL_VERSION,
            )
            .await;
        match sent {
            Ok(included) => {
                record.block = Some(included.block);
                if let Err(e) = self.commits.store(Some(&record)) {
                    tracing::error!(subnet = self.netuid, error = %e, "commit sent but its block not recorded");
                }
                Submission::Committed {
                    block: included.block,
                    reveal_epoch,
                    reveal_round: Some(reveal_round),
                    uids: record.uids,
                    weights: record.weights,
                }
            }
            Err(error @ ChainError::Transport(_)) => {
                Submission::Unanswered { what: "commit_timelocked_weights", error }
            }
            Err(error) => {
                let _ = self.commits.store(None);
                Submission::Rejected { what: "commit_timelocked_weights", error }
            }
        }
    }

    /// Follows a pending timelocked commit until the chain revealed or dropped it.
    pub(super) async fn follow_timelocked(
        &self,
        metagraph: &Metagraph,
        schedule: &EpochSchedule,
        mut commit: CommitRecord,
    ) -> Submission {
        let committed_at = commit.block.unwrap_or(commit.sent_at + 1);
        let reveal_epoch = commit.reveal_epoch;
        let stored = match self.chain.timelocked_commits(self.netuid, self.mecid, &self.hotkey).await {
            Ok(stored) => stored,
            Err(error) => return Submission::Unanswered { what: "reading timelocked commits", error },
        };
        // Ours: same round, landed after it was sent (its epoch is the inclusion block's, which
        // may be one past the epoch at sending).
        if let Some(on_chain) =
            stored.iter().find(|c| Some(c.reveal_round) == commit.reveal_round && c.commit_block >= commit.sent_at)
        {
            if commit.block.is_none() || commit.epoch != on_chain.epoch {
                // The answer was lost (or the daemon stopped) after the commit landed.
                commit.block = Some(on_chain.commit_block);
                commit.reveal_epoch += on_chain.epoch.saturating_sub(commit.epoch);
                commit.epoch = on_chain.epoch;
                let _ = self.commits.store(Some(&commit));
            }
            return Submission::Waiting { committed_at: on_chain.commit_block, reveal_epoch: commit.reveal_epoch };
        }
        if schedule.epoch() <= commit.epoch {
            // Not stored, but its window is still open: it may not have landed yet. Never send
            // the same window twice.
            return Submission::Waiting { committed_at, reveal_epoch };
        }
        let Some(uid) = metagraph.uid_of(&self.hotkey) else {
            let _ = self.commits.store(None);
            return Submission::NotRegistered;
        };
        let row = match self.chain.weights_row(self.netuid, self.mecid, uid).await {
            Ok(row) => row,
            Err(error) => return Submission::Unanswered { what: "reading the weights row", error },
        };
        let expected: Vec<(u16, u16)> = commit.uids.iter().copied().zip(commit.weights.iter().copied()).collect();
        let last_update = metagraph.neurons.get(usize::from(uid)).map_or(0, |n| n.last_update);
        let _ = self.commits.store(None);
        if row == expected && commit.block.is_none_or(|b| last_update >= b) {
            Submission::Revealed(WeightsRecord {
                block: schedule.block,
                uids: commit.uids,
                weights: commit.weights,
                at_unix_ms: unix_ms(),
                module: commit.module,
            })
        } else {
            Submission::Dropped {
                committed_at,
                reason: format!(
                    "the chain no longer holds the commit of epoch {} and the weights row is not its weights \
                     (no drand pulse for round {} in time, or the reveal failed the chain's checks)",
                    commit.epoch,
                    commit.reveal_round.unwrap_or_default()
                ),
            }
        }
    }
}
