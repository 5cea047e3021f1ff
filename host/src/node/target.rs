//! What a `--chain` argument names: a `subnetd chain serve` node (`http://HOST:PORT`) or a
//! subtensor node (`local`, `test`, `finney`, `ws://...`, `wss://...`).

use std::str::FromStr;
use std::sync::Arc;

use subnet_chain::{Chain, ChainError};
use subnet_keys::Keypair;
use subnet_subtensor::{Endpoint, SubtensorChain, SubtensorOptions};

use super::RemoteChain;

/// A chain reachable over the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainTarget {
    /// A development chain node (`subnetd chain serve`), over HTTP.
    Node(String),
    /// A subtensor node, over websockets.
    Subtensor(Endpoint),
}

impl FromStr for ChainTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("http://") || s.starts_with("https://") {
            return Ok(Self::Node(s.to_owned()));
        }
        s.parse::<Endpoint>()
            .map(Self::Subtensor)
            .map_err(|e| format!("{e}; a `subnetd chain serve` node is named by its http:// URL"))
    }
}

impl std::fmt::Display for ChainTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Node(url) => write!(f, "node {url}"),
            Self::Subtensor(e) => write!(f, "subtensor {e}"),
        }
    }
}

impl ChainTarget {
    /// Connects, signing extrinsics with `keys` only.
    pub async fn connect(&self, keys: impl IntoIterator<Item = Keypair>) -> Result<Arc<dyn Chain>, ChainError> {
        Ok(match self {
            Self::Node(url) => Arc::new(RemoteChain::connect(url, keys).await?),
            Self::Subtensor(endpoint) => {
                Arc::new(SubtensorChain::connect(endpoint.clone(), keys, SubtensorOptions::default()).await?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_is_a_node_and_the_rest_is_subtensor() {
        assert_eq!("http://127.0.0.1:9944".parse(), Ok(ChainTarget::Node("http://127.0.0.1:9944".into())));
        assert_eq!("finney".parse(), Ok(ChainTarget::Subtensor(Endpoint::Finney)));
        assert_eq!(
            "ws://10.0.0.1:9944".parse(),
            Ok(ChainTarget::Subtensor(Endpoint::Url("ws://10.0.0.1:9944".into())))
        );
        assert!("ftp://x".parse::<ChainTarget>().unwrap_err().contains("http://"));
    }
}
