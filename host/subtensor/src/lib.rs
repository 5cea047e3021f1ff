//! The subtensor backend of [`subnet_chain::Chain`]: a real subtensor node reached over
//! websockets with [subxt](https://docs.rs/subxt)'s dynamic API.
//!
//! No code is generated from the runtime's metadata at build time: storage items, calls and
//! events are addressed by name and decoded against the metadata the node serves, so a runtime
//! upgrade that keeps those names keeps this crate working. Items a runtime does not have yet
//! (a hyperparameter added later, say) read as the embedded chain's defaults, and calls a runtime
//! does not have fail with [`ChainError::InvalidInput`] naming them.
//!
//! # Invariants
//!
//! * One background task owns the connection ([`connection`]): it connects, follows finalized
//!   blocks and, when the node goes away, reconnects with exponential backoff (0.5 s doubling to
//!   30 s). Reads and extrinsics use the current connection and fail fast with
//!   [`ChainError::Transport`] while there is none; nothing blocks waiting for the node.
//! * Reads are taken at the latest finalized block, all items of one metagraph at the same block.
//! * Extrinsics are signed with the keys given at [`SubtensorChain::connect`] and are only reported
//!   successful once in a finalized block. A dispatch error comes back as
//!   [`ChainError::Module`] with the pallet's own error name; a refusal by the transaction pool
//!   (subtensor's `CustomTransactionError`, a bad nonce) as [`ChainError::Module`] with pallet
//!   `TransactionPool` and the runtime's name for it.
//! * Weights are never submitted twice for one window: a `set_weights` whose outcome was lost
//!   with the connection is remembered, and before the next one the chain is asked whether it
//!   landed (the uid's `LastUpdate` moved past the submission and the stored row is what was
//!   sent). If it did, the call reports that inclusion instead of submitting again.
//!
//! # Failure modes
//!
//! Connection loss mid-call is [`ChainError::Transport`]; undecodable storage (a runtime whose
//! types changed under a name) is [`ChainError::InvalidInput`] naming the item; an extrinsic
//! that is not finalized within the call timeout is [`ChainError::Transport`] and, for weights,
//! is reconciled as above.

#![deny(missing_docs)]

mod connection;
pub mod devnet;
mod endpoint;
mod epoch;
mod read;
mod submit;
mod weights;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use subnet_chain::{
    AccountId, AxonInfo, BlockNumber, Chain, ChainError, EpochSchedule, ExtrinsicOutcome, Hyperparams, MechId,
    Metagraph, NetUid, TimelockedCommit, Uid,
};
use subnet_keys::Keypair;
use tokio::sync::watch;

pub use connection::Backoff;
pub use endpoint::{Endpoint, EndpointError, FINNEY_URL, LOCAL_URL, TEST_URL};
pub use read::{SubnetState, read_subnet_state};
pub use submit::{CallArg, pool_error_name};

/// The subxt configuration subtensor fits: 32-byte account ids, `MultiAddress` (encoded the
/// same with or without an index type), `MultiSignature`, blake2-256 hashing, u32 block numbers.
pub type SubtensorConfig = subxt::config::SubstrateConfig;
/// A subxt client of a subtensor node.
pub type Client = subxt::OnlineClient<SubtensorConfig>;

/// How a [`SubtensorChain`] behaves.
#[derive(Debug, Clone)]
pub struct SubtensorOptions {
    /// Longest wait for an extrinsic to be finalized (default 120 s: a few 12 s blocks plus
    /// finality on the real chain).
    pub extrinsic_timeout: Duration,
    /// Longest wait for one connection attempt (default 10 s).
    pub connect_timeout: Duration,
    /// Reconnection delays.
    pub backoff: Backoff,
}

impl Default for SubtensorOptions {
    fn default() -> Self {
        Self {
            extrinsic_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
        }
    }
}

/// A subtensor node behind the [`Chain`] interface.
pub struct SubtensorChain {
    inner: Arc<Inner>,
    blocks: watch::Receiver<BlockNumber>,
    follower: tokio::task::AbortHandle,
}

struct Inner {
    endpoint: Endpoint,
    keys: HashMap<AccountId, Keypair>,
    options: SubtensorOptions,
    conn: connection::Connection,
    /// `set_weights` submissions whose outcome is unknown, by (hotkey, netuid, mechanism).
    unsettled: std::sync::Mutex<HashMap<(AccountId, NetUid, MechId), submit::UnsettledWeights>>,
    /// Serialises extrinsics (all signers: one at a time is plenty for a validator) so two
    /// calls never take the same account nonce.
    signing: tokio::sync::Mutex<()>,
}

impl Drop for SubtensorChain {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl SubtensorChain {
    /// Connects to `endpoint` (the first connection must succeed) and starts following its
    /// finalized blocks. `keys` are the only keys extrinsics may be signed with.
    pub async fn connect(
        endpoint: Endpoint,
        keys: impl IntoIterator<Item = Keypair>,
        options: SubtensorOptions,
    ) -> Result<Self, ChainError> {
        let keys = keys.into_iter().map(|k| (k.account_id(), k)).collect();
        let (conn, client) = connection::Connection::open(&endpoint, &options).await?;
        let first = connection::finalized_number(&client).await?;
        let (tx, blocks) = watch::channel(first);
        let inner = Arc::new(Inner {
            endpoint,
            keys,
            options,
            conn,
            unsettled: Default::default(),
            signing: tokio::sync::Mutex::new(()),
        });
        let follower = tokio::spawn(connection::follow(Arc::downgrade(&inner), client, tx)).abort_handle();
        Ok(Self { inner, blocks, follower })
    }

    /// The endpoint this chain talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The current connection, or [`ChainError::Transport`] while reconnecting.
    pub fn client(&self) -> Result<Client, ChainError> {
        self.inner.client()
    }

    /// Whether a connection is up right now.
    pub fn is_connected(&self) -> bool {
        self.inner.conn.current().is_some()
    }

    /// The runtime's `spec_version` at the latest finalized block.
    pub async fn spec_version(&self) -> Result<u32, ChainError> {
        Ok(connection::at_finalized(&self.client()?).await?.spec_version())
    }

    /// Drand `LastStoredRound` at the best block (a timelocked commit must name a round at least
    /// this); `None` on runtimes without the drand pallet (spec < 301).
    pub async fn last_stored_round(&self) -> Result<Option<u64>, ChainError> {
        epoch::last_stored_round(&self.client()?).await
    }

    /// Everything the chain stores about a subnet that Yuma reads or writes, at the latest
    /// finalized block (see [`SubnetState`]).
    pub async fn subnet_state(&self, netuid: NetUid) -> Result<SubnetState, ChainError> {
        read::read_subnet_state(&self.client()?, netuid).await
    }

    /// The events this crate knows ([`subnet_chain::ChainEvent`]) of the blocks `from..=to`, by
    /// block: what happened on chain, whoever submitted it.
    pub async fn events_between(
        &self,
        from: BlockNumber,
        to: BlockNumber,
    ) -> Result<Vec<(BlockNumber, subnet_chain::ChainEvent)>, ChainError> {
        let client = self.client()?;
        let mut out = Vec::new();
        for number in from..=to {
            let at = client.at_block(number).await.map_err(|e| connection::transport(&format!("block {number}"), e))?;
            let events = at
                .events()
                .fetch()
                .await
                .map_err(|e| connection::transport(&format!("events of block {number}"), e))?;
            out.extend(submit::known_events(events.iter()).into_iter().map(|e| (number, e)));
        }
        Ok(out)
    }

    /// Submits any call signed by `signer`, waits for finality and returns its outcome; the
    /// escape hatch for calls the [`Chain`] trait does not name (`register_network`,
    /// `add_stake`, owner hyperparameters). `args` are the call's arguments in order.
    pub async fn submit(
        &self,
        signer: &AccountId,
        pallet: &str,
        call: &str,
        args: Vec<CallArg>,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.inner.submit(signer, pallet, call, args).await
    }

    /// `register_network(hotkey, mechanism)` signed by the owner `coldkey`; returns the new netuid.
    pub async fn register_network(&self, coldkey: &AccountId, hotkey: &AccountId) -> Result<NetUid, ChainError> {
        self.inner.register_network(coldkey, hotkey).await
    }

    /// `add_stake(hotkey, netuid, amount)` in rao, signed by `coldkey`.
    pub async fn add_stake(
        &self,
        coldkey: &AccountId,
        hotkey: &AccountId,
        netuid: NetUid,
        amount: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.submit(
            coldkey,
            "SubtensorModule",
            "add_stake",
            vec![CallArg::Account(*hotkey), CallArg::U16(netuid), CallArg::U64(amount)],
        )
        .await
    }

    /// `Sudo::sudo(AdminUtils::<call>(args))` signed by the sudo key, e.g.
    /// `sudo_set_weights_set_rate_limit` on a local chain.
    pub async fn sudo_admin(
        &self,
        sudo: &AccountId,
        call: &str,
        args: Vec<CallArg>,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.inner.sudo(sudo, "AdminUtils", call, args).await
    }
}

impl Inner {
    fn client(&self) -> Result<Client, ChainError> {
        self.conn.current().ok_or_else(|| {
            ChainError::Transport(format!(
                "not connected to {} ({}); reconnecting in the background",
                self.endpoint,
                self.conn.last_error().unwrap_or_else(|| "connection lost".into())
            ))
        })
    }

    fn key(&self, signer: &AccountId) -> Result<&Keypair, ChainError> {
        self.keys.get(signer).ok_or_else(|| {
            ChainError::InvalidInput(format!("no key for {}: this chain signs only with the keys it was given", signer))
        })
    }
}

#[async_trait]
impl Chain for SubtensorChain {
    async fn current_block(&self) -> Result<BlockNumber, ChainError> {
        connection::finalized_number(&self.client()?).await
    }

    fn subscribe_blocks(&self) -> watch::Receiver<BlockNumber> {
        self.blocks.clone()
    }

    async fn subnets(&self) -> Result<Vec<NetUid>, ChainError> {
        read::subnets(&self.client()?).await
    }

    async fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        let m = read::metagraph(&self.client()?, netuid, 0).await?;
        m.check_dense()?;
        Ok(m)
    }

    async fn hyperparams(&self, netuid: NetUid) -> Result<Hyperparams, ChainError> {
        read::hyperparams(&self.client()?, netuid).await
    }

    async fn mechanism_metagraph(&self, netuid: NetUid, mecid: MechId) -> Result<Metagraph, ChainError> {
        let m = read::metagraph(&self.client()?, netuid, mecid).await?;
        m.check_dense()?;
        Ok(m)
    }

    async fn epoch_schedule(&self, netuid: NetUid) -> Result<EpochSchedule, ChainError> {
        epoch::epoch_schedule(&self.client()?, netuid).await
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
        self.inner.set_weights(signer, netuid, mecid, uids, weights, version_key).await
    }

    async fn commit_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        hash: [u8; 32],
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let (call, mut args) = weights::mechanism_call("commit_weights", "commit_mechanism_weights", netuid, mecid);
        args.push(CallArg::Hash(hash));
        self.submit(signer, "SubtensorModule", call, args).await
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
        let (call, mut args) = weights::mechanism_call("reveal_weights", "reveal_mechanism_weights", netuid, mecid);
        args.extend([
            CallArg::U16s(uids.to_vec()),
            CallArg::U16s(values.to_vec()),
            CallArg::U16s(salt.to_vec()),
            CallArg::U64(version_key),
        ]);
        self.submit(signer, "SubtensorModule", call, args).await
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
        self.inner.commit_timelocked(signer, netuid, mecid, commit, reveal_round, commit_reveal_version).await
    }

    async fn drand_beacon(&self) -> Result<Option<subnet_drand::BeaconInfo>, ChainError> {
        weights::drand_beacon(&self.client()?).await
    }

    async fn timelocked_commits(
        &self,
        netuid: NetUid,
        mecid: MechId,
        who: &AccountId,
    ) -> Result<Vec<TimelockedCommit>, ChainError> {
        weights::timelocked_commits(&self.client()?, netuid, mecid, who).await
    }

    async fn weights_row(&self, netuid: NetUid, mecid: MechId, uid: Uid) -> Result<Vec<(Uid, u16)>, ChainError> {
        weights::weights_row(&self.client()?, netuid, mecid, uid).await
    }

    async fn serve_axon(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        axon: AxonInfo,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.submit(
            signer,
            "SubtensorModule",
            "serve_axon",
            vec![
                CallArg::U16(netuid),
                CallArg::U32(axon.version),
                CallArg::U128(axon.ip),
                CallArg::U16(axon.port),
                CallArg::U8(axon.ip_type),
                CallArg::U8(axon.protocol),
                CallArg::U8(0),
                CallArg::U8(0),
            ],
        )
        .await
    }

    async fn register(
        &self,
        hotkey: &AccountId,
        coldkey: &AccountId,
        netuid: NetUid,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.submit(
            coldkey,
            "SubtensorModule",
            "burned_register",
            vec![CallArg::U16(netuid), CallArg::Account(*hotkey)],
        )
        .await
    }
}
