//! `[subnet.capabilities] outbound_hosts` and `outbound` as written, and the checked bounds
//! with their defaults (each default says why it is what it is).

use std::time::Duration;

use super::super::CapConfigError;

/// Requests one call may make when `outbound.max_requests` is not set.
pub const DEFAULT_MAX_REQUESTS: u32 = 16;
/// Bytes of one response body when `outbound.max_response_bytes` is not set.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 4 << 20;
/// Connect / first-byte / between-bytes limit when `outbound.timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests of one round (all its calls) when `outbound.max_requests_per_round` is not set:
/// four calls' worth at the per-call default, enough for a truth fetch per task of a round.
pub const DEFAULT_MAX_REQUESTS_PER_ROUND: u32 = 64;
/// Response bytes of one round when `outbound.max_bytes_per_round` is not set: eight
/// responses at the per-response default.
pub const DEFAULT_MAX_BYTES_PER_ROUND: u64 = 32 << 20;
/// How long after its first request a round may still send one, when
/// `outbound.time_per_round` is not set: a round is a few minutes at most (an epoch is 72
/// minutes), and a validator that waits longer on a feed is stuck, not slow.
pub const DEFAULT_TIME_PER_ROUND: Duration = Duration::from_secs(60);

/// `[subnet.capabilities] outbound_hosts` and `outbound`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The allow-list; empty: no outbound requests.
    #[serde(default)]
    pub outbound_hosts: Vec<String>,
    /// Bounds on requests.
    #[serde(default)]
    pub outbound: OutboundLimitsConfig,
}

/// `[subnet.capabilities.outbound]`, as written.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundLimitsConfig {
    /// Requests per call.
    pub max_requests: Option<u32>,
    /// Bytes per response body (`"1MiB"` or a number).
    pub max_response_bytes: Option<toml::Value>,
    /// Connect, first byte and between bytes (`"5s"`).
    pub timeout: Option<String>,
    /// Requests per round.
    pub max_requests_per_round: Option<u32>,
    /// Response bytes per round (`"8MiB"` or a number).
    pub max_bytes_per_round: Option<toml::Value>,
    /// How long after a round's first request it may send another (`"30s"`).
    pub time_per_round: Option<String>,
}

/// Checked bounds on outbound requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundLimits {
    /// Requests per call.
    pub max_requests: u32,
    /// Bytes per response body.
    pub max_response_bytes: u64,
    /// Connect, first byte, between bytes, and sending the request until its response head.
    pub timeout: Duration,
    /// Requests per round.
    pub max_requests_per_round: u32,
    /// Response bytes per round.
    pub max_bytes_per_round: u64,
    /// How long after a round's first request it may send another.
    pub time_per_round: Duration,
}

impl Default for OutboundLimits {
    fn default() -> Self {
        Self {
            max_requests: DEFAULT_MAX_REQUESTS,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout: DEFAULT_TIMEOUT,
            max_requests_per_round: DEFAULT_MAX_REQUESTS_PER_ROUND,
            max_bytes_per_round: DEFAULT_MAX_BYTES_PER_ROUND,
            time_per_round: DEFAULT_TIME_PER_ROUND,
        }
    }
}

fn parse_bytes(key: &str, value: &toml::Value) -> Result<u64, CapConfigError> {
    match value {
        toml::Value::Integer(n) if *n > 0 => Ok(*n as u64),
        toml::Value::String(s) => crate::units::parse_size(s).map_err(|e| CapConfigError::new(key, e)),
        _ => Err(CapConfigError::new(key, "expected a positive number of bytes or a size string like \"1MiB\"")),
    }
}

fn parse_positive_duration(key: &str, text: &str) -> Result<Duration, CapConfigError> {
    let d = crate::units::parse_duration(text).map_err(|e| CapConfigError::new(key, e))?;
    if d.is_zero() {
        return Err(CapConfigError::new(key, "must be above 0"));
    }
    Ok(d)
}

impl OutboundLimitsConfig {
    pub(super) fn parse(&self) -> Result<OutboundLimits, CapConfigError> {
        let mut limits = OutboundLimits::default();
        let at_least_one = |key: &str, n: u32| {
            if n == 0 { Err(CapConfigError::new(key, "must be at least 1")) } else { Ok(n) }
        };
        if let Some(n) = self.max_requests {
            limits.max_requests = at_least_one("outbound.max_requests", n)?;
        }
        if let Some(n) = self.max_requests_per_round {
            limits.max_requests_per_round = at_least_one("outbound.max_requests_per_round", n)?;
        }
        if let Some(v) = &self.max_response_bytes {
            limits.max_response_bytes = parse_bytes("outbound.max_response_bytes", v)?;
        }
        if let Some(v) = &self.max_bytes_per_round {
            limits.max_bytes_per_round = parse_bytes("outbound.max_bytes_per_round", v)?;
        }
        if let Some(t) = &self.timeout {
            limits.timeout = parse_positive_duration("outbound.timeout", t)?;
        }
        if let Some(t) = &self.time_per_round {
            limits.time_per_round = parse_positive_duration("outbound.time_per_round", t)?;
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_refuse_zero() {
        let c = OutboundLimitsConfig {
            max_requests: Some(3),
            max_response_bytes: Some(toml::Value::String("1KiB".into())),
            timeout: Some("250ms".into()),
            max_requests_per_round: Some(7),
            max_bytes_per_round: Some(toml::Value::Integer(4096)),
            time_per_round: Some("2s".into()),
        };
        let l = c.parse().unwrap();
        assert_eq!((l.max_requests, l.max_response_bytes, l.timeout), (3, 1024, Duration::from_millis(250)));
        assert_eq!(
            (l.max_requests_per_round, l.max_bytes_per_round, l.time_per_round),
            (7, 4096, Duration::from_secs(2))
        );
        let c = OutboundLimitsConfig { max_requests: Some(0), ..Default::default() };
        assert_eq!(c.parse().unwrap_err().field, "outbound.max_requests");
        let c = OutboundLimitsConfig { max_requests_per_round: Some(0), ..Default::default() };
        assert_eq!(c.parse().unwrap_err().field, "outbound.max_requests_per_round");
        let c = OutboundLimitsConfig { time_per_round: Some("0s".into()), ..Default::default() };
        assert_eq!(c.parse().unwrap_err().field, "outbound.time_per_round");
        let c = OutboundLimitsConfig { max_bytes_per_round: Some(toml::Value::Boolean(true)), ..Default::default() };
        assert_eq!(c.parse().unwrap_err().field, "outbound.max_bytes_per_round");
    }
}
