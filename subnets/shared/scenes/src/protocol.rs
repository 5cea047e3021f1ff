//! Task payloads of the image and multimodal subnets (JSON), shared by their validators and
//! miners so both sides read the same fields.
//!
//! Both are plain data from a validator; a miner still checks them (sizes are bounded by the
//! renderer, images by [`crate::codec::DecodeLimits`]).

use serde::{Deserialize, Serialize};

/// Image subnet task: draw `prompt` for `seed` on a `width` x `height` canvas; the answer is
/// the image itself (an `image/png` or `image/jpeg` payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageTask {
    /// A prompt of the scene grammar.
    pub prompt: String,
    /// Fixes the layout.
    pub seed: u64,
    /// Canvas width in pixels.
    pub width: u32,
    /// Canvas height in pixels.
    pub height: u32,
}

/// Multimodal subnet task: answer `question` about the picture; the answer is plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisualQuestion {
    /// Opaque number the validator files the task under; says nothing about the picture.
    pub ticket: u64,
    /// One of the questions of [`crate::question`].
    pub question: String,
    /// Media type of the image (`image/png`).
    pub image_type: String,
    /// The image, standard base64 with padding.
    pub image: String,
}
