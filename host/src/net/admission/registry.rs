//! The cached registration view of the served subnet: who is registered, with what stake and
//! whether they hold a validator permit.
//!
//! Lookups never wait: they read the current snapshot. A miss (an unknown hotkey) asks the
//! background refresher for a new snapshot and is answered from the old one at once, so an
//! unknown hotkey costs one hash lookup and never holds a request slot while the chain answers.
//! The refresher reads the metagraph on every new block, at least every `ttl`, and on misses at
//! most once per `miss_interval`. If a read fails the last good snapshot stays in use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use subnet_chain::{AccountId, Chain, ChainError, Metagraph, NetUid};
use tokio::sync::Notify;

use crate::caps::metagraph::MetagraphView;

/// What the snapshot knows about one hotkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Stake on the subnet, rao.
    pub stake: u64,
    /// Whether the chain granted it a validator permit.
    pub validator_permit: bool,
}

/// One metagraph snapshot with the lookups requests need.
pub(crate) struct Snapshot {
    standing: HashMap<AccountId, Standing>,
    pub(crate) view: Arc<MetagraphView>,
}

impl Snapshot {
    fn of(metagraph: &Metagraph) -> Self {
        let standing = metagraph
            .neurons
            .iter()
            .map(|n| (n.hotkey, Standing { stake: n.stake, validator_permit: n.validator_permit }))
            .collect();
        Snapshot { standing, view: Arc::new(MetagraphView::from(metagraph)) }
    }
}

/// The registry (see the module docs).
pub(crate) struct Registry {
    chain: Arc<dyn Chain>,
    netuid: NetUid,
    current: RwLock<Arc<Snapshot>>,
    miss: Notify,
    miss_interval: Duration,
}

impl Registry {
    /// Reads the first snapshot; fails when the chain cannot give one.
    pub(crate) async fn open(
        chain: Arc<dyn Chain>,
        netuid: NetUid,
        miss_interval: Duration,
    ) -> Result<Arc<Self>, ChainError> {
        let metagraph = chain.metagraph(netuid).await?;
        Ok(Arc::new(Registry {
            chain,
            netuid,
            current: RwLock::new(Arc::new(Snapshot::of(&metagraph))),
            miss: Notify::new(),
            miss_interval,
        }))
    }

    pub(crate) fn current(&self) -> Arc<Snapshot> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    async fn refresh(&self) -> Result<(), ChainError> {
        let metagraph = self.chain.metagraph(self.netuid).await?;
        let snapshot = Arc::new(Snapshot::of(&metagraph));
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = snapshot;
        Ok(())
    }

    /// The snapshot and the hotkey's standing if registered. Never waits: a miss wakes the
    /// refresher and is answered from the current snapshot.
    pub(crate) fn lookup(&self, hotkey: &AccountId) -> (Arc<Snapshot>, Option<Standing>) {
        let snap = self.current();
        let standing = snap.standing.get(hotkey).copied();
        if standing.is_none() {
            // Coalesces: however many misses arrive, at most one refresh is pending.
            self.miss.notify_one();
        }
        (snap, standing)
    }

    /// Keeps the snapshot fresh until the task is aborted.
    pub(crate) async fn refresh_loop(self: Arc<Self>, ttl: Duration) {
        let mut blocks = self.chain.subscribe_blocks();
        let ttl = ttl.max(Duration::from_millis(100));
        let mut block_feed_open = true;
        let mut last_miss_refresh: Option<Instant> = None;
        loop {
            tokio::select! {
                r = blocks.changed(), if block_feed_open => block_feed_open = r.is_ok(),
                _ = tokio::time::sleep(ttl) => {}
                _ = self.miss.notified() => {
                    // Unknown hotkeys may ask often; the chain is asked at most once per interval.
                    if let Some(at) = last_miss_refresh {
                        tokio::time::sleep_until((at + self.miss_interval).into()).await;
                    }
                    last_miss_refresh = Some(Instant::now());
                }
            }
            if let Err(e) = self.refresh().await {
                tracing::warn!(netuid = self.netuid, error = %e, "metagraph refresh failed; using the last snapshot");
            }
        }
    }
}
