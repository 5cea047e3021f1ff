//! Admission: the protocol-neutral layer in front of a miner's module that decides, as cheaply
//! as possible and before any expensive work, whether a request may cost the miner anything.
//!
//! # Stages
//! 1. **Headers only** ([`Admission::admit`]; no body byte read, no signature work, no waiting):
//!    the protocol's body-free checks ([`protocol`]: shape, receiver binding, freshness, the
//!    read-only replay lookup in the sender's own replay memory), then the *claimed* hotkey's
//!    blacklist, registration, minimum stake and caller policy against the cached metagraph
//!    ([`registry`]; an unknown hotkey is refused at once and the metagraph is refreshed in the
//!    background), then the rate limits and the caps on unverified requests (below). Each
//!    refusal here is answered at once.
//! 2. **The body** ([`body::read_paced`]): bounded by the size limit, by the earlier of the
//!    task's deadline and the moment the request goes stale (a body that arrives later would be
//!    refused as stale anyway), and by a minimum transfer rate; hashed as it streams.
//! 3. **Verification** ([`Admission::verify`]): the signature from the streamed digest, freshness
//!    again, the replay insert. Only now is the sender authenticated, and its (hotkey, address)
//!    pair becomes *proven* (below).
//!
//! # Bounds and defaults ([`AdmissionConfig`])
//! | bound | default | refusal |
//! | --- | --- | --- |
//! | caller policy | validator permit or stake > 0 ([`CallerPolicy::PermittedOrStaked`]) | 403 `not_validator` |
//! | unverified requests at once, all callers | 256 | 429 `unverified_limit` |
//! | unverified requests at once per client address | 32 | 429 `unverified_limit` |
//! | unverified requests at once per claimed hotkey, from addresses not proven for it | 32 | 429 `unverified_limit` |
//! | eviction from a full cap: the slowest unverified request held at least | 250 ms | 429 `unverified_evicted` (to the evicted) |
//! | request rate per client address (token bucket) | burst 128, 64/s | 429 `rate_limited` |
//! | request rate per (claimed hotkey, client address) | burst 32, 16/s | 429 `rate_limited` |
//! | body transfer rate after a 1 s grace | 16 KiB/s on average | 408 `body_too_slow` |
//! | body deadline | the task's deadline or the request's staleness, whichever is first | 408 `body_timeout` |
//! | proven (hotkey, address) pairs remembered | 16 384, for 10 min each | - |
//!
//! A client address is an IPv4 address, or an IPv6 /64 (one host commonly owns a whole /64).
//!
//! # Why eviction, pairs and "proven" addresses
//! Limits keyed by a *claimed* hotkey are limits an attacker can spend on someone else's behalf:
//! anyone can put a registered validator's public hotkey in a header. Three rules keep such
//! forgeries from locking the real validator out:
//! - a full cap does not refuse a newcomer while it holds a request that has been reading its
//!   body for a while: the slowest such request is evicted instead ([`slots`]). A slowloris is
//!   slow by definition; an honest request is past its body long before it could be evicted;
//! - the per-hotkey rate limit is kept per (hotkey, client address) pair, so forgeries from one
//!   address never drain the bucket of the real sender at another;
//! - an address that has sent a verified request as a hotkey is *proven* for it, and the
//!   per-hotkey cap no longer applies to that pair (the per-address and total caps still do).
//!
//! # Invariants
//! - Nothing reaches the module unverified; a forged request costs at most its headers' parse,
//!   a hash lookup, and (only if it passes the caps) a body read bounded as above.
//! - Memory held by unverified bodies is at most `max_unverified × max_body_bytes`; every table
//!   (counters, limiters, proven pairs) is bounded by the configured key counts.
//! - Unverified counters are released by a guard, on every path (refusal, panic, cancellation).
//!
//! # Failure modes
//! Every refusal is a [`Refused`] with a stable [`Refused::reason`] and [`Refused::status`].
//! When the rate limiter's table is full of active keys a new key is refused (`rate_limited`)
//! rather than evicting an active caller's state.

pub mod body;
pub mod protocol;
mod refused;
pub(crate) mod registry;
mod slots;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use subnet_chain::AccountId;
use subnet_keys::ratelimit::RateLimiter;

pub use self::body::{BodyBounds, BodyError, HashedBody};
pub use self::protocol::{Claim, Protocol, ProtocolError, SignedParts, Verified};
pub use self::refused::{Refused, Scope};
pub use self::registry::Standing;
use self::registry::{Registry, Snapshot};
use self::slots::{Caps, Slots};
pub use self::slots::{Progress, UnverifiedSlot};

/// Who may query at all (checked on the claimed hotkey, before the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerPolicy {
    /// Any registered hotkey (with at least the miner's minimum stake).
    Registered,
    /// Registered hotkeys with a validator permit or some stake (the default): a zero-stake
    /// registration, which costs an attacker only the burn, gets nothing.
    #[default]
    PermittedOrStaked,
    /// Only hotkeys with a validator permit.
    Permitted,
}

/// A token bucket's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens at most.
    pub burst: u32,
    /// Tokens refilled per second.
    pub per_second: u32,
}

/// The admission layer's bounds (see the module docs for what each protects).
#[derive(Debug, Clone)]
pub struct AdmissionConfig {
    /// Who may query (default [`CallerPolicy::PermittedOrStaked`]).
    pub callers: CallerPolicy,
    /// Unverified requests at once over all callers (default 256).
    pub max_unverified: usize,
    /// Unverified requests at once per client address (default 32).
    pub max_unverified_per_ip: usize,
    /// Unverified requests at once per claimed hotkey from unproven addresses (default 32).
    pub max_unverified_per_hotkey: usize,
    /// Requests per client address (default burst 128, 64/s).
    pub ip_rate: Rate,
    /// Requests per (claimed hotkey, client address) pair (default burst 32, 16/s).
    pub hotkey_rate: Rate,
    /// Least average body rate after `body_grace`, bytes/s (default 16 KiB/s; 0 turns it off).
    pub min_body_rate: u64,
    /// Time a body may take before the rate applies (default 1 s).
    pub body_grace: Duration,
    /// How long an unverified request must have held its place before a newcomer may evict it
    /// from a full cap (default 250 ms).
    pub evict_after: Duration,
    /// How long a (hotkey, address) pair stays proven after its last verified request
    /// (default 10 min).
    pub proven_ttl: Duration,
    /// Keys each table tracks at most: rate limiters, proven pairs (default 16 384).
    pub max_tracked: usize,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            callers: CallerPolicy::default(),
            max_unverified: 256,
            max_unverified_per_ip: 32,
            max_unverified_per_hotkey: 32,
            ip_rate: Rate { burst: 128, per_second: 64 },
            hotkey_rate: Rate { burst: 32, per_second: 16 },
            min_body_rate: 16 << 10,
            body_grace: Duration::from_secs(1),
            evict_after: Duration::from_millis(250),
            proven_ttl: Duration::from_secs(600),
            max_tracked: 16_384,
        }
    }
}

/// A client address as the limits count it: IPv4, or the /64 of an IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(IpAddr);

impl From<IpAddr> for ClientAddr {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientAddr(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientAddr(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    ClientAddr(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

/// A request past stage 1, holding its unverified place until it verifies or fails.
pub struct Admitted {
    /// The protocol's claim.
    pub claim: Claim,
    /// The claimed hotkey's standing in the snapshot used.
    pub standing: Standing,
    pub(crate) snapshot: Arc<Snapshot>,
    ip: ClientAddr,
    slot: UnverifiedSlot,
}

impl Admitted {
    /// How the body must be read: `max_bytes`, the earlier of `task_deadline` and the
    /// request's staleness (measured from `now_ns` on the wall clock), and the minimum rate.
    pub fn body_bounds(
        &self,
        admission: &Admission,
        max_bytes: usize,
        task_deadline: Instant,
        now_ns: u64,
    ) -> BodyBounds {
        let stale_in = Duration::from_nanos(self.claim.fresh_until_ns().saturating_sub(now_ns));
        let deadline = Instant::now().checked_add(stale_in).map_or(task_deadline, |s| s.min(task_deadline));
        BodyBounds { max_bytes, deadline, min_rate: admission.config.min_body_rate, grace: admission.config.body_grace }
    }

    /// Where the body read reports its progress (and learns of its eviction).
    pub fn progress(&self) -> &Arc<Progress> {
        self.slot.progress()
    }
}

/// An authenticated request.
pub struct Authenticated {
    /// The sender.
    pub verified: Verified,
    /// Its standing (stake, permit) in the snapshot it was admitted with.
    pub standing: Standing,
    pub(crate) snapshot: Arc<Snapshot>,
}

/// The admission layer of one server (see the module docs). Share it as `Arc<Admission>`.
pub struct Admission {
    me: AccountId,
    netuid: u16,
    protocol: Protocol,
    pub(crate) registry: Arc<Registry>,
    config: AdmissionConfig,
    blacklist: HashSet<AccountId>,
    min_stake_rao: u64,
    slots: Arc<Slots>,
    ip_limiter: Mutex<RateLimiter<ClientAddr>>,
    hotkey_limiter: Mutex<RateLimiter<(AccountId, ClientAddr)>>,
    proven: Mutex<HashMap<(AccountId, ClientAddr), Instant>>,
    epoch: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters and maps that every operation leaves consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The parts of a server's settings admission needs.
pub struct AdmissionParts {
    /// The server's hotkey (the receiver requests must be bound to).
    pub me: AccountId,
    /// The subnet served.
    pub netuid: u16,
    /// The protocol accepted.
    pub protocol: Protocol,
    /// Hotkeys refused whatever their standing.
    pub blacklist: HashSet<AccountId>,
    /// Least stake, rao.
    pub min_stake_rao: u64,
    /// The bounds.
    pub config: AdmissionConfig,
}

impl Admission {
    pub(crate) fn new(parts: AdmissionParts, registry: Arc<Registry>) -> Arc<Self> {
        let c = parts.config;
        let tracked = c.max_tracked.max(1);
        Arc::new(Admission {
            ip_limiter: Mutex::new(RateLimiter::new(c.ip_rate.burst, c.ip_rate.per_second, tracked)),
            hotkey_limiter: Mutex::new(RateLimiter::new(c.hotkey_rate.burst, c.hotkey_rate.per_second, tracked)),
            slots: Slots::new(Caps {
                total: c.max_unverified.max(1),
                per_ip: c.max_unverified_per_ip.max(1),
                per_hotkey: c.max_unverified_per_hotkey.max(1),
                min_hold: c.evict_after,
            }),
            me: parts.me,
            netuid: parts.netuid,
            protocol: parts.protocol,
            registry,
            config: c,
            blacklist: parts.blacklist,
            min_stake_rao: parts.min_stake_rao,
            proven: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        })
    }

    /// The protocol (for stats).
    pub fn protocol(&self) -> &Protocol {
        &self.protocol
    }

    fn mono_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn is_proven(&self, hotkey: &AccountId, ip: ClientAddr) -> bool {
        lock(&self.proven).get(&(*hotkey, ip)).is_some_and(|at| at.elapsed() < self.config.proven_ttl)
    }

    fn prove(&self, hotkey: AccountId, ip: ClientAddr) {
        let mut proven = lock(&self.proven);
        if proven.len() >= self.config.max_tracked.max(1) && !proven.contains_key(&(hotkey, ip)) {
            let ttl = self.config.proven_ttl;
            proven.retain(|_, at| at.elapsed() < ttl);
            if proven.len() >= self.config.max_tracked.max(1) {
                // Only verified, registered callers get here; keeping the ones already known
                // is as good as keeping the newest.
                return;
            }
        }
        proven.insert((hotkey, ip), Instant::now());
    }

    /// Stage 1 (see the module docs): everything that can be decided from the headers.
    pub fn admit(
        self: &Arc<Self>,
        headers: &axum::http::HeaderMap,
        ip: IpAddr,
        now_ns: u64,
    ) -> Result<Admitted, Refused> {
        let ip = ClientAddr::from(ip);
        let claim = self.protocol.check_headers(headers, &self.me, now_ns)?;
        let hotkey = *claim.claimed();
        if self.blacklist.contains(&hotkey) {
            return Err(Refused::Blacklisted);
        }
        let (snapshot, standing) = self.registry.lookup(&hotkey);
        let Some(standing) = standing else { return Err(Refused::NotRegistered { netuid: self.netuid }) };
        if standing.stake < self.min_stake_rao {
            return Err(Refused::InsufficientStake { min_rao: self.min_stake_rao });
        }
        let allowed = match self.config.callers {
            CallerPolicy::Registered => true,
            CallerPolicy::PermittedOrStaked => standing.validator_permit || standing.stake > 0,
            CallerPolicy::Permitted => standing.validator_permit,
        };
        if !allowed {
            return Err(Refused::NotValidator { policy: self.config.callers });
        }
        let proven = self.is_proven(&hotkey, ip);
        let now = self.mono_ns();
        lock(&self.ip_limiter).try_take(&ip, now).map_err(|_| Refused::RateLimited { scope: Scope::Address })?;
        // Keyed by the pair: a claimed hotkey's bucket is spendable by anyone who claims it, so
        // forgeries from one address never drain the real sender's bucket at another.
        lock(&self.hotkey_limiter)
            .try_take(&(hotkey, ip), now)
            .map_err(|_| Refused::RateLimited { scope: Scope::Hotkey })?;
        let slot = self.slots.take(ip, hotkey, !proven)?;
        Ok(Admitted { claim, standing, snapshot, ip, slot })
    }

    /// Stage 3: the signature over what was received. Releases the unverified place either
    /// way; on success the (hotkey, address) pair is proven.
    pub fn verify(&self, admitted: Admitted, parts: SignedParts<'_>, now_ns: u64) -> Result<Authenticated, Refused> {
        let verified = self.protocol.verify(&admitted.claim, parts, now_ns)?;
        self.prove(verified.hotkey, admitted.ip);
        Ok(Authenticated { verified, standing: admitted.standing, snapshot: admitted.snapshot })
    }

    /// Unverified requests held now.
    pub fn unverified(&self) -> usize {
        self.slots.held()
    }

    /// Unverified requests evicted for faster ones so far.
    pub fn evictions(&self) -> u64 {
        self.slots.evictions()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientAddr::from(a), ClientAddr::from(b));
        assert_ne!(ClientAddr::from(a), ClientAddr::from(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(ClientAddr::from(mapped), ClientAddr::from("10.0.0.1".parse::<IpAddr>().unwrap()));
    }
}
