//! The JSON shapes of the local chain node's HTTP API, shared by [`super::chain_node`] (the
//! server) and [`super::remote_chain`] (the client). Accounts are SS58 text; hashes are hex.
//!
//! Every extrinsic body names its `signer`, and the node accepts it only when the request's
//! `btauth/1` signature is by that account: the hotkey for `set_weights`, `commit_weights`,
//! `reveal_weights`, `commit_timelocked_weights` and `serve_axon`; the coldkey for `register`, `add_stake`,
//! `create_subnet` and `set_hyperparams` (the subnet owner's).

use serde::{Deserialize, Serialize};
use subnet_chain::{AccountId, AxonInfo, BlockNumber, ChainError, ChainEvent, Hyperparams, MechId, NetUid, Uid};

/// Path prefix of every chain node endpoint.
pub const PREFIX: &str = "/v1/chain";

/// `GET /v1/chain/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's identity key: extrinsic requests are signed with it as btauth receiver.
    pub node: AccountId,
    /// The current block.
    pub block: BlockNumber,
    /// Block interval when the node produces blocks on a timer; `None` in manual mode.
    pub block_time_ms: Option<u64>,
    /// Whether `POST /v1/chain/dev/advance` is open (manual mode only).
    pub dev_advance: bool,
}

/// A block number answer (`GET /v1/chain/block`, `GET /v1/chain/blocks/wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockAnswer {
    /// The block.
    pub block: BlockNumber,
}

/// `GET /v1/chain/blocks/wait` query: answer when the block is past `after`, or after
/// `timeout_ms` (at most 30 000) with the current block.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct WaitQuery {
    /// The block the client has.
    pub after: BlockNumber,
    /// How long to hold the request.
    #[serde(default = "default_wait_ms")]
    pub timeout_ms: u64,
}

fn default_wait_ms() -> u64 {
    10_000
}

/// `GET /v1/chain/subnets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetsAnswer {
    /// Existing netuids.
    pub netuids: Vec<NetUid>,
}

/// `POST /v1/chain/extrinsics/set_weights`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetWeightsCall {
    /// The hotkey setting weights.
    pub signer: AccountId,
    /// Subnet.
    pub netuid: NetUid,
    /// Mechanism (0, the main one, when absent).
    #[serde(default)]
    pub mecid: MechId,
    /// Destination uids.
    pub uids: Vec<Uid>,
    /// Weights, as the pallet takes them.
    pub weights: Vec<u16>,
    /// Version key.
    pub version_key: u64,
}

/// `POST /v1/chain/extrinsics/commit_weights`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitWeightsCall {
    /// The committing hotkey.
    pub signer: AccountId,
    /// Subnet.
    pub netuid: NetUid,
    /// Mechanism (0, the main one, when absent).
    #[serde(default)]
    pub mecid: MechId,
    /// The commit hash, 64 hex digits.
    pub hash: String,
}

/// `POST /v1/chain/extrinsics/reveal_weights`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevealWeightsCall {
    /// The revealing hotkey.
    pub signer: AccountId,
    /// Subnet.
    pub netuid: NetUid,
    /// Mechanism (0, the main one, when absent).
    #[serde(default)]
    pub mecid: MechId,
    /// Uids.
    pub uids: Vec<Uid>,
    /// Values.
    pub values: Vec<u16>,
    /// Salt.
    pub salt: Vec<u16>,
    /// Version key.
    pub version_key: u64,
}

/// `POST /v1/chain/extrinsics/commit_timelocked_weights` (commit-reveal v4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitTimelockedCall {
    /// The committing hotkey.
    pub signer: AccountId,
    /// Subnet.
    pub netuid: NetUid,
    /// Mechanism.
    #[serde(default)]
    pub mecid: MechId,
    /// The timelock-encrypted payload, hex.
    pub commit: String,
    /// The drand round it is encrypted to.
    pub reveal_round: u64,
    /// The commit-reveal version the payload follows.
    pub commit_reveal_version: u16,
}

/// `POST /v1/chain/extrinsics/serve_axon`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServeAxonCall {
    /// The serving hotkey.
    pub signer: AccountId,
    /// Subnet.
    pub netuid: NetUid,
    /// Where it serves (`block` ignored).
    pub axon: AxonInfo,
}

/// `POST /v1/chain/extrinsics/register` (`burned_register`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterCall {
    /// The coldkey paying for (and owning) the registration.
    pub signer: AccountId,
    /// The hotkey registered.
    pub hotkey: AccountId,
    /// Subnet.
    pub netuid: NetUid,
}

/// `POST /v1/chain/extrinsics/add_stake`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddStakeCall {
    /// The staking coldkey.
    pub signer: AccountId,
    /// The hotkey staked to.
    pub hotkey: AccountId,
    /// Subnet.
    pub netuid: NetUid,
    /// Amount, rao (minted: the dev chain has no balances).
    pub amount_rao: u64,
}

/// `POST /v1/chain/extrinsics/create_subnet`; answers [`CreatedSubnet`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateSubnetCall {
    /// The owner's coldkey.
    pub signer: AccountId,
    /// The owner's hotkey (registered as uid 0), if any.
    pub owner_hotkey: Option<AccountId>,
    /// Hyperparameters to set right after creation (defaults otherwise).
    pub hyperparams: Option<Hyperparams>,
}

/// Answer of `create_subnet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedSubnet {
    /// The new subnet.
    pub netuid: NetUid,
}

/// `POST /v1/chain/extrinsics/set_hyperparams` (the subnet owner's coldkey signs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetHyperparamsCall {
    /// The owner's coldkey.
    pub signer: AccountId,
    /// Subnet.
    pub netuid: NetUid,
    /// The new hyperparameters.
    pub hyperparams: Hyperparams,
}

/// `POST /v1/chain/dev/advance` (unsigned; manual mode only); answers [`Advanced`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct AdvanceCall {
    /// Blocks to produce (at most 100 000 per call).
    pub blocks: u64,
}

/// Answer of `advance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advanced {
    /// The block after advancing.
    pub block: BlockNumber,
    /// Events of the produced blocks.
    pub events: Vec<ChainEvent>,
}

/// Every error answer: `error` is `module` (with `pallet` and `name` exactly as the chain
/// spells them), `invalid_input`, `storage`, or a refusal code (`bad_signature`,
/// `signer_mismatch`, `not_found`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The code.
    pub error: String,
    /// A human-readable explanation.
    pub message: String,
    /// Pallet of a module error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pallet: Option<String>,
    /// Name of a module error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ApiError {
    /// A refusal that is not a chain error.
    pub fn refusal(error: &str, message: impl Into<String>) -> Self {
        Self { error: error.to_owned(), message: message.into(), pallet: None, name: None }
    }

    /// The wire form of a chain error, and its HTTP status.
    pub fn from_chain(e: &ChainError) -> (u16, Self) {
        match e {
            ChainError::Module { pallet, name } => (
                422,
                Self {
                    error: "module".into(),
                    message: e.to_string(),
                    pallet: Some(pallet.clone()),
                    name: Some(name.clone()),
                },
            ),
            ChainError::InvalidInput(m) => (400, Self::refusal("invalid_input", m.clone())),
            ChainError::Transport(m) => (502, Self::refusal("transport", m.clone())),
            ChainError::Storage(m) => (500, Self::refusal("storage", m.clone())),
            ChainError::Malformed(m) => (502, Self::refusal("malformed", m.clone())),
        }
    }

    /// Back to a chain error on the client side. Refusals of the request itself (bad signature,
    /// signer mismatch, ...) become [`ChainError::InvalidInput`] naming the code, as a real node
    /// rejects a badly signed extrinsic before dispatch.
    pub fn into_chain(self) -> ChainError {
        match self.error.as_str() {
            "module" => {
                ChainError::Module { pallet: self.pallet.unwrap_or_default(), name: self.name.unwrap_or_default() }
            }
            "invalid_input" => ChainError::InvalidInput(self.message),
            "storage" => ChainError::Storage(self.message),
            "transport" => ChainError::Transport(self.message),
            "malformed" => ChainError::Malformed(self.message),
            code => ChainError::InvalidInput(format!("the chain node refused the request ({code}): {}", self.message)),
        }
    }
}
