//! The `compute` capability: model calls (embeddings, generation) served by the host.
//!
//! A call reaches a [`ComputeBackend`] only when the caller's [`crate::caps::CallEnv`] grants
//! one; otherwise every call answers `not-available` with a reason, so modules can be written
//! against the contract and degrade cleanly on hosts without models. The production backend is
//! [`GrantedModels`]: the host's [`subnet_compute::ComputeService`] (candle, batched across
//! concurrent calls, CPU or CUDA) seen through the list of models the operator granted the
//! subnet. A model the subnet was not granted is `unknown-model`, exactly like a model the host
//! does not have, so a module cannot probe what else the host serves.
//!
//! Calls are async: a module waiting for a model holds its instance but no host thread. The
//! call's wall-clock deadline covers the model call (the service has its own timeout too).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use wasmtime::component::{HasSelf, Linker};

use super::{CallContext, CapConfigError, Capability, HostResources};
use crate::bindings::types::Payload;
use crate::bindings::validator::subnet::plugin::compute::{self as wit, ComputeError};

/// A model-serving backend. Implementations bound their own time and memory and refuse
/// models the operator did not grant.
#[async_trait]
pub trait ComputeBackend: Send + Sync {
    /// Names of the models the subnet may call.
    fn models(&self) -> Vec<String>;
    /// One L2-normalised embedding per text.
    async fn embed_text(&self, model: &str, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ComputeError>;
    /// One L2-normalised embedding per image.
    async fn embed_image(&self, model: &str, images: Vec<Payload>) -> Result<Vec<Vec<f32>>, ComputeError>;
    /// Generated text, deterministic for a seed.
    async fn generate_text(
        &self,
        model: &str,
        prompt: String,
        max_tokens: u32,
        seed: u64,
    ) -> Result<String, ComputeError>;
}

/// The host's model service, restricted to the models granted to one subnet.
#[derive(Clone)]
pub struct GrantedModels {
    service: subnet_compute::ComputeService,
    granted: Arc<BTreeSet<String>>,
}

impl GrantedModels {
    /// `service` as a subnet granted `models` sees it. Granting a model the service does not
    /// have is allowed (calls to it answer `unknown-model`); the daemon checks grants against
    /// the service at start.
    pub fn new(service: subnet_compute::ComputeService, models: impl IntoIterator<Item = String>) -> Self {
        Self { service, granted: Arc::new(models.into_iter().collect()) }
    }

    fn check(&self, model: &str) -> Result<(), ComputeError> {
        if self.granted.contains(model) {
            Ok(())
        } else {
            Err(ComputeError::UnknownModel(format!("no model `{model}` is granted to this subnet")))
        }
    }
}

fn to_wit(e: subnet_compute::ComputeError) -> ComputeError {
    use subnet_compute::ComputeError as E;
    match e {
        E::NotAvailable(m) => ComputeError::NotAvailable(m),
        E::UnknownModel(m) => ComputeError::UnknownModel(m),
        E::InvalidInput(m) => ComputeError::InvalidInput(m),
        E::Timeout => ComputeError::Timeout,
        E::Failed(m) => ComputeError::Failed(m),
        E::Config(m) => ComputeError::Failed(format!("model configuration: {m}")),
    }
}

#[async_trait]
impl ComputeBackend for GrantedModels {
    fn models(&self) -> Vec<String> {
        let served: BTreeSet<String> = self.service.models().into_iter().map(|(name, _)| name).collect();
        self.granted.iter().filter(|m| served.contains(*m)).cloned().collect()
    }

    async fn embed_text(&self, model: &str, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ComputeError> {
        self.check(model)?;
        self.service.embed_text(model, texts).await.map_err(to_wit)
    }

    async fn embed_image(&self, model: &str, images: Vec<Payload>) -> Result<Vec<Vec<f32>>, ComputeError> {
        self.check(model)?;
        let bytes = images.into_iter().map(|p| p.body).collect();
        self.service.embed_image(model, bytes).await.map_err(to_wit)
    }

    async fn generate_text(
        &self,
        model: &str,
        prompt: String,
        max_tokens: u32,
        seed: u64,
    ) -> Result<String, ComputeError> {
        self.check(model)?;
        self.service.generate_text(model, prompt, max_tokens, seed).await.map_err(to_wit)
    }
}

/// Grants models to subnets: what the host process offers the capability.
pub trait ModelProvider: Send + Sync {
    /// A backend that serves `models` (and nothing else) to one subnet.
    fn grant(&self, models: &[String]) -> Arc<dyn ComputeBackend>;
}

impl ModelProvider for subnet_compute::ComputeService {
    fn grant(&self, models: &[String]) -> Arc<dyn ComputeBackend> {
        Arc::new(GrantedModels::new(self.clone(), models.iter().cloned()))
    }
}

/// A backend handed in whole (embedding, tests): every subnet granted models gets it as is.
impl ModelProvider for Arc<dyn ComputeBackend> {
    fn grant(&self, _: &[String]) -> Arc<dyn ComputeBackend> {
        self.clone()
    }
}

/// `compute` in `[subnet.capabilities]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeConfig {
    /// Models the module may call, by name in the host's model registry. Empty: compute calls
    /// answer `not-available`.
    #[serde(default)]
    pub compute: Vec<String>,
}

/// The capability: the models the operator granted the subnet.
pub struct Compute;

impl Capability for Compute {
    const KEYS: &'static [&'static str] = &["compute"];
    type Config = ComputeConfig;
    type Subnet = Option<Arc<dyn ComputeBackend>>;
    type Instance = ComputeState;

    fn check(config: &ComputeConfig) -> Result<(), CapConfigError> {
        let mut seen = BTreeSet::new();
        for (j, model) in config.compute.iter().enumerate() {
            if model.is_empty() || !seen.insert(model) {
                return Err(CapConfigError::new(
                    format!("compute[{j}]"),
                    format!("`{model}` is empty or listed twice"),
                ));
            }
        }
        Ok(())
    }

    fn subnet(config: &ComputeConfig, host: &HostResources<'_>) -> Result<Self::Subnet, CapConfigError> {
        if config.compute.is_empty() {
            return Ok(None);
        }
        Ok(host.models.map(|p| p.grant(&config.compute)))
    }

    fn instance(subnet: &Self::Subnet, _: &CallContext<'_>) -> ComputeState {
        ComputeState { backend: subnet.clone() }
    }

    fn add_to_linker<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut ComputeState,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<ComputeState>>(linker, get)
    }
}

/// Per-instance state: the backend, when the subnet has one.
pub struct ComputeState {
    pub(crate) backend: Option<Arc<dyn ComputeBackend>>,
}

const NOT_AVAILABLE: &str = "compute is not available: the subnet was granted no models; name the models it \
    calls in its bundle's subnet.toml (`[compute] models = [\"...\"]`, what the sandbox grants) or in the \
    daemon's subnetd.toml (`[subnet.capabilities] compute = [\"...\"]`)";

impl ComputeState {
    fn backend(&self) -> Result<Arc<dyn ComputeBackend>, ComputeError> {
        self.backend.clone().ok_or_else(|| ComputeError::NotAvailable(NOT_AVAILABLE.into()))
    }
}

impl wit::Host for ComputeState {
    async fn models(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.backend.as_ref().map(|b| b.models()).unwrap_or_default())
    }

    async fn embed_text(
        &mut self,
        model: String,
        texts: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Vec<f32>>, ComputeError>> {
        Ok(match self.backend() {
            Ok(b) => b.embed_text(&model, texts).await,
            Err(e) => Err(e),
        })
    }

    async fn embed_image(
        &mut self,
        model: String,
        images: Vec<Payload>,
    ) -> wasmtime::Result<Result<Vec<Vec<f32>>, ComputeError>> {
        Ok(match self.backend() {
            Ok(b) => b.embed_image(&model, images).await,
            Err(e) => Err(e),
        })
    }

    async fn generate_text(
        &mut self,
        model: String,
        prompt: String,
        max_tokens: u32,
        seed: u64,
    ) -> wasmtime::Result<Result<String, ComputeError>> {
        Ok(match self.backend() {
            Ok(b) => b.generate_text(&model, prompt, max_tokens, seed).await,
            Err(e) => Err(e),
        })
    }
}
