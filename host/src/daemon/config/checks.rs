//! The checks `subnetd.toml` passes after it parsed: ranges, files that must exist, capability
//! settings (each capability checks its own), and what subnets must not share.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::{ChainConfig, ConfigError, DaemonConfig, MAX_MEMORY, MIN_MEMORY, field_err, parse_public_key};
use crate::units::{Bytes, Dur};

impl DaemonConfig {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.subnets.is_empty() {
            return Err(field_err("subnet", "no [[subnet]]: the daemon needs at least one subnet to validate"));
        }
        if let Some(models) = &self.models
            && !models.is_file()
        {
            return Err(field_err("models", format!("{}: no such file", models.display())));
        }
        if let ChainConfig::Node { url } = &self.chain
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(field_err("chain.url", format!("`{url}` is not an http:// URL")));
        }
        if let ChainConfig::Local { block_time } = &self.chain
            && block_time.0 < Duration::from_millis(1)
        {
            return Err(field_err("chain.block_time", "must be at least 1ms"));
        }
        if self.health.follow_interval.0 < Duration::from_millis(10) {
            return Err(field_err("health.follow_interval", "must be at least 10ms"));
        }
        if self.health.stale_after.0 < self.health.follow_interval.0 {
            return Err(field_err("health.stale_after", "must be at least health.follow_interval"));
        }
        let local = matches!(self.chain, ChainConfig::Local { .. });
        let mut netuids = BTreeSet::new();
        let mut preopens: Vec<(usize, PathBuf)> = Vec::new();
        for (i, s) in self.subnets.iter().enumerate() {
            let f = |name: &str| format!("subnet[{i}].{name}");
            if s.netuid == 0 {
                return Err(field_err(f("netuid"), "netuid 0 is the root network, which has no validator modules"));
            }
            if !netuids.insert(s.netuid) {
                return Err(field_err(f("netuid"), format!("netuid {} is configured twice", s.netuid)));
            }
            if !s.module.exists() {
                return Err(field_err(f("module"), format!("{}: no such file or directory", s.module.display())));
            }
            for (j, signer) in s.require_signers.iter().enumerate() {
                parse_public_key(signer).map_err(|e| field_err(format!("subnet[{i}].require_signers[{j}]"), e))?;
            }
            if let Some(Bytes(memory)) = s.limits.memory
                && !(MIN_MEMORY..=MAX_MEMORY).contains(&memory)
            {
                return Err(field_err(f("limits.memory"), format!("{memory} bytes is outside 1MiB..=4GiB")));
            }
            if let Some(Dur(t)) = s.limits.call_timeout
                && (t < Duration::from_millis(1) || t > Duration::from_secs(3600))
            {
                return Err(field_err(f("limits.call_timeout"), "must be between 1ms and 1h"));
            }
            if s.limits.fuel == Some(0) {
                return Err(field_err(f("limits.fuel"), "0 fuel cannot run anything; leave it out for no fuel limit"));
            }
            if s.tasks.interval.0 < Duration::from_millis(10) {
                return Err(field_err(f("tasks.interval"), "must be at least 10ms"));
            }
            if s.tasks.max_tasks == 0 {
                return Err(field_err(f("tasks.max_tasks"), "must be at least 1"));
            }
            if s.weights.every_blocks == 0 {
                return Err(field_err(f("weights.every_blocks"), "must be at least 1"));
            }
            if let Some(p) = &s.capabilities.preopen {
                if let Some((other, _)) = preopens.iter().find(|(_, d)| *d == p.dir) {
                    return Err(field_err(
                        f("capabilities.preopen.dir"),
                        format!("{} is already subnet[{other}]'s directory: subnets never share one", p.dir.display()),
                    ));
                }
                preopens.push((i, p.dir.clone()));
            }
            if let Some(l) = &s.local {
                if !local {
                    return Err(field_err(
                        f("local"),
                        "only the `local` chain backend creates subnets; remove this table",
                    ));
                }
                if l.tempo < 2 {
                    return Err(field_err(f("local.tempo"), "must be at least 2 blocks"));
                }
                if !(1..=8).contains(&l.mechanisms) {
                    return Err(field_err(f("local.mechanisms"), "must be between 1 and 8"));
                }
                if s.mechanism >= l.mechanisms {
                    return Err(field_err(
                        f("mechanism"),
                        format!(
                            "mechanism {} does not exist: the subnet has {} (`local.mechanisms`)",
                            s.mechanism, l.mechanisms
                        ),
                    ));
                }
                if !(l.validator_stake.is_finite() && l.validator_stake >= 0.0) {
                    return Err(field_err(f("local.validator_stake"), "must be a non-negative number"));
                }
                if let Some(m) = &l.miners {
                    if m.honest > 0 {
                        match &m.module {
                            None => {
                                return Err(field_err(f("local.miners.module"), "honest miners need a miner module"));
                            }
                            Some(p) if !p.is_file() => {
                                return Err(field_err(
                                    f("local.miners.module"),
                                    format!("{}: no such file", p.display()),
                                ));
                            }
                            Some(_) => {}
                        }
                    }
                    for (i, entry) in m.modules.iter().enumerate() {
                        let field = f(&format!("local.miners.modules[{i}]"));
                        if entry.count == 0 {
                            return Err(field_err(format!("{field}.count"), "must be at least 1"));
                        }
                        if !entry.module.is_file() {
                            return Err(field_err(
                                format!("{field}.module"),
                                format!("{}: no such file", entry.module.display()),
                            ));
                        }
                    }
                    let modules: usize = m.modules.iter().map(|e| e.count).sum();
                    if m.honest + m.lazy + m.random + modules > 250 {
                        return Err(field_err(f("local.miners"), "at most 250 simulated miners per subnet"));
                    }
                }
            }
        }
        Ok(())
    }
}
