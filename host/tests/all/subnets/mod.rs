//! The bundled subnets under `subnets/`, run end to end.

mod compute;
mod image;
mod multimodal;
mod prediction;
mod translation;
