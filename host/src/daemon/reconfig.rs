//! Config reload: SIGHUP, `subnetd reload --apply-config` and `POST /config/reload` re-read the
//! config file the daemon started from and apply what changed, subnet by subnet.
//!
//! Order: the new file is parsed and checked in full first ([`DaemonConfig::load`]: errors
//! name the field); then what this running daemon cannot change in place is refused, naming
//! the field: the daemon-wide tables (`state_dir`, `[wallet]`, `[chain]`, `[admin]`,
//! `[runtime]`, `models`, `shutdown_grace`), a subnet limit the shared engine was not built for
//! (`limits.memory` above the engine's, `limits.fuel` when the engine has no fuel metering), a
//! `compute` model the model service does not serve. A refused reload changes nothing: the
//! running config stays. Then, per subnet, compared with what runs:
//! - removed, or `enabled = false`: its loop stops after its round in flight, its lock is
//!   released; its state stays in the database;
//! - added, or `enabled = true`: set up (on the local chain, created) and started, as at start;
//! - changed in any other way (cadence, limits, weights, module, capabilities, ...): stopped
//!   and started again with the new settings, resuming from the database;
//! - unchanged: not touched; its round in flight and its counters go on.
//!
//! `[health]` is applied in place.
//!
//! Failure modes: a subnet that fails to start during the apply (its hotkey lock is held, its
//! subnet is missing on chain) is reported in [`ConfigReload::errors`] with outcome `partial`;
//! the others are applied. The record of every reload is kept (the last 16) in `/status`
//! and counted in `subnetd_config_reloads_total{outcome}`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::assemble::{Factory, Running};
use super::backend::Backend;
use super::config::{DaemonConfig, SubnetConfig};
use super::{Shared, read, write};
use crate::runtime::RuntimeConfig;
use crate::util::unix_ms;

/// What a running daemon needs to change itself.
pub(crate) struct Control {
    pub config: DaemonConfig,
    pub factory: Factory,
    pub backend: Backend,
    pub running: BTreeMap<u16, Running>,
    pub engine: RuntimeConfig,
    pub models: Vec<String>,
}

/// One config reload.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigReload {
    /// `applied`, `unchanged`, `partial` (some subnets failed to start) or `refused`.
    pub outcome: &'static str,
    /// When it ended, ms since the Unix epoch.
    pub at_unix_ms: u64,
    /// Subnets started.
    pub added: Vec<u16>,
    /// Subnets stopped.
    pub removed: Vec<u16>,
    /// Subnets restarted with new settings.
    pub changed: Vec<u16>,
    /// Why it was refused (the field named), or what failed to start.
    pub errors: Vec<String>,
}

impl ConfigReload {
    fn refused(error: String) -> Self {
        Self {
            outcome: "refused",
            at_unix_ms: unix_ms(),
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
            errors: vec![error],
        }
    }
}

/// Derived `Debug` output covers every field, so equal text means equal settings; the config
/// types are plain data and carry no `PartialEq` of their own.
fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// What the new config cannot change in a running daemon, as the field and why.
fn restart_needed(old: &DaemonConfig, new: &DaemonConfig, engine: &RuntimeConfig, models: &[String]) -> Option<String> {
    let fixed: [(&str, bool); 7] = [
        ("state_dir", same(&old.state_dir, &new.state_dir)),
        ("wallet", same(&old.wallet, &new.wallet)),
        ("chain", same(&old.chain, &new.chain)),
        ("admin", same(&old.admin, &new.admin)),
        ("runtime", same(&old.runtime, &new.runtime)),
        ("models", same(&old.models, &new.models)),
        ("shutdown_grace", same(&old.shutdown_grace, &new.shutdown_grace)),
    ];
    if let Some((field, _)) = fixed.iter().find(|(_, same)| !same) {
        return Some(format!("{field}: changing it needs a restart of the daemon"));
    }
    for (i, s) in new.subnets.iter().enumerate() {
        if s.memory() as usize > engine.max_memory_bytes {
            return Some(format!(
                "subnet[{i}].limits.memory: {} bytes is above the engine's {} (fixed at start): restart to raise it",
                s.memory(),
                engine.max_memory_bytes
            ));
        }
        if s.limits.fuel.is_some() && engine.fuel.is_none() {
            return Some(format!(
                "subnet[{i}].limits.fuel: the engine was started without fuel metering: restart to turn it on"
            ));
        }
        if let Some(m) = s.capabilities.compute.compute.iter().find(|m| !models.contains(m)) {
            return Some(format!(
                "subnet[{i}].capabilities.compute: model `{m}` is not served by this daemon (fixed at start): restart to add it"
            ));
        }
    }
    None
}

fn enabled(config: &DaemonConfig) -> BTreeMap<u16, &SubnetConfig> {
    config.enabled_subnets().map(|s| (s.netuid, s)).collect()
}

/// Re-reads and applies the config (see the module docs).
pub(crate) async fn apply(shared: &Shared, control: &mut Control) -> ConfigReload {
    let Some(path) = control.config.source.clone() else {
        return ConfigReload::refused("the daemon was not started from a config file".into());
    };
    let new = match DaemonConfig::load(&path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "config reload refused; the running config is kept");
            return ConfigReload::refused(e.to_string());
        }
    };
    if let Some(why) = restart_needed(&control.config, &new, &control.engine, &control.models) {
        tracing::warn!(error = %why, "config reload refused; the running config is kept");
        return ConfigReload::refused(format!("{}: {why}", path.display()));
    }
    let old_on = enabled(&control.config);
    let new_on = enabled(&new);
    let removed: Vec<u16> = old_on.keys().filter(|n| !new_on.contains_key(n)).copied().collect();
    let added: Vec<u16> = new_on.keys().filter(|n| !old_on.contains_key(n)).copied().collect();
    let changed: Vec<u16> =
        new_on.iter().filter(|(n, s)| old_on.get(n).is_some_and(|old| !same(*old, *s))).map(|(n, _)| *n).collect();
    *write(&shared.health_config) = new.health.clone();
    *write(&shared.disabled) = new.subnets.iter().filter(|s| !s.enabled).map(|s| s.netuid).collect();
    let grace = new.shutdown_grace.0;
    let stopping: BTreeSet<u16> = removed.iter().chain(&changed).copied().collect();
    for netuid in &stopping {
        write(&shared.subnets).remove(netuid);
        write(&shared.kv).remove(netuid);
        control.backend.remove_subnet(*netuid);
        if let Some(r) = control.running.remove(netuid) {
            r.finish(grace).await;
        }
    }
    let mut errors = Vec::new();
    for netuid in added.iter().chain(&changed) {
        let Some(s) = new_on.get(netuid) else { continue };
        let runtime = control.factory.runtime.clone();
        let started = match control.backend.add_subnet(s, Some(&runtime)).await {
            Ok(transport) => control.factory.start(s, control.backend.chain.clone(), transport).await,
            Err(e) => Err(e.into()),
        };
        match started {
            Ok(r) => {
                write(&shared.subnets).insert(*netuid, r.runner.clone());
                if let Some(kv) = &r.kv {
                    write(&shared.kv).insert(*netuid, kv.clone());
                }
                control.running.insert(*netuid, r);
            }
            Err(e) => {
                tracing::error!(subnet = netuid, error = %e, "config reload: subnet not started");
                control.backend.remove_subnet(*netuid);
                errors.push(format!("subnet {netuid}: {e}"));
            }
        }
    }
    let nothing = added.is_empty() && removed.is_empty() && changed.is_empty();
    let outcome = match (errors.is_empty(), nothing) {
        (false, _) => "partial",
        (true, true) => "unchanged",
        (true, false) => "applied",
    };
    tracing::info!(outcome, ?added, ?removed, ?changed, running = read(&shared.subnets).len(), "config reloaded");
    control.config = new;
    ConfigReload { outcome, at_unix_ms: unix_ms(), added, removed, changed, errors }
}
