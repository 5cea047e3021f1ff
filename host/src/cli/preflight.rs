//! `subnetd run --check`: does this config work in the world, not just parse?
//!
//! Checks, each printed as `ok`, `warn` or `FAIL` with what it found:
//! - the wallet: the hotkey file exists and loads (an encrypted one needs `password_env`, and
//!   the variable it names must be set and right);
//! - each enabled subnet's module: it resolves to a file and loads as a validator component;
//! - the chain (skipped for the `local` backend, which the daemon makes itself): reachable; each enabled netuid exists; the hotkey is registered on it; its stake
//!   and validator permit (a missing permit is a warning: weights are refused without one,
//!   but it is granted at the next epoch when the stake suffices).
//!
//! `--offline` checks only the file and its modules: no wallet (it may live on the production
//! host only) and no chain.
//!
//! Failure modes: the command fails (exit 1) when any check fails, after printing all of
//! them, so one run lists every problem.

use std::time::Duration;

use anyhow::{Result, bail};
use subnet_chain::Chain;
use subnet_host::daemon::DaemonConfig;
use subnet_host::daemon::config::ChainConfig;

/// How long each chain step may take before it counts as unreachable.
const CHAIN_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Report {
    failures: usize,
}

impl Report {
    fn ok(&mut self, what: &str, detail: impl AsRef<str>) {
        println!("ok    {what}: {}", detail.as_ref());
    }
    fn warn(&mut self, what: &str, detail: impl AsRef<str>) {
        println!("warn  {what}: {}", detail.as_ref());
    }
    fn fail(&mut self, what: &str, detail: impl AsRef<str>) {
        self.failures += 1;
        println!("FAIL  {what}: {}", detail.as_ref());
    }
}

async fn within<T>(what: &str, f: impl Future<Output = Result<T, subnet_chain::ChainError>>) -> Result<T, String> {
    match tokio::time::timeout(CHAIN_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {CHAIN_TIMEOUT:?}")),
    }
}

/// Runs the checks (see the module docs).
pub async fn check(config: &DaemonConfig, offline: bool) -> Result<()> {
    let mut report = Report::default();
    let keypair = if offline {
        report.warn("wallet", "not checked (--offline)");
        None
    } else {
        match subnet_host::daemon::load_hotkey(config) {
            Ok(k) => {
                report.ok(
                    "wallet",
                    format!("hotkey {}/{} is {}", config.wallet.name, config.wallet.hotkey, k.account_id().to_ss58()),
                );
                Some(k)
            }
            Err(e) => {
                report.fail("wallet", e.to_string());
                None
            }
        }
    };
    let runtime = super::new_runtime()?;
    for s in config.enabled_subnets() {
        let what = format!("subnet {} module", s.netuid);
        let loaded = subnet_host::daemon::reload::resolve_module_file(&s.module).and_then(|file| {
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            runtime.load_validator(&s.label(), &bytes).map_err(|e| format!("{}: {e}", file.display()))?;
            Ok(file)
        });
        match loaded {
            Ok(file) => report.ok(&what, format!("{} loads", file.display())),
            Err(e) => report.fail(&what, e),
        }
    }
    for s in config.subnets.iter().filter(|s| !s.enabled) {
        report.warn(&format!("subnet {}", s.netuid), "disabled (enabled = false): not checked against the chain");
    }
    let chain: Option<std::sync::Arc<dyn Chain>> = match (&config.chain, offline, &keypair) {
        (ChainConfig::Local { .. }, _, _) => {
            report.ok("chain", "local: the daemon creates and runs it; nothing to reach");
            None
        }
        (_, true, _) => {
            report.warn("chain", "not checked (--offline)");
            None
        }
        (_, false, None) => {
            report.warn("chain", "not checked: no hotkey to check it with");
            None
        }
        (ChainConfig::Node { url }, false, Some(k)) => {
            match within(&format!("chain node {url}"), subnet_host::node::RemoteChain::connect(url, [k.clone()])).await
            {
                Ok(c) => Some(std::sync::Arc::new(c)),
                Err(e) => {
                    report.fail("chain", format!("unreachable: {e}"));
                    None
                }
            }
        }
        (ChainConfig::Subtensor { endpoint, .. }, false, Some(k)) => {
            let connect = subnet_subtensor::SubtensorChain::connect(
                endpoint.clone(),
                [k.clone()],
                subnet_subtensor::SubtensorOptions::default(),
            );
            match within(&format!("subtensor {endpoint}"), connect).await {
                Ok(c) => Some(std::sync::Arc::new(c)),
                Err(e) => {
                    report.fail("chain", format!("unreachable: {e}"));
                    None
                }
            }
        }
    };
    if let (Some(chain), Some(k)) = (chain, &keypair) {
        check_chain(&mut report, config, &*chain, &k.account_id()).await;
    }
    let source = config.source.as_deref().map_or("config".into(), |p| p.display().to_string());
    if report.failures > 0 {
        bail!("{source}: {} check(s) failed; the daemon would not work with this config", report.failures);
    }
    println!("{source}: ok ({} subnets)", config.enabled_subnets().count());
    Ok(())
}

async fn check_chain(report: &mut Report, config: &DaemonConfig, chain: &dyn Chain, hotkey: &subnet_chain::AccountId) {
    match within("current block", chain.current_block()).await {
        Ok(block) => report.ok("chain", format!("reachable at block {block}")),
        Err(e) => return report.fail("chain", format!("unreachable: {e}")),
    }
    let existing = match within("listing subnets", chain.subnets()).await {
        Ok(n) => n,
        Err(e) => return report.fail("chain", e),
    };
    for s in config.enabled_subnets() {
        let what = format!("subnet {}", s.netuid);
        if !existing.contains(&s.netuid) {
            report.fail(&what, format!("netuid {} does not exist on the chain", s.netuid));
            continue;
        }
        let metagraph = match within("metagraph", chain.metagraph(s.netuid)).await {
            Ok(m) => m,
            Err(e) => {
                report.fail(&what, e);
                continue;
            }
        };
        let Some(neuron) = metagraph.uid_of(hotkey).and_then(|uid| metagraph.neurons.get(usize::from(uid))) else {
            report.fail(
                &what,
                format!(
                    "the hotkey {} is not registered on subnet {} (register it: subnetd chain register, or btcli subnet register)",
                    hotkey.to_ss58(),
                    s.netuid
                ),
            );
            continue;
        };
        let tao = neuron.stake as f64 / 1e9;
        let detail = format!(
            "registered as uid {}, stake {tao:.3} TAO, last weights at block {}",
            neuron.uid, neuron.last_update
        );
        if neuron.validator_permit {
            report.ok(&what, format!("{detail}, validator permit"));
        } else {
            report.warn(&what, format!("{detail}, NO validator permit yet: set_weights is refused until it has one"));
        }
    }
}
