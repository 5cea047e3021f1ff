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
//! 6. `set_weights`; or with commit-reveal on, a timelocked commit (v4, [`timelocked`]) when the
//!    chain has a drand beacon, else a v2 hash commit ([`hash`]); either is made durable
//!    ([`CommitStore`]) before it is sent. The choice comes from the chain, not from config.
//!
//! Failure modes: chain refusals come back as [`Submission::Rejected`] with the pallet's error
//! name; a call whose answer was lost as [`Submission::Unanswered`] (a pending commit then stays
//! and the reveal tells whether it landed). A commit store that fails stops the commit from
//! being sent. Nothing here panics on module output.

mod hash;
mod process;
pub mod timelocked;

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use subnet_chain::{AccountId, Chain, ChainError, EpochSchedule, Hyperparams, MechId, Metagraph, NetUid};

use crate::bindings::types::Weight;
use crate::util::unix_ms;
pub use process::chain_weights;

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
    /// For a timelocked (v4) commit, the drand round it is encrypted to; `None` for a v2 hash
    /// commit (`hash` and `salt` are then what the reveal needs).
    #[serde(default)]
    pub reveal_round: Option<u64>,
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
    /// A commit landed; it is revealed in `reveal_epoch`.
    Committed {
        /// Block of inclusion.
        block: u64,
        /// Epoch in which it is revealed.
        reveal_epoch: u64,
        /// The drand round of a timelocked commit; `None` for a v2 hash commit.
        reveal_round: Option<u64>,
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
    /// A pending commit was revealed (by the validator, v2, or by the chain, v4).
    Revealed(WeightsRecord),
    /// The chain dropped a timelocked commit without applying it.
    Dropped {
        /// Block the commit landed in.
        committed_at: u64,
        /// Why it is taken to be dropped.
        reason: String,
    },
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
                | Submission::Dropped { .. }
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
            Submission::Committed { block, reveal_epoch, reveal_round: None, .. } => {
                format!("weights committed at block {block}; revealed in epoch {reveal_epoch}")
            }
            Submission::Committed { block, reveal_epoch, reveal_round: Some(round), .. } => format!(
                "weights committed (timelocked to drand round {round}) at block {block}; the chain reveals them in \
                 epoch {reveal_epoch}"
            ),
            Submission::Dropped { committed_at, reason } => {
                format!("the commit of block {committed_at} was dropped: {reason}")
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
    /// The drand beacon the chain reveals timelocked commits with; `None` when the chain has
    /// none (then commits are v2 hash commits).
    pub beacon: Option<&'a subnet_drand::BeaconInfo>,
}

impl WeightSetter<'_> {
    /// Settles a pending timelocked commit if the chain has revealed or dropped it, without
    /// committing anything new (a caller that advances the chain learns the reveal block this
    /// way). `None` when nothing timelocked is pending or it still waits.
    pub async fn settle(&self, metagraph: &Metagraph, schedule: &EpochSchedule) -> Option<Submission> {
        let commit = self.commits.load().ok().flatten().filter(|c| c.reveal_round.is_some())?;
        match self.follow_timelocked(metagraph, schedule, commit).await {
            Submission::Waiting { .. } => None,
            settled => Some(settled),
        }
    }

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
                Ok(Some(commit)) if commit.reveal_round.is_some() => {
                    return self.follow_timelocked(metagraph, schedule, commit).await;
                }
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
            return match self.beacon {
                Some(beacon) if hyper.commit_reveal_version == timelocked::COMMIT_REVEAL_VERSION => {
                    self.commit_timelocked(beacon, metagraph, schedule, uids, values, version_key, module).await
                }
                _ => self.commit_hash(metagraph, schedule, uids, values, version_key, module).await,
            };
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
}
