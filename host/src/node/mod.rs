//! The dev chain node: `subnetd chain serve` puts a persistent
//! [`subnet_chain::local::LocalChain`] behind HTTP/JSON ([`serve`], its API in [`api`]), and
//! [`RemoteChain`] implements [`subnet_chain::Chain`] against it ([`remote`]), so a miner and a
//! validator in two processes see one chain. [`ChainTarget`] is how the CLI names a chain (a
//! state directory, a node URL, a subtensor endpoint).
//!
//! Every extrinsic is `btauth/1`-signed by its signer and bound to the node's own identity key,
//! so nobody can act for another hotkey or replay a request to another node.

pub mod api;
pub mod remote;
pub mod serve;
pub mod target;

pub use remote::RemoteChain;
pub use serve::{ChainNodeConfig, ChainNodeHandle, spawn_chain_node};
pub use target::ChainTarget;
