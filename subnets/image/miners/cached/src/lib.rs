//! Image-subnet adversary: answers one cached picture for every prompt, resized to the asked
//! canvas so format and size checks pass. The validator sees the same picture come back for
//! different prompts in one round (its duplicate check) and a picture that agrees with none of
//! its references.
use subnet_scenes::protocol::ImageTask;
use subnet_scenes::{Scene, encode_png, render};
use subnet_sdk::prelude::*;

/// The one picture this miner has.
const CACHED_PROMPT: &str = "a large red circle above two small blue squares on a white background";

struct Cached;

impl Miner for Cached {
    type Task = Json<ImageTask>;
    type Answer = Payload;

    fn answer(_request: &MinerRequest, task: Json<ImageTask>) -> Result<Payload, String> {
        let scene = Scene::parse(CACHED_PROMPT).map_err(|e| e.to_string())?;
        let image = render(&scene, 0, task.width, task.height).map_err(|e| e.to_string())?;
        Ok(Payload { content_type: "image/png".into(), body: encode_png(&image) })
    }
}

export_miner!(Cached);
