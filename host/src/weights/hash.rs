//! Commit-reveal v2: a blake2 hash of the weights and a salt, revealed by the validator itself
//! in the reveal epoch. What runtimes without the timelocked commit (and the embedded chain
//! with it turned off) take.

use subnet_chain::{ChainError, EpochSchedule, Metagraph};

use super::{CommitRecord, Submission, WeightSetter, WeightsRecord};
use crate::util::unix_ms;

impl WeightSetter<'_> {
    /// Commits (v2): the salt and weights are made durable before the commit is sent, so the
    /// reveal survives a restart; a commit whose answer is lost stays pending and the reveal
    /// tells whether it landed (`NoWeightsCommitFound` if not).
    pub(super) async fn commit_hash(
        &self,
        metagraph: &Metagraph,
        schedule: &EpochSchedule,
        uids: Vec<u16>,
        weights: Vec<u16>,
        version_key: u64,
        module: &str,
    ) -> Submission {
        let salt: Vec<u16> = {
            use rand::RngExt;
            let mut rng = rand::rng();
            (0..8).map(|_| rng.random()).collect()
        };
        let netuid_index = subnet_chain::netuid_index(self.netuid, self.mecid);
        let hash = subnet_chain::commit_hash(&self.hotkey, netuid_index, &uids, &weights, &salt, version_key);
        let epoch = schedule.epoch();
        let reveal_epoch = epoch + schedule.reveal_period_epochs.max(1);
        let mut record = CommitRecord {
            hash,
            uids,
            weights,
            salt,
            version_key,
            sent_at: metagraph.block,
            block: None,
            module: module.to_owned(),
            epoch,
            reveal_epoch,
            reveal_round: None,
        };
        if let Err(e) = self.commits.store(Some(&record)) {
            return Submission::Store(format!("commit not sent: recording it failed: {e}"));
        }
        match self.chain.commit_weights(&self.hotkey, self.netuid, self.mecid, hash).await {
            Ok(included) => {
                record.block = Some(included.block);
                if let Err(e) = self.commits.store(Some(&record)) {
                    tracing::error!(subnet = self.netuid, error = %e, "commit sent but its block not recorded");
                }
                Submission::Committed {
                    block: included.block,
                    reveal_epoch,
                    reveal_round: None,
                    uids: record.uids,
                    weights: record.weights,
                }
            }
            Err(error @ ChainError::Transport(_)) => Submission::Unanswered { what: "commit_weights", error },
            Err(error) => {
                let _ = self.commits.store(None);
                Submission::Rejected { what: "commit_weights", error }
            }
        }
    }

    /// Reveals the pending commit once its reveal epoch has come (by the chain's epoch
    /// definition, [`EpochSchedule::epoch`]); a chain that still disagrees answers
    /// `RevealTooEarly`, and the next round tries again.
    pub(super) async fn reveal_when_due(&self, schedule: &EpochSchedule, commit: CommitRecord) -> Submission {
        use subnet_chain::SubtensorError as E;
        let committed_at = commit.block.unwrap_or(commit.sent_at + 1);
        let reveal_epoch = commit.reveal_epoch;
        if schedule.epoch() < reveal_epoch {
            return Submission::Waiting { committed_at, reveal_epoch };
        }
        let result = self
            .chain
            .reveal_weights(
                &self.hotkey,
                self.netuid,
                self.mecid,
                &commit.uids,
                &commit.weights,
                &commit.salt,
                commit.version_key,
            )
            .await;
        match result {
            Ok(included) => {
                let _ = self.commits.store(None);
                Submission::Revealed(WeightsRecord {
                    block: included.block,
                    uids: commit.uids,
                    weights: commit.weights,
                    at_unix_ms: unix_ms(),
                    module: commit.module,
                })
            }
            Err(e) if e.is(E::RevealTooEarly) => Submission::Waiting { committed_at, reveal_epoch },
            Err(error @ ChainError::Transport(_)) => Submission::Unanswered { what: "reveal_weights", error },
            Err(error) => {
                // Expired, never landed, or no longer matching: drop it; the next round commits afresh.
                let _ = self.commits.store(None);
                Submission::Rejected { what: "reveal_weights", error }
            }
        }
    }
}
