//! Health that tells the truth: the chain follower and the per-component verdict behind
//! `GET /healthz` and `GET /readyz`.
//!
//! Components and what makes each unhealthy:
//! - `chain`: the follower ([`spawn_follower`]) asks the chain for its block every
//!   `[health] follow_interval`. The chain is *connected* while the last ask answered and the
//!   block advanced within `[health] stale_after`; otherwise it is disconnected (the last error
//!   is kept). `subnetd_chain_connected` mirrors it, `subnetd_chain_block` keeps following.
//! - each subnet: unhealthy when its last round failed (chain errors, a trapping module, all
//!   tasks unscored, no module serving), when its last good round is older than its round
//!   window (`max([health] round_window, 5 × tasks.interval)`: a stuck loop or a round that
//!   never ends), or when weights are late: more than `[health] weights_late_factor ×
//!   weights.every_blocks` blocks since the last weights landed (or since the daemon started,
//!   before the first).
//!
//! `/healthz` answers 200 when every component is healthy, else 503, with the verdict of each
//! component as JSON either way. `/readyz` answers 200 once the chain is connected and every
//! subnet has a module serving and finished a round (an orchestrator sends traffic or counts
//! the rollout done), else 503.
//!
//! Failure modes: none of its own; a chain call that hangs is cut at the follow interval
//! (at least 1 s) and counts as a failure.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use subnet_chain::Chain;
use tokio::sync::watch;

use super::config::HealthConfig;
use super::metrics::{Metrics, SubnetLabels};
use super::subnet::SubnetStatus;
use crate::util::unix_ms;

/// What the follower last saw of the chain.
#[derive(Debug)]
pub struct ChainHealth {
    inner: Mutex<ChainSeen>,
    started: Instant,
}

#[derive(Debug, Clone)]
struct ChainSeen {
    block: Option<u64>,
    start_block: Option<u64>,
    changed: Instant,
    answered: bool,
    error: Option<String>,
    checks: u64,
}

/// The chain's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ChainVerdict {
    /// Connected and following.
    pub ok: bool,
    /// The last block seen.
    pub block: Option<u64>,
    /// Seconds since the block last advanced.
    pub block_age_s: f64,
    /// Why not ok.
    pub reason: Option<String>,
}

/// A subnet's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct SubnetVerdict {
    /// Netuid.
    pub netuid: u16,
    /// Its name.
    pub name: String,
    /// Healthy.
    pub ok: bool,
    /// Why not.
    pub reason: Option<String>,
}

/// The body of `/healthz` and `/readyz`.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// `ok` or `unhealthy` (`ready` or `not-ready` for `/readyz`).
    pub status: &'static str,
    /// The chain.
    pub chain: ChainVerdict,
    /// Per subnet.
    pub subnets: Vec<SubnetVerdict>,
}

impl Default for ChainHealth {
    fn default() -> Self {
        Self {
            inner: Mutex::new(ChainSeen {
                block: None,
                start_block: None,
                changed: Instant::now(),
                answered: false,
                error: Some("not checked yet".into()),
                checks: 0,
            }),
            started: Instant::now(),
        }
    }
}

impl ChainHealth {
    fn seen(&self) -> ChainSeen {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records one ask of the chain.
    pub fn observe(&self, answer: Result<u64, String>) {
        let mut seen = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        seen.checks += 1;
        match answer {
            Ok(block) => {
                if seen.block != Some(block) {
                    seen.changed = Instant::now();
                }
                seen.start_block.get_or_insert(block);
                seen.block = Some(block);
                seen.answered = true;
                seen.error = None;
            }
            Err(e) => {
                seen.answered = false;
                seen.error = Some(e);
            }
        }
    }

    /// The latest block seen, if any.
    pub fn block(&self) -> Option<u64> {
        self.seen().block
    }

    /// The chain's verdict under `config`.
    pub fn verdict(&self, config: &HealthConfig) -> ChainVerdict {
        let seen = self.seen();
        let age = seen.changed.elapsed();
        let reason = if !seen.answered {
            Some(format!("chain not answering: {}", seen.error.unwrap_or_default()))
        } else if age > config.stale_after.0 {
            Some(format!("the chain's block has not advanced for {:.0} s", age.as_secs_f64()))
        } else {
            None
        };
        ChainVerdict { ok: reason.is_none(), block: seen.block, block_age_s: age.as_secs_f64(), reason }
    }

    /// A subnet's verdict under `config` (see the module docs).
    pub fn subnet_verdict(
        &self,
        config: &HealthConfig,
        status: &SubnetStatus,
        interval: Duration,
        every_blocks: u64,
    ) -> SubnetVerdict {
        let window = config.round_window.0.max(interval * 5);
        let now = unix_ms();
        let window_ms = window.as_millis() as u64;
        let up_ms = self.started.elapsed().as_millis() as u64;
        let seen = self.seen();
        let reason = if let Some(error) = status.last_round.as_ref().and_then(|r| r.error.clone()) {
            Some(format!("last round failed: {error}"))
        } else if let Some(good) = status.last_good_round_unix_ms {
            (now.saturating_sub(good) > window_ms).then(|| {
                format!(
                    "no good round for {} s (window {} s): the loop may be stuck",
                    (now - good) / 1000,
                    window.as_secs()
                )
            })
        } else {
            (up_ms > window_ms).then(|| format!("no good round since start ({} s ago)", up_ms / 1000))
        };
        let late = config.weights_late_factor.saturating_mul(every_blocks.max(1));
        let reason = reason.or_else(|| {
            let block = seen.block?;
            let since = status.last_weights.as_ref().map(|w| w.block).or(seen.start_block)?;
            (late > 0 && block.saturating_sub(since) > late).then(|| {
                format!("weights late: {} blocks since the last weights (limit {late})", block.saturating_sub(since))
            })
        });
        SubnetVerdict { netuid: status.netuid, name: status.name.clone(), ok: reason.is_none(), reason }
    }
}

/// Asks the chain for its block every `follow_interval` until `shutdown`, recording each answer
/// in `health` and the metrics.
pub fn spawn_follower(
    chain: Arc<dyn Chain>,
    health: Arc<ChainHealth>,
    metrics: Arc<Metrics>,
    config: HealthConfig,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = config.follow_interval.0;
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { return },
                _ = ticker.tick() => {}
            }
            let limit = every.max(Duration::from_secs(1));
            let answer = match tokio::time::timeout(limit, chain.current_block()).await {
                Ok(Ok(block)) => Ok(block),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {limit:?}")),
            };
            let was = health.verdict(&config).ok;
            if let Ok(block) = &answer {
                metrics.chain_block.set(*block as i64);
            }
            health.observe(answer);
            let verdict = health.verdict(&config);
            metrics.chain_connected.set(i64::from(verdict.ok));
            metrics.chain_stale_seconds.set(verdict.block_age_s);
            match (was, verdict.ok) {
                (true, false) => tracing::warn!(reason = verdict.reason.as_deref().unwrap_or(""), "chain disconnected"),
                (false, true) => tracing::info!(block = verdict.block, "chain connected"),
                _ => {}
            }
        }
    })
}

/// Records each subnet's verdict in `subnetd_subnet_healthy`.
pub fn record(metrics: &Metrics, verdicts: &[SubnetVerdict]) {
    for v in verdicts {
        metrics.subnet_healthy.get_or_create(&SubnetLabels { subnet: v.netuid.to_string() }).set(i64::from(v.ok));
    }
}
