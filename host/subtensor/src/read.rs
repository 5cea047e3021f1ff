//! Reading subtensor's storage into the [`subnet_chain`] types.
//!
//! Everything one call returns is read at one finalized block. Per-neuron items are fetched
//! concurrently, at most [`CONCURRENT_READS`] in flight, so a 256-neuron metagraph costs a few
//! round trips of latency rather than hundreds. Items a runtime lacks read as the embedded
//! chain's defaults ([`Hyperparams::default`]); a present item whose value does not decode as
//! expected is an error naming it.

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use subnet_chain::{
    AccountId, AxonInfo, BlockNumber, ChainError, Hyperparams, MechId, Metagraph, NetUid, NeuronInfo, SubtensorError,
    Uid, netuid_index,
};
use subxt::dynamic::{At, Value};
use subxt::error::StorageError;
use subxt::ext::frame_decode::helpers::{IntoDecodableValues, IntoEncodableValues};
use subxt::ext::scale_decode::DecodeAsType;
use subxt::utils::AccountId32;

use crate::Client;
use crate::connection::{at_finalized, transport};

/// Per-neuron reads in flight at once.
pub const CONCURRENT_READS: usize = 32;

const PALLET: &str = "SubtensorModule";

pub(crate) type AtBlock = subxt::client::ClientAtBlock<
    crate::SubtensorConfig,
    subxt::client::OnlineClientAtBlockImpl<crate::SubtensorConfig>,
>;

/// `SubtensorModule::<entry>(keys)`: `None` when the runtime has no such item; the item's
/// default when the key is absent.
pub(crate) async fn fetch<K, V>(at: &AtBlock, entry: &str, keys: K) -> Result<Option<V>, ChainError>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType,
{
    fetch_in(at, PALLET, entry, keys).await
}

/// `<pallet>::<entry>(keys)`, as [`fetch`].
pub(crate) async fn fetch_in<K, V>(at: &AtBlock, pallet: &str, entry: &str, keys: K) -> Result<Option<V>, ChainError>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType,
{
    let address = subxt::dynamic::storage::<K, V>(pallet, entry);
    let value = match at.storage().fetch(address, keys).await {
        Ok(v) => v,
        Err(StorageError::StorageInfoError(_) | StorageError::StorageEntryNotFound { .. }) => return Ok(None),
        Err(StorageError::NoValueFound) => return Ok(None),
        Err(e @ (StorageError::CannotFetchValue(_) | StorageError::StreamFailure(_))) => {
            return Err(transport(&format!("reading {pallet}::{entry}"), e));
        }
        Err(e) => return Err(ChainError::InvalidInput(format!("reading {pallet}::{entry}: {e}"))),
    };
    value
        .decode_as::<V>()
        .map(Some)
        .map_err(|e| ChainError::InvalidInput(format!("{pallet}::{entry} does not decode as expected: {e}")))
}

/// Like [`fetch`] but a missing item is `default`.
pub(crate) async fn fetch_or<K, V>(at: &AtBlock, entry: &str, keys: K, default: V) -> Result<V, ChainError>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType,
{
    Ok(fetch(at, entry, keys).await?.unwrap_or(default))
}

/// All `(second key, value)` pairs of a double map under `first`.
pub(crate) async fn iter_under<
    V: DecodeAsType,
    K2: DecodeAsType,
    K1: subxt::ext::scale_encode::EncodeAsType + DecodeAsType,
>(
    at: &AtBlock,
    entry: &str,
    first: K1,
) -> Result<Vec<(K2, V)>, ChainError> {
    let address = subxt::dynamic::storage::<(K1, Value), V>(PALLET, entry);
    let storage = at.storage();
    let entry_ref = storage
        .entry(address)
        .map_err(|e| ChainError::InvalidInput(format!("{PALLET}::{entry} is not in the runtime: {e}")))?;
    let mut items =
        entry_ref.iter((first,)).await.map_err(|e| transport(&format!("iterating {PALLET}::{entry}"), e))?;
    let mut out = Vec::new();
    while let Some(item) = items.next().await {
        let item = item.map_err(|e| transport(&format!("iterating {PALLET}::{entry}"), e))?;
        let bad = |e: String| ChainError::InvalidInput(format!("{PALLET}::{entry}: {e}"));
        let key = item.key().map_err(|e| bad(e.to_string()))?;
        let second = key
            .part(1)
            .ok_or_else(|| bad("a key without its second part".into()))?
            .decode_as::<K2>()
            .map_err(|e| bad(e.to_string()))?
            .ok_or_else(|| bad("the second key part is hashed without its value".into()))?;
        let value = item.value().decode_as::<V>().map_err(|e| bad(e.to_string()))?;
        out.push((second, value));
    }
    Ok(out)
}

fn account(a: AccountId32) -> AccountId {
    AccountId(a.0)
}

/// Netuids of existing subnets (`NetworksAdded`).
pub(crate) async fn subnets(client: &Client) -> Result<Vec<NetUid>, ChainError> {
    let at = at_finalized(client).await?;
    let address = subxt::dynamic::storage::<(u16,), bool>(PALLET, "NetworksAdded");
    let storage = at.storage();
    let entry = storage.entry(address).map_err(|e| ChainError::InvalidInput(format!("NetworksAdded: {e}")))?;
    let mut items = entry.iter(()).await.map_err(|e| transport("iterating NetworksAdded", e))?;
    let mut out = Vec::new();
    while let Some(item) = items.next().await {
        let item = item.map_err(|e| transport("iterating NetworksAdded", e))?;
        let netuid = item
            .key()
            .ok()
            .and_then(|k| k.part(0)?.decode_as::<u16>().ok().flatten())
            .ok_or_else(|| ChainError::InvalidInput("NetworksAdded: undecodable key".into()))?;
        if item.value().decode_as::<bool>().unwrap_or(false) {
            out.push(netuid);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Whether the runtime at `at` has the storage item `pallet::entry`.
pub(crate) fn has_storage(at: &AtBlock, pallet: &str, entry: &str) -> bool {
    at.metadata().pallet_by_name(pallet).and_then(|p| p.storage()).and_then(|s| s.entry_by_name(entry)).is_some()
}

/// `MechanismCountCurrent` (1 on runtimes without mechanisms).
pub(crate) async fn mechanism_count(at: &AtBlock, netuid: NetUid) -> Result<MechId, ChainError> {
    Ok(fetch_or(at, "MechanismCountCurrent", (netuid,), 1u8).await?.max(1))
}

/// `ensure_mechanism_exists` for a read.
pub(crate) async fn require_mechanism(at: &AtBlock, netuid: NetUid, mecid: MechId) -> Result<(), ChainError> {
    require_subnet(at, netuid).await?;
    if mecid < mechanism_count(at, netuid).await? { Ok(()) } else { Err(SubtensorError::MechanismDoesNotExist.into()) }
}

pub(crate) async fn require_subnet(at: &AtBlock, netuid: NetUid) -> Result<(), ChainError> {
    if fetch_or(at, "NetworksAdded", (netuid,), false).await? {
        Ok(())
    } else {
        Err(SubtensorError::SubnetNotExists.into())
    }
}

fn axon_from(v: &Value) -> Option<AxonInfo> {
    let num = |name: &str| v.at(name).and_then(|f| f.as_u128());
    Some(AxonInfo {
        block: num("block")? as u64,
        version: num("version")? as u32,
        ip: num("ip")?,
        port: num("port")? as u16,
        ip_type: num("ip_type")? as u8,
        protocol: num("protocol")? as u8,
    })
}

/// The metagraph of mechanism `mecid` of `netuid` at the latest finalized block (`get_metagraph`
/// for 0, `get_mechagraph` otherwise: `LastUpdate` and `Incentive` of that mechanism, the
/// rest subnet-wide).
pub(crate) async fn metagraph(client: &Client, netuid: NetUid, mecid: MechId) -> Result<Metagraph, ChainError> {
    let at = at_finalized(client).await?;
    metagraph_at(&at, netuid, mecid).await
}

pub(crate) async fn metagraph_at(at: &AtBlock, netuid: NetUid, mecid: MechId) -> Result<Metagraph, ChainError> {
    require_mechanism(at, netuid, mecid).await?;
    let index = netuid_index(netuid, mecid);
    let n: u16 = fetch_or(at, "SubnetworkN", (netuid,), 0).await?;
    let mut hotkeys = vec![None; usize::from(n)];
    for (uid, hotkey) in iter_under::<AccountId32, u16, _>(at, "Keys", netuid).await? {
        if let Some(slot) = hotkeys.get_mut(usize::from(uid)) {
            *slot = Some(account(hotkey));
        }
    }
    let hotkeys: Vec<AccountId> = hotkeys
        .into_iter()
        .enumerate()
        .map(|(uid, h)| h.ok_or_else(|| ChainError::InvalidInput(format!("Keys({netuid}, {uid}) is missing"))))
        .collect::<Result<_, _>>()?;
    let axons: std::collections::HashMap<AccountId, AxonInfo> =
        iter_under::<Value, AccountId32, _>(at, "Axons", netuid)
            .await?
            .into_iter()
            .filter_map(|(hotkey, v)| Some((account(hotkey), axon_from(&v)?)))
            .collect();

    let vec_u16 =
        |entry: &'static str, key: u16| async move { fetch_or::<_, Vec<u16>>(at, entry, (key,), Vec::new()).await };
    let vec_u64 =
        |entry: &'static str, key: u16| async move { fetch_or::<_, Vec<u64>>(at, entry, (key,), Vec::new()).await };
    let vec_bool =
        |entry: &'static str| async move { fetch_or::<_, Vec<bool>>(at, entry, (netuid,), Vec::new()).await };
    let (permits, active, last_update, emission, consensus, incentive, dividends, validator_trust) = tokio::try_join!(
        vec_bool("ValidatorPermit"),
        vec_bool("Active"),
        vec_u64("LastUpdate", index),
        vec_u64("Emission", netuid),
        vec_u16("Consensus", netuid),
        vec_u16("Incentive", index),
        vec_u16("Dividends", netuid),
        vec_u16("ValidatorTrust", netuid),
    )?;

    let per_neuron: Vec<(AccountId, u64, u64)> = futures::stream::iter(hotkeys.clone().into_iter().enumerate())
        .map(|(uid, hotkey)| async move {
            let hk = AccountId32(hotkey.0);
            let (coldkey, stake, registered) = tokio::try_join!(
                fetch::<_, AccountId32>(at, "Owner", (hk,)),
                fetch_or::<_, u64>(at, "TotalHotkeyAlpha", (hk, netuid), 0),
                fetch_or::<_, u64>(at, "BlockAtRegistration", (netuid, uid as u16), 0),
            )?;
            Ok::<_, ChainError>((coldkey.map(account).unwrap_or(AccountId([0; 32])), stake, registered))
        })
        .buffered(crate::read::CONCURRENT_READS)
        .try_collect()
        .await?;

    let owner_coldkey =
        fetch::<_, AccountId32>(at, "SubnetOwner", (netuid,)).await?.map(account).unwrap_or(AccountId([0; 32]));
    let owner_hotkey =
        fetch::<_, AccountId32>(at, "SubnetOwnerHotkey", (netuid,)).await?.map(account).filter(|a| a.0 != [0; 32]);
    let at_index = |v: &[u16], i: usize| v.get(i).copied().unwrap_or(0);
    let neurons = hotkeys
        .iter()
        .zip(per_neuron)
        .enumerate()
        .map(|(i, (hotkey, (coldkey, stake, registered)))| NeuronInfo {
            uid: i as Uid,
            hotkey: *hotkey,
            coldkey,
            stake,
            validator_permit: permits.get(i).copied().unwrap_or(false),
            axon: axons.get(hotkey).copied().filter(|a| a.ip != 0 || a.port != 0),
            block_at_registration: registered,
            last_update: last_update.get(i).copied().unwrap_or(0),
            consensus: at_index(&consensus, i),
            incentive: at_index(&incentive, i),
            dividends: at_index(&dividends, i),
            validator_trust: at_index(&validator_trust, i),
            emission: emission.get(i).copied().unwrap_or(0),
            active: active.get(i).copied().unwrap_or(false),
        })
        .collect();
    Ok(Metagraph { netuid, block: at.block_number(), owner_coldkey, owner_hotkey, neurons })
}

/// The hyperparameters of `netuid`; items the runtime lacks take [`Hyperparams::default`].
pub(crate) async fn hyperparams(client: &Client, netuid: NetUid) -> Result<Hyperparams, ChainError> {
    let at = at_finalized(client).await?;
    let at = &at;
    require_subnet(at, netuid).await?;
    let d = Hyperparams::default();
    let k = (netuid,);
    let (tempo, weights_rate_limit, weights_version_key, min_allowed_weights, max_weight_limit, immunity_period) = tokio::try_join!(
        fetch_or(at, "Tempo", k, d.tempo),
        fetch_or(at, "WeightsSetRateLimit", k, d.weights_rate_limit),
        fetch_or(at, "WeightsVersionKey", k, d.weights_version_key),
        fetch_or(at, "MinAllowedWeights", k, d.min_allowed_weights),
        fetch_or(at, "MaxWeightsLimit", k, d.max_weight_limit),
        fetch_or(at, "ImmunityPeriod", k, d.immunity_period),
    )?;
    let (max_allowed_uids, max_allowed_validators, kappa, bonds_moving_average, bonds_penalty) = tokio::try_join!(
        fetch_or(at, "MaxAllowedUids", k, d.max_allowed_uids),
        fetch_or(at, "MaxAllowedValidators", k, d.max_allowed_validators),
        fetch_or(at, "Kappa", k, d.kappa),
        fetch_or(at, "BondsMovingAverage", k, d.bonds_moving_average),
        fetch_or(at, "BondsPenalty", k, d.bonds_penalty),
    )?;
    let (factor_milli, cutoff_blocks, commit_reveal_enabled, commit_reveal_period, yuma3_enabled) = tokio::try_join!(
        fetch::<_, u32>(at, "ActivityCutoffFactorMilli", k),
        fetch::<_, u64>(at, "ActivityCutoff", k),
        fetch_or(at, "CommitRevealWeightsEnabled", k, false),
        fetch_or(at, "RevealPeriodEpochs", k, d.commit_reveal_period),
        fetch_or(at, "Yuma3On", k, false),
    )?;
    let (liquid_alpha_enabled, alpha_values, alpha_sigmoid_steepness, stake_threshold, serving_rate_limit) = tokio::try_join!(
        fetch_or(at, "LiquidAlphaOn", k, d.liquid_alpha_enabled),
        fetch_or(at, "AlphaValues", k, (d.alpha_low, d.alpha_high)),
        fetch_or(at, "AlphaSigmoidSteepness", k, d.alpha_sigmoid_steepness),
        fetch::<_, u64>(at, "StakeThreshold", ()),
        fetch_or(at, "ServingRateLimit", k, d.serving_rate_limit),
    )?;
    // Runtimes before the rename call the stake threshold `WeightsMinStake`.
    let stake_threshold = match stake_threshold {
        Some(t) => t,
        None => fetch_or(at, "WeightsMinStake", (), d.stake_threshold).await?,
    };
    let (registration_allowed, min_non_immune_uids, immune_owner_uids_limit) = tokio::try_join!(
        fetch_or(at, "NetworkRegistrationAllowed", k, d.registration_allowed),
        fetch_or(at, "MinNonImmuneUids", k, d.min_non_immune_uids),
        fetch_or(at, "ImmuneOwnerUidsLimit", k, d.immune_owner_uids_limit),
    )?;
    // Global on chain; runtimes before timelocked commits read as the default (4).
    let (commit_reveal_version, mechanism_count, mechanism_emission_split) = tokio::try_join!(
        fetch_or(at, "CommitRevealWeightsVersion", (), d.commit_reveal_version),
        mechanism_count(at, netuid),
        fetch::<_, Vec<u16>>(at, "MechanismEmissionSplit", k),
    )?;
    // Older runtimes store the cutoff in blocks; express it as the factor that gives as many.
    let activity_cutoff_factor_milli = match (factor_milli, cutoff_blocks) {
        (Some(f), _) => f,
        (None, Some(blocks)) => (blocks * 1000).div_ceil(u64::from(tempo.max(1))).min(u64::from(u32::MAX)) as u32,
        (None, None) => d.activity_cutoff_factor_milli,
    };
    Ok(Hyperparams {
        tempo,
        weights_rate_limit,
        weights_version_key,
        min_allowed_weights,
        max_weight_limit,
        immunity_period,
        max_allowed_uids,
        max_allowed_validators,
        kappa,
        bonds_moving_average,
        bonds_penalty,
        activity_cutoff_factor_milli,
        commit_reveal_enabled,
        commit_reveal_version,
        commit_reveal_period,
        yuma3_enabled,
        liquid_alpha_enabled,
        alpha_low: alpha_values.0,
        alpha_high: alpha_values.1,
        alpha_sigmoid_steepness,
        stake_threshold,
        serving_rate_limit,
        registration_allowed,
        min_non_immune_uids,
        immune_owner_uids_limit,
        mechanism_count,
        mechanism_emission_split,
    })
}

/// What the chain holds about a subnet's consensus at one block: the metagraph plus the weight
/// and bond rows Yuma reads (sparse `(uid, value)` rows, indexed by uid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetState {
    /// Block read at.
    pub block: BlockNumber,
    /// The runtime's `spec_version` at that block.
    pub spec_version: u32,
    /// The metagraph at that block.
    pub metagraph: Metagraph,
    /// `Weights(netuid, uid)` per uid.
    pub weights: Vec<Vec<(Uid, u16)>>,
    /// `Bonds(netuid, uid)` per uid.
    pub bonds: Vec<Vec<(Uid, u16)>>,
}

/// Reads [`SubnetState`] at the latest finalized block.
pub async fn read_subnet_state(client: &Client, netuid: NetUid) -> Result<SubnetState, ChainError> {
    let at = at_finalized(client).await?;
    let metagraph = metagraph_at(&at, netuid, 0).await?;
    let at = &at;
    let n = metagraph.neurons.len() as u16;
    let rows = |entry: &'static str| async move {
        futures::stream::iter(0..n)
            .map(|uid| async move { fetch_or::<_, Vec<(u16, u16)>>(at, entry, (netuid, uid), Vec::new()).await })
            .buffered(CONCURRENT_READS)
            .try_collect::<Vec<_>>()
            .await
    };
    let (weights, bonds) = tokio::try_join!(rows("Weights"), rows("Bonds"))?;
    Ok(SubnetState { block: at.block_number(), spec_version: at.spec_version(), metagraph, weights, bonds })
}
