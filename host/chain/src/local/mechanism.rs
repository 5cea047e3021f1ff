//! Mechanisms (sub-subnets), as `subnets/mechanism.rs`: the count and emission split a subnet
//! owner sets, the split of an epoch's emission, Yuma per mechanism and the aggregation of
//! its outputs (`epoch_with_mechanisms`).
//!
//! Invariants:
//! * A subnet has `1..=max_mechanism_count` mechanisms; every per-mechanism record of a
//!   mechanism removed by lowering the count is cleared (weights, bonds, `LastUpdate`,
//!   `Incentive`, v2 and timelocked commits), and any count change resets the split to even.
//! * The split of `alpha` pays exactly `alpha`: truncation losses go to mechanism 0.
//! * Aggregation: server and validator emission add up; dividends, consensus, validator trust,
//!   stake weight and emission are sums weighted by each mechanism's share of the emission
//!   (`U64F64`, truncated to the stored unit); `active` and the new validator permit are ORed.
//!   With one mechanism the aggregate is the mechanism's output unchanged.

use substrate_fixed::types::U64F64;

use super::state::{State, Subnet};
use super::{LocalChain, MAX_MECHANISM_COUNT_PER_SUBNET, MAX_UIDS_OVER_ALL_MECHANISMS, err};
use crate::yuma::EpochOutput;
use crate::{ChainError, MechId, Metagraph, NetUid, SubtensorError as E, Uid};

/// `split_emissions`: `alpha` split over `count` mechanisms by `split` (u16 proportions), or
/// evenly; entries past the split are 0 and the truncation remainder goes to mechanism 0.
pub fn split_emissions(alpha: u64, count: MechId, split: Option<&[u16]>) -> Vec<u64> {
    let count = usize::from(count.max(1));
    let mut out: Vec<u64> = match split {
        Some(split) => {
            split.iter().map(|&s| (u128::from(alpha) * u128::from(s) / u128::from(u16::MAX)) as u64).collect()
        }
        None => vec![alpha / count as u64; count],
    };
    out.resize(count, 0);
    let paid = out.iter().fold(0u64, |a, &x| a.saturating_add(x));
    if let Some(first) = out.first_mut() {
        *first = first.saturating_add(alpha.saturating_sub(paid));
    }
    out
}

fn weighted_u16(existing: u16, added: u16, weight: U64F64) -> u16 {
    U64F64::saturating_from_num(existing)
        .saturating_add(U64F64::saturating_from_num(added).saturating_mul(weight))
        .saturating_to_num::<u16>()
}

fn weighted_u64(existing: u64, added: u64, weight: U64F64) -> u64 {
    U64F64::saturating_from_num(existing)
        .saturating_add(U64F64::saturating_from_num(added).saturating_mul(weight))
        .saturating_to_num::<u64>()
}

/// Folds the per-mechanism epoch outputs into the subnet-wide one (`epoch_with_mechanisms`).
/// `outputs[m]` ran on `emissions[m]` of the `total` alpha. Per-mechanism fields (incentive,
/// bonds) are taken from mechanism 0 and must be read from `outputs` per mechanism.
pub(super) fn aggregate(outputs: &[EpochOutput], emissions: &[u64], total: u64) -> EpochOutput {
    let n = outputs.first().map_or(0, |o| o.active.len());
    let mut agg = EpochOutput {
        active: vec![false; n],
        validator_permit: vec![false; n],
        stake_weight: vec![0; n],
        consensus: vec![0; n],
        incentive: outputs.first().map(|o| o.incentive.clone()).unwrap_or_default(),
        dividends: vec![0; n],
        validator_trust: vec![0; n],
        bonds: outputs.first().map(|o| o.bonds.clone()).unwrap_or_default(),
        server_emission: vec![0; n],
        validator_emission: vec![0; n],
        emission: vec![0; n],
        stake: vec![0; n],
    };
    let zero = U64F64::from_num(0);
    for (m, out) in outputs.iter().enumerate() {
        let sub = emissions.get(m).copied().unwrap_or(0);
        // For zero emission the first mechanism gets the full weight.
        let weight = U64F64::saturating_from_num(sub)
            .checked_div(U64F64::saturating_from_num(total))
            .unwrap_or(if m == 0 { U64F64::from_num(1) } else { zero });
        let at16 = |v: &Vec<u16>, i: usize| v.get(i).copied().unwrap_or(0);
        let at64 = |v: &Vec<u64>, i: usize| v.get(i).copied().unwrap_or(0);
        for i in 0..n {
            agg.server_emission[i] = agg.server_emission[i].saturating_add(at64(&out.server_emission, i));
            agg.validator_emission[i] = agg.validator_emission[i].saturating_add(at64(&out.validator_emission, i));
            agg.dividends[i] = weighted_u16(agg.dividends[i], at16(&out.dividends, i), weight);
            agg.stake_weight[i] = weighted_u16(agg.stake_weight[i], at16(&out.stake_weight, i), weight);
            agg.consensus[i] = weighted_u16(agg.consensus[i], at16(&out.consensus, i), weight);
            agg.validator_trust[i] = weighted_u16(agg.validator_trust[i], at16(&out.validator_trust, i), weight);
            agg.emission[i] = weighted_u64(agg.emission[i], at64(&out.emission, i), weight);
            agg.active[i] |= out.active.get(i).copied().unwrap_or(false);
            agg.validator_permit[i] |= out.validator_permit.get(i).copied().unwrap_or(false);
            agg.stake[i] = agg.stake[i].saturating_add(at64(&out.stake, i));
        }
    }
    agg
}

impl Subnet {
    /// `update_mechanism_counts_if_needed`.
    fn apply_mechanism_count(&mut self, count: MechId) {
        let old = self.mechanism_count();
        if old == count {
            return;
        }
        if count < old {
            for n in &mut self.neurons {
                n.mechanisms.truncate(usize::from(count) - 1);
            }
            self.meta.mechanism_commits.retain(|(m, _), _| *m < count);
            self.meta.timelocked.retain(|(m, _), _| *m < count);
        }
        self.meta.hyper.mechanism_count = count;
        self.meta.hyper.mechanism_emission_split = None;
    }
}

impl State {
    /// `do_set_mechanism_count`: `InvalidValue` for 0, above `MaxMechanismCount` or 16;
    /// `TooManyUIDsPerMechanism` when `max_allowed_uids * count > 256`.
    pub(super) fn set_mechanism_count(&mut self, netuid: NetUid, count: MechId) -> Result<(), ChainError> {
        let max = self.global.config.max_mechanism_count.min(MAX_MECHANISM_COUNT_PER_SUBNET);
        let sn = self.subnets.get(&netuid).ok_or_else(|| err(E::MechanismDoesNotExist))?;
        if count == 0 || count > max {
            return Err(err(E::InvalidValue));
        }
        if u32::from(sn.meta.hyper.max_allowed_uids) * u32::from(count) > u32::from(MAX_UIDS_OVER_ALL_MECHANISMS) {
            return Err(err(E::TooManyUIDsPerMechanism));
        }
        if sn.mechanism_count() != count {
            self.subnet_mut(netuid)?.apply_mechanism_count(count);
        }
        Ok(())
    }

    /// `do_set_emission_split`: `None` = even; otherwise 1..=count entries summing to 65535,
    /// else `InvalidValue`.
    pub(super) fn set_emission_split(&mut self, netuid: NetUid, split: Option<Vec<u16>>) -> Result<(), ChainError> {
        let sn = self.subnets.get(&netuid).ok_or_else(|| err(E::MechanismDoesNotExist))?;
        if let Some(split) = &split {
            let total: u64 = split.iter().map(|&s| u64::from(s)).sum();
            if split.is_empty() || split.len() > usize::from(sn.mechanism_count()) || total != u64::from(u16::MAX) {
                return Err(err(E::InvalidValue));
            }
        }
        self.subnet_mut(netuid)?.meta.hyper.mechanism_emission_split = split;
        Ok(())
    }
}

impl LocalChain {
    /// Sets a subnet's mechanism count, as the owner's `sudo_set_mechanism_count`; see
    /// [`LocalChain::set_hyperparams`] for the errors. Lowering it clears the removed
    /// mechanisms; any change resets the emission split to even.
    pub fn set_mechanism_count(&self, netuid: NetUid, count: MechId) -> Result<(), ChainError> {
        self.transact(|st| st.set_mechanism_count(netuid, count))
    }

    /// Sets how a subnet's emission is split between its mechanisms
    /// (`sudo_set_mechanism_emission_split`); `None` = even.
    pub fn set_mechanism_emission_split(&self, netuid: NetUid, split: Option<Vec<u16>>) -> Result<(), ChainError> {
        self.transact(|st| st.set_emission_split(netuid, split))
    }

    /// Sync form of [`Chain::mechanism_metagraph`](crate::Chain::mechanism_metagraph).
    pub fn mechanism_metagraph_now(&self, netuid: NetUid, mecid: MechId) -> Result<Metagraph, ChainError> {
        self.lock().state.metagraph(netuid, mecid)
    }

    /// Stored weights row of a uid in a mechanism (`Weights[netuid_index][uid]`); empty when
    /// the subnet, mechanism or uid does not exist.
    pub fn mechanism_weights(&self, netuid: NetUid, mecid: MechId, uid: Uid) -> Vec<(u16, u16)> {
        self.mech_field(netuid, mecid, uid, |r| r.weights.clone())
    }

    /// Stored bonds row of a uid in a mechanism (`Bonds[netuid_index][uid]`).
    pub fn mechanism_bonds(&self, netuid: NetUid, mecid: MechId, uid: Uid) -> Vec<(u16, u16)> {
        self.mech_field(netuid, mecid, uid, |r| r.bonds.clone())
    }

    fn mech_field<T: Default>(
        &self,
        netuid: NetUid,
        mecid: MechId,
        uid: Uid,
        f: impl FnOnce(&super::state::MechRow) -> T,
    ) -> T {
        let inner = self.lock();
        inner
            .state
            .subnets
            .get(&netuid)
            .filter(|s| mecid < s.mechanism_count())
            .and_then(|s| s.neurons.get(usize::from(uid)))
            .and_then(|n| n.mech_ref(mecid))
            .map(f)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_pays_everything_and_gives_the_remainder_to_mechanism_0() {
        assert_eq!(split_emissions(10, 3, None), vec![4, 3, 3]);
        assert_eq!(split_emissions(10, 1, None), vec![10]);
        // 1000 * 16384 / 65535 = 250.0038.. -> 250; the rest of 1000 - 250 - 0 to mechanism 0.
        assert_eq!(split_emissions(1000, 2, Some(&[49151, 16384])), vec![750, 250]);
        assert_eq!(split_emissions(1000, 3, Some(&[65535])), vec![1000, 0, 0]);
        assert_eq!(split_emissions(0, 2, None), vec![0, 0]);
    }

    #[test]
    fn one_mechanism_aggregates_to_itself() {
        let out = EpochOutput {
            active: vec![true, false],
            validator_permit: vec![true, false],
            stake_weight: vec![65535, 0],
            consensus: vec![0, 40000],
            incentive: vec![0, 65535],
            dividends: vec![65535, 0],
            validator_trust: vec![12345, 0],
            bonds: vec![vec![(1, 7)], vec![]],
            server_emission: vec![0, 500],
            validator_emission: vec![499, 0],
            emission: vec![499, 500],
            stake: vec![1000, 0],
        };
        assert_eq!(aggregate(std::slice::from_ref(&out), &[999], 999), out);
        assert_eq!(aggregate(std::slice::from_ref(&out), &[0], 0), out, "zero emission: full weight to mechanism 0");
    }
}
