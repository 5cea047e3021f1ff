//! Text generation with candle's quantized llama (`candle_transformers::models::quantized_llama`)
//! from one GGUF file: tokenizer and chat template from its metadata, greedy or seeded top-p
//! sampling (`candle_transformers::generation::LogitsProcessor`), stop at an end-of-generation
//! token, at the token budget or at a stop sequence.
//!
//! A request runs as a [`Stream`]: its own copy of the model (the quantized weights are shared
//! behind `Arc`s; only the KV cache is per stream), fed in steps (a prompt chunk, or one token),
//! so the worker can interleave streams fairly. Invariants: a stream's tokens depend only on its
//! own request (prompt, sampling parameters, seed), never on what else runs, because streams
//! share no state and every kernel computes each output from its own row; so the same request
//! gives the same tokens alone or under load. Prompt plus generated tokens never exceed the
//! context length (checked before any work).
//!
//! Failure modes: bad file or metadata at load ([`ComputeError::Config`]); a prompt longer than
//! the context, bad sampling parameters or too many stop sequences ([`ComputeError::InvalidInput`]);
//! a tensor error while running (a `String` the worker turns into [`ComputeError::Failed`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};

use crate::ComputeError;
use crate::chat::ChatTemplate;
use crate::gguf_tokenizer::GgufVocab;

/// Most stop sequences per request (OpenAI's limit).
pub const MAX_STOP_SEQUENCES: usize = 4;
/// Longest stop sequence, in bytes.
pub const MAX_STOP_BYTES: usize = 64;
/// Prompt tokens fed per step: long prompts are prefilled in chunks so other streams keep
/// getting tokens meanwhile.
const PREFILL_CHUNK: usize = 128;

/// One generation request.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// The user's message (instruct models: wrapped in the model's chat template).
    pub prompt: String,
    /// An optional system message (needs a chat template).
    pub system: Option<String>,
    /// Most tokens to generate; also capped by the model's configured `max_tokens` and by the
    /// room left in its context. 0 means the configured limit.
    pub max_tokens: u32,
    /// 0 (or below 1e-7): greedy, deterministic. Otherwise the softmax temperature, up to 2.
    pub temperature: f32,
    /// Nucleus sampling mass in (0, 1]; 1 samples from the whole distribution. Ignored when greedy.
    pub top_p: f32,
    /// Generation ends before the first occurrence of any of these (at most
    /// [`MAX_STOP_SEQUENCES`], each 1 to [`MAX_STOP_BYTES`] bytes); the text excludes it.
    pub stop: Vec<String>,
    /// Seed of the sampler: the same request and seed give the same tokens.
    pub seed: u64,
}

impl GenerateRequest {
    /// A greedy request for `prompt` with no system message and no stop sequences.
    pub fn greedy(prompt: impl Into<String>, max_tokens: u32) -> Self {
        GenerateRequest {
            prompt: prompt.into(),
            system: None,
            max_tokens,
            temperature: 0.0,
            top_p: 1.0,
            stop: Vec::new(),
            seed: 0,
        }
    }

    /// Checks the sampling parameters and stop sequences.
    pub(crate) fn validate(&self) -> Result<(), ComputeError> {
        if !(self.temperature.is_finite() && (0.0..=2.0).contains(&self.temperature)) {
            return Err(ComputeError::InvalidInput(format!("temperature {} is not in [0, 2]", self.temperature)));
        }
        if !(self.top_p.is_finite() && self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ComputeError::InvalidInput(format!("top_p {} is not in (0, 1]", self.top_p)));
        }
        if self.stop.len() > MAX_STOP_SEQUENCES {
            return Err(ComputeError::InvalidInput(format!(
                "{} stop sequences; the limit is {MAX_STOP_SEQUENCES}",
                self.stop.len()
            )));
        }
        if let Some(s) = self.stop.iter().find(|s| s.is_empty() || s.len() > MAX_STOP_BYTES) {
            return Err(ComputeError::InvalidInput(format!(
                "stop sequence of {} bytes; each must be 1 to {MAX_STOP_BYTES}",
                s.len()
            )));
        }
        Ok(())
    }

    fn sampling(&self) -> Sampling {
        let temperature = f64::from(self.temperature);
        if temperature < 1e-7 {
            Sampling::ArgMax
        } else if self.top_p >= 1.0 {
            Sampling::All { temperature }
        } else {
            Sampling::TopP { p: f64::from(self.top_p), temperature }
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced an end-of-generation token.
    Stop,
    /// The token budget (request, configured limit or context) ran out.
    Length,
    /// A stop sequence appeared; the text ends before it.
    StopSequence,
}

/// The result of one generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generated text (special tokens and the stop sequence excluded).
    pub text: String,
    /// Tokens of the prompt after templating (BOS included when the model adds one).
    pub prompt_tokens: u32,
    /// Tokens generated (an end-of-generation token not counted).
    pub completion_tokens: u32,
    /// Why it ended.
    pub finish: FinishReason,
    /// From the call to the first generated token, queueing included.
    pub time_to_first_token: Duration,
    /// From the call to the answer.
    pub total: Duration,
}

/// Operator limits of a generation model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GenLimits {
    pub(crate) max_tokens: u32,
    pub(crate) context: Option<usize>,
}

/// A loaded GGUF model, its tokenizer and template.
pub(crate) struct TextGenerator {
    weights: ModelWeights,
    vocab: GgufVocab,
    chat: Option<ChatTemplate>,
    /// Tokens that end generation.
    eog: Vec<u32>,
    context: usize,
    max_tokens: u32,
    device: Device,
}

/// The `.gguf` file `path` names: the file itself or the only one in a directory.
fn gguf_file_at(path: &Path) -> Result<PathBuf, ComputeError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let entries = std::fs::read_dir(path).map_err(|e| ComputeError::Config(format!("{}: {e}", path.display())))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("gguf")) && p.is_file())
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(ComputeError::Config(format!("no .gguf file in {}", path.display()))),
        n => Err(ComputeError::Config(format!("{n} .gguf files in {}; name one in `path`", path.display()))),
    }
}

impl TextGenerator {
    /// Loads the GGUF at `path` (a file, or a directory holding exactly one), with a
    /// `tokenizer.json` beside it when there is one.
    pub(crate) fn load(path: &Path, device: &Device, limits: GenLimits) -> Result<Self, ComputeError> {
        let file = gguf_file_at(path)?;
        let cfg = |e: candle_core::Error| ComputeError::Config(format!("{}: {e}", file.display()));
        let mut reader =
            std::fs::File::open(&file).map_err(|e| ComputeError::Config(format!("{}: {e}", file.display())))?;
        let content = gguf_file::Content::read(&mut reader).map_err(cfg)?;
        let arch = content.metadata.get("general.architecture").and_then(|v| v.to_string().ok()).cloned();
        if arch.as_deref() != Some("llama") {
            return Err(ComputeError::Config(format!(
                "{}: architecture {arch:?}; this crate runs llama-architecture GGUF models",
                file.display()
            )));
        }
        let beside = file.with_file_name("tokenizer.json");
        let tokenizer_json = match std::fs::read_to_string(&beside) {
            Ok(s) => Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ComputeError::Config(format!("{}: {e}", beside.display()))),
        };
        let vocab = GgufVocab::load(&content, tokenizer_json.as_deref()).map_err(|e| match e {
            ComputeError::Config(m) => ComputeError::Config(format!("{}: {m}", file.display())),
            other => other,
        })?;
        let text = |(_, t): &(u32, String)| t.clone();
        let chat = match content.metadata.get("tokenizer.chat_template").and_then(|v| v.to_string().ok()) {
            Some(src) => Some(ChatTemplate::new(
                src,
                &vocab.bos.as_ref().map(text).unwrap_or_default(),
                &vocab.eos.as_ref().map(text).unwrap_or_default(),
            )?),
            None => None,
        };
        let mut eog: Vec<u32> = vocab.eos.iter().map(|(id, _)| *id).collect();
        for key in ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let Some(id) = content.metadata.get(key).and_then(|v| v.to_u32().ok()) {
                eog.push(id);
            }
        }
        // llama.cpp also ends generation at these control tokens whatever the metadata says.
        for name in ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|end_of_text|>"] {
            if let Some(id) = vocab.control.get(name) {
                eog.push(*id);
            }
        }
        eog.sort_unstable();
        eog.dedup();
        let trained = content
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |c| c as usize);
        // candle's rotary tables cover MAX_SEQ_LEN positions.
        let context = trained.min(MAX_SEQ_LEN).min(limits.context.unwrap_or(usize::MAX)).max(2);
        let weights = ModelWeights::from_gguf(content, &mut reader, device).map_err(cfg)?;
        Ok(TextGenerator { weights, vocab, chat, eog, context, max_tokens: limits.max_tokens, device: device.clone() })
    }

    /// Tokens of context (prompt plus generated).
    pub(crate) fn context(&self) -> usize {
        self.context
    }

    /// Whether prompts go through a chat template.
    pub(crate) fn has_chat_template(&self) -> bool {
        self.chat.is_some()
    }

    /// Token ids of the templated prompt.
    pub(crate) fn prompt_tokens(&self, req: &GenerateRequest) -> Result<Vec<u32>, ComputeError> {
        let text = match (&self.chat, &req.system) {
            (Some(t), system) => t.render(system.as_deref(), &req.prompt)?,
            (None, None) => req.prompt.clone(),
            (None, Some(_)) => {
                return Err(ComputeError::InvalidInput(
                    "this model has no chat template, so it takes no system message; put it in the prompt".into(),
                ));
            }
        };
        let enc =
            self.vocab.tokenizer.encode(text, false).map_err(|e| ComputeError::Failed(format!("tokenizer: {e}")))?;
        let mut ids = enc.get_ids().to_vec();
        if let Some((bos, _)) = self.vocab.bos.as_ref().filter(|_| self.vocab.add_bos)
            && ids.first() != Some(bos)
        {
            ids.insert(0, *bos);
        }
        if ids.is_empty() {
            return Err(ComputeError::InvalidInput("the prompt is empty".into()));
        }
        if ids.len() >= self.context {
            return Err(ComputeError::InvalidInput(format!(
                "the prompt is {} tokens; the model's context is {} tokens, which must also hold at least one \
                 generated token",
                ids.len(),
                self.context
            )));
        }
        Ok(ids)
    }

    /// Decodes ids to text, special tokens skipped.
    pub(crate) fn decode(&self, ids: &[u32]) -> Result<String, String> {
        self.vocab.tokenizer.decode(ids, true).map_err(|e| format!("tokenizer decode: {e}"))
    }

    /// A stream ready to run `req` (already tokenised to `prompt`), timed from `started`.
    pub(crate) fn stream(&self, req: &GenerateRequest, prompt: Vec<u32>, started: Instant) -> Stream {
        let limit = if req.max_tokens == 0 { self.max_tokens } else { req.max_tokens.min(self.max_tokens) };
        let room = (self.context - prompt.len()) as u32;
        let mut model = self.weights.clone();
        model.clear_kv_cache();
        Stream {
            model,
            prompt,
            fed: 0,
            out: Vec::new(),
            budget: limit.min(room).max(1),
            sampler: LogitsProcessor::from_sampling(req.seed, req.sampling()),
            stop: req.stop.clone(),
            started,
            first_token: None,
        }
    }
}

/// One request in flight.
pub(crate) struct Stream {
    model: ModelWeights,
    prompt: Vec<u32>,
    /// Prompt tokens already in the KV cache.
    fed: usize,
    out: Vec<u32>,
    budget: u32,
    sampler: LogitsProcessor,
    stop: Vec<String>,
    started: Instant,
    first_token: Option<Duration>,
}

/// What one step did.
pub(crate) enum Step {
    /// More to do.
    Continue,
    /// Finished.
    Done(Generation),
}

impl Stream {
    /// Runs one forward pass: the next prompt chunk, or one generated token.
    pub(crate) fn step(&mut self, generator: &TextGenerator) -> Result<Step, String> {
        let fwd = |e: candle_core::Error| format!("generation forward pass: {e}");
        let logits = if self.fed < self.prompt.len() {
            let end = (self.fed + PREFILL_CHUNK).min(self.prompt.len());
            let chunk = Tensor::new(&self.prompt[self.fed..end], &generator.device)
                .and_then(|t| t.unsqueeze(0))
                .map_err(fwd)?;
            let logits = self.model.forward(&chunk, self.fed).map_err(fwd)?;
            self.fed = end;
            if self.fed < self.prompt.len() {
                return Ok(Step::Continue);
            }
            logits
        } else {
            let Some(&last) = self.out.last() else {
                return Err("generation stream has no token to continue from".into());
            };
            let pos = self.prompt.len() + self.out.len() - 1;
            let input = Tensor::new(&[last], &generator.device).and_then(|t| t.unsqueeze(0)).map_err(fwd)?;
            self.model.forward(&input, pos).map_err(fwd)?
        };
        let logits = logits.squeeze(0).map_err(fwd)?;
        let token = self.sampler.sample(&logits).map_err(|e| format!("sampling: {e}"))?;
        if self.first_token.is_none() {
            self.first_token = Some(self.started.elapsed());
        }
        if generator.eog.contains(&token) {
            return self.finish(generator, FinishReason::Stop, None);
        }
        self.out.push(token);
        if !self.stop.is_empty() {
            let text = generator.decode(&self.out)?;
            if let Some(at) = self.stop.iter().filter_map(|s| text.find(s.as_str())).min() {
                return self.finish(generator, FinishReason::StopSequence, Some(text[..at].to_string()));
            }
        }
        if self.out.len() as u32 >= self.budget {
            return self.finish(generator, FinishReason::Length, None);
        }
        Ok(Step::Continue)
    }

    /// Tokens generated so far.
    pub(crate) fn generated(&self) -> u32 {
        self.out.len() as u32
    }

    fn finish(
        &mut self,
        generator: &TextGenerator,
        finish: FinishReason,
        text: Option<String>,
    ) -> Result<Step, String> {
        let text = match text {
            Some(t) => t,
            None => generator.decode(&self.out)?,
        };
        let total = self.started.elapsed();
        Ok(Step::Done(Generation {
            text,
            prompt_tokens: self.prompt.len() as u32,
            completion_tokens: self.out.len() as u32,
            finish,
            time_to_first_token: self.first_token.unwrap_or(total),
            total,
        }))
    }
}

#[cfg(test)]
#[path = "generate_tests.rs"]
mod tests;
