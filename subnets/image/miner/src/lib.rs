//! Image-subnet reference miner: draws the prompt for the task's seed with the scene renderer
//! (the subnet's "model") and answers the PNG. Deterministic: the same task gives the same
//! bytes, which is what the validator's regeneration check expects of honest work.
use subnet_scenes::protocol::ImageTask;
use subnet_scenes::{Scene, encode_png, render};
use subnet_sdk::prelude::*;

struct Renderer;

impl Miner for Renderer {
    type Task = Json<ImageTask>;
    type Answer = Payload;

    fn answer(_request: &MinerRequest, task: Json<ImageTask>) -> Result<Payload, String> {
        let scene = Scene::parse(&task.prompt).map_err(|e| format!("prompt `{}`: {e}", task.prompt))?;
        let image = render(&scene, task.seed, task.width, task.height).map_err(|e| e.to_string())?;
        Ok(Payload { content_type: "image/png".into(), body: encode_png(&image) })
    }
}

export_miner!(Renderer);
