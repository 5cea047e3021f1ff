//! [`RemoteChain`]: the [`Chain`] trait against a `subnetd chain serve` node
//! ([`super::chain_node`]), so processes share one chain.
//!
//! Invariants and failure modes:
//! - It signs extrinsics only with the keypairs it was given; a call for any other signer fails
//!   with [`ChainError::InvalidInput`] naming the account, before anything is sent.
//! - Every extrinsic is `btauth/1`-signed with a fresh nonce and bound to the node's identity
//!   key (read from `GET /v1/chain/info` at connect time).
//! - Chain errors come back exactly as the node's [`LocalChain`](subnet_chain::local::LocalChain)
//!   produced them ([`ChainError::Module`] keeps the pallet and error names); connection
//!   failures and timeouts are [`ChainError::Transport`].
//! - [`Chain::subscribe_blocks`] is fed by one background long poll per `RemoteChain`; it stops
//!   when the `RemoteChain` is dropped. While the node is unreachable the receiver keeps the last
//!   block and the poll retries every second.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use serde::Serialize;
use serde::de::DeserializeOwned;
use subnet_chain::{
    AccountId, AxonInfo, BlockNumber, Chain, ChainError, ChainEvent, EpochSchedule, ExtrinsicOutcome, Hyperparams,
    MechId, Metagraph, NetUid, TimelockedCommit, Uid,
};
use subnet_keys::Keypair;
use subnet_keys::btauth::{fresh_nonce, sign_request};
use tokio::sync::watch;

use super::api::*;
use crate::net::client::{HttpClient, new_client, read_limited};

/// Largest answer read from the node (a metagraph of 256 neurons is ~150 KiB).
const MAX_ANSWER: usize = 64 << 20;

/// A chain node reached over HTTP.
pub struct RemoteChain {
    inner: Arc<Inner>,
    blocks: watch::Receiver<BlockNumber>,
    poller: tokio::task::AbortHandle,
}

struct Inner {
    base: String,
    client: HttpClient,
    node: AccountId,
    keys: HashMap<AccountId, Keypair>,
    timeout: Duration,
}

impl Drop for RemoteChain {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

fn transport(e: impl std::fmt::Display) -> ChainError {
    ChainError::Transport(e.to_string())
}

/// Checks and normalises a node URL (`http://host:port`, no path).
fn base_url(url: &str) -> Result<String, ChainError> {
    let trimmed = url.trim().trim_end_matches('/');
    let uri: hyper::Uri = trimmed
        .parse()
        .map_err(|_| ChainError::InvalidInput(format!("{url:?} is not a URL (expected http://HOST:PORT)")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(ChainError::InvalidInput(format!(
                "{url:?}: scheme {other} is not supported; the local chain node speaks plain http"
            )));
        }
        None => return Err(ChainError::InvalidInput(format!("{url:?} has no scheme (expected http://HOST:PORT)"))),
    }
    if uri.authority().is_none() || uri.path().len() > 1 {
        return Err(ChainError::InvalidInput(format!("{url:?}: expected http://HOST:PORT with no path")));
    }
    Ok(trimmed.to_owned())
}

impl Inner {
    async fn send(&self, request: hyper::Request<Full<Bytes>>, timeout: Duration) -> Result<Bytes, ChainError> {
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| transport(format!("{}: {e}", self.base)))?;
            let status = response.status();
            let body = read_limited(response.into_body(), MAX_ANSWER).await.map_err(|e| match e {
                crate::net::client::ReadError::TooLarge => transport("the node's answer is too large"),
                crate::net::client::ReadError::Io(e) => transport(e),
            })?;
            if status.is_success() {
                return Ok(body);
            }
            match serde_json::from_slice::<ApiError>(&body) {
                Ok(api) => Err(api.into_chain()),
                Err(_) => Err(transport(format!("the node answered HTTP {status}"))),
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| transport(format!("{}: no answer within {timeout:?}", self.base)))?
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, timeout: Duration) -> Result<T, ChainError> {
        let request = hyper::Request::get(format!("{}{path}", self.base))
            .body(Full::new(Bytes::new()))
            .map_err(|e| ChainError::InvalidInput(e.to_string()))?;
        let body = self.send(request, timeout).await?;
        serde_json::from_slice(&body).map_err(|e| transport(format!("{path}: unexpected answer: {e}")))
    }

    async fn post<C: Serialize, T: DeserializeOwned>(
        &self,
        signer: Option<&AccountId>,
        path: &str,
        call: &C,
    ) -> Result<T, ChainError> {
        let body = serde_json::to_vec(call).map_err(|e| ChainError::InvalidInput(e.to_string()))?;
        let mut builder = hyper::Request::post(format!("{}{path}", self.base)).header(CONTENT_TYPE, "application/json");
        if let Some(signer) = signer {
            let key = self.keys.get(signer).ok_or_else(|| {
                ChainError::InvalidInput(format!(
                    "no key for signer {signer}: this RemoteChain signs only for {}",
                    self.signer_list()
                ))
            })?;
            for (name, value) in sign_request(key, "POST", path, &body, Some(&self.node), fresh_nonce()) {
                builder = builder.header(name, value);
            }
        }
        let request =
            builder.body(Full::new(Bytes::from(body))).map_err(|e| ChainError::InvalidInput(e.to_string()))?;
        let answer = self.send(request, self.timeout).await?;
        serde_json::from_slice(&answer).map_err(|e| transport(format!("{path}: unexpected answer: {e}")))
    }

    fn signer_list(&self) -> String {
        if self.keys.is_empty() {
            return "no account (read-only)".into();
        }
        let mut list: Vec<String> = self.keys.keys().map(AccountId::to_ss58).collect();
        list.sort();
        list.join(", ")
    }
}

impl RemoteChain {
    /// Connects to the node at `url` (`http://HOST:PORT`), signing extrinsics with `keys`
    /// (hotkeys for weights and axons, coldkeys for registration, staking and subnet admin).
    pub async fn connect(url: &str, keys: impl IntoIterator<Item = Keypair>) -> Result<Self, ChainError> {
        let base = base_url(url)?;
        let client = new_client(Duration::from_secs(5), Duration::from_secs(60), 4);
        let mut inner = Inner {
            base,
            client,
            node: AccountId([0; 32]),
            keys: keys.into_iter().map(|k| (k.account_id(), k)).collect(),
            timeout: Duration::from_secs(30),
        };
        let info: NodeInfo = inner.get("/v1/chain/info", Duration::from_secs(10)).await?;
        inner.node = info.node;
        let inner = Arc::new(inner);
        let (tx, blocks) = watch::channel(info.block);
        let poller = tokio::spawn(poll_blocks(inner.clone(), tx, info.block)).abort_handle();
        Ok(Self { inner, blocks, poller })
    }

    /// The node's identity key.
    pub fn node_key(&self) -> AccountId {
        self.inner.node
    }

    /// The accounts this client can sign for.
    pub fn signers(&self) -> Vec<AccountId> {
        self.inner.keys.keys().copied().collect()
    }

    /// Creates a subnet owned by `owner_coldkey` (which must be one of this client's keys),
    /// optionally with an owner hotkey and hyperparameters.
    pub async fn create_subnet(
        &self,
        owner_coldkey: &AccountId,
        owner_hotkey: Option<&AccountId>,
        hyperparams: Option<Hyperparams>,
    ) -> Result<NetUid, ChainError> {
        let call = CreateSubnetCall { signer: *owner_coldkey, owner_hotkey: owner_hotkey.copied(), hyperparams };
        let created: CreatedSubnet =
            self.inner.post(Some(owner_coldkey), "/v1/chain/extrinsics/create_subnet", &call).await?;
        Ok(created.netuid)
    }

    /// Sets a subnet's hyperparameters, signed by its owner's coldkey.
    pub async fn set_hyperparams(
        &self,
        owner_coldkey: &AccountId,
        netuid: NetUid,
        hyperparams: Hyperparams,
    ) -> Result<(), ChainError> {
        let call = SetHyperparamsCall { signer: *owner_coldkey, netuid, hyperparams };
        let _: serde_json::Value =
            self.inner.post(Some(owner_coldkey), "/v1/chain/extrinsics/set_hyperparams", &call).await?;
        Ok(())
    }

    /// Adds (mints) stake from `coldkey` to `hotkey` on `netuid`.
    pub async fn add_stake(
        &self,
        coldkey: &AccountId,
        hotkey: &AccountId,
        netuid: NetUid,
        amount_rao: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let call = AddStakeCall { signer: *coldkey, hotkey: *hotkey, netuid, amount_rao };
        self.inner.post(Some(coldkey), "/v1/chain/extrinsics/add_stake", &call).await
    }

    /// Produces `blocks` blocks (a node in manual mode only).
    pub async fn advance_blocks(&self, blocks: u64) -> Result<Vec<ChainEvent>, ChainError> {
        let advanced: Advanced = self.inner.post(None, "/v1/chain/dev/advance", &AdvanceCall { blocks }).await?;
        Ok(advanced.events)
    }

    /// The node's mode and identity.
    pub async fn info(&self) -> Result<NodeInfo, ChainError> {
        self.inner.get("/v1/chain/info", self.inner.timeout).await
    }
}

async fn poll_blocks(inner: Arc<Inner>, tx: watch::Sender<BlockNumber>, mut last: BlockNumber) {
    loop {
        let path = format!("/v1/chain/blocks/wait?after={last}&timeout_ms=10000");
        match inner.get::<BlockAnswer>(&path, Duration::from_secs(15)).await {
            Ok(BlockAnswer { block }) => {
                if block != last {
                    last = block;
                    tx.send_replace(block);
                }
            }
            Err(e) => {
                tracing::debug!(node = %inner.base, error = %e, "block poll failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[async_trait]
impl Chain for RemoteChain {
    async fn current_block(&self) -> Result<BlockNumber, ChainError> {
        let b: BlockAnswer = self.inner.get("/v1/chain/block", self.inner.timeout).await?;
        Ok(b.block)
    }

    fn subscribe_blocks(&self) -> watch::Receiver<BlockNumber> {
        self.blocks.clone()
    }

    async fn subnets(&self) -> Result<Vec<NetUid>, ChainError> {
        let s: SubnetsAnswer = self.inner.get("/v1/chain/subnets", self.inner.timeout).await?;
        Ok(s.netuids)
    }

    async fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        let m: Metagraph = self.inner.get(&format!("/v1/chain/subnets/{netuid}/metagraph"), self.inner.timeout).await?;
        m.check_dense()?;
        Ok(m)
    }

    async fn hyperparams(&self, netuid: NetUid) -> Result<Hyperparams, ChainError> {
        self.inner.get(&format!("/v1/chain/subnets/{netuid}/hyperparams"), self.inner.timeout).await
    }

    async fn mechanism_metagraph(&self, netuid: NetUid, mecid: MechId) -> Result<Metagraph, ChainError> {
        let m: Metagraph = self
            .inner
            .get(&format!("/v1/chain/subnets/{netuid}/mechanisms/{mecid}/metagraph"), self.inner.timeout)
            .await?;
        m.check_dense()?;
        Ok(m)
    }

    async fn epoch_schedule(&self, netuid: NetUid) -> Result<EpochSchedule, ChainError> {
        self.inner.get(&format!("/v1/chain/subnets/{netuid}/epoch"), self.inner.timeout).await
    }

    async fn set_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let call = SetWeightsCall {
            signer: *signer,
            netuid,
            mecid,
            uids: uids.to_vec(),
            weights: weights.to_vec(),
            version_key,
        };
        self.inner.post(Some(signer), "/v1/chain/extrinsics/set_weights", &call).await
    }

    async fn commit_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        hash: [u8; 32],
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let call = CommitWeightsCall { signer: *signer, netuid, mecid, hash: hex::encode(hash) };
        self.inner.post(Some(signer), "/v1/chain/extrinsics/commit_weights", &call).await
    }

    async fn reveal_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let call = RevealWeightsCall {
            signer: *signer,
            netuid,
            mecid,
            uids: uids.to_vec(),
            values: values.to_vec(),
            salt: salt.to_vec(),
            version_key,
        };
        self.inner.post(Some(signer), "/v1/chain/extrinsics/reveal_weights", &call).await
    }

    async fn commit_timelocked_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        commit: &[u8],
        reveal_round: u64,
        commit_reveal_version: u16,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let call = CommitTimelockedCall {
            signer: *signer,
            netuid,
            mecid,
            commit: hex::encode(commit),
            reveal_round,
            commit_reveal_version,
        };
        self.inner.post(Some(signer), "/v1/chain/extrinsics/commit_timelocked_weights", &call).await
    }

    async fn drand_beacon(&self) -> Result<Option<subnet_drand::BeaconInfo>, ChainError> {
        self.inner.get("/v1/chain/drand", self.inner.timeout).await
    }

    async fn timelocked_commits(
        &self,
        netuid: NetUid,
        mecid: MechId,
        who: &AccountId,
    ) -> Result<Vec<TimelockedCommit>, ChainError> {
        let path = format!("/v1/chain/subnets/{netuid}/mechanisms/{mecid}/timelocked/{}", who.to_ss58());
        self.inner.get(&path, self.inner.timeout).await
    }

    async fn weights_row(&self, netuid: NetUid, mecid: MechId, uid: Uid) -> Result<Vec<(Uid, u16)>, ChainError> {
        self.inner
            .get(&format!("/v1/chain/subnets/{netuid}/mechanisms/{mecid}/weights/{uid}"), self.inner.timeout)
            .await
    }

    async fn serve_axon(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        axon: AxonInfo,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let call = ServeAxonCall { signer: *signer, netuid, axon };
        self.inner.post(Some(signer), "/v1/chain/extrinsics/serve_axon", &call).await
    }

    async fn register(
        &self,
        hotkey: &AccountId,
        coldkey: &AccountId,
        netuid: NetUid,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let call = RegisterCall { signer: *coldkey, hotkey: *hotkey, netuid };
        self.inner.post(Some(coldkey), "/v1/chain/extrinsics/register", &call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(base_url("http://127.0.0.1:9944/").unwrap(), "http://127.0.0.1:9944");
        for bad in ["https://127.0.0.1:9944", "127.0.0.1:9944", "http://127.0.0.1:9944/v1", "not a url", "ws://x:1"] {
            assert!(matches!(base_url(bad), Err(ChainError::InvalidInput(_))), "{bad}");
        }
    }
}
