//! Multimodal-subnet validator: visual question answering on rendered scenes.
//!
//! Each round makes one task per miner: a random scene of the grammar, rendered for a random
//! seed and size, sent as a base64 PNG with a question (`subnet_scenes::question`): a caption,
//! a count, a colour or a shape. Each task goes to [`MINERS_PER_TASK`] miners. The prompt never
//! leaves the validator: it is filed in the kv store under the task's random ticket and read
//! back when scoring (then deleted by `reward`).
//!
//! Scoring, per answer (plain text, at most [`MAX_ANSWER_BYTES`]; empty, longer or missing
//! answers score 0):
//! - `agreement`: cosine of the all-MiniLM-L6-v2 embeddings of the answer and the reference
//!   answer (the true caption, or "There are two circles." / "The square is red." ...).
//! - `contrastive`: how clearly the answer picks the reference out of near misses: the
//!   softmax (temperature [`TEMPERATURE`]) of its cosines with the reference and with
//!   distractors (captions of the scene with one thing changed: a colour, a shape, a count, a
//!   size, the background, the relation; or the other counts, colours or shapes worded the same
//!   way), rescaled so chance (1 / number of candidates) gives 0, then divided by what the
//!   reference itself gets (capped at 1), so the reference's own wording gives 1. A generic
//!   caption or the question echoed back is about as close to every candidate, so it earns
//!   nothing here, however well it "agrees" in general.
//! - `exact` (counting, colour and shape questions): the answer names the right value and no
//!   other value of its kind (see `Reply::matches`).
//! - Semantic score: `rescaled agreement x (0.5 + 0.5 x contrastive)`, where agreement at or
//!   below [`AGREEMENT_FLOOR`] gives 0 and identical gives 1. Captions of this grammar share
//!   their frame ("... on a grey background"), so unrelated captions still reach cosines of
//!   0.4 to 0.8; the floor sits above that. A caption with one detail wrong keeps part of its
//!   agreement but loses the contrast; a wrong one loses both.
//! - Score: captions the semantic score; questions `0.5 x exact + 0.5 x semantic`.
//!
//! Failure modes: without the kv store the validator cannot keep its references and
//! `generate-tasks` fails with that reason; a task whose record is missing (the store was
//! wiped between generate and score) is an `Err` for that task; a failed compute call is an
//! `Err` for that task. Miners' answers are never errors: bad ones score 0.
use serde::{Deserialize, Serialize};
use subnet_scenes::protocol::VisualQuestion;
use subnet_scenes::{Question, Reply, Scene, SplitMix64, caption_distractors, encode_png, render, to_base64};
use subnet_sdk::prelude::*;

/// The model the host must grant (see subnet.toml).
const MODEL: &str = "all-minilm-l6-v2";
/// Canvas sizes of the pictures.
const SIZES: [(u32, u32); 4] = [(224, 224), (256, 256), (256, 192), (192, 256)];
/// Miners that answer each task.
pub const MINERS_PER_TASK: usize = 3;
/// Longest answer scored, in bytes.
pub const MAX_ANSWER_BYTES: usize = 400;
/// Softmax temperature of the contrastive score: cosines 0.02 apart weigh e times apart.
pub const TEMPERATURE: f64 = 0.02;
/// Near-miss captions a caption is contrasted with.
pub const CAPTION_DISTRACTORS: usize = 6;
/// Cosine with the reference at or below which an answer has no agreement.
pub const AGREEMENT_FLOOR: f64 = 0.75;
/// Time a miner has.
const TIMEOUT_MS: u32 = 8_000;
/// Where task records live in the kv store.
const TASK_PREFIX: &str = "task/";

/// What the validator files for each task: everything needed to rebuild the reference.
#[derive(Debug, Serialize, Deserialize)]
struct TaskRecord {
    prompt: String,
    seed: u64,
    width: u32,
    height: u32,
    question: String,
}

fn record_key(ticket: u64) -> String {
    format!("{TASK_PREFIX}{ticket:016x}")
}

/// The contrastive score (see the module docs) from the cosine with the reference and with
/// each distractor.
pub fn contrastive(reference: f64, distractors: &[f64]) -> f64 {
    // Softmax relative to the reference's term, which keeps the exponents small.
    let others: f64 = distractors.iter().map(|c| ((c - reference) / TEMPERATURE).exp()).sum();
    let p = 1.0 / (1.0 + others);
    let chance = 1.0 / (distractors.len() as f64 + 1.0);
    ((p - chance) / (1.0 - chance)).clamp(0.0, 1.0)
}

struct Multimodal;

impl Validator for Multimodal {
    type Task = Json<VisualQuestion>;
    type Answer = String;

    fn generate_tasks(ctx: &EpochContext) -> Result<Vec<TaskSpec<Json<VisualQuestion>>>, String> {
        let mut miners: Vec<u16> = ctx.miners().collect();
        random::shuffle(&mut miners);
        let n = miners.len();
        let per_task = MINERS_PER_TASK.min(n);
        let mut draw = |bound: u64| random::below(bound);
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let scene = Scene::random(&mut draw);
            let question = Question::random(&scene, &mut draw);
            let (width, height) = SIZES[random::below(SIZES.len() as u64) as usize];
            let seed = random::next_u64();
            let image = render(&scene, seed, width, height).map_err(|e| e.to_string())?;
            let ticket = random::next_u64();
            let record = TaskRecord { prompt: scene.prompt(), seed, width, height, question: question.text() };
            kv::set_json(&record_key(ticket), &record)
                .map_err(|e| format!("the multimodal validator keeps its references in the kv store: {e:?}"))?;
            let task = VisualQuestion {
                ticket,
                question: question.text(),
                image_type: "image/png".into(),
                image: to_base64(&encode_png(&image)),
            };
            let to: Vec<u16> = (0..per_task).map(|k| miners[(i + k) % n]).collect();
            tasks.push(TaskSpec::new(format!("ask-{}-{i}", ctx.epoch), to, Json(task)).timeout_ms(TIMEOUT_MS));
        }
        Ok(tasks)
    }

    fn score(
        _ctx: &EpochContext,
        task: &Json<VisualQuestion>,
        answers: &[Answer<String>],
    ) -> Result<Vec<Score>, String> {
        let key = record_key(task.ticket);
        let record: TaskRecord = kv::get_json(&key).map_err(|e| format!("kv store: {e:?}"))?.ok_or_else(|| {
            format!("no record of task ticket {:016x}: not this validator's, or the store was reset", task.ticket)
        })?;
        let scene = Scene::parse(&record.prompt).map_err(|e| format!("recorded prompt: {e}"))?;
        let question = Question::parse(&record.question).ok_or("recorded question does not parse")?;
        let truth = question.answer(&scene);
        let mut candidates = vec![truth.sentence(&question)];
        match &truth {
            Reply::Caption(_) => {
                // Seeded by the ticket: the same task always meets the same distractors.
                let mut rng = SplitMix64::new(task.ticket);
                candidates.extend(caption_distractors(&scene, CAPTION_DISTRACTORS, &mut rng));
            }
            other => candidates.extend(other.alternatives().iter().map(|r| r.sentence(&question))),
        }
        let k = candidates.len();

        let texts: Vec<Option<&str>> = answers
            .iter()
            .map(|a| a.value().map(|t| t.trim()).filter(|t| !t.is_empty() && t.len() <= MAX_ANSWER_BYTES))
            .collect();
        let mut inputs = candidates.clone();
        inputs.extend(texts.iter().flatten().map(|t| t.to_string()));
        let vectors = if inputs.len() > k {
            compute::embed_text(MODEL, &inputs).map_err(|e| format!("text embedding failed: {e:?}"))?
        } else {
            Vec::new()
        };
        if !vectors.is_empty() && vectors.len() != inputs.len() {
            return Err(format!("{} embeddings for {} texts", vectors.len(), inputs.len()));
        }

        // What the reference itself scores against the distractors: the most an answer can.
        let reference_contrast = if vectors.is_empty() {
            1.0
        } else {
            let others: Vec<f64> = (1..k).map(|j| compute::cosine(&vectors[0], &vectors[j])).collect();
            contrastive(1.0, &others).max(1e-6)
        };
        let mut next = k;
        Ok(answers
            .iter()
            .zip(texts)
            .map(|(answer, text)| {
                let Some(text) = text else {
                    return Score::new(answer.uid, 0.0);
                };
                let v = &vectors[next];
                next += 1;
                let agreement = compute::cosine(v, &vectors[0]);
                let others: Vec<f64> = (1..k).map(|j| compute::cosine(v, &vectors[j])).collect();
                let contrast = (contrastive(agreement, &others) / reference_contrast).min(1.0);
                let gate = ((agreement - AGREEMENT_FLOOR) / (1.0 - AGREEMENT_FLOOR)).clamp(0.0, 1.0);
                let semantic = gate * (0.5 + 0.5 * contrast);
                match truth.matches(text) {
                    None => {
                        Score::new(answer.uid, semantic).metric("agreement", agreement).metric("contrastive", contrast)
                    }
                    Some(exact) => {
                        let exact = if exact { 1.0 } else { 0.0 };
                        Score::new(answer.uid, 0.5 * exact + 0.5 * semantic)
                            .metric("agreement", agreement)
                            .metric("contrastive", contrast)
                            .metric("exact", exact)
                    }
                }
            })
            .collect())
    }

    fn reward(_ctx: &EpochContext, state: Vec<UidState>, round: Vec<UidScore>) -> Result<RewardResult, String> {
        // Every task of the round is scored by now: its record has done its job.
        match kv::keys(TASK_PREFIX, 10_000) {
            Ok(keys) => {
                for key in keys {
                    if let Err(e) = kv::delete(&key) {
                        log::warn(&format!("could not delete task record {key}: {e:?}"));
                    }
                }
            }
            Err(e) => log::warn(&format!("could not list task records: {e:?}")),
        }
        Ok(ema_reward(state, &round, subnet_sdk::DEFAULT_ALPHA))
    }
}

export_validator!(Multimodal);
