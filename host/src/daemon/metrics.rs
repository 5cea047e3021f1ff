//! Prometheus metrics of the daemon (served at `GET /metrics` of the admin API, OpenMetrics
//! text).
//!
//! Every series carries `subnet="<netuid>"`. Families:
//!
//! | name | type | labels | what |
//! | --- | --- | --- | --- |
//! | `subnetd_module_calls_total` | counter | subnet, call | calls into the validator module (`generate-tasks`, `score`, `reward`) |
//! | `subnetd_module_call_errors_total` | counter | subnet, call, kind | failed calls by kind: `trap`, `timeout`, `memory`, `fuel`, `guest-error`, `malformed`, `instantiate` |
//! | `subnetd_module_call_duration_seconds` | histogram | subnet, call | call latency, pool wait included |
//! | `subnetd_rounds_total` | counter | subnet, outcome | rounds `ok` or `failed` |
//! | `subnetd_round_duration_seconds` | histogram | subnet | whole rounds |
//! | `subnetd_tasks_unscored_total` | counter | subnet | tasks whose `score` failed (the round went on) |
//! | `subnetd_miner_responses_total` | counter | subnet, status | miner responses by status (see below) |
//! | `subnetd_miner_response_duration_seconds` | histogram | subnet, status | validator-side latency of miner responses |
//! | `subnetd_miner_uid_responses_total` | counter | subnet, uid, status | responses per uid by status |
//! | `subnetd_miner_uid_latency_seconds` | gauge | subnet, uid | latency of the uid's last response |
//! | `subnetd_miner_uid_up` | gauge | subnet, uid | 1 when the uid's last response was `ok`, else 0 |
//! | `subnetd_miner_uid_score` | gauge | subnet, uid | the uid's score in the last round (the mean over its tasks) |
//! | `subnetd_miner_uid_weight` | gauge | subnet, uid | the uid's share of the weights the module asked for last round (sums to 1) |
//! | `subnetd_validator_stake_tao` | gauge | subnet | this validator's stake on the subnet, TAO (alpha) |
//! | `subnetd_validator_trust` | gauge | subnet | this validator's validator trust, 0..1 |
//! | `subnetd_validator_permit` | gauge | subnet | 1 when this validator holds a validator permit |
//! | `subnetd_reloads_total` | counter | subnet, outcome | module reloads `applied`, `refused` or `unchanged` |
//! | `subnetd_reload_duration_seconds` | histogram | subnet | read, verify, compile, smoke and swap |
//! | `subnetd_module_info` | gauge | subnet, hash, version | 1 for the version serving now |
//! | `subnetd_module_generation` | gauge | subnet | versions applied since start (1 = the first) |
//! | `subnetd_weights_set_total` | counter | subnet, outcome | weight submissions: `ok` (set), `committed`, `revealed`, `dropped` (a timelocked commit the chain did not apply), `rejected` |
//! | `subnetd_last_weights_block` | gauge | subnet | block of the last weights set |
//! | `subnetd_chain_block` | gauge | — | latest block seen |
//! | `subnetd_chain_connected` | gauge | — | 1 while the chain answers and its block advances, else 0 |
//! | `subnetd_chain_last_block_change_seconds` | gauge | — | seconds since the chain's block last advanced |
//! | `subnetd_subnet_info` | gauge | subnet, name | 1 per subnet this daemon runs (join on `subnet` for the name) |
//! | `subnetd_subnet_healthy` | gauge | subnet | 1 when the subnet passes `/healthz`, else 0 |
//! | `subnetd_last_good_round_timestamp_seconds` | gauge | subnet | Unix time of the last round that succeeded |
//! | `subnetd_config_reloads_total` | counter | outcome | config reloads (SIGHUP, `POST /config/reload`) `applied`, `unchanged`, `partial` or `refused` |
//! | `subnetd_build_info` | gauge | version | 1, with subnetd's version |
//! | `subnetd_loop_restarts_total` | counter | subnet | deaths of the subnet's loop (a host bug), each restarted with backoff |
//! | `subnetd_compute_calls_total` | counter | model, kind, device | calls to a served model (all outcomes) |
//! | `subnetd_compute_items_total` | counter | model, kind, device | texts or images embedded by calls that succeeded |
//! | `subnetd_compute_batches_total` | counter | model, kind, device | forward passes (calls are batched across subnets) |
//! | `subnetd_compute_errors_total` | counter | model, kind, device | failed calls other than timeouts |
//! | `subnetd_compute_timeouts_total` | counter | model, kind, device | calls that ran out of time |
//! | `subnetd_compute_busy_seconds_total` | counter | model, kind, device | time the model spent working: the compute cost |
//!
//! Response `status` values: `ok` (answered), `timeout` (no answer in time), `refused` (the
//! miner declined: a guest error, a 4xx), `failed` (unreachable, a 5xx, a transport error),
//! `malformed` (over its size cap or not decodable). Per-uid series are bounded by the
//! metagraph (see [`super::miners`]): uids that leave it lose their series.
//!
//! The `compute` families exist when the daemon serves models; they are read from the model
//! service at each scrape.
//! Recording never fails and never blocks on I/O.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::runtime::CallObserver;
use crate::runtime::{CallError, ModuleInfo};

/// Labels: the subnet.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubnetLabels {
    /// Netuid.
    pub subnet: String,
}

/// Labels: subnet and call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Netuid.
    pub subnet: String,
    /// The exported function.
    pub call: String,
}

/// Labels: subnet, call and error kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Netuid.
    pub subnet: String,
    /// The exported function.
    pub call: String,
    /// [`CallError::kind`].
    pub kind: String,
}

/// Labels: subnet and an outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// Netuid.
    pub subnet: String,
    /// What happened.
    pub outcome: String,
}

/// Labels: subnet and a response status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// Netuid.
    pub subnet: String,
    /// `ok`, `timeout`, `refused`, `failed`, `malformed`.
    pub status: String,
}

/// Labels: subnet and uid.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UidLabels {
    /// Netuid.
    pub subnet: String,
    /// The miner's uid.
    pub uid: String,
}

/// Labels: subnet, uid and a response status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UidStatusLabels {
    /// Netuid.
    pub subnet: String,
    /// The miner's uid.
    pub uid: String,
    /// See [`StatusLabels::status`].
    pub status: String,
}

/// Labels: subnet and its name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabels {
    /// Netuid.
    pub subnet: String,
    /// The subnet's label in the config.
    pub name: String,
}

/// Labels: an outcome only.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OnlyOutcome {
    /// What happened.
    pub outcome: String,
}

/// Labels: a version.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    /// subnetd's version.
    pub version: String,
}

/// A gauge of seconds.
pub type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// Labels of the module-info gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModuleLabels {
    /// Netuid.
    pub subnet: String,
    /// SHA-256 of the component.
    pub hash: String,
    /// The signed version label, or empty.
    pub version: String,
}

/// Labels of the compute families.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    /// The model's name in the registry.
    pub model: String,
    /// `text-embedding`, `image-embedding`, `text-generation`.
    pub kind: String,
    /// `cpu` or `cuda:N`.
    pub device: String,
}

/// Reads the model service's counters at each scrape.
struct ComputeCollector(subnet_compute::ComputeService);

impl std::fmt::Debug for ComputeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputeCollector").field("device", &self.0.device()).finish()
    }
}

/// Reads one counter of a model's metrics.
type ModelCounter = fn(&subnet_compute::ModelMetrics) -> u64;

impl Collector for ComputeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self.0.metrics();
        let counts: [(&str, &str, ModelCounter); 5] = [
            ("compute_calls", "Calls to a served model, all outcomes", |m| m.calls),
            ("compute_items", "Texts or images embedded by calls that succeeded", |m| m.items),
            ("compute_batches", "Forward passes run (calls are batched)", |m| m.batches),
            ("compute_errors", "Failed model calls other than timeouts", |m| m.errors),
            ("compute_timeouts", "Model calls that ran out of time", |m| m.timeouts),
        ];
        let labels = |m: &subnet_compute::ModelMetrics| ModelLabels {
            model: m.name.clone(),
            kind: m.kind.as_str().to_owned(),
            device: snapshot.device.clone(),
        };
        for (name, help, value) in counts {
            let family = Family::<ModelLabels, Counter>::default();
            for m in &snapshot.models {
                family.get_or_create(&labels(m)).inc_by(value(m));
            }
            family.encode(encoder.encode_descriptor(name, help, None, family.metric_type())?)?;
        }
        let busy = Family::<ModelLabels, Counter<f64, std::sync::atomic::AtomicU64>>::default();
        for m in &snapshot.models {
            busy.get_or_create(&labels(m)).inc_by(m.busy.as_secs_f64());
        }
        busy.encode(encoder.encode_descriptor(
            "compute_busy_seconds",
            "Time models spent decoding, tokenising and running: the compute cost",
            None,
            busy.metric_type(),
        )?)
    }
}

/// Labels: subnet and outbound target (`scheme://host:port`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutboundLabels {
    /// Netuid.
    pub subnet: String,
    /// The target.
    pub target: String,
}

/// The outbound policies of the daemon's subnets, read at each scrape.
type OutboundPolicies = Arc<std::sync::Mutex<Vec<(String, Arc<crate::caps::http::OutboundPolicy>)>>>;

/// Reads each subnet's outbound HTTP counters per target at each scrape.
#[derive(Debug, Default)]
struct OutboundCollector(OutboundPolicies);

impl Collector for OutboundCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let policies = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        type Read = fn(&crate::caps::http::HostStats) -> u64;
        let counts: [(&str, &str, Read); 3] = [
            ("outbound_requests", "Outbound HTTP requests sent, by subnet and target", |s| s.requests),
            ("outbound_refused", "Outbound HTTP requests refused by the subnet's policy", |s| s.refused),
            ("outbound_failed", "Outbound HTTP requests that failed (connect, timeout, size)", |s| s.failed),
        ];
        for (name, help, read) in counts {
            let family = Family::<OutboundLabels, Counter>::default();
            for (subnet, policy) in &policies {
                for (target, stats) in policy.stats() {
                    family.get_or_create(&OutboundLabels { subnet: subnet.clone(), target }).inc_by(read(&stats));
                }
            }
            family.encode(encoder.encode_descriptor(name, help, None, family.metric_type())?)?;
        }
        Ok(())
    }
}

/// Histogram buckets (seconds) of a family.
#[derive(Clone)]
pub struct Buckets(&'static [f64]);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// 100 µs .. ~105 s.
const CALL_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0,
];

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    outbound: OutboundPolicies,
    /// Calls into validator modules.
    pub calls: Family<CallLabels, Counter>,
    /// Failed calls by kind.
    pub call_errors: Family<ErrorLabels, Counter>,
    /// Call latency.
    pub call_seconds: Family<CallLabels, Histogram, Buckets>,
    /// Rounds by outcome.
    pub rounds: Family<OutcomeLabels, Counter>,
    /// Round latency.
    pub round_seconds: Family<SubnetLabels, Histogram, Buckets>,
    /// Tasks whose scoring failed.
    pub tasks_unscored: Family<SubnetLabels, Counter>,
    /// Miner responses by status.
    pub responses: Family<StatusLabels, Counter>,
    /// Reloads by outcome.
    pub reloads: Family<OutcomeLabels, Counter>,
    /// Reload latency.
    pub reload_seconds: Family<SubnetLabels, Histogram, Buckets>,
    /// The version serving now.
    pub module_info: Family<ModuleLabels, Gauge>,
    /// Versions applied since start.
    pub module_generation: Family<SubnetLabels, Gauge>,
    /// `set_weights` by outcome.
    pub weights_set: Family<OutcomeLabels, Counter>,
    /// Block of the last weights.
    pub last_weights_block: Family<SubnetLabels, Gauge>,
    /// Latest block.
    pub chain_block: Gauge,
    /// Deaths (and restarts) of subnet loops.
    pub loop_restarts: Family<SubnetLabels, Counter>,
    /// Miner response latency by status.
    pub response_seconds: Family<StatusLabels, Histogram, Buckets>,
    /// Responses per uid by status.
    pub uid_responses: Family<UidStatusLabels, Counter>,
    /// Latency of each uid's last response.
    pub uid_latency: Family<UidLabels, FloatGauge>,
    /// Whether each uid's last response was `ok`.
    pub uid_up: Family<UidLabels, Gauge>,
    /// Each uid's last round score.
    pub uid_score: Family<UidLabels, FloatGauge>,
    /// Each uid's share of the last weights the module asked for.
    pub uid_weight: Family<UidLabels, FloatGauge>,
    /// This validator's stake per subnet, TAO.
    pub validator_stake: Family<SubnetLabels, FloatGauge>,
    /// This validator's validator trust per subnet.
    pub validator_trust: Family<SubnetLabels, FloatGauge>,
    /// Whether this validator holds a permit per subnet.
    pub validator_permit: Family<SubnetLabels, Gauge>,
    /// Whether the chain answers and advances.
    pub chain_connected: Gauge,
    /// Seconds since the chain's block last advanced.
    pub chain_stale_seconds: FloatGauge,
    /// The subnets run, with their names.
    pub subnet_info: Family<NameLabels, Gauge>,
    /// Per subnet, whether it is healthy.
    pub subnet_healthy: Family<SubnetLabels, Gauge>,
    /// Per subnet, when its last round succeeded.
    pub last_good_round: Family<SubnetLabels, FloatGauge>,
    /// Config reloads by outcome.
    pub config_reloads: Family<OnlyOutcome, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics, registered under the `subnetd_` prefix.
    pub fn new() -> Self {
        Self::with_compute(None)
    }

    /// Empty metrics, plus the counters of `compute` (the daemon's model service) when it has one.
    pub fn with_compute(compute: Option<subnet_compute::ComputeService>) -> Self {
        let mut registry = Registry::with_prefix("subnetd");
        if let Some(service) = compute {
            registry.register_collector(Box::new(ComputeCollector(service)));
        }
        let outbound = OutboundPolicies::default();
        registry.register_collector(Box::new(OutboundCollector(outbound.clone())));
        let calls = Family::<CallLabels, Counter>::default();
        let call_errors = Family::<ErrorLabels, Counter>::default();
        let call_seconds = Family::new_with_constructor(Buckets(CALL_BUCKETS));
        let rounds = Family::<OutcomeLabels, Counter>::default();
        let round_seconds = Family::new_with_constructor(Buckets(CALL_BUCKETS));
        let tasks_unscored = Family::<SubnetLabels, Counter>::default();
        let responses = Family::<StatusLabels, Counter>::default();
        let reloads = Family::<OutcomeLabels, Counter>::default();
        let reload_seconds = Family::new_with_constructor(Buckets(CALL_BUCKETS));
        let module_info = Family::<ModuleLabels, Gauge>::default();
        let module_generation = Family::<SubnetLabels, Gauge>::default();
        let weights_set = Family::<OutcomeLabels, Counter>::default();
        let last_weights_block = Family::<SubnetLabels, Gauge>::default();
        let chain_block = Gauge::default();
        let loop_restarts = Family::<SubnetLabels, Counter>::default();
        let response_seconds = Family::new_with_constructor(Buckets(CALL_BUCKETS));
        let uid_responses = Family::<UidStatusLabels, Counter>::default();
        let uid_latency = Family::<UidLabels, FloatGauge>::default();
        let uid_up = Family::<UidLabels, Gauge>::default();
        let uid_score = Family::<UidLabels, FloatGauge>::default();
        let uid_weight = Family::<UidLabels, FloatGauge>::default();
        let validator_stake = Family::<SubnetLabels, FloatGauge>::default();
        let validator_trust = Family::<SubnetLabels, FloatGauge>::default();
        let validator_permit = Family::<SubnetLabels, Gauge>::default();
        let chain_connected = Gauge::default();
        let chain_stale_seconds = FloatGauge::default();
        let subnet_info = Family::<NameLabels, Gauge>::default();
        let subnet_healthy = Family::<SubnetLabels, Gauge>::default();
        let last_good_round = Family::<SubnetLabels, FloatGauge>::default();
        let config_reloads = Family::<OnlyOutcome, Counter>::default();
        let build_info = Family::<VersionLabels, Gauge>::default();
        build_info.get_or_create(&VersionLabels { version: env!("CARGO_PKG_VERSION").into() }).set(1);
        for outcome in ["applied", "unchanged", "partial", "refused"] {
            let _ = config_reloads.get_or_create(&OnlyOutcome { outcome: outcome.into() });
        }
        registry.register(
            "miner_response_duration_seconds",
            "Validator-side latency of miner responses, by status",
            response_seconds.clone(),
        );
        registry.register("miner_uid_responses", "Miner responses per uid, by status", uid_responses.clone());
        registry.register("miner_uid_latency_seconds", "Latency of each uid's last response", uid_latency.clone());
        registry.register("miner_uid_up", "1 when the uid's last response was ok", uid_up.clone());
        registry.register("miner_uid_score", "Each uid's score in the last round", uid_score.clone());
        registry.register(
            "miner_uid_weight",
            "Each uid's share of the weights the module asked for last round",
            uid_weight.clone(),
        );
        registry.register("validator_stake_tao", "This validator's stake on the subnet, TAO", validator_stake.clone());
        registry.register("validator_trust", "This validator's validator trust, 0..1", validator_trust.clone());
        registry.register(
            "validator_permit",
            "1 when this validator holds a validator permit",
            validator_permit.clone(),
        );
        registry.register(
            "chain_connected",
            "1 while the chain answers and its block advances",
            chain_connected.clone(),
        );
        registry.register(
            "chain_last_block_change_seconds",
            "Seconds since the chain's block last advanced",
            chain_stale_seconds.clone(),
        );
        registry.register(
            "subnet_info",
            "The subnets this daemon runs (value 1), with their names",
            subnet_info.clone(),
        );
        registry.register("subnet_healthy", "1 when the subnet passes /healthz", subnet_healthy.clone());
        registry.register(
            "last_good_round_timestamp_seconds",
            "Unix time of the subnet's last successful round",
            last_good_round.clone(),
        );
        registry.register("config_reloads", "Config reloads by outcome", config_reloads.clone());
        registry.register("build_info", "subnetd's version (value 1)", build_info);
        registry.register("module_calls", "Calls into validator modules", calls.clone());
        registry.register("module_call_errors", "Failed module calls by kind", call_errors.clone());
        registry.register(
            "module_call_duration_seconds",
            "Latency of module calls, waiting for a pool slot included",
            call_seconds.clone(),
        );
        registry.register("rounds", "Validator rounds by outcome", rounds.clone());
        registry.register("round_duration_seconds", "Latency of whole validator rounds", round_seconds.clone());
        registry.register("tasks_unscored", "Tasks whose score call failed", tasks_unscored.clone());
        registry.register("miner_responses", "Miner responses by status", responses.clone());
        registry.register("reloads", "Module reloads by outcome", reloads.clone());
        registry.register(
            "reload_duration_seconds",
            "Latency of reloads: read, verify, compile, smoke call and swap",
            reload_seconds.clone(),
        );
        registry.register("module_info", "The module version serving now (value 1)", module_info.clone());
        registry.register("module_generation", "Module versions applied since start", module_generation.clone());
        registry.register(
            "weights_set",
            "Weight submissions by outcome: ok (set), committed, revealed, dropped (a timelocked commit the \
             chain did not apply), rejected",
            weights_set.clone(),
        );
        registry.register("last_weights_block", "Block of the last weights set", last_weights_block.clone());
        registry.register("chain_block", "Latest block seen", chain_block.clone());
        registry.register(
            "loop_restarts",
            "Deaths of a subnet's validator loop (a host bug), each followed by a restart",
            loop_restarts.clone(),
        );
        Self {
            registry,
            outbound,
            calls,
            call_errors,
            call_seconds,
            rounds,
            round_seconds,
            tasks_unscored,
            responses,
            reloads,
            reload_seconds,
            module_info,
            module_generation,
            weights_set,
            last_weights_block,
            chain_block,
            loop_restarts,
            response_seconds,
            uid_responses,
            uid_latency,
            uid_up,
            uid_score,
            uid_weight,
            validator_stake,
            validator_trust,
            validator_permit,
            chain_connected,
            chain_stale_seconds,
            subnet_info,
            subnet_healthy,
            last_good_round,
            config_reloads,
        }
    }

    /// Reports `policy`'s counters (outbound HTTP per target) as `subnet`'s.
    pub fn watch_outbound(&self, subnet: String, policy: Arc<crate::caps::http::OutboundPolicy>) {
        self.outbound.lock().unwrap_or_else(|e| e.into_inner()).push((subnet, policy));
    }

    /// The OpenMetrics text of every series.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Records a reload outcome.
    pub fn reload(&self, netuid: u16, outcome: &str, elapsed: Duration) {
        let subnet = netuid.to_string();
        self.reloads.get_or_create(&OutcomeLabels { subnet: subnet.clone(), outcome: outcome.into() }).inc();
        self.reload_seconds.get_or_create(&SubnetLabels { subnet }).observe(elapsed.as_secs_f64());
    }

    /// Records that `hash`/`version` replaced `previous` as the serving version.
    pub fn module_swapped(
        &self,
        netuid: u16,
        previous: Option<(&str, &str)>,
        hash: &str,
        version: &str,
        generation: u64,
    ) {
        let subnet = netuid.to_string();
        if let Some((old_hash, old_version)) = previous {
            self.module_info.remove(&ModuleLabels {
                subnet: subnet.clone(),
                hash: old_hash.into(),
                version: old_version.into(),
            });
        }
        self.module_info
            .get_or_create(&ModuleLabels { subnet: subnet.clone(), hash: hash.into(), version: version.into() })
            .set(1);
        self.module_generation.get_or_create(&SubnetLabels { subnet }).set(generation as i64);
    }

    /// Records a round.
    pub fn round(&self, netuid: u16, ok: bool, elapsed: Duration) {
        let subnet = netuid.to_string();
        let outcome = if ok { "ok" } else { "failed" };
        self.rounds.get_or_create(&OutcomeLabels { subnet: subnet.clone(), outcome: outcome.into() }).inc();
        self.round_seconds.get_or_create(&SubnetLabels { subnet }).observe(elapsed.as_secs_f64());
    }

    /// Creates a subnet's counters at zero when it starts, so every family a board or an alert
    /// queries exists from the first scrape, and `increase()` sees the first event.
    pub fn subnet_started(&self, netuid: u16, name: &str) {
        let subnet = netuid.to_string();
        let s = || SubnetLabels { subnet: subnet.clone() };
        let o = |outcome: &str| OutcomeLabels { subnet: subnet.clone(), outcome: outcome.into() };
        self.subnet_info.get_or_create(&NameLabels { subnet: subnet.clone(), name: name.into() }).set(1);
        let _ = self.loop_restarts.get_or_create(&s());
        let _ = self.tasks_unscored.get_or_create(&s());
        for outcome in ["ok", "failed"] {
            let _ = self.rounds.get_or_create(&o(outcome));
        }
        for outcome in ["applied", "refused"] {
            let _ = self.reloads.get_or_create(&o(outcome));
        }
        for outcome in ["ok", "rejected"] {
            let _ = self.weights_set.get_or_create(&o(outcome));
        }
        for call in ["generate-tasks", "score", "reward"] {
            for kind in ["trap", "timeout", "memory", "fuel", "guest-error", "malformed", "instantiate"] {
                let _ = self.call_errors.get_or_create(&ErrorLabels {
                    subnet: subnet.clone(),
                    call: call.into(),
                    kind: kind.into(),
                });
            }
        }
    }

    /// Records this validator's own neuron on a subnet (stake, trust, permit); `None` when its
    /// hotkey is not registered there (stake and trust 0, no permit).
    pub fn own_neuron(&self, netuid: u16, neuron: Option<&subnet_chain::NeuronInfo>) {
        let labels = SubnetLabels { subnet: netuid.to_string() };
        let stake = neuron.map_or(0.0, |n| n.stake as f64 / subnet_chain::local::RAO_PER_TAO as f64);
        let trust = neuron.map_or(0.0, |n| f64::from(n.validator_trust) / f64::from(u16::MAX));
        self.validator_stake.get_or_create(&labels).set(stake);
        self.validator_trust.get_or_create(&labels).set(trust);
        self.validator_permit.get_or_create(&labels).set(i64::from(neuron.is_some_and(|n| n.validator_permit)));
    }

    /// Counts a death (and restart) of a subnet's loop.
    pub fn loop_died(&self, netuid: u16) {
        self.loop_restarts.get_or_create(&SubnetLabels { subnet: netuid.to_string() }).inc();
    }

    /// Records a weight submission's outcome (`ok`, `committed`, `revealed`, `dropped`, `rejected`).
    pub fn weights(&self, netuid: u16, outcome: &str, block: Option<u64>) {
        let subnet = netuid.to_string();
        self.weights_set.get_or_create(&OutcomeLabels { subnet: subnet.clone(), outcome: outcome.into() }).inc();
        if let Some(block) = block {
            self.last_weights_block.get_or_create(&SubnetLabels { subnet }).set(block as i64);
        }
    }
}

/// Counts and times one subnet's module calls ([`CallObserver`]), and logs the failures that
/// are the module's fault (traps, timeouts, memory, fuel) with the subnet and module.
pub struct SubnetObserver {
    /// The subnet's netuid.
    pub netuid: u16,
    /// Where to record.
    pub metrics: Arc<Metrics>,
}

impl CallObserver for SubnetObserver {
    fn call_finished(&self, module: &ModuleInfo, call: &'static str, elapsed: Duration, error: Option<&CallError>) {
        let labels = CallLabels { subnet: self.netuid.to_string(), call: call.into() };
        self.metrics.calls.get_or_create(&labels).inc();
        self.metrics.call_seconds.get_or_create(&labels).observe(elapsed.as_secs_f64());
        if let Some(error) = error {
            self.metrics
                .call_errors
                .get_or_create(&ErrorLabels { subnet: labels.subnet, call: call.into(), kind: error.kind().into() })
                .inc();
            // The full error (a trap's backtrace spans lines) at debug: the round that suffers
            // it logs one WARN line saying what failed (see `subnet::SubnetRunner`).
            tracing::debug!(subnet = self.netuid, module = %module.name, hash = %short(&module.hash), call,
                kind = error.kind(), error = %error, "module call failed");
        }
    }
}

/// The first 12 hex digits of a hash, for logs.
pub fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
