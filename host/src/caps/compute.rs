//! The `compute` capability: model calls (embeddings, generation) served by the host.
//!
//! This module defines the backend interface and the guest-facing glue. Until a backend is
//! configured (the model-serving backend is its own piece of work), every call returns
//! `not-available` with a reason, so modules can be written and tested against the contract
//! today and degrade cleanly on hosts without models.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::types::Payload;
use crate::bindings::validator::subnet::plugin::compute::{self as wit, ComputeError};
use crate::runtime::HostState;

/// A model-serving backend. Implementations bound their own time and memory and refuse
/// models the operator did not grant.
pub trait ComputeBackend: Send + Sync {
    /// Names of the models the subnet may call.
    fn models(&self) -> Vec<String>;
    /// One L2-normalised embedding per text.
    fn embed_text(&self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>, ComputeError>;
    /// One L2-normalised embedding per image.
    fn embed_image(&self, model: &str, images: &[Payload]) -> Result<Vec<Vec<f32>>, ComputeError>;
    /// Generated text, deterministic for a seed.
    fn generate_text(
        &self,
        model: &str,
        prompt: &str,
        max_tokens: u32,
        seed: u64,
    ) -> Result<String, ComputeError>;
}

/// Per-instance state: the backend, when the subnet has one.
pub struct ComputeState {
    pub(crate) backend: Option<Arc<dyn ComputeBackend>>,
}

const NOT_AVAILABLE: &str =
    "compute is not available: this host has no model backend configured for the subnet";

impl ComputeState {
    fn backend(&self) -> Result<&Arc<dyn ComputeBackend>, ComputeError> {
        self.backend
            .as_ref()
            .ok_or_else(|| ComputeError::NotAvailable(NOT_AVAILABLE.into()))
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
        Ok(self.backend().and_then(|b| b.embed_text(&model, &texts)))
    }

    async fn embed_image(
        &mut self,
        model: String,
        images: Vec<Payload>,
    ) -> wasmtime::Result<Result<Vec<Vec<f32>>, ComputeError>> {
        Ok(self.backend().and_then(|b| b.embed_image(&model, &images)))
    }

    async fn generate_text(
        &mut self,
        model: String,
        prompt: String,
        max_tokens: u32,
        seed: u64,
    ) -> wasmtime::Result<Result<String, ComputeError>> {
        Ok(self
            .backend()
            .and_then(|b| b.generate_text(&model, &prompt, max_tokens, seed)))
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<HostState, HasSelf<ComputeState>>(linker, |s| &mut s.compute)
}
