//! Sentence embeddings with a BERT-family encoder (e.g. all-MiniLM-L6-v2), computed the way
//! sentence-transformers does: WordPiece tokens with `[CLS]`/`[SEP]`, truncated to the model's
//! window, encoder forward pass, mean pooling over real (unpadded) tokens, L2 normalisation.
//!
//! Invariants: padding never changes a text's vector (padded positions are masked out of
//! attention and pooling), so a text embedded alone or batched with others gives the same vector
//! up to float rounding. Every output has norm 1 (an all-zero pooled vector stays zero).
//! Failure modes: a missing or malformed file at load ([`ComputeError::Config`]); a tokenizer
//! or tensor error at run time (a `String` the worker turns into [`ComputeError::Failed`]).

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::{Tokenizer, TruncationParams};

use crate::ComputeError;

/// A loaded text-embedding model.
pub(crate) struct TextEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    max_tokens: usize,
}

fn read_file(dir: &Path, name: &str) -> Result<String, ComputeError> {
    std::fs::read_to_string(dir.join(name))
        .map_err(|e| ComputeError::Config(format!("cannot read {}: {e}", dir.join(name).display())))
}

impl TextEmbedder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub(crate) fn load(dir: &Path, device: &Device, max_tokens_per_text: usize) -> Result<Self, ComputeError> {
        let config: BertConfig = serde_json::from_str(&read_file(dir, "config.json")?).map_err(|e| {
            ComputeError::Config(format!("{}: not a BERT config: {e}", dir.join("config.json").display()))
        })?;
        // sentence-transformers keeps its own window (256 for all-MiniLM-L6-v2), narrower than
        // the position table (512); match it so vectors agree with the reference library.
        let st_window = std::fs::read_to_string(dir.join("sentence_bert_config.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v.get("max_seq_length").and_then(|m| m.as_u64()))
            .map(|m| m as usize);
        let max_tokens =
            max_tokens_per_text.min(config.max_position_embeddings).min(st_window.unwrap_or(usize::MAX)).max(2);

        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| ComputeError::Config(format!("cannot load {}: {e}", tok_path.display())))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_tokens, ..Default::default() }))
            .map_err(|e| ComputeError::Config(format!("tokenizer truncation: {e}")))?;
        // tokenizer.json files often carry fixed-length padding; we pad per batch ourselves.
        tokenizer.with_padding(None);

        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(ComputeError::Config(format!("{} is missing", weights.display())));
        }
        // SAFETY: the file is memory-mapped read-only; the operator must not modify model files
        // while the daemon runs (documented on ModelSpec's directory).
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, device) }
            .map_err(|e| ComputeError::Config(format!("cannot map {}: {e}", weights.display())))?;
        let model = BertModel::load(vb, &config).map_err(|e| {
            ComputeError::Config(format!("{}: weights do not fit the BERT config: {e}", weights.display()))
        })?;
        Ok(TextEmbedder { model, tokenizer, device: device.clone(), dim: config.hidden_size, max_tokens })
    }

    /// Length of every embedding.
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// Tokens kept per text (special tokens included).
    pub(crate) fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Token ids of one text, truncated to the window.
    pub(crate) fn tokenize(&self, text: &str) -> Result<Vec<u32>, String> {
        let enc = self.tokenizer.encode(text, true).map_err(|e| format!("tokenizer: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }

    /// One forward pass over already tokenised texts (at least one), padded to the longest.
    pub(crate) fn embed_tokens(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, String> {
        self.forward(batch).map_err(|e| format!("text model forward pass: {e}"))
    }

    fn forward(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let n = batch.len();
        let len = batch.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0u32; n * len];
        let mut mask = vec![0u32; n * len];
        for (i, toks) in batch.iter().enumerate() {
            ids[i * len..i * len + toks.len()].copy_from_slice(toks);
            mask[i * len..i * len + toks.len()].fill(1);
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let type_ids = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?; // (n, len, dim)
        let maskf = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let summed = hidden.broadcast_mul(&maskf)?.sum(1)?; // (n, dim)
        let counts = maskf.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (n, 1)
        let pooled = summed.broadcast_div(&counts)?;
        let norms = pooled.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
        pooled.broadcast_div(&norms)?.to_dtype(DType::F32)?.to_vec2::<f32>()
    }
}
