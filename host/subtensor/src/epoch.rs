//! The epoch clock of a subnet as subtensor stores it, read into [`EpochSchedule`].
//!
//! Read at the best block (an extrinsic sent now lands in the block after it), falling back to
//! the finalized block when the node does not answer a best-head subscription. Runtimes
//! without the stateful scheduler (spec < 423: no `SubnetEpochIndex` / `LastEpochBlock`) give
//! `epoch_index: None` and `last_epoch_block: None`, and [`EpochSchedule`] uses the legacy
//! formulas. The block time is `Aura::SlotDuration` (12000 ms when the runtime does not say);
//! the head's time is `Timestamp::Now`.

use std::time::Duration;

use subnet_chain::epoch::DEFAULT_BLOCK_TIME_MS;
use subnet_chain::{ChainError, EpochSchedule, NetUid};

use crate::Client;
use crate::connection::at_finalized;
use crate::read::{AtBlock, fetch, fetch_in, has_storage, require_subnet};

/// Longest wait for the node's first best head before reading at the finalized block.
const BEST_HEAD_WAIT: Duration = Duration::from_secs(5);

/// A client at the best block, or at the finalized one when no best head comes in time.
pub(crate) async fn at_best(client: &Client) -> Result<AtBlock, ChainError> {
    let best = async {
        let mut blocks = client.stream_best_blocks().await.ok()?;
        let block = blocks.next().await?.ok()?;
        block.at().await.ok()
    };
    match tokio::time::timeout(BEST_HEAD_WAIT, best).await {
        Ok(Some(at)) => Ok(at),
        _ => at_finalized(client).await,
    }
}

/// `Aura::SlotDuration` in milliseconds, if the runtime has it.
pub(crate) fn slot_duration_ms(at: &AtBlock) -> Option<u64> {
    at.constants().entry(subxt::dynamic::constant::<u64>("Aura", "SlotDuration")).ok().filter(|&ms| ms > 0)
}

/// The schedule of `netuid` at the best block.
pub(crate) async fn epoch_schedule(client: &Client, netuid: NetUid) -> Result<EpochSchedule, ChainError> {
    let at = at_best(client).await?;
    let at = &at;
    require_subnet(at, netuid).await?;
    let k = (netuid,);
    let stateful = has_storage(at, "SubtensorModule", "SubnetEpochIndex");
    let (tempo, period, index, last, pending, since, now) = tokio::try_join!(
        fetch::<_, u16>(at, "Tempo", k),
        fetch::<_, u64>(at, "RevealPeriodEpochs", k),
        fetch::<_, u64>(at, "SubnetEpochIndex", k),
        fetch::<_, u64>(at, "LastEpochBlock", k),
        fetch::<_, u64>(at, "PendingEpochAt", k),
        fetch::<_, u64>(at, "BlocksSinceLastStep", k),
        fetch_in::<_, u64>(at, "Timestamp", "Now", ()),
    )?;
    let block = at.block_number();
    Ok(EpochSchedule {
        netuid,
        block,
        extrinsic_block: block.saturating_add(1),
        tempo: tempo.unwrap_or(360),
        reveal_period_epochs: period.unwrap_or(1),
        epoch_index: if stateful { Some(index.unwrap_or(0)) } else { None },
        last_epoch_block: if has_storage(at, "SubtensorModule", "LastEpochBlock") {
            Some(last.unwrap_or(0))
        } else {
            None
        },
        pending_epoch_at: pending.unwrap_or(0),
        blocks_since_last_step: since.unwrap_or(0),
        block_time_ms: slot_duration_ms(at).unwrap_or(DEFAULT_BLOCK_TIME_MS),
        timestamp_ms: now.filter(|&t| t > 0),
    })
}

/// Drand `LastStoredRound` at the best block; `None` when the runtime has no drand pallet.
pub(crate) async fn last_stored_round(client: &Client) -> Result<Option<u64>, ChainError> {
    let at = at_best(client).await?;
    if !has_storage(&at, "Drand", "LastStoredRound") {
        return Ok(None);
    }
    Ok(Some(fetch_in::<_, u64>(&at, "Drand", "LastStoredRound", ()).await?.unwrap_or(0)))
}
