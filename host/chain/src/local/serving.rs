//! Serving: `serve_axon` with `guards/check_serving_endpoints.rs` and `subnets/serving.rs`.

use super::LocalChain;
use super::err;
use super::state::State;
use crate::{AccountId, AxonInfo, ChainError, ChainEvent, ExtrinsicOutcome, NetUid, SubtensorError as E};

impl State {
    /// `validate_serve_axon` (run by `CheckServingEndpoints` and again by the call) and
    /// `do_serve_axon`.
    pub(super) fn serve_axon(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        axon: AxonInfo,
    ) -> Result<ChainEvent, ChainError> {
        let block = self.global.block;
        let allow_loopback = self.global.config.allow_loopback_axons;
        let sn = self.subnets.get(&netuid).ok_or_else(|| err(E::HotKeyNotRegisteredInNetwork))?;
        let uid = sn.uid_of(who).ok_or_else(|| err(E::HotKeyNotRegisteredInNetwork))?;
        if axon.ip_type != 4 && axon.ip_type != 6 {
            return Err(err(E::InvalidIpType));
        }
        let ip_ok = match axon.ip_type {
            4 => axon.ip < u128::from(u32::MAX) && (allow_loopback || axon.ip != 0x7f00_0001),
            _ => axon.ip != u128::MAX && (allow_loopback || axon.ip != 1),
        };
        if !ip_ok {
            return Err(err(E::InvalidIpAddress));
        }
        let prev_block = sn.neurons[usize::from(uid)].axon.map_or(0, |a| a.block);
        let limit = sn.meta.hyper.serving_rate_limit;
        if !(limit == 0 || prev_block == 0 || block.saturating_sub(prev_block) >= limit) {
            return Err(err(E::ServingRateLimitExceeded));
        }
        if axon.port == 0 {
            return Err(err(E::InvalidPort));
        }
        let sn = self.subnet_mut(netuid)?;
        sn.neurons[usize::from(uid)].axon = Some(AxonInfo { block, ..axon });
        Ok(ChainEvent::AxonServed { netuid, hotkey: *who })
    }
}

impl LocalChain {
    /// Sync form of [`Chain::serve_axon`](crate::Chain::serve_axon).
    pub fn serve_axon_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        axon: AxonInfo,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.extrinsic(|st| st.serve_axon(signer, netuid, axon).map(|e| vec![e]))
    }
}
