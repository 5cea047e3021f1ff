//! The one connection a [`crate::SubtensorChain`] holds, and the task that keeps it.
//!
//! The follower task is the only writer of the connection: it follows finalized heads, and
//! when the subscription ends or fails (the node went away) it drops the client, so calls fail
//! fast with a transport error, and reconnects with [`Backoff`]. The subxt legacy backend is
//! used on purpose: every subtensor node and Chopsticks serve the legacy RPCs, while the newer
//! `chainHead_v1` family is missing or partial on some of them.

use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use subnet_chain::{BlockNumber, ChainError};
use tokio::sync::watch;

use crate::{Client, Endpoint, Inner, SubtensorOptions};

/// Delays between reconnection attempts: `initial`, doubled after each failure up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay after losing the node.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(500), max: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failed attempts.
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(16)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

pub(crate) struct Connection {
    current: RwLock<Option<Client>>,
    last_error: Mutex<Option<String>>,
}

pub(crate) fn transport(what: &str, e: impl std::fmt::Display) -> ChainError {
    ChainError::Transport(format!("{what}: {e}"))
}

/// Opens a subxt client on `url` with the legacy backend.
async fn dial(url: &str, timeout: Duration) -> Result<Client, ChainError> {
    let attempt = async {
        let rpc = subxt::rpcs::RpcClient::from_insecure_url(url).await.map_err(|e| transport("connecting", e))?;
        let build = |config: crate::SubtensorConfig| {
            let backend = subxt::backend::LegacyBackend::builder().build(rpc.clone());
            Client::from_backend_with_config(config, Arc::new(backend))
        };
        let client = build(crate::SubtensorConfig::new()).await.map_err(|e| transport("starting the client", e))?;
        // Signatures cover the genesis hash the runtime stores (`System::BlockHash(0)`). A real
        // node reports the same over RPC; Chopsticks resumed from its database does not.
        let at = at_finalized(&client).await?;
        let stored = at
            .storage()
            .fetch(subxt::dynamic::storage::<(u32,), subxt::utils::H256>("System", "BlockHash"), (0u32,))
            .await
            .map_err(|e| transport("reading the genesis hash", e))?
            .decode()
            .map_err(|e| transport("decoding the genesis hash", e))?;
        if stored == client.genesis_hash() || stored.is_zero() {
            return Ok(client);
        }
        tracing::debug!(rpc = ?client.genesis_hash(), runtime = ?stored, "the node reports another genesis hash than its runtime stores; signing for the runtime's");
        let config = crate::SubtensorConfig::builder().set_genesis_hash(stored).build();
        build(config).await.map_err(|e| transport("starting the client", e))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| ChainError::Transport(format!("connecting to {url}: no answer within {timeout:?}")))?
}

/// A client at the latest finalized block.
pub(crate) async fn at_finalized(
    client: &Client,
) -> Result<
    subxt::client::ClientAtBlock<
        crate::SubtensorConfig,
        subxt::client::OnlineClientAtBlockImpl<crate::SubtensorConfig>,
    >,
    ChainError,
> {
    client.at_current_block().await.map_err(|e| transport("reading the finalized block", e))
}

/// The latest finalized block number.
pub(crate) async fn finalized_number(client: &Client) -> Result<BlockNumber, ChainError> {
    Ok(at_finalized(client).await?.block_number())
}

impl Connection {
    pub(crate) async fn open(endpoint: &Endpoint, options: &SubtensorOptions) -> Result<(Self, Client), ChainError> {
        let client = dial(endpoint.url(), options.connect_timeout).await.map_err(|e| match e {
            ChainError::Transport(m) => ChainError::Transport(format!("subtensor at {endpoint}: {m}")),
            other => other,
        })?;
        tracing::info!(%endpoint, genesis = ?client.genesis_hash(), "connected to subtensor");
        let conn = Self { current: RwLock::new(Some(client.clone())), last_error: Mutex::new(None) };
        Ok((conn, client))
    }

    pub(crate) fn current(&self) -> Option<Client> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, client: Option<Client>, error: Option<String>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = client;
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }
}

/// Follows finalized heads into `blocks` for as long as the chain exists, reconnecting as needed.
pub(crate) async fn follow(inner: Weak<Inner>, mut client: Client, blocks: watch::Sender<BlockNumber>) {
    loop {
        let lost = follow_once(&client, &blocks).await;
        let Some(strong) = inner.upgrade() else { return };
        let endpoint = strong.endpoint.clone();
        let options = strong.options.clone();
        tracing::warn!(%endpoint, error = %lost, "lost the subtensor node; reconnecting");
        strong.conn.set(None, Some(lost));
        drop(strong);
        let mut failures = 0u32;
        client = loop {
            tokio::time::sleep(options.backoff.delay(failures)).await;
            let Some(strong) = inner.upgrade() else { return };
            match dial(endpoint.url(), options.connect_timeout).await {
                Ok(c) => {
                    tracing::info!(%endpoint, attempts = failures + 1, "reconnected to subtensor");
                    strong.conn.set(Some(c.clone()), None);
                    break c;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(%endpoint, error = %e, attempt = failures,
                        next_in_ms = options.backoff.delay(failures).as_millis() as u64, "subtensor still unreachable");
                    strong.conn.set(None, Some(e.to_string()));
                }
            }
        };
    }
}

/// Streams finalized heads until the stream ends; returns why it ended.
async fn follow_once(client: &Client, blocks: &watch::Sender<BlockNumber>) -> String {
    if let Ok(n) = finalized_number(client).await {
        blocks.send_if_modified(|b| std::mem::replace(b, n) != n);
    }
    let mut stream = match client.stream_blocks().await {
        Ok(s) => s,
        Err(e) => return format!("subscribing to finalized heads: {e}"),
    };
    loop {
        match stream.next().await {
            Some(Ok(block)) => {
                let n = block.number();
                blocks.send_if_modified(|b| {
                    let newer = n > *b;
                    if newer {
                        *b = n;
                    }
                    newer
                });
            }
            Some(Err(e)) => return format!("following finalized heads: {e}"),
            None => return "the finalized-heads subscription ended".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff::default();
        assert_eq!(b.delay(0), Duration::from_millis(500));
        assert_eq!(b.delay(1), Duration::from_secs(1));
        assert_eq!(b.delay(3), Duration::from_secs(4));
        assert_eq!(b.delay(10), Duration::from_secs(30));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
    }
}
