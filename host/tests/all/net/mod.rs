//! Networking: signed requests, miner servers, the chain node, interop with the bittensor SDK.

mod chain;
mod interop;
mod protocol_parsers;
mod protocols;
pub mod support;
mod transport;
mod two_process;
