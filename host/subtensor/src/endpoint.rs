//! Where a subtensor node is: the named networks the bittensor SDK knows, or any URL.

use std::fmt;
use std::str::FromStr;

/// A subtensor RPC endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A node on this machine, `ws://127.0.0.1:9944` (a localnet or Chopsticks).
    Local,
    /// The public test network.
    Test,
    /// The main network.
    Finney,
    /// Any `ws://` or `wss://` URL.
    Url(String),
}

/// The URL of [`Endpoint::Local`].
pub const LOCAL_URL: &str = "ws://127.0.0.1:9944";
/// The URL of [`Endpoint::Test`] (as the bittensor SDK's `test` network).
pub const TEST_URL: &str = "wss://test.finney.opentensor.ai:443";
/// The URL of [`Endpoint::Finney`] (as the bittensor SDK's `finney` network).
pub const FINNEY_URL: &str = "wss://entrypoint-finney.opentensor.ai:443";

impl Endpoint {
    /// The websocket URL to connect to.
    pub fn url(&self) -> &str {
        match self {
            Self::Local => LOCAL_URL,
            Self::Test => TEST_URL,
            Self::Finney => FINNEY_URL,
            Self::Url(url) => url,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => write!(f, "local ({LOCAL_URL})"),
            Self::Test => write!(f, "test ({TEST_URL})"),
            Self::Finney => write!(f, "finney ({FINNEY_URL})"),
            Self::Url(url) => f.write_str(url),
        }
    }
}

/// Why an endpoint string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a subtensor endpoint: {reason} (expected local, test, finney, or a ws:// or wss:// URL)")]
pub struct EndpointError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let err = |reason| EndpointError { input: s.to_owned(), reason };
        match s {
            "local" => return Ok(Self::Local),
            "test" => return Ok(Self::Test),
            "finney" => return Ok(Self::Finney),
            _ => {}
        }
        let rest = s.strip_prefix("ws://").or_else(|| s.strip_prefix("wss://")).ok_or_else(|| {
            if s.starts_with("http://") || s.starts_with("https://") {
                err("subtensor is reached over websockets, not http")
            } else {
                err("unknown network name or scheme")
            }
        })?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() {
            return Err(err("the URL has no host"));
        }
        if let Some((_, port)) = host.rsplit_once(':')
            && !host.ends_with(']')
            && port.parse::<u16>().is_err()
        {
            return Err(err("the port is not a number"));
        }
        Ok(Self::Url(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_parse() {
        assert_eq!("local".parse::<Endpoint>().unwrap().url(), LOCAL_URL);
        assert_eq!("finney".parse::<Endpoint>().unwrap(), Endpoint::Finney);
        assert_eq!("test".parse::<Endpoint>().unwrap().url(), TEST_URL);
        let url = "ws://10.0.0.2:9945";
        assert_eq!(url.parse::<Endpoint>().unwrap(), Endpoint::Url(url.into()));
        assert!("wss://node.example:443/path".parse::<Endpoint>().is_ok());
    }

    #[test]
    fn bad_endpoints_say_why() {
        let e = "http://127.0.0.1:9944".parse::<Endpoint>().unwrap_err();
        assert!(e.to_string().contains("websockets"), "{e}");
        assert!("mainnet".parse::<Endpoint>().unwrap_err().to_string().contains("unknown network"));
        assert!("ws://".parse::<Endpoint>().unwrap_err().to_string().contains("no host"));
        assert!("ws://host:port".parse::<Endpoint>().unwrap_err().to_string().contains("port"));
    }
}
