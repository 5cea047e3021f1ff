//! Operator configuration: which models exist (by name, from which directory), on which device,
//! and the limits every call is held to.
//!
//! Invariant: a model is reachable only through a name listed here; files and server URLs are
//! fixed at start and never derived from call inputs; API keys are read from the environment
//! variable the entry names, never stored here.

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
    /// Text generation: a llama-architecture GGUF run in process with candle's quantized llama,
    /// or an OpenAI-compatible server.
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

/// Where a model runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// In this process, with candle, from files.
    ///
    /// Text embedding: a directory with `config.json` (BERT config), `tokenizer.json`,
    /// `model.safetensors`; optional `sentence_bert_config.json` (its `max_seq_length` caps the
    /// tokens per text). Image embedding: a directory with `config.json` holding
    /// `"architecture": "efficientnet-lite0"` (optional `mean`/`std`) and `model.safetensors` (see
    /// `tools/export_efficientnet_lite0.py`). Text generation: a llama-architecture `.gguf` file,
    /// or a directory holding exactly one (a `tokenizer.json` beside it replaces the tokenizer in
    /// the GGUF metadata). Files are memory-mapped or read at start and must not change while the
    /// daemon runs.
    Local(PathBuf),
    /// An OpenAI-compatible HTTP inference server (llama.cpp's server, vLLM, ...).
    OpenAi(OpenAiEndpoint),
}

/// Which OpenAI route a text-generation model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpenAiApi {
    /// `POST /v1/chat/completions`: the server applies the model's chat template.
    #[default]
    Chat,
    /// `POST /v1/completions`: the prompt is sent as it is (system message not allowed).
    Completions,
}

/// An OpenAI-compatible server that runs a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiEndpoint {
    /// Base URL, `http://` or `https://`, up to the `/v1` routes (e.g. `http://127.0.0.1:8080`);
    /// a trailing `/v1` is accepted too.
    pub url: String,
    /// The server's name of the model (the `model` field of requests).
    pub model: String,
    /// Environment variable holding the API key, sent as `Authorization: Bearer`; the key itself
    /// never appears in configuration. Unset variable: start fails.
    pub api_key_env: Option<String>,
    /// Route for text generation. Default [`OpenAiApi::Chat`].
    pub api: OpenAiApi,
    /// Budget of one HTTP exchange; the call's own `call_timeout` still applies (the shorter
    /// wins). Default: the call timeout.
    pub timeout: Option<Duration>,
    /// Text embedding: the vector length the server returns (replies of another length fail).
    /// Unset: whatever the server returns, and `embedding_dim` answers 0.
    pub dim: Option<usize>,
    /// Server-specific fields added to every request body (never replacing the standard ones),
    /// e.g. `{ repeat_penalty = 1.0 }` for llama-cpp-python, whose default 1.1 differs from
    /// OpenAI's no-penalty default.
    pub extra_body: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One model the operator makes available, under a name modules use.
///
/// In `models.toml` (deserialise it with serde; unknown keys are an error):
///
/// ```toml
/// [[model]]
/// name = "smollm2-135m-instruct"
/// kind = "text-generation"
/// path = "/srv/models/SmolLM2-135M-Instruct.Q4_1.gguf"
/// max_tokens = 512        # most tokens one call may generate (default 512)
/// max_concurrency = 4     # requests generated at once, interleaved (default 4)
/// context_length = 2048   # optional cap on prompt + generated tokens
///
/// [[model]]
/// name = "llama-remote"
/// kind = "text-generation"  # or text-embedding
/// backend = "openai"
/// url = "http://127.0.0.1:8080"
/// model = "smollm2"
/// api_key_env = "LLAMA_API_KEY"   # optional
/// api = "chat"                     # or "completions"
/// max_concurrency = 4              # HTTP requests in flight (default 4)
/// timeout_ms = 60000               # optional
/// extra_body = { repeat_penalty = 1.0 }   # optional server-specific request fields
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawModelSpec", into = "RawModelSpec")]
pub struct ModelSpec {
    /// The name modules pass in calls: 1..=64 chars of `[A-Za-z0-9._-]`.
    pub name: String,
    /// What the model does.
    pub kind: ModelKind,
    /// Where it runs.
    pub source: ModelSource,
    /// Text generation: most tokens one call may generate (a request asking for more gets
    /// this many). Default 512.
    pub max_tokens: u32,
    /// Text generation in process: requests generated at once (interleaved token by token;
    /// each holds its own KV cache, about 46 KiB per token for SmolLM2-135M). OpenAI backend:
    /// HTTP requests in flight. Others wait in the queue. Default 4.
    pub max_concurrency: usize,
    /// Text generation in process: a cap on prompt plus generated tokens, below the model's own
    /// context length. Default: the model's (at most 4096, candle's rotary table).
    pub context_length: Option<usize>,
}

/// Default [`ModelSpec::max_tokens`].
pub const DEFAULT_MAX_TOKENS: u32 = 512;
/// Default [`ModelSpec::max_concurrency`].
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;

impl ModelSpec {
    /// An in-process model from `path`, with the default limits.
    pub fn local(name: impl Into<String>, kind: ModelKind, path: impl Into<PathBuf>) -> Self {
        ModelSpec {
            name: name.into(),
            kind,
            source: ModelSource::Local(path.into()),
            max_tokens: DEFAULT_MAX_TOKENS,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            context_length: None,
        }
    }

    /// A model served by an OpenAI-compatible server, with the default limits.
    pub fn openai(name: impl Into<String>, kind: ModelKind, endpoint: OpenAiEndpoint) -> Self {
        ModelSpec { source: ModelSource::OpenAi(endpoint), ..ModelSpec::local(name, kind, PathBuf::new()) }
    }

    /// The same spec with a relative local path taken relative to `base` (the directory of the
    /// registry file that named it).
    pub fn relative_to(mut self, base: &std::path::Path) -> Self {
        if let ModelSource::Local(p) = &mut self.source
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
        self
    }

    /// The local path, if the model runs in process.
    pub fn path(&self) -> Option<&std::path::Path> {
        match &self.source {
            ModelSource::Local(p) => Some(p),
            ModelSource::OpenAi(_) => None,
        }
    }

    /// Checks the name, limits and backend settings (not the files or the server).
    pub fn validate(&self) -> Result<(), ComputeError> {
        validate_model_name(&self.name)?;
        let bad = |m: String| Err(ComputeError::Config(format!("model {:?}: {m}", self.name)));
        if self.max_tokens == 0 {
            return bad("max_tokens must be at least 1".into());
        }
        if self.max_concurrency == 0 {
            return bad("max_concurrency must be at least 1".into());
        }
        if self.context_length.is_some_and(|c| c < 2) {
            return bad("context_length must be at least 2".into());
        }
        if let ModelSource::OpenAi(e) = &self.source {
            if !matches!(self.kind, ModelKind::TextGeneration | ModelKind::TextEmbedding) {
                return bad(format!(
                    "backend openai serves text-generation and text-embedding models, not {}",
                    self.kind
                ));
            }
            if !(e.url.starts_with("http://") || e.url.starts_with("https://")) {
                return bad(format!("url {:?} must start with http:// or https://", e.url));
            }
            if e.model.is_empty() {
                return bad("model (the server's model name) must not be empty".into());
            }
            if e.timeout.is_some_and(|t| t.is_zero()) {
                return bad("timeout_ms must be positive".into());
            }
            if e.api_key_env.as_deref().is_some_and(str::is_empty) {
                return bad("api_key_env must name an environment variable".into());
            }
        }
        Ok(())
    }
}

/// Backends a `models.toml` entry may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum BackendName {
    #[default]
    Candle,
    Openai,
}

/// The flat `models.toml` shape of a [`ModelSpec`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModelSpec {
    name: String,
    kind: ModelKind,
    #[serde(default)]
    backend: BackendName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_key_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api: Option<OpenAiApi>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dim: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extra_body: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_concurrency: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context_length: Option<usize>,
}

impl TryFrom<RawModelSpec> for ModelSpec {
    type Error = String;
    fn try_from(r: RawModelSpec) -> Result<Self, String> {
        let name = &r.name;
        let source = match r.backend {
            BackendName::Candle => {
                let remote_keys = [
                    ("url", r.url.is_some()),
                    ("model", r.model.is_some()),
                    ("api_key_env", r.api_key_env.is_some()),
                    ("api", r.api.is_some()),
                    ("timeout_ms", r.timeout_ms.is_some()),
                    ("dim", r.dim.is_some()),
                    ("extra_body", r.extra_body.is_some()),
                ];
                if let Some((k, _)) = remote_keys.iter().find(|(_, set)| *set) {
                    return Err(format!("model {name:?}: `{k}` needs backend = \"openai\""));
                }
                ModelSource::Local(r.path.ok_or_else(|| format!("model {name:?}: `path` is missing"))?)
            }
            BackendName::Openai => {
                if r.path.is_some() {
                    return Err(format!("model {name:?}: backend \"openai\" takes `url` and `model`, not `path`"));
                }
                if r.context_length.is_some() {
                    return Err(format!("model {name:?}: `context_length` is for in-process models"));
                }
                ModelSource::OpenAi(OpenAiEndpoint {
                    url: r.url.ok_or_else(|| format!("model {name:?}: `url` is missing"))?,
                    model: r.model.ok_or_else(|| format!("model {name:?}: `model` is missing"))?,
                    api_key_env: r.api_key_env,
                    api: r.api.unwrap_or_default(),
                    timeout: r.timeout_ms.map(Duration::from_millis),
                    dim: r.dim,
                    extra_body: r.extra_body,
                })
            }
        };
        let spec = ModelSpec {
            name: r.name,
            kind: r.kind,
            source,
            max_tokens: r.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            max_concurrency: r.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY),
            context_length: r.context_length,
        };
        spec.validate().map_err(|e| match e {
            ComputeError::Config(m) => m,
            other => other.to_string(),
        })?;
        Ok(spec)
    }
}

impl From<ModelSpec> for RawModelSpec {
    fn from(s: ModelSpec) -> Self {
        let mut raw = RawModelSpec {
            name: s.name,
            kind: s.kind,
            backend: BackendName::Candle,
            path: None,
            url: None,
            model: None,
            api_key_env: None,
            api: None,
            timeout_ms: None,
            dim: None,
            extra_body: None,
            max_tokens: Some(s.max_tokens),
            max_concurrency: Some(s.max_concurrency),
            context_length: s.context_length,
        };
        match s.source {
            ModelSource::Local(p) => raw.path = Some(p),
            ModelSource::OpenAi(e) => {
                raw.backend = BackendName::Openai;
                raw.url = Some(e.url);
                raw.model = Some(e.model);
                raw.api_key_env = e.api_key_env;
                raw.api = Some(e.api);
                raw.timeout_ms = e.timeout.map(|t| t.as_millis() as u64);
                raw.dim = e.dim;
                raw.extra_body = e.extra_body;
            }
        }
        raw
    }
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
            m.validate()?;
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
        let spec = |name: &str| ModelSpec::local(name, ModelKind::TextEmbedding, "/nonexistent");
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
