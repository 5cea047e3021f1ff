//! `GET /metrics` of a miner's axon: its counters in Prometheus text (OpenMetrics), read
//! from [`MinerStats`] at each scrape, so the endpoint costs nothing between scrapes.
//!
//! | name | type | labels | what |
//! | --- | --- | --- | --- |
//! | `subnetd_miner_requests_total` | counter | netuid | task requests received |
//! | `subnetd_miner_verified_total` | counter | netuid | requests whose signature verified |
//! | `subnetd_miner_handler_calls_total` | counter | netuid | calls into the miner module |
//! | `subnetd_miner_answered_total` | counter | netuid | 200 answers |
//! | `subnetd_miner_refused_total` | counter | netuid, reason | refusals by reason code ([`crate::net`] lists them) |
//! | `subnetd_miner_queued` | gauge | netuid | requests waiting for a module slot |
//! | `subnetd_miner_busy` | gauge | netuid | module slots in use |
//! | `subnetd_miner_unverified` | gauge | netuid | requests past the header checks, signature not verified yet |
//! | `subnetd_miner_replay_entries` | gauge | netuid | nonces the replay cache holds |
//! | `subnetd_build_info` | gauge | version | 1, with subnetd's version |
//!
//! Failure modes: none; encoding a snapshot cannot fail.

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::miner_server::MinerStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NetuidLabels {
    netuid: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    netuid: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

/// The metrics text of a miner serving `netuid`, with counters `stats`.
pub fn render(netuid: u16, stats: &MinerStats) -> String {
    let mut registry = prometheus_client::registry::Registry::with_prefix("subnetd");
    registry.register_collector(Box::new(Snapshot { netuid: netuid.to_string(), stats: stats.clone() }));
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

#[derive(Debug)]
struct Snapshot {
    netuid: String,
    stats: MinerStats,
}

impl prometheus_client::collector::Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let labels = NetuidLabels { netuid: self.netuid.clone() };
        let s = &self.stats;
        let counters = [
            ("miner_requests", "Task requests received", s.requests),
            ("miner_verified", "Requests whose signature verified", s.verified),
            ("miner_handler_calls", "Calls into the miner module", s.handler_calls),
            ("miner_answered", "200 answers", s.answered),
        ];
        for (name, help, value) in counters {
            let family = Family::<NetuidLabels, Counter>::default();
            family.get_or_create(&labels).inc_by(value);
            family.encode(encoder.encode_descriptor(name, help, None, family.metric_type())?)?;
        }
        let refused = Family::<ReasonLabels, Counter>::default();
        for (reason, count) in &s.refused {
            refused.get_or_create(&ReasonLabels { netuid: self.netuid.clone(), reason: reason.clone() }).inc_by(*count);
        }
        refused.encode(encoder.encode_descriptor(
            "miner_refused",
            "Refused requests by reason code",
            None,
            refused.metric_type(),
        )?)?;
        let gauges = [
            ("miner_queued", "Requests waiting for a module slot", s.queued),
            ("miner_busy", "Module slots in use", s.busy),
            ("miner_unverified", "Requests past the header checks whose signature is not verified yet", s.unverified),
            ("miner_replay_entries", "Nonces the replay cache holds", s.replay_entries),
        ];
        for (name, help, value) in gauges {
            let family = Family::<NetuidLabels, Gauge>::default();
            family.get_or_create(&labels).set(i64::try_from(value).unwrap_or(i64::MAX));
            family.encode(encoder.encode_descriptor(name, help, None, family.metric_type())?)?;
        }
        let build = Family::<VersionLabels, Gauge>::default();
        build.get_or_create(&VersionLabels { version: env!("CARGO_PKG_VERSION").into() }).set(1);
        build.encode(encoder.encode_descriptor(
            "build_info",
            "subnetd's version (value 1)",
            None,
            build.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_renders_every_family() {
        let mut refused = std::collections::BTreeMap::new();
        refused.insert("bad_signature".to_owned(), 3);
        let stats =
            MinerStats { requests: 10, verified: 7, handler_calls: 6, answered: 5, refused, ..Default::default() };
        let text = render(4, &stats);
        for line in [
            "subnetd_miner_requests_total{netuid=\"4\"} 10",
            "subnetd_miner_answered_total{netuid=\"4\"} 5",
            "subnetd_miner_refused_total{netuid=\"4\",reason=\"bad_signature\"} 3",
            "subnetd_miner_queued{netuid=\"4\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "`{line}` in:\n{text}");
        }
        assert!(text.contains("# TYPE subnetd_build_info gauge"), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
