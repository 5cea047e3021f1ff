//! The one error type of the crate.
//!
//! The first five variants mirror the WIT `compute-error` variant one to one, so the host maps
//! them without loss; [`ComputeError::Config`] is only ever returned by
//! [`crate::ComputeService::start`], never by a call.

/// Why a compute call (or the service's start) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComputeError {
    /// The capability cannot serve this kind of call (e.g. text generation in this build).
    #[error("compute not available: {0}")]
    NotAvailable(String),
    /// No model of that name was configured by the operator.
    #[error("unknown model: {0}")]
    UnknownModel(String),
    /// The inputs do not suit the model or exceed a configured limit.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The call did not complete within the configured call timeout.
    #[error("compute call timed out")]
    Timeout,
    /// The model (or its worker) failed, or the model's queue is full.
    #[error("model failed: {0}")]
    Failed(String),
    /// The configuration is unusable: bad model directory, duplicate name, bad limit,
    /// unavailable device. Only from [`crate::ComputeService::start`].
    #[error("compute configuration: {0}")]
    Config(String),
}
