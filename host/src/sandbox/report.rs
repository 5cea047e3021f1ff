//! The sandbox report: per epoch and per uid, what validators scored and weighted and what
//! the chain paid; rendered as tables for people or as JSON for tools.
//!
//! Every number is a pure function of the run's inputs (no times, no ordering effects), so the
//! same seed gives byte-identical JSON. Fractions are rounded to 6 decimals and alpha amounts to
//! 9 (one rao), which is all the precision they carry.

use std::collections::BTreeMap;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;
use subnet_chain::{AccountId, Metagraph, NetUid};

use super::{SandboxConfig, ValidatorKind, ValidatorTurn};
use crate::validator::RoundOutcome;
use crate::validator::state::ScoreState;

fn frac(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn alpha(rao: u64) -> f64 {
    rao as f64 / 1e9
}

/// One uid at the end of one epoch.
#[derive(Debug, Clone, Serialize)]
pub struct NeuronReport {
    /// The uid.
    pub uid: u16,
    /// `validator` or `miner`.
    pub kind: String,
    /// The role: `honest`, `copier`, `lazy` for validators; the miner module's name, `lazy` or
    /// `random` for miners.
    pub role: String,
    /// Mean running score the honest validators hold for this uid.
    pub score: f64,
    /// Mean weight (normalised) the honest validators set on this uid.
    pub weight: f64,
    /// Consensus weight after the epoch (fraction).
    pub consensus: f64,
    /// Incentive after the epoch (fraction of the miners' emission).
    pub incentive: f64,
    /// Dividends after the epoch (fraction of the validators' emission).
    pub dividends: f64,
    /// Alpha this uid earned in the epoch.
    pub emission: f64,
    /// The metrics the honest validators' modules returned with this uid's scores this epoch,
    /// each the mean over the tasks that scored it (empty when the module returns none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
}

/// One uid's score on one task of one honest validator's round, with the module's metrics.
#[derive(Debug, Clone, Serialize)]
pub struct TaskScoreReport {
    /// The validator's uid.
    pub validator: u16,
    /// The task's id.
    pub task: String,
    /// The scored uid.
    pub uid: u16,
    /// Its score on the task.
    pub score: f64,
    /// The metrics returned with the score, by name.
    pub metrics: BTreeMap<String, f64>,
}

impl TaskScoreReport {
    /// Every score of the round's scored tasks, in task then miner order.
    pub(crate) fn of_round(validator: u16, outcome: &RoundOutcome) -> Vec<Self> {
        outcome
            .tasks
            .iter()
            .flat_map(|t| {
                t.scores.iter().map(|s| Self {
                    validator,
                    task: t.task.id.clone(),
                    uid: s.uid,
                    score: frac(s.score),
                    metrics: s.metrics.iter().map(|m| (m.name.clone(), frac(m.value))).collect(),
                })
            })
            .collect()
    }
}

/// Per metric name, the mean of its values over `scores`.
fn mean_metrics<'a>(scores: impl Iterator<Item = &'a TaskScoreReport>) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for s in scores {
        for (name, value) in &s.metrics {
            let e = sums.entry(name).or_default();
            e.0 += value;
            e.1 += 1;
        }
    }
    sums.into_iter().map(|(name, (sum, n))| (name.to_owned(), frac(sum / n as f64))).collect()
}

/// What one validator did with its weights in one epoch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ValidatorWeightsReport {
    /// The validator's uid.
    pub uid: u16,
    /// `set`, `committed`, `waiting` (a commit waits for its reveal), `none` or `failed`.
    pub submitted: String,
    /// Block the commit landed in, when it committed.
    pub commit_block: Option<u64>,
    /// The drand round a timelocked commit is encrypted to.
    pub reveal_round: Option<u64>,
    /// Block the commit was revealed in (by the chain for a timelocked commit), once seen.
    pub reveal_block: Option<u64>,
}

/// One epoch.
#[derive(Debug, Clone, Serialize)]
pub struct EpochReport {
    /// Epoch number (block / (tempo + 1)).
    pub epoch: u64,
    /// Block at which the epoch ran.
    pub block: u64,
    /// Alpha paid to neurons in this epoch.
    pub emitted_to_neurons: f64,
    /// Alpha the chain emitted for the subnet over the epoch's blocks (block emission x blocks);
    /// the difference to `emitted_to_neurons` is the owner cut.
    pub block_emission_total: f64,
    /// Per uid.
    pub neurons: Vec<NeuronReport>,
    /// What went wrong for validators this epoch (module errors, rejected set_weights).
    pub errors: Vec<String>,
    /// Per validator, in uid order: how its weights went out.
    pub weights: Vec<ValidatorWeightsReport>,
    /// The errors (as in `errors`) of validator rounds that failed as a whole.
    pub failed_rounds: Vec<String>,
    /// Every score of the honest validators' scored tasks, with the module's metrics.
    pub task_scores: Vec<TaskScoreReport>,
}

/// Earnings of one role over the whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RoleTotal {
    /// `validator` or `miner`.
    pub kind: String,
    /// The role.
    pub role: String,
    /// Whether the role is honest work.
    pub honest: bool,
    /// Neurons with this role.
    pub count: usize,
    /// Alpha they earned, together.
    pub earned: f64,
    /// Their share of what all neurons of the same kind earned.
    pub share: f64,
}

/// A uid's role and key.
#[derive(Debug, Clone, Serialize)]
pub struct NeuronRole {
    /// The uid.
    pub uid: u16,
    /// `validator` or `miner`.
    pub kind: String,
    /// The role.
    pub role: String,
    /// Whether the role is honest work.
    pub honest: bool,
    /// SS58 of the hotkey.
    pub hotkey: String,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxReport {
    /// The subnet's name.
    pub subnet: String,
    /// The seed.
    pub seed: u64,
    /// The subnet's netuid on the local chain.
    pub netuid: NetUid,
    /// Blocks per epoch minus one, as subtensor's `Tempo`.
    pub tempo: u16,
    /// Whether Yuma3 bonds were on.
    pub yuma3: bool,
    /// Whether miners were served over HTTP (real latencies) rather than in-process.
    pub network: bool,
    /// Who is who.
    pub neurons: Vec<NeuronRole>,
    /// Per epoch.
    pub epochs: Vec<EpochReport>,
    /// Earnings by role over the run.
    pub totals: Vec<RoleTotal>,
    /// The honest validators' mean weights at the end, by uid (zeros left out).
    pub final_weights: BTreeMap<u16, f64>,
    /// Per uid, each metric's mean over every task that scored it in the run (uids without
    /// metrics left out).
    pub metrics: BTreeMap<u16, BTreeMap<String, f64>>,
}

impl SandboxReport {
    /// The errors of validator rounds that failed as a whole, over every epoch: a report with
    /// any measures the module's failure, not the subnet's incentive.
    pub fn failed_rounds(&self) -> Vec<&str> {
        self.epochs.iter().flat_map(|e| &e.failed_rounds).map(String::as_str).collect()
    }

    pub(crate) fn new(
        subnet: &str,
        config: &SandboxConfig,
        netuid: NetUid,
        roles: &BTreeMap<u16, (String, String, bool)>,
        metagraph: &Metagraph,
    ) -> Self {
        Self {
            subnet: subnet.to_owned(),
            seed: config.seed,
            netuid,
            tempo: config.tempo,
            yuma3: config.yuma3,
            network: config.network,
            neurons: roles
                .iter()
                .map(|(uid, (kind, role, honest))| NeuronRole {
                    uid: *uid,
                    kind: kind.clone(),
                    role: role.clone(),
                    honest: *honest,
                    hotkey: metagraph.neurons.get(usize::from(*uid)).map(|n| n.hotkey.to_ss58()).unwrap_or_default(),
                })
                .collect(),
            epochs: Vec::new(),
            totals: Vec::new(),
            final_weights: BTreeMap::new(),
            metrics: BTreeMap::new(),
        }
    }

    pub(super) fn push_epoch(
        &mut self,
        epoch: u64,
        after: &Metagraph,
        stake_before: &BTreeMap<AccountId, u64>,
        block_emission_total: u64,
        validators: &[(ValidatorKind, &ScoreState)],
        turns: &[ValidatorTurn],
    ) {
        let task_scores: Vec<TaskScoreReport> = turns.iter().flat_map(|t| t.task_scores.iter().cloned()).collect();
        let honest: Vec<usize> =
            validators.iter().enumerate().filter(|(_, (k, _))| *k == ValidatorKind::Honest).map(|(i, _)| i).collect();
        let mean = |f: &dyn Fn(usize) -> f64| -> f64 {
            if honest.is_empty() { 0.0 } else { honest.iter().map(|i| f(*i)).sum::<f64>() / honest.len() as f64 }
        };
        let mut emitted = 0u64;
        let neurons = after
            .neurons
            .iter()
            .map(|n| {
                let earned = n.stake.saturating_sub(stake_before.get(&n.hotkey).copied().unwrap_or(0));
                emitted = emitted.saturating_add(earned);
                let role = self.neurons.iter().find(|r| r.uid == n.uid);
                NeuronReport {
                    uid: n.uid,
                    kind: role.map(|r| r.kind.clone()).unwrap_or_default(),
                    role: role.map(|r| r.role.clone()).unwrap_or_default(),
                    score: frac(mean(&|i| validators[i].1.get(n.uid).map_or(0.0, |e| e.score))),
                    weight: frac(mean(&|i| turns[i].weights.get(&n.uid).copied().unwrap_or(0.0))),
                    consensus: frac(f64::from(n.consensus) / 65535.0),
                    incentive: frac(f64::from(n.incentive) / 65535.0),
                    dividends: frac(f64::from(n.dividends) / 65535.0),
                    emission: alpha(earned),
                    metrics: mean_metrics(task_scores.iter().filter(|s| s.uid == n.uid)),
                }
            })
            .collect();
        let error = |i: usize, e: &str| format!("validator {i} ({}): {e}", validators[i].0.name());
        let errors = turns.iter().enumerate().filter_map(|(i, t)| t.error.as_deref().map(|e| error(i, e))).collect();
        let failed_rounds = turns
            .iter()
            .enumerate()
            .filter(|(_, t)| t.round_failed)
            .filter_map(|(i, t)| t.error.as_deref().map(|e| error(i, e)))
            .collect();
        self.epochs.push(EpochReport {
            epoch,
            block: after.block,
            emitted_to_neurons: alpha(emitted),
            block_emission_total: alpha(block_emission_total),
            neurons,
            errors,
            weights: turns.iter().map(|t| t.report.clone()).collect(),
            failed_rounds,
            task_scores,
        });
    }

    /// Records that validator `uid`'s latest unrevealed commit was revealed at `block`.
    pub(crate) fn revealed(&mut self, uid: u16, block: u64) {
        let pending = self
            .epochs
            .iter_mut()
            .rev()
            .flat_map(|e| e.weights.iter_mut())
            .find(|w| w.uid == uid && w.commit_block.is_some() && w.reveal_block.is_none());
        if let Some(w) = pending {
            w.reveal_block = Some(block);
        }
    }

    pub(crate) fn finish(&mut self) {
        let mut totals: BTreeMap<(String, String), RoleTotal> = BTreeMap::new();
        for role in &self.neurons {
            let earned: f64 = self
                .epochs
                .iter()
                .flat_map(|e| e.neurons.iter())
                .filter(|n| n.uid == role.uid)
                .map(|n| n.emission)
                .sum();
            let entry = totals.entry((role.kind.clone(), role.role.clone())).or_insert(RoleTotal {
                kind: role.kind.clone(),
                role: role.role.clone(),
                honest: role.honest,
                count: 0,
                earned: 0.0,
                share: 0.0,
            });
            entry.count += 1;
            entry.earned += earned;
        }
        let mut by_kind: BTreeMap<String, f64> = BTreeMap::new();
        for t in totals.values() {
            *by_kind.entry(t.kind.clone()).or_default() += t.earned;
        }
        self.totals = totals
            .into_values()
            .map(|mut t| {
                let all = by_kind.get(&t.kind).copied().unwrap_or(0.0);
                t.share = if all > 0.0 { frac(t.earned / all) } else { 0.0 };
                t.earned = (t.earned * 1e9).round() / 1e9;
                t
            })
            .collect();
        let uids: std::collections::BTreeSet<u16> =
            self.epochs.iter().flat_map(|e| &e.task_scores).map(|s| s.uid).collect();
        self.metrics = uids
            .into_iter()
            .map(|uid| {
                let scores = self.epochs.iter().flat_map(|e| &e.task_scores).filter(|s| s.uid == uid);
                (uid, mean_metrics(scores))
            })
            .filter(|(_, m)| !m.is_empty())
            .collect();
        if let Some(last) = self.epochs.last() {
            self.final_weights = last.neurons.iter().filter(|n| n.weight > 0.0).map(|n| (n.uid, n.weight)).collect();
        }
    }

    /// The share of the miners' earnings that went to honest miners, over the run.
    pub fn honest_miner_share(&self) -> f64 {
        self.totals.iter().filter(|t| t.kind == "miner" && t.honest).map(|t| t.share).sum()
    }

    /// The report as tables, for a terminal.
    pub fn render(&self) -> String {
        self.render_with(false)
    }

    /// The report as tables; with `metrics`, a table of each uid's module metrics (means over
    /// the run) follows the earnings.
    pub fn render_with(&self, metrics: bool) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "subnet `{}` on the local chain (netuid {}, tempo {}, {} bonds), seed {}, miners {}\n",
            self.subnet,
            self.netuid,
            self.tempo,
            if self.yuma3 { "Yuma3" } else { "classic" },
            self.seed,
            if self.network { "over HTTP on loopback" } else { "in-process" }
        ));
        for epoch in &self.epochs {
            let mut table = Table::new();
            table.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
                "uid",
                "kind",
                "role",
                "score",
                "weight",
                "consensus",
                "incentive",
                "dividends",
                "earned α",
            ]);
            for n in &epoch.neurons {
                let num = |x: f64| Cell::new(format!("{x:.4}")).set_alignment(CellAlignment::Right);
                table.add_row(vec![
                    Cell::new(n.uid).set_alignment(CellAlignment::Right),
                    Cell::new(&n.kind),
                    Cell::new(&n.role),
                    num(n.score),
                    num(n.weight),
                    num(n.consensus),
                    num(n.incentive),
                    num(n.dividends),
                    Cell::new(format!("{:.6}", n.emission)).set_alignment(CellAlignment::Right),
                ]);
            }
            out.push_str(&format!(
                "\nepoch {} (block {}): {:.6} α to neurons of {:.6} α emitted (the rest is the owner cut)\n{table}\n",
                epoch.epoch, epoch.block, epoch.emitted_to_neurons, epoch.block_emission_total
            ));
            for e in &epoch.errors {
                out.push_str(&format!("  ! {e}\n"));
            }
        }
        let mut totals = Table::new();
        totals.load_preset(UTF8_BORDERS_ONLY).set_header(vec!["kind", "role", "honest", "count", "earned α", "share"]);
        for t in &self.totals {
            totals.add_row(vec![
                Cell::new(&t.kind),
                Cell::new(&t.role),
                Cell::new(if t.honest { "yes" } else { "no" }),
                Cell::new(t.count).set_alignment(CellAlignment::Right),
                Cell::new(format!("{:.6}", t.earned)).set_alignment(CellAlignment::Right),
                Cell::new(format!("{:.1}%", t.share * 100.0)).set_alignment(CellAlignment::Right),
            ]);
        }
        out.push_str(&format!("\nearnings over {} epochs\n{totals}\n", self.epochs.len()));
        let weights: Vec<String> = self.final_weights.iter().map(|(u, w)| format!("{u}:{w:.4}")).collect();
        out.push_str(&format!("final weights (honest validators): {}\n", weights.join("  ")));
        if metrics {
            out.push_str(&self.render_metrics());
        }
        out
    }

    /// Each uid's metrics, means over the run, one column per metric name.
    fn render_metrics(&self) -> String {
        let names: std::collections::BTreeSet<&str> =
            self.metrics.values().flat_map(|m| m.keys()).map(String::as_str).collect();
        if names.is_empty() {
            return "\nmetrics: the validator module returned none (`Score.metric` in the SDKs adds them)\n".into();
        }
        let mut table = Table::new();
        let mut header = vec!["uid".to_owned(), "role".to_owned()];
        header.extend(names.iter().map(|n| (*n).to_owned()));
        table.load_preset(UTF8_BORDERS_ONLY).set_header(header);
        for (uid, metrics) in &self.metrics {
            let role = self.neurons.iter().find(|r| r.uid == *uid).map_or("", |r| r.role.as_str());
            let mut row = vec![Cell::new(uid).set_alignment(CellAlignment::Right), Cell::new(role)];
            row.extend(names.iter().map(|n| {
                let text = metrics.get(*n).map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
                Cell::new(text).set_alignment(CellAlignment::Right)
            }));
            table.add_row(row);
        }
        format!("\nmetrics per uid (mean over the tasks that scored it)\n{table}\n")
    }
}
