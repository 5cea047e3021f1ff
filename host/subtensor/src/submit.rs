//! Signing, submitting and settling extrinsics; turning what the node says into
//! [`ChainError`]s and [`ChainEvent`]s.
//!
//! Two kinds of refusal exist on subtensor: the transaction pool refuses a transaction before
//! it is included (subtensor's signed extension answers `InvalidTransaction::Custom(code)`;
//! the codes are named by [`pool_error_name`]), and the runtime fails an included one with a
//! `DispatchError::Module`, whose pallet and error names come from the runtime's own metadata.

use subnet_chain::{
    AccountId, BlockNumber, ChainError, ChainEvent, ExtrinsicOutcome, MechId, NetUid, SUBTENSOR_PALLET, Uid,
    max_upscale_u16, netuid_index,
};
use subnet_keys::{CryptoType, Keypair};
use subxt::dynamic::Value;
use subxt::error::{DispatchError, TransactionEventsError};
use subxt::ext::scale_value::Composite;
use subxt::utils::{AccountId32, MultiSignature};

use crate::connection::{at_finalized, transport};
use crate::{Inner, SubtensorConfig};

/// One argument of a call, in the shapes subtensor's calls take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallArg {
    /// `u8`.
    U8(u8),
    /// `u16` (netuids, uids, ports).
    U16(u16),
    /// `u32`.
    U32(u32),
    /// `u64` (rao amounts, version keys, blocks).
    U64(u64),
    /// `u128` (IP addresses).
    U128(u128),
    /// `bool`.
    Bool(bool),
    /// `Vec<u16>`.
    U16s(Vec<u16>),
    /// An `AccountId32`.
    Account(AccountId),
    /// An `H256`.
    Hash([u8; 32]),
    /// Bytes (`Vec<u8>`, `BoundedVec<u8, _>`).
    Bytes(Vec<u8>),
}

impl CallArg {
    fn into_value(self) -> Value {
        match self {
            Self::U8(v) => Value::u128(v.into()),
            Self::U16(v) => Value::u128(v.into()),
            Self::U32(v) => Value::u128(v.into()),
            Self::U64(v) => Value::u128(v.into()),
            Self::U128(v) => Value::u128(v),
            Self::Bool(v) => Value::bool(v),
            Self::U16s(v) => Value::unnamed_composite(v.into_iter().map(|x| Value::u128(x.into()))),
            // Both are newtypes around `[u8; 32]`.
            Self::Account(a) => Value::unnamed_composite([Value::from_bytes(a.0)]),
            Self::Hash(h) => Value::unnamed_composite([Value::from_bytes(h)]),
            Self::Bytes(b) => Value::from_bytes(b),
        }
    }
}

/// Subtensor's `InvalidTransaction::Custom` code as a name, for the runtime `spec_version`.
/// From spec 233 the codes are `CustomTransactionError` (`common/src/transaction_error.rs`);
/// earlier runtimes used bare numbers per call, named here after the pallet errors they stand
/// for (spec 218: 1–4 stake below `WeightsMinStake` for commit/reveal/set weights,
/// 5 too many registrations this interval).
pub fn pool_error_name(spec_version: u32, code: u8) -> &'static str {
    if spec_version < 233 {
        return match code {
            1..=4 => "NotEnoughStakeToSetWeights",
            5 => "TooManyRegistrationsThisInterval",
            _ => "UnknownCustomError",
        };
    }
    const NAMES: [&str; 28] = [
        "ColdkeyInSwapSchedule",
        "StakeAmountTooLow",
        "BalanceTooLow",
        "SubnetNotExists",
        "HotkeyAccountDoesntExist",
        "NotEnoughStakeToWithdraw",
        "RateLimitExceeded",
        "InsufficientLiquidity",
        "SlippageTooHigh",
        "TransferDisallowed",
        "HotKeyNotRegisteredInNetwork",
        "InvalidIpAddress",
        "ServingRateLimitExceeded",
        "InvalidPort",
        "ZeroMaxAmount",
        "InvalidRevealRound",
        "CommitNotFound",
        "CommitBlockNotInRevealRange",
        "InputLengthsUnequal",
        "UidNotFound",
        "EvmKeyAssociateRateLimitExceeded",
        "ColdkeySwapDisputed",
        "InvalidRealAccount",
        "FailedShieldedTxParsing",
        "InvalidShieldedTxPubKeyHash",
        "NonAssociatedColdKey",
        "DelegateTakeTooLow",
        "DelegateTakeTooHigh",
    ];
    match code {
        255 => "BadRequest",
        c => NAMES.get(usize::from(c)).copied().unwrap_or("UnknownCustomError"),
    }
}

/// The pallet name [`ChainError::Module`] carries for transaction-pool refusals.
pub const POOL: &str = "TransactionPool";

/// Names a pool refusal from the node's message, e.g. `Invalid Transaction: Custom error: 1`
/// (substrate nodes), `{"invalid":{"custom":5}}` (Chopsticks), `Transaction is outdated`,
/// `Invalid Transaction: Inability to pay some fees`.
fn pool_refusal(message: &str, spec_version: u32) -> ChainError {
    let lower = message.to_ascii_lowercase();
    let custom = ["custom error: ", "\"custom\":"].iter().find_map(|marker| lower.split(marker).nth(1));
    let name = if let Some(rest) = custom {
        let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<u8>() {
            Ok(code) => pool_error_name(spec_version, code).to_owned(),
            Err(_) => "UnknownCustomError".to_owned(),
        }
    } else if lower.contains("outdated") || lower.contains("stale") {
        "Stale".to_owned()
    } else if lower.contains("future") {
        "Future".to_owned()
    } else if lower.contains("pay some fees") || lower.contains("payment") {
        "Payment".to_owned()
    } else if lower.contains("bad signature") || lower.contains("badproof") || lower.contains("bad proof") {
        "BadProof".to_owned()
    } else if lower.contains("priority is too low") || lower.contains("already imported") {
        "AlreadyInPool".to_owned()
    } else {
        return ChainError::Transport(format!("the node refused the transaction: {message}"));
    };
    ChainError::Module { pallet: POOL.to_owned(), name }
}

fn dispatch_error(e: &DispatchError) -> ChainError {
    match e {
        DispatchError::Module(m) => match m.details() {
            Ok(d) => ChainError::Module { pallet: d.pallet.name().to_owned(), name: d.variant.name.clone() },
            Err(_) => ChainError::Module { pallet: "Unknown".into(), name: format!("{:?}", m.bytes()) },
        },
        other => ChainError::Module { pallet: "System".into(), name: format!("{other:?}") },
    }
}

/// Signs with a [`Keypair`] for subxt.
struct KeySigner<'a>(&'a Keypair);

impl subxt::tx::Signer<SubtensorConfig> for KeySigner<'_> {
    fn account_id(&self) -> AccountId32 {
        AccountId32(self.0.public_key())
    }

    fn sign(&self, payload: &[u8]) -> MultiSignature {
        let signature = self.0.sign(payload);
        match self.0.crypto_type() {
            CryptoType::Sr25519 => MultiSignature::Sr25519(signature),
            CryptoType::Ed25519 => MultiSignature::Ed25519(signature),
        }
    }
}

/// A `set_weights` sent but not seen settled (the connection dropped, the wait timed out).
#[derive(Debug, Clone)]
pub(crate) struct UnsettledWeights {
    uids: Vec<Uid>,
    weights: Vec<u16>,
    /// Finalized block when it was sent; inclusion is later.
    sent_at: BlockNumber,
}

/// The events of an extrinsic, as [`ChainEvent`]s where the crate knows them.
fn chain_events(events: &subxt::extrinsics::ExtrinsicEvents<SubtensorConfig>) -> Vec<ChainEvent> {
    known_events(events.iter())
}

/// The subtensor events among `events` that map to [`ChainEvent`]s; others are skipped.
pub(crate) fn known_events<'a>(
    events: impl Iterator<Item = Result<subxt::events::Event<'a, SubtensorConfig>, subxt::error::EventsError>>,
) -> Vec<ChainEvent> {
    let mut out = Vec::new();
    for ev in events.flatten() {
        if ev.pallet_name() != SUBTENSOR_PALLET {
            continue;
        }
        let Ok(fields) = ev.decode_fields_unchecked_as::<Composite<()>>() else { continue };
        let vals: Vec<&Value> = fields.values().collect();
        let num = |i: usize| vals.get(i).and_then(|v| uint(v));
        let acc = |i: usize| vals.get(i).and_then(|v| bytes32(v)).map(AccountId);
        let event = match ev.event_name() {
            "NetworkAdded" => num(0).map(|n| ChainEvent::NetworkAdded { netuid: n as NetUid }),
            "NeuronRegistered" => match (num(0), num(1), acc(2)) {
                (Some(netuid), Some(uid), Some(hotkey)) => {
                    Some(ChainEvent::NeuronRegistered { netuid: netuid as NetUid, uid: uid as Uid, hotkey })
                }
                _ => None,
            },
            "WeightsSet" => match (num(0), num(1)) {
                (Some(netuid), Some(uid)) => Some(ChainEvent::WeightsSet { netuid: netuid as NetUid, uid: uid as Uid }),
                _ => None,
            },
            "AxonServed" => match (num(0), acc(1)) {
                (Some(netuid), Some(hotkey)) => Some(ChainEvent::AxonServed { netuid: netuid as NetUid, hotkey }),
                _ => None,
            },
            "WeightsCommitted" => match (acc(0), num(1), vals.get(2).and_then(|v| bytes32(v))) {
                (Some(who), Some(netuid), Some(hash)) => {
                    Some(ChainEvent::WeightsCommitted { who, netuid: netuid as NetUid, hash })
                }
                _ => None,
            },
            "WeightsRevealed" => match (acc(0), num(1), vals.get(2).and_then(|v| bytes32(v))) {
                (Some(who), Some(netuid), Some(hash)) => {
                    Some(ChainEvent::WeightsRevealed { who, netuid: netuid as NetUid, hash })
                }
                _ => None,
            },
            "TimelockedWeightsCommitted" => match (acc(0), num(1), vals.get(2).and_then(|v| bytes32(v)), num(3)) {
                (Some(who), Some(index), Some(commit_hash), Some(round)) => {
                    Some(ChainEvent::TimelockedWeightsCommitted {
                        who,
                        netuid_index: index as u16,
                        commit_hash,
                        reveal_round: round as u64,
                    })
                }
                _ => None,
            },
            "TimelockedWeightsRevealed" => match (num(0), acc(1)) {
                (Some(index), Some(who)) => {
                    Some(ChainEvent::TimelockedWeightsRevealed { netuid_index: index as u16, who })
                }
                _ => None,
            },
            "StakeAdded" => {
                // (coldkey, hotkey, tao, alpha, netuid[, fee]) since dynamic TAO.
                match (acc(0), acc(1), num(2), num(4)) {
                    (Some(coldkey), Some(hotkey), Some(amount), Some(netuid)) => Some(ChainEvent::StakeAdded {
                        coldkey,
                        hotkey,
                        netuid: netuid as NetUid,
                        amount: amount as u64,
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        out.extend(event);
    }
    out
}

/// An unsigned integer, or a newtype around one (`NetUid`, `NetUidStorageIndex` since they
/// became types of their own).
fn uint(v: &Value) -> Option<u128> {
    use subxt::ext::scale_value::ValueDef;
    match &v.value {
        ValueDef::Composite(c) if c.len() == 1 => uint(c.values().next()?),
        _ => v.as_u128(),
    }
}

/// 32 bytes from a value that is `[u8; 32]` or a newtype around it (AccountId32, H256).
fn bytes32(v: &Value) -> Option<[u8; 32]> {
    use subxt::ext::scale_value::ValueDef;
    match &v.value {
        ValueDef::Composite(c) => {
            let vals: Vec<&Value> = c.values().collect();
            if vals.len() == 1 {
                return bytes32(vals[0]);
            }
            if vals.len() != 32 {
                return None;
            }
            let mut out = [0u8; 32];
            for (o, v) in out.iter_mut().zip(vals) {
                *o = u8::try_from(v.as_u128()?).ok()?;
            }
            Some(out)
        }
        _ => None,
    }
}

impl Inner {
    /// Signs, submits and waits for finality.
    pub(crate) async fn submit(
        &self,
        signer: &AccountId,
        pallet: &str,
        call: &str,
        args: Vec<CallArg>,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let values = Composite::unnamed(args.into_iter().map(CallArg::into_value));
        self.submit_value(signer, subxt::dynamic::tx(pallet, call, values)).await
    }

    pub(crate) async fn sudo(
        &self,
        sudo: &AccountId,
        pallet: &str,
        call: &str,
        args: Vec<CallArg>,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let inner = subxt::dynamic::tx(pallet, call, Composite::unnamed(args.into_iter().map(CallArg::into_value)));
        // `Sudo::sudo` succeeds even when the inner call fails; `submit_value` reads the
        // inner result from the `Sudid` event.
        self.submit_value(sudo, subxt::dynamic::tx("Sudo", "sudo", Composite::unnamed([inner.into_value()]))).await
    }

    async fn submit_value(
        &self,
        signer: &AccountId,
        payload: subxt::tx::DynamicPayload<Composite<()>>,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let key = self.key(signer)?;
        let client = self.client()?;
        let what = format!("{}::{}", payload.pallet_name(), payload.call_name());
        let _one_at_a_time = self.signing.lock().await;
        let at = at_finalized(&client).await?;
        let metadata = at.metadata();
        let spec_version = at.spec_version();
        if metadata
            .pallet_by_name(payload.pallet_name())
            .and_then(|p| p.call_variant_by_name(payload.call_name()))
            .is_none()
        {
            return Err(ChainError::InvalidInput(format!(
                "{what} does not exist in this runtime (spec {})",
                at.spec_version()
            )));
        }
        let progress = at.transactions().sign_and_submit_then_watch_default(&payload, &KeySigner(key)).await.map_err(
            |e| match &e {
                subxt::error::ExtrinsicError::ErrorSubmittingTransaction(inner) => {
                    pool_refusal(&inner.to_string(), spec_version)
                }
                _ => ChainError::InvalidInput(format!("{what}: {e}")),
            },
        )?;
        let settle = async {
            let in_block = progress.wait_for_finalized().await.map_err(|e| {
                let message = e.to_string();
                if message.contains("Invalid") || message.contains("Dropped") || message.contains("Usurped") {
                    pool_refusal(&message, spec_version)
                } else {
                    transport(&format!("waiting for {what}"), message)
                }
            })?;
            let block = in_block.at().await.map_err(|e| transport("reading the inclusion block", e))?.block_number();
            match in_block.wait_for_success().await {
                Ok(events) => {
                    if let Some(err) = sudo_failure(&events, &metadata) {
                        return Err(err);
                    }
                    Ok(ExtrinsicOutcome { block, events: chain_events(&events) })
                }
                Err(TransactionEventsError::ExtrinsicFailed(d)) => Err(dispatch_error(&d)),
                Err(e) => Err(transport(&format!("reading the events of {what}"), e)),
            }
        };
        tokio::time::timeout(self.options.extrinsic_timeout, settle).await.map_err(|_| {
            ChainError::Transport(format!("{what} was not finalized within {:?}", self.options.extrinsic_timeout))
        })?
    }

    /// `set_weights` / `set_mechanism_weights`, never twice for one window (see the crate docs).
    pub(crate) async fn set_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let slot = (*signer, netuid, mecid);
        let unsettled = self.unsettled.lock().unwrap_or_else(|p| p.into_inner()).get(&slot).cloned();
        if let Some(earlier) = unsettled {
            if let Some((block, uid)) = self.landed(signer, netuid, mecid, &earlier).await? {
                self.unsettled.lock().unwrap_or_else(|p| p.into_inner()).remove(&slot);
                tracing::info!(netuid, mecid, block, "an earlier set_weights whose answer was lost is on chain");
                if earlier.uids == uids && earlier.weights == weights {
                    let netuid = netuid_index(netuid, mecid);
                    return Ok(ExtrinsicOutcome { block, events: vec![ChainEvent::WeightsSet { netuid, uid }] });
                }
            } else {
                self.unsettled.lock().unwrap_or_else(|p| p.into_inner()).remove(&slot);
            }
        }
        let sent_at = crate::connection::finalized_number(&self.client()?).await?;
        self.unsettled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(slot, UnsettledWeights { uids: uids.to_vec(), weights: weights.to_vec(), sent_at });
        let (call, mut args) = crate::weights::mechanism_call("set_weights", "set_mechanism_weights", netuid, mecid);
        args.extend([CallArg::U16s(uids.to_vec()), CallArg::U16s(weights.to_vec()), CallArg::U64(version_key)]);
        let result = self.submit(signer, SUBTENSOR_PALLET, call, args).await;
        // Only a lost answer leaves the submission unsettled.
        if !matches!(result, Err(ChainError::Transport(_))) {
            self.unsettled.lock().unwrap_or_else(|p| p.into_inner()).remove(&slot);
        }
        result
    }

    /// The block an unsettled `set_weights` landed at and the signer's uid, if the chain shows
    /// it did.
    async fn landed(
        &self,
        hotkey: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        earlier: &UnsettledWeights,
    ) -> Result<Option<(BlockNumber, Uid)>, ChainError> {
        let at = at_finalized(&self.client()?).await?;
        let Some(uid) = crate::read::fetch::<_, u16>(&at, "Uids", (netuid, AccountId32(hotkey.0))).await? else {
            return Ok(None);
        };
        let index = netuid_index(netuid, mecid);
        let last_update: Vec<u64> = crate::read::fetch(&at, "LastUpdate", (index,)).await?.unwrap_or_default();
        let updated = last_update.get(usize::from(uid)).copied().unwrap_or(0);
        if updated <= earlier.sent_at {
            return Ok(None);
        }
        let row: Vec<(u16, u16)> = crate::read::fetch(&at, "Weights", (index, uid)).await?.unwrap_or_default();
        let sent: Vec<(u16, u16)> =
            earlier.uids.iter().copied().zip(max_upscale_u16(&earlier.weights)).filter(|(_, w)| *w > 0).collect();
        let mut stored = row;
        stored.sort_unstable();
        let mut sent = sent;
        sent.sort_unstable();
        Ok((stored == sent).then_some((updated, uid)))
    }

    /// `register_network` with the argument list of the connected runtime.
    pub(crate) async fn register_network(&self, coldkey: &AccountId, hotkey: &AccountId) -> Result<NetUid, ChainError> {
        let client = self.client()?;
        let at = at_finalized(&client).await?;
        let arity = at
            .metadata()
            .pallet_by_name(SUBTENSOR_PALLET)
            .and_then(|p| p.call_variant_by_name("register_network").map(|v| v.fields.len()))
            .ok_or_else(|| ChainError::InvalidInput("register_network does not exist in this runtime".into()))?;
        // Runtimes of early 2025 take (hotkey, mechanism id); later ones only the hotkey.
        let mut args = vec![CallArg::Account(*hotkey)];
        if arity == 2 {
            args.push(CallArg::U16(1));
        }
        let outcome = self.submit(coldkey, SUBTENSOR_PALLET, "register_network", args).await?;
        outcome
            .events
            .iter()
            .find_map(|e| match e {
                ChainEvent::NetworkAdded { netuid } => Some(*netuid),
                _ => None,
            })
            .ok_or_else(|| ChainError::InvalidInput("register_network succeeded without a NetworkAdded event".into()))
    }
}

/// The inner error of a `Sudo::Sudid(Err(..))` event, if the extrinsic was a failed sudo.
fn sudo_failure(
    events: &subxt::extrinsics::ExtrinsicEvents<SubtensorConfig>,
    metadata: &subxt::metadata::ArcMetadata,
) -> Option<ChainError> {
    for ev in events.iter().flatten() {
        if ev.pallet_name() == "Sudo" && ev.event_name() == "Sudid" {
            // Sudid { sudo_result: Result<(), DispatchError> }: byte 0 is the Result tag.
            let bytes = ev.field_bytes();
            if bytes.first() == Some(&1) {
                return Some(match DispatchError::decode_from(&bytes[1..], metadata.clone()) {
                    Ok(d) => dispatch_error(&d),
                    Err(e) => ChainError::InvalidInput(format!("sudo failed with an undecodable error: {e}")),
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_refusals_are_named() {
        let e = pool_refusal("Invalid Transaction: Custom error: 1", 425);
        assert_eq!(e, ChainError::Module { pallet: POOL.into(), name: "StakeAmountTooLow".into() });
        assert_eq!(pool_refusal("Invalid Transaction: Custom error: 255", 425).module_name(), Some("BadRequest"));
        let chopsticks = r#"RPC error: User error: {"invalid":{"custom":5}} (1010)"#;
        assert_eq!(pool_refusal(chopsticks, 218).module_name(), Some("TooManyRegistrationsThisInterval"));
        assert_eq!(pool_refusal(chopsticks, 425).module_name(), Some("NotEnoughStakeToWithdraw"));
        assert_eq!(pool_refusal("Invalid Transaction: Transaction is outdated", 425).module_name(), Some("Stale"));
        assert!(matches!(pool_refusal("connection reset", 425), ChainError::Transport(_)));
    }

    #[test]
    fn accounts_and_hashes_are_newtypes_of_32_bytes() {
        let v = CallArg::Account(AccountId([7; 32])).into_value();
        assert_eq!(bytes32(&v), Some([7; 32]));
    }
}
