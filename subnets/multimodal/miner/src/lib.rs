//! Multimodal-subnet reference miner: a real (small) vision pipeline. It decodes the PNG,
//! classifies pixels by colour, finds connected components, tells shapes apart by how much of
//! their bounding box they fill and by their aspect, groups them and reads the relation
//! between groups from where they sit (`subnet_scenes::analyse`), then answers the question
//! from what it found. The task carries no prompt; the pixels are all it has.
use subnet_scenes::protocol::VisualQuestion;
use subnet_scenes::{DecodeLimits, Question, analyse, decode_image, from_base64};
use subnet_sdk::prelude::*;

/// Largest image accepted: base64 text and decoded bytes (a scene PNG is a few KB).
const LIMITS: DecodeLimits = DecodeLimits { max_bytes: 2 << 20, max_side: 1024 };

struct Looker;

impl Miner for Looker {
    type Task = Json<VisualQuestion>;
    type Answer = String;

    fn answer(_request: &MinerRequest, task: Json<VisualQuestion>) -> Result<String, String> {
        if task.image.len() > LIMITS.max_bytes * 4 / 3 + 4 {
            return Err("image too large".into());
        }
        let question =
            Question::parse(&task.question).ok_or_else(|| format!("unsupported question `{}`", task.question))?;
        let bytes = from_base64(&task.image).map_err(|e| format!("image is not base64: {e}"))?;
        let image = decode_image(&bytes, LIMITS).map_err(|e| format!("image: {e}"))?;
        let seen = analyse(&image);
        Ok(question.answer(&seen).sentence(&question))
    }
}

export_miner!(Looker);
