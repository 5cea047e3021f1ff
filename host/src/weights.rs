//! The one path weights take from a validator module to the chain, shared by the sandbox and
//! the daemon: process them as the bittensor SDK does, pick the version key, then set them, or
//! commit them (commit-reveal) and reveal the commit when its epoch comes, and say what
//! happened ([`Submission`]) for the caller to record.
//!
//! Steps of [`WeightSetter::submit`], in order, each a possible end:
//! 1. a pending commit comes first: it is revealed when due, and nothing new is committed while
//!    it waits (a second commit would bury it);
//! 2. the caller's uid needs a validator permit;
//! 3. at least `max(every_blocks, WeightsSetRateLimit)` blocks since the uid's `last_update`
//!    on chain (the chain is the source of truth, so a restart never sets weights too fast);
//! 4. [`chain_weights`]: normalised in f64 by the largest weight (so `1e39` or `[3e38, 3e38]`
//!    cannot overflow f32), one value per uid (the last one given), uids outside the metagraph
//!    dropped, then the SDK's `process_weights_for_netuid` and `convert_weights_and_uids_for_emit`;
//! 5. version key `max(configured, WeightsVersionKey)`;
//! 6. `set_weights`, or with commit-reveal on a v2 commit whose salt and weights are made durable
//!    ([`CommitStore`]) before the commit is sent.
//!
//! Failure modes: chain refusals come back as [`Submission::Rejected`] with the pallet's error
//! name; a call whose answer was lost as [`Submission::Unanswered`] (a pending commit then stays
//! and the reveal tells whether it landed). A commit store that fails stops the commit from
//! being sent. Nothing here panics on module output.

use crate::util::unix_ms;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use subnet_chain::{AccountId, Chain, ChainError, EpochSchedule, Hyperparams, MechId, Metagraph, NetUid};

use crate::bindings::types::Weight;

/// How a validator sets weights on one subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightPolicy {
    /// Set weights when at least this many blocks passed since the validator last did (on
    /// chain); never faster than the subnet's `WeightsSetRateLimit`.
    pub every_blocks: u64,
    /// `version_key` to send; the subnet's `WeightsVersionKey` when that is higher.
    pub version_key: u64,
    /// The SDK's exclude quantile (u16 proportion) of `process_weights_for_netuid`.
    pub exclude_quantile: u16,
}

impl Default for WeightPolicy {
    fn default() -> Self {
        Self { every_blocks: 100, version_key: 0, exclude_quantile: 0 }
    }
}

/// Weights that landed on chain (set, or revealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsRecord {
    /// Block the extrinsic was included in.
    pub block: u64,
    /// Uids, as sent.
    pub uids: Vec<u16>,
    /// Weights, as sent (u16, max-upscaled).
    pub weights: Vec<u16>,
    /// Wall-clock time of the call, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// Hash of the module version whose weights these were.
    pub module: String,
}

/// A commit-reveal commit not yet revealed: what the reveal needs, kept durable before the
/// commit is sent so a restart can still reveal it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRecord {
    /// The committed hash.
    pub hash: [u8; 32],
    /// Uids, as they will be revealed.
    pub uids: Vec<u16>,
    /// Weights, as they will be revealed.
    pub weights: Vec<u16>,
    /// The salt.
    pub salt: Vec<u16>,
    /// The version key.
    pub version_key: u64,
    /// Block the commit was sent at (its inclusion is later).
    pub sent_at: u64,
    /// Block the commit was included in, once known.
    pub block: Option<u64>,
    /// Hash of the module version whose weights these are.
    pub module: String,
    /// The epoch the commit belongs to (the chain's epoch of its inclusion block).
    #[serde(default)]
    pub epoch: u64,
    /// The epoch it is revealed in (`epoch + RevealPeriodEpochs`).
    #[serde(default)]
    pub reveal_epoch: u64,
}

/// Where a validator's pending commit is kept. The daemon's is its database (durable before
/// the commit is sent); the sandbox's is memory.
pub trait CommitStore: Send + Sync {
    /// The pending commit.
    fn load(&self) -> Result<Option<CommitRecord>, String>;
    /// Replaces (or, with `None`, drops) the pending commit.
    fn store(&self, record: Option<&CommitRecord>) -> Result<(), String>;
}

/// A [`CommitStore`] in memory.
#[derive(Default)]
pub struct MemoryCommits(Mutex<Option<CommitRecord>>);

impl CommitStore for MemoryCommits {
    fn load(&self) -> Result<Option<CommitRecord>, String> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    fn store(&self, record: Option<&CommitRecord>) -> Result<(), String> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = record.cloned();
        Ok(())
    }
}

/// What one [`WeightSetter::submit`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    /// The caller's uid has no validator permit; nothing was sent.
    NoPermit {
        /// The uid.
        uid: u16,
    },
    /// The caller's hotkey is not in the metagraph.
    NotRegistered,
    /// Not due yet: the uid set weights too recently.
    NotDue {
        /// First block at which it will be due.
        due_at: u64,
    },
    /// The weights cannot be processed (the SDK would raise), or none is non-zero.
    Invalid(String),
    /// Weights set.
    Set(WeightsRecord),
    /// A v2 commit landed; it is revealed in `reveal_epoch`.
    Committed {
        /// Block of inclusion.
        block: u64,
        /// Epoch in which it is revealed.
        reveal_epoch: u64,
        /// The uids committed.
        uids: Vec<u16>,
        /// The weights committed.
        weights: Vec<u16>,
    },
    /// A pending commit waits for its reveal epoch.
    Waiting {
        /// Block the commit landed in.
        committed_at: u64,
        /// Epoch in which it is revealed.
        reveal_epoch: u64,
    },
    /// A pending commit was revealed.
    Revealed(WeightsRecord),
    /// The chain refused `what`.
    Rejected {
        /// The extrinsic.
        what: &'static str,
        /// The chain's error.
        error: ChainError,
    },
    /// `what` was sent but its answer was lost; the chain may or may not have it.
    Unanswered {
        /// The extrinsic.
        what: &'static str,
        /// The transport error.
        error: ChainError,
    },
    /// The pending commit could not be read or written.
    Store(String),
}

impl Submission {
    /// The uids and weights this submission sent (set or committed), if any.
    pub fn sent(&self) -> Option<(&[u16], &[u16])> {
        match self {
            Submission::Set(r) => Some((&r.uids, &r.weights)),
            Submission::Committed { uids, weights, .. } => Some((uids, weights)),
            _ => None,
        }
    }

    /// Whether this is a failure worth reporting (rather than waiting or not being due).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Submission::NoPermit { .. }
                | Submission::NotRegistered
                | Submission::Invalid(_)
                | Submission::Rejected { .. }
                | Submission::Unanswered { .. }
                | Submission::Store(_)
        )
    }

    /// The weights that landed on chain, if this submission landed any.
    pub fn landed(&self) -> Option<&WeightsRecord> {
        match self {
            Submission::Set(r) | Submission::Revealed(r) => Some(r),
            _ => None,
        }
    }

    /// A one-line account, for logs and status.
    pub fn describe(&self) -> String {
        match self {
            Submission::NoPermit { uid } => format!("uid {uid} has no validator permit"),
            Submission::NotRegistered => "the hotkey is not registered on the subnet".into(),
            Submission::NotDue { due_at } => format!("weights are due at block {due_at}"),
            Submission::Invalid(reason) => reason.clone(),
            Submission::Set(r) => format!("weights set at block {} on {} uids", r.block, r.uids.len()),
            Submission::Committed { block, reveal_epoch, .. } => {
                format!("weights committed at block {block}; revealed in epoch {reveal_epoch}")
            }
            Submission::Waiting { committed_at, reveal_epoch } => {
                format!("commit of block {committed_at} is revealed in epoch {reveal_epoch}")
            }
            Submission::Revealed(r) => format!("weights revealed at block {} on {} uids", r.block, r.uids.len()),
            Submission::Rejected { what, error } => format!("{what} rejected: {error}"),
            Submission::Unanswered { what, error } => format!("{what} unanswered: {error}"),
            Submission::Store(e) => format!("pending commit store: {e}"),
        }
    }
}

/// Turns a module's weights into what `set_weights` takes, as the SDK does for a validator's
/// scores: a dense vector over the `n` uids (a uid given twice keeps its last value, uids past
/// `n` are dropped, negative or non-finite values count 0), divided by its maximum in f64 so
/// any finite input fits f32, then `process_weights_for_netuid` (min allowed weights, max weight
/// limit, exclude quantile) and `convert_weights_and_uids_for_emit`. Errors say why the SDK
/// would refuse; an all-zero result is an error too (nothing to set).
pub fn chain_weights(
    weights: &[Weight],
    n: usize,
    hyper: &Hyperparams,
    exclude_quantile: u16,
) -> Result<(Vec<u16>, Vec<u16>), String> {
    let mut dense = vec![0f64; n];
    for w in weights {
        if let Some(slot) = dense.get_mut(usize::from(w.uid)) {
            *slot = if w.value.is_finite() && w.value > 0.0 { w.value } else { 0.0 };
        }
    }
    let max = dense.iter().copied().fold(0.0f64, f64::max);
    let scaled: Vec<f32> = dense.iter().map(|w| if max > 0.0 { (w / max) as f32 } else { 0.0 }).collect();
    let n16 = u16::try_from(n).map_err(|_| format!("{n} uids: a subnet holds at most 65535"))?;
    let uids: Vec<u16> = (0..n16).collect();
    let (uids, values) = subnet_chain::weights::process_weights_for_netuid(
        &uids,
        &scaled,
        n16,
        hyper.min_allowed_weights,
        hyper.max_weight_limit,
        exclude_quantile,
    )
    .and_then(|(uids, weights)| subnet_chain::weights::weights_for_emit(&uids, &weights))
    .map_err(|e| format!("weights cannot be processed: {e}"))?;
    if uids.is_empty() {
        return Err("no non-zero weights to set".into());
    }
    Ok((uids, values))
}

/// One validator's weight setting on one subnet.
pub struct WeightSetter<'a> {
    /// The chain.
    pub chain: &'a dyn Chain,
    /// The validator's hotkey.
    pub hotkey: AccountId,
    /// The subnet.
    pub netuid: NetUid,
    /// The mechanism (0, the main one, on most subnets).
    pub mecid: MechId,
    /// Cadence, version key, exclude quantile.
    pub policy: WeightPolicy,
    /// Where its pending commit is kept.
    pub commits: &'a dyn CommitStore,
}

impl WeightSetter<'_> {
    /// Sets (or commits, or reveals) `weights` if due. See the module docs for the steps.
    /// `metagraph` is the mechanism's (its `last_update` paces the cadence); `schedule` the
    /// subnet's epoch clock now.
    pub async fn submit(
        &self,
        weights: &[Weight],
        metagraph: &Metagraph,
        hyper: &Hyperparams,
        schedule: &EpochSchedule,
        module: &str,
    ) -> Submission {
        let Some(uid) = metagraph.uid_of(&self.hotkey) else {
            return Submission::NotRegistered;
        };
        if hyper.commit_reveal_enabled {
            match self.commits.load() {
                Ok(Some(commit)) => return self.reveal_when_due(schedule, commit).await,
                Ok(None) => {}
                Err(e) => return Submission::Store(e),
            }
        }
        let neuron = &metagraph.neurons[usize::from(uid)];
        if !neuron.validator_permit {
            return Submission::NoPermit { uid };
        }
        let every = self.policy.every_blocks.max(hyper.weights_rate_limit);
        if metagraph.block.saturating_sub(neuron.last_update) < every {
            return Submission::NotDue { due_at: neuron.last_update.saturating_add(every) };
        }
        let (uids, values) = match chain_weights(weights, metagraph.neurons.len(), hyper, self.policy.exclude_quantile)
        {
            Ok(w) => w,
            Err(reason) => return Submission::Invalid(reason),
        };
        let version_key = self.policy.version_key.max(hyper.weights_version_key);
        if hyper.commit_reveal_enabled {
            return self.commit(metagraph, schedule, uids, values, version_key, module).await;
        }
        match self.chain.set_weights(&self.hotkey, self.netuid, self.mecid, &uids, &values, version_key).await {
            Ok(included) => Submission::Set(WeightsRecord {
                block: included.block,
                uids,
                weights: values,
                at_unix_ms: unix_ms(),
                module: module.to_owned(),
            }),
            Err(error @ ChainError::Transport(_)) => Submission::Unanswered { what: "set_weights", error },
            Err(error) => Submission::Rejected { what: "set_weights", error },
        }
    }

    /// Commits (v2): the salt and weights are made durable before the commit is sent, so the
    /// reveal survives a restart; a commit whose answer is lost stays pending and the reveal
    /// tells whether it landed (`NoWeightsCommitFound` if not).
    async fn commit(
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
    async fn reveal_when_due(&self, schedule: &EpochSchedule, commit: CommitRecord) -> Submission {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn w(uid: u16, value: f64) -> Weight {
        Weight { uid, value }
    }

    #[test]
    fn huge_weights_do_not_overflow_and_duplicates_keep_the_last() {
        let hyper = Hyperparams::default();
        let (uids, values) = chain_weights(&[w(0, 1e39), w(1, 5e38)], 3, &hyper, 0).unwrap();
        assert_eq!((uids, values), (vec![0, 1], vec![65535, 32768]));
        let (uids, values) = chain_weights(&[w(0, 3e38), w(1, 3e38)], 2, &hyper, 0).unwrap();
        assert_eq!((uids, values), (vec![0, 1], vec![65535, 65535]));
        let (uids, values) = chain_weights(&[w(1, 1.0), w(1, 0.5), w(2, 1.0), w(9, 1.0)], 3, &hyper, 0).unwrap();
        assert_eq!((uids, values), (vec![1, 2], vec![32768, 65535]));
    }

    #[test]
    fn all_zero_weights_follow_the_sdk() {
        // The SDK sets uniform weights when no score is positive.
        let hyper = Hyperparams::default();
        let (uids, values) = chain_weights(&[w(0, 0.0), w(1, f64::NAN)], 2, &hyper, 0).unwrap();
        assert_eq!((uids, values), (vec![0, 1], vec![65535, 65535]));
    }
}
