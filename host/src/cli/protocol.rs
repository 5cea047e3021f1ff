//! The wire-protocol flags shared by `subnetd miner` and `subnetd sandbox`
//! (`--protocol btauth|axon|epistula`, and the synapse's settings for `axon`); the same settings
//! as a `[[subnet]]`'s `protocol`, `synapse`, `required_hash_fields`, ... keys
//! ([`subnet_host::net::wire`]).

use anyhow::Result;
use clap::Args;
use subnet_host::net::{WireProtocol, WireSettings};

/// The wire protocol flags.
#[derive(Args, Debug, Clone)]
pub struct ProtocolArgs {
    /// The wire protocol: `btauth` (the default), `axon` (bittensor <= 10.5 Axon/Dendrite
    /// Synapse) or `epistula` (SN1's Epistula v2).
    #[arg(long, default_value = "btauth")]
    protocol: String,
    /// `axon`: the synapse's class name (its route, `POST /NAME`).
    #[arg(long)]
    synapse: Option<String>,
    /// `axon`: the synapse's required hash fields, comma-separated, in its order.
    #[arg(long, value_delimiter = ',')]
    required_hash_fields: Vec<String>,
    /// `axon`: the field a payload that is not a JSON object travels in (default `payload`).
    #[arg(long)]
    payload_field: Option<String>,
    /// `axon`: the field the answer to such a payload comes back in (default `response`).
    #[arg(long)]
    response_field: Option<String>,
    /// `epistula`: the path tasks are served at and sent to (default `/v1/task`).
    #[arg(long)]
    epistula_path: Option<String>,
}

impl ProtocolArgs {
    /// The protocol; `default_synapse` names the synapse of `axon` when `--synapse` is not given.
    pub fn resolve(&self, default_synapse: Option<&str>) -> Result<WireProtocol> {
        let axon = self.protocol == "axon";
        let settings = WireSettings {
            protocol: Some(self.protocol.clone()),
            synapse: self.synapse.clone().or_else(|| default_synapse.filter(|_| axon).map(str::to_owned)),
            required_hash_fields: self.required_hash_fields.clone(),
            payload_field: self.payload_field.clone(),
            response_field: self.response_field.clone(),
            path: self.epistula_path.clone(),
        };
        Ok(settings.resolve()?)
    }
}
