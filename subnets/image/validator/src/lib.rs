//! Image-subnet validator: validation by regeneration.
//!
//! Each round makes one task per miner: a random prompt of the scene grammar, a random seed
//! and a canvas size, sent to [`MINERS_PER_TASK`] miners (so each miner draws several prompts
//! a round and each prompt is drawn by several miners). The validator renders the reference
//! itself with the same deterministic renderer, then scores each answer:
//!
//! 1. Gates (score 0, metric `rejected` = 1): no answer; over [`LIMITS`]; not a PNG or JPEG
//!    that decodes; not the task's width and height (read from the header, before decoding);
//!    blank (at least 99.7% of pixels within 24 levels of one colour).
//! 2. `similarity`: cosine of the EfficientNet-Lite0 embeddings of answer and reference
//!    (through the host's compute capability, one call per task), rescaled so that
//!    [`SIMILARITY_FLOOR`] and below give 0 and an identical picture gives 1.
//! 3. `layout`: intersection over union of the shape-coloured pixels of answer and reference,
//!    colour by colour; the right shapes in the wrong places score low here.
//! 4. Score = rescaled similarity x layout. Re-encoding (e.g. JPEG at quality 90) costs a
//!    few percent; the wrong seed or the wrong prompt costs most of it.
//!
//! Duplicates: the same picture sent for different prompts in one round. Every accepted
//! answer's [`Fingerprint`] is filed in the kv store under the round's seed; `reward` compares
//! them across tasks, and a miner with an answer that matches an answer to another task (grid
//! similarity >= [`SAME_PICTURE`]) while not matching its own reference loses the whole round
//! (round score 0), then the running scores update by the SDK's EMA (alpha 0.1). The records
//! are deleted after each reward. Without a kv store the check is skipped, with a warning.
//!
//! Failure modes: a task this validator did not make (bad prompt or size) or a failed compute
//! call is an `Err` for that task; miners' bytes never are (they are scored 0).
use std::collections::BTreeSet;

use subnet_scenes::protocol::ImageTask;
use subnet_scenes::{
    DecodeLimits, Fingerprint, Format, RgbImage, Scene, codec, decode_image, encode_png, is_blank, layout_agreement,
    render,
};
use subnet_sdk::prelude::*;

/// The model the host must grant (see subnet.toml).
const MODEL: &str = "efficientnet-lite0";
/// Canvas sizes tasks ask for.
pub const SIZES: [(u32, u32); 4] = [(224, 224), (256, 256), (256, 192), (192, 256)];
/// Miners that draw each prompt.
pub const MINERS_PER_TASK: usize = 3;
/// Time a miner has.
const TIMEOUT_MS: u32 = 10_000;
/// What an answer may be: 4 MiB, sides up to 1024.
pub const LIMITS: DecodeLimits = DecodeLimits { max_bytes: 4 << 20, max_side: 1024 };
/// Embedding cosine at or below which an answer has no prompt agreement. EfficientNet
/// features of two different scenes of this grammar rarely fall below 0.6 (same flat style);
/// re-encodings of the right picture stay above 0.97.
pub const SIMILARITY_FLOOR: f64 = 0.8;
/// Fingerprint similarity from which two answers are the same picture.
pub const SAME_PICTURE: f64 = 0.9;
/// Images per compute call (the host's default limit).
const MAX_IMAGES_PER_CALL: usize = 16;
/// Where duplicate records live in the kv store.
const DUP_PREFIX: &str = "dup/";

/// FNV-1a of the task, naming it in duplicate records.
fn task_key(task: &ImageTask) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let text = format!("{}\u{0}{}\u{0}{}x{}", task.prompt, task.seed, task.width, task.height);
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Why an answer scores 0 before any comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    TooLarge,
    NotAnImage,
    WrongSize,
    Blank,
}

/// An answer past the gates: its slot among the embedded pictures, its layout agreement with
/// the reference, its fingerprint.
type Accepted = (usize, f64, Fingerprint);

/// Decodes and checks one answer against the task's gates.
fn check(body: &[u8], task: &ImageTask) -> Result<(Format, RgbImage), Rejection> {
    if body.len() > LIMITS.max_bytes {
        return Err(Rejection::TooLarge);
    }
    let (format, width, height) = codec::dimensions(body).map_err(|_| Rejection::NotAnImage)?;
    if (width, height) != (task.width, task.height) {
        return Err(Rejection::WrongSize);
    }
    let image = decode_image(body, LIMITS).map_err(|_| Rejection::NotAnImage)?;
    if is_blank(&image) {
        return Err(Rejection::Blank);
    }
    Ok((format, image))
}

/// Embeddings of `images`, in calls of at most [`MAX_IMAGES_PER_CALL`].
fn embed(images: &[Payload]) -> Result<Vec<Vec<f32>>, String> {
    let mut out = Vec::with_capacity(images.len());
    for chunk in images.chunks(MAX_IMAGES_PER_CALL) {
        let vectors = compute::embed_image(MODEL, chunk).map_err(|e| format!("image embedding failed: {e:?}"))?;
        if vectors.len() != chunk.len() {
            return Err(format!("{} embeddings for {} images", vectors.len(), chunk.len()));
        }
        out.extend(vectors);
    }
    Ok(out)
}

/// One duplicate record: whether the answer matched its own reference, and its fingerprint.
fn record(matches_reference: bool, print: &Fingerprint) -> Vec<u8> {
    let mut bytes = vec![u8::from(matches_reference)];
    bytes.extend_from_slice(&print.0);
    bytes
}

/// Uids with an answer that duplicates an answer to another task of the round `seed`; removes
/// every duplicate record (this round's and any a failed round left).
fn duplicates(seed: u64) -> Result<BTreeSet<u16>, kv::KvError> {
    let round = format!("{DUP_PREFIX}{seed:016x}/");
    let mut answers: Vec<(String, u16, bool, Fingerprint)> = Vec::new();
    for key in kv::keys(DUP_PREFIX, 10_000)? {
        if let Some(rest) = key.strip_prefix(&round) {
            let parsed =
                rest.split_once('/').and_then(|(task, uid)| Some((task.to_string(), uid.parse::<u16>().ok()?)));
            // Records this validator did not write in this form are ignored.
            if let (Some((task, uid)), Some(value)) = (parsed, kv::get(&key)?)
                && let (Some(flag), Some(print)) = (value.first(), value.get(1..).and_then(Fingerprint::from_bytes))
            {
                answers.push((task, uid, *flag == 1, print));
            }
        }
        kv::delete(&key)?;
    }
    let mut flagged = BTreeSet::new();
    for (i, (task, uid, matches_reference, print)) in answers.iter().enumerate() {
        if *matches_reference || flagged.contains(uid) {
            continue;
        }
        let copied = answers.iter().enumerate().any(|(j, (other_task, _, _, other))| {
            j != i && other_task != task && print.similarity(other) >= SAME_PICTURE
        });
        if copied {
            flagged.insert(*uid);
        }
    }
    Ok(flagged)
}

struct ImageValidator;

impl Validator for ImageValidator {
    type Task = Json<ImageTask>;
    type Answer = Payload;

    fn generate_tasks(ctx: &EpochContext) -> Result<Vec<TaskSpec<Json<ImageTask>>>, String> {
        let mut miners: Vec<u16> = ctx.miners().collect();
        random::shuffle(&mut miners);
        let n = miners.len();
        let per_task = MINERS_PER_TASK.min(n);
        let mut draw = |bound: u64| random::below(bound);
        Ok((0..n)
            .map(|i| {
                let scene = Scene::random(&mut draw);
                let (width, height) = SIZES[random::below(SIZES.len() as u64) as usize];
                let task = ImageTask { prompt: scene.prompt(), seed: random::next_u64(), width, height };
                let to: Vec<u16> = (0..per_task).map(|k| miners[(i + k) % n]).collect();
                TaskSpec::new(format!("draw-{}-{i}", ctx.epoch), to, Json(task)).timeout_ms(TIMEOUT_MS)
            })
            .collect())
    }

    fn score(ctx: &EpochContext, task: &Json<ImageTask>, answers: &[Answer<Payload>]) -> Result<Vec<Score>, String> {
        let task = &task.0;
        if !SIZES.contains(&(task.width, task.height)) {
            return Err(format!("task size {}x{} is not one this validator asks for", task.width, task.height));
        }
        let scene = Scene::parse(&task.prompt).map_err(|e| format!("task prompt `{}`: {e}", task.prompt))?;
        let reference = render(&scene, task.seed, task.width, task.height).map_err(|e| e.to_string())?;
        let reference_print = Fingerprint::of(&reference);

        // Gates first; the reference and each distinct accepted picture are embedded once.
        let mut inputs = vec![Payload { content_type: "image/png".into(), body: encode_png(&reference) }];
        let mut checked: Vec<(u16, Result<Accepted, Rejection>)> = Vec::new();
        for answer in answers {
            let Some(payload) = answer.value() else {
                checked.push((answer.uid, Err(Rejection::NotAnImage)));
                continue;
            };
            let verdict = check(&payload.body, task).map(|(format, image)| {
                let slot = match inputs.iter().position(|p| p.body == payload.body) {
                    Some(slot) => slot,
                    None => {
                        inputs.push(Payload { content_type: format.content_type().into(), body: payload.body.clone() });
                        inputs.len() - 1
                    }
                };
                (slot, layout_agreement(&reference, &image), Fingerprint::of(&image))
            });
            if let Err(reason) = verdict {
                log::debug(&format!("uid {}: rejected ({reason:?})", answer.uid));
            }
            checked.push((answer.uid, verdict));
        }
        // Only pictures that differ from the reference need the model: an answer with the
        // reference's very bytes has its embedding (cosine 1).
        let vectors = if inputs.len() > 1 { embed(&inputs)? } else { Vec::new() };

        let key = task_key(task);
        let mut warned = false;
        let mut scores = Vec::with_capacity(answers.len());
        for (answer, (uid, verdict)) in answers.iter().zip(checked) {
            let Ok((slot, layout, print)) = verdict else {
                scores.push(if answer.status == ResponseStatus::Ok || answer.status == ResponseStatus::Malformed {
                    Score::new(uid, 0.0).metric("rejected", 1.0)
                } else {
                    Score::new(uid, 0.0)
                });
                continue;
            };
            let cosine = if slot == 0 { 1.0 } else { compute::cosine(&vectors[0], &vectors[slot]) };
            let similarity = ((cosine - SIMILARITY_FLOOR) / (1.0 - SIMILARITY_FLOOR)).clamp(0.0, 1.0);
            let matches_reference = print.similarity(&reference_print) >= SAME_PICTURE;
            let name = format!("{DUP_PREFIX}{:016x}/{key}/{uid:05}", ctx.seed);
            if let Err(e) = kv::set(&name, &record(matches_reference, &print))
                && !warned
            {
                log::warn(&format!("duplicate check off this round: kv store: {e:?}"));
                warned = true;
            }
            scores.push(
                Score::new(uid, similarity * layout)
                    .metric("similarity", cosine)
                    .metric("layout", layout)
                    .metric("rejected", 0.0),
            );
        }
        Ok(scores)
    }

    fn reward(ctx: &EpochContext, state: Vec<UidState>, mut round: Vec<UidScore>) -> Result<RewardResult, String> {
        match duplicates(ctx.seed) {
            Ok(flagged) => {
                for s in round.iter_mut().filter(|s| flagged.contains(&s.uid)) {
                    log::info(&format!("uid {}: sent one picture for different prompts; round score 0", s.uid));
                    s.score = 0.0;
                }
            }
            Err(e) => log::warn(&format!("duplicate check skipped: kv store: {e:?}")),
        }
        Ok(ema_reward(state, &round, subnet_sdk::DEFAULT_ALPHA))
    }
}

export_validator!(ImageValidator);
