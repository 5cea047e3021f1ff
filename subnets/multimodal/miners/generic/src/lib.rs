//! Multimodal-subnet adversary: one cached, generic caption for every image and question. It
//! is never wrong about the picture in general and never right about this one.
use subnet_scenes::protocol::VisualQuestion;
use subnet_sdk::prelude::*;

const CAPTION: &str = "A simple picture of some colourful geometric shapes on a plain background.";

struct Generic;

impl Miner for Generic {
    type Task = Json<VisualQuestion>;
    type Answer = String;

    fn answer(_request: &MinerRequest, _task: Json<VisualQuestion>) -> Result<String, String> {
        Ok(CAPTION.into())
    }
}

export_miner!(Generic);
