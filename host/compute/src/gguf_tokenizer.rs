//! The tokenizer of a GGUF model, rebuilt from the file's `tokenizer.ggml.*` metadata as a
//! Hugging Face `tokenizer.json` document and loaded by the `tokenizers` crate, so encoding runs
//! the same well-tested BPE code the embedding models use.
//!
//! Supported: `tokenizer.ggml.model = "gpt2"` (byte-level BPE) with the pre-tokenizers `smollm`
//! (digits split one by one, then GPT-2's regex: verified against llama.cpp's token ids for
//! SmolLM2) and `gpt2`/`default` (GPT-2's regex alone). Anything else (SentencePiece `llama`
//! vocabularies, other pre-tokenizer regexes) is a [`ComputeError::Config`] asking for a
//! `tokenizer.json` beside the GGUF, which is then used as it is.
//!
//! Tokens of type 3 (control) become special added tokens, so `<|im_start|>` in a rendered chat
//! template is one token, and are skipped when decoding; type 4 (user-defined) become ordinary
//! added tokens. The BOS token is not added here: the caller adds it when
//! `tokenizer.ggml.add_bos_token` says so (see [`GgufVocab::add_bos`]).

use std::collections::HashMap;
use std::str::FromStr;

use candle_core::quantized::gguf_file::{Content, Value};
use serde_json::json;
use tokenizers::Tokenizer;

use crate::ComputeError;

/// GGUF token type of control tokens (`<|im_start|>`, `<|endoftext|>`).
const TOKEN_CONTROL: i32 = 3;
/// GGUF token type of user-defined added tokens.
const TOKEN_USER_DEFINED: i32 = 4;

/// The tokenizer and the special-token facts a generator needs.
pub(crate) struct GgufVocab {
    /// The tokenizer (no BOS added by it).
    pub(crate) tokenizer: Tokenizer,
    /// `tokenizer.ggml.bos_token_id`, with its text.
    pub(crate) bos: Option<(u32, String)>,
    /// `tokenizer.ggml.eos_token_id`, with its text.
    pub(crate) eos: Option<(u32, String)>,
    /// Whether prompts start with BOS (`tokenizer.ggml.add_bos_token`; llama.cpp's default is
    /// true for SentencePiece vocabularies and false for byte-level BPE).
    pub(crate) add_bos: bool,
    /// Ids of every control token, by text.
    pub(crate) control: HashMap<String, u32>,
}

fn md<'a>(ct: &'a Content, key: &str) -> Option<&'a Value> {
    ct.metadata.get(key)
}

fn md_str<'a>(ct: &'a Content, key: &str) -> Result<&'a str, ComputeError> {
    md(ct, key)
        .ok_or_else(|| ComputeError::Config(format!("GGUF metadata lacks {key}")))?
        .to_string()
        .map(|s| s.as_str())
        .map_err(|e| ComputeError::Config(format!("GGUF metadata {key}: {e}")))
}

fn md_strings(ct: &Content, key: &str) -> Result<Vec<String>, ComputeError> {
    let arr = md(ct, key)
        .ok_or_else(|| ComputeError::Config(format!("GGUF metadata lacks {key}")))?
        .to_vec()
        .map_err(|e| ComputeError::Config(format!("GGUF metadata {key}: {e}")))?;
    arr.iter()
        .map(|v| v.to_string().cloned().map_err(|e| ComputeError::Config(format!("GGUF metadata {key}: {e}"))))
        .collect()
}

fn md_u32(ct: &Content, key: &str) -> Option<u32> {
    let v = md(ct, key)?;
    v.to_u32().ok().or_else(|| v.to_i32().ok().and_then(|i| u32::try_from(i).ok()))
}

/// The token of `key`'s id, if the id names a token.
fn special(ct: &Content, key: &str, tokens: &[String]) -> Option<(u32, String)> {
    let id = md_u32(ct, key)?;
    tokens.get(id as usize).map(|t| (id, t.clone()))
}

impl GgufVocab {
    /// Builds the tokenizer from `tokenizer.json` when given (its contents), else from the GGUF
    /// metadata.
    pub(crate) fn load(ct: &Content, tokenizer_json: Option<&str>) -> Result<Self, ComputeError> {
        let tokens = md_strings(ct, "tokenizer.ggml.tokens")?;
        let types: Vec<i32> = match md(ct, "tokenizer.ggml.token_type").map(|v| v.to_vec()) {
            Some(Ok(arr)) => arr.iter().map(|v| v.to_i32().unwrap_or(1)).collect(),
            _ => vec![1; tokens.len()],
        };
        let model = md_str(ct, "tokenizer.ggml.model")?;
        let tokenizer = match tokenizer_json {
            Some(text) => Tokenizer::from_str(text)
                .map_err(|e| ComputeError::Config(format!("tokenizer.json beside the GGUF: {e}")))?,
            None => {
                let doc = tokenizer_document(ct, model, &tokens, &types)?;
                Tokenizer::from_str(&doc.to_string())
                    .map_err(|e| ComputeError::Config(format!("tokenizer from GGUF metadata: {e}")))?
            }
        };
        let control = tokens
            .iter()
            .zip(types.iter().chain(std::iter::repeat(&1)))
            .enumerate()
            .filter(|(_, (_, t))| **t == TOKEN_CONTROL)
            .map(|(i, (tok, _))| (tok.clone(), i as u32))
            .collect();
        let add_bos = match md(ct, "tokenizer.ggml.add_bos_token").map(|v| v.to_bool()) {
            Some(Ok(b)) => b,
            _ => model == "llama",
        };
        Ok(GgufVocab {
            tokenizer,
            bos: special(ct, "tokenizer.ggml.bos_token_id", &tokens),
            eos: special(ct, "tokenizer.ggml.eos_token_id", &tokens),
            add_bos,
            control,
        })
    }
}

/// GPT-2's pre-tokenizer regex, as `tokenizers`' ByteLevel applies it with `use_regex`.
fn byte_level(use_regex: bool) -> serde_json::Value {
    json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex})
}

/// A `tokenizer.json` document equivalent to llama.cpp's reading of the metadata.
fn tokenizer_document(
    ct: &Content,
    model: &str,
    tokens: &[String],
    types: &[i32],
) -> Result<serde_json::Value, ComputeError> {
    if model != "gpt2" {
        return Err(ComputeError::Config(format!(
            "GGUF tokenizer model {model:?} cannot be rebuilt from the metadata (only byte-level BPE, \"gpt2\"); \
             put the model's tokenizer.json beside the .gguf file"
        )));
    }
    let pre = md(ct, "tokenizer.ggml.pre").and_then(|v| v.to_string().ok()).map(|s| s.as_str()).unwrap_or("default");
    let pre_tokenizer = match pre {
        // llama.cpp: LLAMA_VOCAB_PRE_TYPE_SMOLLM = "\p{N}" then GPT-2's regex.
        "smollm" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true},
            byte_level(true),
        ]}),
        "gpt2" | "default" => byte_level(true),
        other => {
            return Err(ComputeError::Config(format!(
                "GGUF pre-tokenizer {other:?} is not one this crate rebuilds (smollm, gpt2); \
                 put the model's tokenizer.json beside the .gguf file"
            )));
        }
    };
    let merges = md_strings(ct, "tokenizer.ggml.merges")?;
    let merges: Vec<[&str; 2]> = merges
        .iter()
        .enumerate()
        .map(|(i, m)| {
            m.split_once(' ')
                .map(|(a, b)| [a, b])
                .ok_or_else(|| ComputeError::Config(format!("GGUF merge {i} {m:?} is not \"a b\"")))
        })
        .collect::<Result<_, _>>()?;
    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        vocab.insert(t.clone(), json!(i));
    }
    let added: Vec<serde_json::Value> = tokens
        .iter()
        .zip(types)
        .enumerate()
        .filter(|(_, (_, t))| matches!(**t, TOKEN_CONTROL | TOKEN_USER_DEFINED))
        .map(|(i, (content, t))| {
            json!({"id": i, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": *t == TOKEN_CONTROL})
        })
        .collect();
    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": byte_level(true),
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges},
    }))
}
