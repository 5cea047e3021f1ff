//! Operator configuration: which models exist (by name, from which directory), on which device,
//! and the limits every call is held to.
//!
//! Invariant: a model is reachable only through a name listed here; directories are fixed at
//! start and never derived from call inputs.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ComputeError;

/// What a configured model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Sentence embeddings (BERT-family encoder, mean pooling, L2-normalised), e.g. all-MiniLM-L6-v2.
    TextEmbedding,
    /// Image embeddings (EfficientNet-Lite0 penultimate features, L2-normalised).
    ImageEmbedding,
    /// Text generation. Not supported by this build: configuring one fails at start.
    TextGeneration,
}

impl ModelKind {
    /// The kebab-case name used in configuration files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::TextEmbedding => "text-embedding",
            ModelKind::ImageEmbedding => "image-embedding",
            ModelKind::TextGeneration => "text-generation",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelKind {
    type Err = ComputeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text-embedding" => Ok(ModelKind::TextEmbedding),
            "image-embedding" => Ok(ModelKind::ImageEmbedding),
            "text-generation" => Ok(ModelKind::TextGeneration),
            other => Err(ComputeError::Config(format!(
                "unknown model kind {other:?} (expected text-embedding, image-embedding or text-generation)"
            ))),
        }
    }
}

/// One model the operator makes available, under a name modules use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The name modules pass in calls: 1..=64 chars of `[A-Za-z0-9._-]`.
    pub name: String,
    /// What the model does.
    pub kind: ModelKind,
    /// The model directory.
    ///
    /// Text embedding: `config.json` (BERT config), `tokenizer.json`, `model.safetensors`;
    /// optional `sentence_bert_config.json` (its `max_seq_length` caps the tokens per text).
    /// Image embedding: `config.json` with `"architecture": "efficientnet-lite0"` (optional
    /// `mean`/`std`) and `model.safetensors` (see `tools/export_efficientnet_lite0.py`).
    pub path: PathBuf,
}

/// Where models run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DevicePreference {
    /// The first CUDA GPU when built with the `cuda` feature and one is present, else the CPU.
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// This CUDA GPU; start fails if it is unusable or the build lacks the `cuda` feature.
    Cuda(usize),
}

impl FromStr for DevicePreference {
    type Err = ComputeError;
    /// `auto`, `cpu`, `cuda` (= `cuda:0`) or `cuda:N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(DevicePreference::Auto),
            "cpu" => Ok(DevicePreference::Cpu),
            "cuda" => Ok(DevicePreference::Cuda(0)),
            other => {
                other.strip_prefix("cuda:").and_then(|n| n.parse().ok()).map(DevicePreference::Cuda).ok_or_else(|| {
                    ComputeError::Config(format!("unknown device {other:?} (expected auto, cpu, cuda or cuda:N)"))
                })
            }
        }
    }
}

/// The compute service's configuration. [`Default`] gives the documented values below with no
/// models.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeConfig {
    /// The models to load. Names must be unique.
    pub models: Vec<ModelSpec>,
    /// Where to run them. Default: [`DevicePreference::Auto`].
    pub device: DevicePreference,
    /// Most texts in one forward pass of a text model; concurrent calls are merged up to this.
    /// Default 64. Peak memory of a pass grows as batch x heads x tokens² (attention scores):
    /// about 0.6 GB for 64 texts of 256 tokens with MiniLM.
    pub max_batch: usize,
    /// Most images in one forward pass of an image model. Default 16.
    pub max_image_batch: usize,
    /// How long a worker waits for more calls to fill a batch after the first arrives.
    /// Default 5 ms.
    pub batch_window: Duration,
    /// Wall-clock budget of one call, queueing included; past it the call answers
    /// [`ComputeError::Timeout`]. Default 30 s.
    pub call_timeout: Duration,
    /// Most texts in one `embed_text` call; more is [`ComputeError::InvalidInput`]. Default 256.
    pub max_texts_per_call: usize,
    /// Tokens (special tokens included) kept per text; longer texts are truncated, as
    /// sentence-transformers does. Also capped by the model's own `max_seq_length` /
    /// position table. Default 256, at least 2.
    pub max_tokens_per_text: usize,
    /// Longest text accepted, in UTF-8 bytes; longer is rejected before tokenisation
    /// ([`ComputeError::InvalidInput`]), which bounds tokeniser time and memory. Default 64 KiB.
    pub max_text_bytes: usize,
    /// Most images in one `embed_image` call. Default 16.
    pub max_images_per_call: usize,
    /// Largest encoded image (PNG or JPEG) accepted, in bytes. Default 8 MiB.
    pub max_image_bytes: usize,
    /// Largest width and height of an image, in pixels; checked from the header before the
    /// pixels are decoded. Default 4096.
    pub max_image_dimension: u32,
    /// Calls that may wait for one model's worker; past it calls fail at once with
    /// [`ComputeError::Failed`] ("overloaded") instead of queueing without bound. Default 1024.
    pub queue_capacity: usize,
}

impl Default for ComputeConfig {
    fn default() -> Self {
        ComputeConfig {
            models: Vec::new(),
            device: DevicePreference::Auto,
            max_batch: 64,
            max_image_batch: 16,
            batch_window: Duration::from_millis(5),
            call_timeout: Duration::from_secs(30),
            max_texts_per_call: 256,
            max_tokens_per_text: 256,
            max_text_bytes: 64 * 1024,
            max_images_per_call: 16,
            max_image_bytes: 8 * 1024 * 1024,
            max_image_dimension: 4096,
            queue_capacity: 1024,
        }
    }
}

impl ComputeConfig {
    /// Checks limits and names (not the model directories, which loading checks).
    pub fn validate(&self) -> Result<(), ComputeError> {
        let positive = [
            ("max_batch", self.max_batch),
            ("max_image_batch", self.max_image_batch),
            ("max_texts_per_call", self.max_texts_per_call),
            ("max_text_bytes", self.max_text_bytes),
            ("max_images_per_call", self.max_images_per_call),
            ("max_image_bytes", self.max_image_bytes),
            ("max_image_dimension", self.max_image_dimension as usize),
            ("queue_capacity", self.queue_capacity),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(ComputeError::Config(format!("{name} must be at least 1")));
            }
        }
        if self.max_tokens_per_text < 2 {
            // Room for [CLS] and [SEP]; the tokenizer's truncation underflows below that.
            return Err(ComputeError::Config("max_tokens_per_text must be at least 2".into()));
        }
        if self.call_timeout.is_zero() {
            return Err(ComputeError::Config("call_timeout must be positive".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for m in &self.models {
            validate_model_name(&m.name)?;
            if !seen.insert(m.name.as_str()) {
                return Err(ComputeError::Config(format!("model name {:?} is configured twice", m.name)));
            }
        }
        Ok(())
    }
}

fn validate_model_name(name: &str) -> Result<(), ComputeError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ComputeError::Config(format!("model name {name:?} must be 1 to 64 characters of A-Z a-z 0-9 . _ -")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices_and_kinds() {
        assert_eq!("cpu".parse::<DevicePreference>().unwrap(), DevicePreference::Cpu);
        assert_eq!("cuda".parse::<DevicePreference>().unwrap(), DevicePreference::Cuda(0));
        assert_eq!("cuda:3".parse::<DevicePreference>().unwrap(), DevicePreference::Cuda(3));
        assert!("cuda:x".parse::<DevicePreference>().is_err());
        assert!("gpu".parse::<DevicePreference>().is_err());
        assert_eq!("image-embedding".parse::<ModelKind>().unwrap(), ModelKind::ImageEmbedding);
        assert!("embedding".parse::<ModelKind>().is_err());
    }

    #[test]
    fn rejects_bad_names_and_limits() {
        let spec = |name: &str| ModelSpec {
            name: name.into(),
            kind: ModelKind::TextEmbedding,
            path: PathBuf::from("/nonexistent"),
        };
        let mut c = ComputeConfig { models: vec![spec("minilm")], ..Default::default() };
        assert!(c.validate().is_ok());
        for bad in ["", "../etc/passwd", "a/b", "名前", &"x".repeat(65)] {
            c.models = vec![spec(bad)];
            assert!(matches!(c.validate(), Err(ComputeError::Config(_))), "{bad:?} accepted");
        }
        c.models = vec![spec("a"), spec("a")];
        assert!(c.validate().is_err());
        c.models.clear();
        c.max_tokens_per_text = 1;
        assert!(c.validate().is_err());
        c.max_tokens_per_text = 2;
        c.max_batch = 0;
        assert!(c.validate().is_err());
    }
}
