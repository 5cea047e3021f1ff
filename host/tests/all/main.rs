//! The host's integration tests, in one test binary (one link of wasmtime, subxt and candle
//! instead of one per file), a module per area as in wasmtime's `tests/all`.
//!
//! Every test builds real guests from `examples/` and `subnets/` through [`common`] (once per
//! process) and runs them on real wasmtime instances, real sockets on loopback and the embedded
//! chain or the real subtensor runtime under Chopsticks.

mod builds;
mod cli;
mod common;
mod compute_capability;
mod contract;
mod daemon;
mod deferred_scoring;
mod faults;
mod hostile;
mod js_async;
mod languages;
mod net;
mod outbound_http;
mod randomness_and_state;
mod round;
mod sandbox;
mod subnets;
mod weights;
