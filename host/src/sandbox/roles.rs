//! Who the sandbox's miners are: the `--mix` (or the default mix) resolved to the bundle's
//! miner modules and the built-in adversaries, one entry per miner slot.
//!
//! Failure modes: an unknown role name, or a mix whose count differs from `--miners`, is a
//! [`SandboxError::Config`] naming the roles there are; a module that does not load is a
//! [`SandboxError::Load`] naming its file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{SandboxConfig, SandboxError};
use crate::bundle::BuiltBundle;
use crate::runtime::Runtime;
use crate::sim::SimMiner;

/// The role of each miner slot: `(role name, simulated miner)`.
pub(super) fn miner_roles(
    runtime: &Runtime,
    bundle: &BuiltBundle,
    config: &SandboxConfig,
) -> Result<Vec<(String, bool, SimMiner)>, SandboxError> {
    let load = |path: &PathBuf| {
        let bytes = std::fs::read(path).map_err(|e| SandboxError::Config(format!("{}: {e}", path.display())))?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("miner");
        runtime.load_miner(name, &bytes).map_err(|source| SandboxError::Load { path: path.clone(), source })
    };
    let mut modules: BTreeMap<String, (bool, SimMiner)> = BTreeMap::new();
    for (name, honest, path) in &bundle.miners {
        modules.insert(name.clone(), (*honest, SimMiner::Module(load(path)?)));
    }
    let honest_names: Vec<String> = bundle.miners.iter().filter(|m| m.1).map(|m| m.0.clone()).collect();
    let mix: Vec<(String, usize)> = match &config.mix {
        Some(mix) => mix.clone(),
        None => {
            if honest_names.is_empty() {
                return Err(SandboxError::Config(
                    "no honest miner module: give the bundle a [[miner]] or pass --miner".into(),
                ));
            }
            // Adversaries: the two built-ins, then the bundle's own; at least half the miners
            // stay honest so the report shows what honest work earns against them.
            let mut adversaries: Vec<String> = vec!["lazy".into(), "random".into()];
            adversaries.extend(bundle.miners.iter().filter(|m| !m.1).map(|m| m.0.clone()));
            let slots = config.miners / 2;
            adversaries.truncate(slots);
            let honest = config.miners - adversaries.len();
            let mut mix: Vec<(String, usize)> = Vec::new();
            for i in 0..honest {
                let name = &honest_names[i % honest_names.len()];
                match mix.iter_mut().find(|(n, _)| n == name) {
                    Some(entry) => entry.1 += 1,
                    None => mix.push((name.clone(), 1)),
                }
            }
            mix.extend(adversaries.into_iter().map(|a| (a, 1)));
            mix
        }
    };
    let mut roles = Vec::new();
    for (name, count) in mix {
        let (honest, miner) = match name.as_str() {
            "lazy" => (false, SimMiner::Lazy),
            "random" => (false, SimMiner::Random),
            "honest" if !honest_names.is_empty() => modules[&honest_names[0]].clone(),
            other => modules.get(other).cloned().ok_or_else(|| {
                SandboxError::Config(format!(
                    "unknown miner role `{other}`: use honest, lazy, random or one of [{}]",
                    modules.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?,
        };
        roles.extend(std::iter::repeat_n((name, honest, miner), count));
    }
    if roles.len() != config.miners {
        return Err(SandboxError::Config(format!(
            "the miner mix has {} miners, --miners says {}",
            roles.len(),
            config.miners
        )));
    }
    Ok(roles)
}
