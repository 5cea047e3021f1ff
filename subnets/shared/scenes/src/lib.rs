//! Scenes of coloured shapes: the "model" of subnetd's image and multimodal subnets.
//!
//! Image subnets on Bittensor validate by regeneration: the validator makes the reference
//! image for the same prompt and seed with the same model and compares. No diffusion model
//! runs here, so this crate is the model: a [grammar](scene) of prompts ("two large red
//! circles above a small blue square on a white background"), a deterministic
//! [renderer](render) that draws a prompt for a seed (the seed fixes the exact layout),
//! [PNG/JPEG coding](codec), an [analyser](analyse) that reads a scene back from pixels alone,
//! [questions](question) about scenes with their exact-answer checks, the pixel-level
//! [comparisons](compare) a validator runs on miners' images, and the subnets' task
//! [payloads](protocol).
//!
//! It builds for `wasm32-wasip2` guests and natively (its tests run natively and check what
//! guests rely on: render, encode, decode and analyse agree).
//!
//! Invariants: rendering is a pure function of (scene, seed, width, height); the analyser
//! reads back every rendered scene exactly (tested on 600 random scenes); decoding never
//! panics on hostile bytes and bounds its allocations by the header-checked dimensions.
#![deny(missing_docs)]

pub mod analyse;
pub mod codec;
pub mod compare;
pub mod protocol;
pub mod question;
pub mod render;
pub mod rng;
pub mod scene;

pub use analyse::{Analysis, Object, analyse};
pub use codec::{DecodeError, DecodeLimits, Format, decode_image, encode_png, from_base64, to_base64};
pub use compare::{Fingerprint, blankness, is_blank, layout_agreement};
pub use question::{Facts, Question, Reply, caption_distractors};
pub use render::{RenderError, RgbImage, render};
pub use rng::{Random, SplitMix64};
pub use scene::{Background, Colour, Group, ParseError, Relation, Scene, Shape, Size};
