//! Image-subnet adversary: reads the prompt right but ignores the seed, so every picture of a
//! prompt has the same layout (as a miner that skips the expensive, seed-driven part of
//! generation would). The validator's layout agreement with its own rendering for the real
//! seed exposes it: the shapes are right, their places are not.
use subnet_scenes::protocol::ImageTask;
use subnet_scenes::{Scene, encode_png, render};
use subnet_sdk::prelude::*;

struct Seedless;

impl Miner for Seedless {
    type Task = Json<ImageTask>;
    type Answer = Payload;

    fn answer(_request: &MinerRequest, task: Json<ImageTask>) -> Result<Payload, String> {
        let scene = Scene::parse(&task.prompt).map_err(|e| e.to_string())?;
        let image = render(&scene, 0, task.width, task.height).map_err(|e| e.to_string())?;
        Ok(Payload { content_type: "image/png".into(), body: encode_png(&image) })
    }
}

export_miner!(Seedless);
