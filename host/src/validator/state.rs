//! The running per-uid score state a validator keeps across rounds, epochs and restarts.
//!
//! The module owns how scores evolve (its `reward` export); the host owns *whose* score it is.
//! Invariants kept here:
//! - at most one entry per uid, ordered by uid;
//! - every entry carries the hotkey that held the uid when it was scored; when the metagraph
//!   shows another hotkey at that uid (the neuron was replaced) or the uid is gone, the entry is
//!   dropped before the module sees the state, so a newcomer never inherits a predecessor's
//!   score (as the subnet template resets `scores[uid]`);
//! - scores are finite and non-negative.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::deferred::DeferredQueue;
use crate::bindings::types::{Neuron, UidState};

/// One uid's running score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreEntry {
    /// The uid.
    pub uid: u16,
    /// SS58 of the hotkey the score belongs to.
    pub hotkey: String,
    /// The running score.
    pub score: f64,
    /// Rounds that updated it.
    pub rounds: u32,
}

/// A validator's running scores for one subnet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreState {
    entries: BTreeMap<u16, ScoreEntry>,
    /// Tasks kept for scoring in a later round (contract 0.1.2); absent in older saved states.
    #[serde(default, skip_serializing_if = "DeferredQueue::is_empty")]
    pub deferred: DeferredQueue,
}

impl ScoreState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries in uid order.
    pub fn entries(&self) -> impl Iterator<Item = &ScoreEntry> {
        self.entries.values()
    }

    /// The entry of a uid.
    pub fn get(&self, uid: u16) -> Option<&ScoreEntry> {
        self.entries.get(&uid)
    }

    /// Drops entries whose uid is gone or now holds another hotkey; returns the uids reset.
    pub fn reconcile(&mut self, neurons: &[Neuron]) -> Vec<u16> {
        let current: BTreeMap<u16, &str> = neurons.iter().map(|n| (n.uid, n.hotkey.as_str())).collect();
        let stale: Vec<u16> = self
            .entries
            .values()
            .filter(|e| current.get(&e.uid).is_none_or(|h| *h != e.hotkey))
            .map(|e| e.uid)
            .collect();
        for uid in &stale {
            self.entries.remove(uid);
        }
        stale
    }

    /// The state in the contract's form, for `reward`.
    pub fn to_wit(&self) -> Vec<UidState> {
        self.entries
            .values()
            .map(|e| UidState { uid: e.uid, hotkey: e.hotkey.clone(), score: e.score, rounds: e.rounds })
            .collect()
    }

    /// Replaces the state with what `reward` returned. Hotkeys come from the metagraph, not
    /// from the module (which may leave them empty); entries for uids not in the metagraph are
    /// dropped; non-finite or negative scores become 0. A uid listed twice keeps its last entry.
    pub fn replace(&mut self, returned: &[UidState], neurons: &[Neuron]) {
        let hotkeys: BTreeMap<u16, &str> = neurons.iter().map(|n| (n.uid, n.hotkey.as_str())).collect();
        self.entries = returned
            .iter()
            .filter_map(|s| {
                let hotkey = hotkeys.get(&s.uid)?;
                let score = if s.score.is_finite() && s.score > 0.0 { s.score } else { 0.0 };
                Some((s.uid, ScoreEntry { uid: s.uid, hotkey: (*hotkey).to_owned(), score, rounds: s.rounds }))
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neuron(uid: u16, hotkey: &str) -> Neuron {
        Neuron {
            uid,
            hotkey: hotkey.into(),
            stake: 0.0,
            validator_permit: false,
            active: true,
            incentive: 0.0,
            dividends: 0.0,
            emission: 0.0,
        }
    }

    #[test]
    fn replaced_hotkey_resets_its_score() {
        let mut state = ScoreState::new();
        let neurons = vec![neuron(0, "a"), neuron(1, "b")];
        state.replace(
            &[
                UidState { uid: 0, hotkey: String::new(), score: 0.5, rounds: 1 },
                UidState { uid: 1, hotkey: String::new(), score: f64::NAN, rounds: 1 },
                UidState { uid: 7, hotkey: String::new(), score: 0.9, rounds: 1 },
            ],
            &neurons,
        );
        assert_eq!(state.get(0).unwrap().hotkey, "a");
        assert_eq!(state.get(1).unwrap().score, 0.0);
        assert!(state.get(7).is_none());
        let reset = state.reconcile(&[neuron(0, "a"), neuron(1, "c")]);
        assert_eq!(reset, vec![1]);
        assert!(state.get(1).is_none());
        assert_eq!(state.get(0).unwrap().score, 0.5);
    }
}
