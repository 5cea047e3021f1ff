//! Weight calls by mechanism and commit-reveal version, picked from what the runtime offers.
//!
//! * Plain and v2 calls: the call of the main mechanism (`set_weights`, `commit_weights`,
//!   `reveal_weights`) for mechanism 0, the `*_mechanism_*` call (spec >= 320) otherwise; a
//!   runtime without it fails with [`ChainError::InvalidInput`] naming the call.
//! * Timelocked commits: `commit_timelocked_mechanism_weights` (spec >= 320), else for
//!   mechanism 0 `commit_timelocked_weights` (spec >= 301), else `commit_crv3_mechanism_weights`
//!   or, for mechanism 0, `commit_crv3_weights` (removed at spec 315); arguments are matched to
//!   the call's fields by name. A runtime with none of them fails naming all of them.
//! * Reads of `TimelockedWeightCommits` and `Weights` use the storage index
//!   `mecid * 4096 + netuid`; a runtime without timelocked commits has none to list.

use subnet_chain::{AccountId, ChainError, MechId, NetUid, SUBTENSOR_PALLET, TimelockedCommit, Uid, netuid_index};
use subxt::utils::AccountId32;

use crate::connection::at_finalized;
use crate::read::{fetch_or, has_storage, iter_under, require_mechanism};
use crate::submit::CallArg;
use crate::{Client, Inner};

/// The call and its leading arguments (`netuid`, plus `mecid` for a mechanism call).
pub(crate) fn mechanism_call(
    main: &'static str,
    mechanism: &'static str,
    netuid: NetUid,
    mecid: MechId,
) -> (&'static str, Vec<CallArg>) {
    if mecid == 0 {
        (main, vec![CallArg::U16(netuid)])
    } else {
        (mechanism, vec![CallArg::U16(netuid), CallArg::U8(mecid)])
    }
}

/// Timelocked commit calls, most recent first, and whether each takes a mechanism.
const TIMELOCKED_CALLS: [(&str, bool); 4] = [
    ("commit_timelocked_mechanism_weights", true),
    ("commit_timelocked_weights", false),
    ("commit_crv3_mechanism_weights", true),
    ("commit_crv3_weights", false),
];

impl Inner {
    /// A timelocked commit through the newest call the runtime has for `mecid`.
    pub(crate) async fn commit_timelocked(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        commit: &[u8],
        reveal_round: u64,
        version: u16,
    ) -> Result<subnet_chain::ExtrinsicOutcome, ChainError> {
        let client = self.client()?;
        let at = at_finalized(&client).await?;
        let metadata = at.metadata();
        let pallet = metadata
            .pallet_by_name(SUBTENSOR_PALLET)
            .ok_or_else(|| ChainError::InvalidInput("the runtime has no SubtensorModule".into()))?;
        let usable = TIMELOCKED_CALLS.iter().filter(|(_, mech)| *mech || mecid == 0);
        let Some((call, fields)) =
            usable.filter_map(|(name, _)| pallet.call_variant_by_name(name).map(|v| (*name, v.fields.clone()))).next()
        else {
            let names: Vec<&str> = TIMELOCKED_CALLS.iter().map(|(n, _)| *n).collect();
            return Err(ChainError::InvalidInput(format!(
                "this runtime (spec {}) has no timelocked weight commit for mechanism {mecid}: none of {} exists \
                 (timelocked commit-reveal needs spec >= 301, mechanisms spec >= 320)",
                at.spec_version(),
                names.join(", ")
            )));
        };
        let mut args = Vec::with_capacity(fields.len());
        for field in &fields {
            args.push(match field.name.as_deref() {
                Some("netuid") => CallArg::U16(netuid),
                Some("mecid") => CallArg::U8(mecid),
                Some("commit") => CallArg::Bytes(commit.to_vec()),
                Some("reveal_round") => CallArg::U64(reveal_round),
                Some("commit_reveal_version") => CallArg::U16(version),
                other => {
                    return Err(ChainError::InvalidInput(format!("{call} takes an unknown argument {other:?}")));
                }
            });
        }
        drop(at);
        self.submit(signer, SUBTENSOR_PALLET, call, args).await
    }
}

/// Quicknet when the runtime has the `Drand` pallet and one of the timelocked commit calls,
/// else `None` (spec 218, for one: commit-reveal there is v2).
pub(crate) async fn drand_beacon(client: &Client) -> Result<Option<subnet_drand::BeaconInfo>, ChainError> {
    let at = at_finalized(client).await?;
    let metadata = at.metadata();
    let has_drand = metadata.pallet_by_name("Drand").is_some();
    let has_call = metadata
        .pallet_by_name(SUBTENSOR_PALLET)
        .is_some_and(|p| TIMELOCKED_CALLS.iter().any(|(name, _)| p.call_variant_by_name(name).is_some()));
    Ok((has_drand && has_call).then(subnet_drand::BeaconInfo::quicknet))
}

/// `TimelockedWeightCommits[netuid_index]` entries of `who`, oldest epoch first.
pub(crate) async fn timelocked_commits(
    client: &Client,
    netuid: NetUid,
    mecid: MechId,
    who: &AccountId,
) -> Result<Vec<TimelockedCommit>, ChainError> {
    let at = at_finalized(client).await?;
    require_mechanism(&at, netuid, mecid).await?;
    if !has_storage(&at, SUBTENSOR_PALLET, "TimelockedWeightCommits") {
        return Ok(Vec::new());
    }
    type Queue = Vec<(AccountId32, u64, Vec<u8>, u64)>;
    let mut by_epoch =
        iter_under::<Queue, u64, u16>(&at, "TimelockedWeightCommits", netuid_index(netuid, mecid)).await?;
    by_epoch.sort_by_key(|(epoch, _)| *epoch);
    Ok(by_epoch
        .into_iter()
        .flat_map(|(epoch, queue)| {
            queue
                .into_iter()
                .filter(|(account, ..)| account.0 == who.0)
                .map(move |(_, commit_block, _, reveal_round)| TimelockedCommit { epoch, commit_block, reveal_round })
        })
        .collect())
}

/// `Weights[netuid_index][uid]`.
pub(crate) async fn weights_row(
    client: &Client,
    netuid: NetUid,
    mecid: MechId,
    uid: Uid,
) -> Result<Vec<(Uid, u16)>, ChainError> {
    let at = at_finalized(client).await?;
    require_mechanism(&at, netuid, mecid).await?;
    fetch_or(&at, "Weights", (netuid_index(netuid, mecid), uid), Vec::new()).await
}
