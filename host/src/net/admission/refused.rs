//! [`Refused`]: every answer a miner gives before its module runs, each with a stable reason
//! code and status (the table in [`crate::net`]'s docs lists them).

use super::{BodyError, CallerPolicy, ProtocolError};

/// Which limit a rate or concurrency refusal hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// All callers together.
    All,
    /// One client address (IPv4, or an IPv6 /64).
    Address,
    /// One claimed hotkey, from addresses not proven for it.
    Hotkey,
}

impl Scope {
    fn describe(self) -> &'static str {
        match self {
            Scope::All => "all callers",
            Scope::Address => "this client address",
            Scope::Hotkey => "this hotkey from unproven addresses",
        }
    }
}

/// Why a request was refused before the module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The protocol's checks failed (400 malformed / 401 not authentic; btauth's codes).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// 403 `blacklisted`.
    #[error("this hotkey is blacklisted by the miner")]
    Blacklisted,
    /// 403 `not_registered`: not in the miner's snapshot of the metagraph (a refresh was asked
    /// for in the background; retry after the next block).
    #[error("hotkey is not registered on subnet {netuid}")]
    NotRegistered {
        /// The subnet served.
        netuid: u16,
    },
    /// 403 `insufficient_stake`: below the miner's minimum stake.
    #[error("this miner serves callers with at least {min_rao} rao of stake")]
    InsufficientStake {
        /// The minimum.
        min_rao: u64,
    },
    /// 403 `not_validator`: registered, but not a caller the policy serves.
    #[error("this miner serves {}", match policy {
        CallerPolicy::Registered => "registered hotkeys",
        CallerPolicy::PermittedOrStaked => "validator-permitted or staked hotkeys only",
        CallerPolicy::Permitted => "validator-permitted hotkeys only",
    })]
    NotValidator {
        /// The policy in force.
        policy: CallerPolicy,
    },
    /// 429 `rate_limited`: a token bucket is empty.
    #[error("too many requests from {}; slow down", scope.describe())]
    RateLimited {
        /// Which bucket.
        scope: Scope,
    },
    /// 429 `unverified_limit`: too many unverified requests open at once.
    #[error("too many unverified requests open for {}; retry later", scope.describe())]
    UnverifiedLimit {
        /// Which cap.
        scope: Scope,
    },
    /// 400 `bad_request`: task headers that cannot be parsed.
    #[error("{0}")]
    BadRequest(String),
    /// 421 `wrong_netuid`.
    #[error("this miner serves subnet {served}, not {asked}")]
    WrongNetuid {
        /// The subnet served.
        served: u16,
        /// The one asked for.
        asked: u16,
    },
    /// The body could not be read: 413 `body_too_large`, 408 `body_timeout`,
    /// 408 `body_too_slow`, 429 `unverified_evicted` (a faster request took its place),
    /// 400 `bad_request`.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// 429 `overloaded`: too many requests in flight, a full queue of callers at least as
    /// important, or no slot within the task's deadline.
    #[error("the miner is overloaded ({0}); retry later")]
    Overloaded(&'static str),
    /// 429 `evicted`: pushed out of the full queue by a caller with more stake.
    #[error("a caller with more stake took this request's place in the queue; retry later")]
    Evicted,
    /// 429 `hotkey_quota`: this hotkey already holds its share of the queue and slots.
    #[error("this hotkey already holds its share of the miner's queue; retry later")]
    HotkeyQuota,
}

impl Refused {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Refused::Protocol(e) => e.status(),
            Refused::Blacklisted
            | Refused::NotRegistered { .. }
            | Refused::InsufficientStake { .. }
            | Refused::NotValidator { .. } => 403,
            Refused::RateLimited { .. }
            | Refused::UnverifiedLimit { .. }
            | Refused::Overloaded(_)
            | Refused::Evicted
            | Refused::HotkeyQuota => 429,
            Refused::BadRequest(_) => 400,
            Refused::WrongNetuid { .. } => 421,
            Refused::Body(BodyError::TooLarge { .. }) => 413,
            Refused::Body(BodyError::Timeout | BodyError::TooSlow { .. }) => 408,
            Refused::Body(BodyError::Io(_)) => 400,
            Refused::Body(BodyError::Evicted) => 429,
        }
    }

    /// The stable reason code (the `error` field of the answer).
    pub fn reason(&self) -> &'static str {
        match self {
            Refused::Protocol(e) => e.reason(),
            Refused::Blacklisted => "blacklisted",
            Refused::NotRegistered { .. } => "not_registered",
            Refused::InsufficientStake { .. } => "insufficient_stake",
            Refused::NotValidator { .. } => "not_validator",
            Refused::RateLimited { .. } => "rate_limited",
            Refused::UnverifiedLimit { .. } => "unverified_limit",
            Refused::BadRequest(_) | Refused::Body(BodyError::Io(_)) => "bad_request",
            Refused::WrongNetuid { .. } => "wrong_netuid",
            Refused::Body(BodyError::TooLarge { .. }) => "body_too_large",
            Refused::Body(BodyError::Timeout) => "body_timeout",
            Refused::Body(BodyError::TooSlow { .. }) => "body_too_slow",
            Refused::Body(BodyError::Evicted) => "unverified_evicted",
            Refused::Overloaded(_) => "overloaded",
            Refused::Evicted => "evicted",
            Refused::HotkeyQuota => "hotkey_quota",
        }
    }
}
