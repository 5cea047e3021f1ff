//! Pixel-level checks a validator runs on images it did not make.
//!
//! - [`blankness`]: the share of pixels near the most common colour. A rendered scene always
//!   has at least half a percent of foreground, so [`BLANK_FROM`] and above is a blank image.
//! - [`layout_agreement`]: how well the shapes of an image cover the shapes of a reference,
//!   colour by colour: the intersection over union of their foreground, where a pixel agrees
//!   when both images give it the same shape colour. Background pixels on both sides do not
//!   count, so a big empty canvas earns nothing; shapes in the wrong place or colour count
//!   against.
//! - [`Fingerprint`]: a 32x32 grid of pixel classes (background or a shape colour) for spotting
//!   the same picture sent for different prompts; [`Fingerprint::similarity`] is the same
//!   intersection over union on the grid.
//!
//! Every function takes images of any size; comparisons of different sizes return 0.

use crate::analyse::nearest_colour;
use crate::render::RgbImage;
use crate::scene::Colour;

/// Blankness from which an image is blank (see [`blankness`]).
pub const BLANK_FROM: f64 = 0.997;

/// Fraction of pixels whose channels are all within 24 of the image's most common colour
/// (colours counted at 4 bits per channel). 1.0 for a uniform image; 0.0 for an empty one.
pub fn blankness(image: &RgbImage) -> f64 {
    let total = image.data.len() / 3;
    if total == 0 {
        return 0.0;
    }
    let mut counts = vec![0u32; 4096];
    for p in image.pixels() {
        counts[(usize::from(p[0] >> 4) << 8) | (usize::from(p[1] >> 4) << 4) | usize::from(p[2] >> 4)] += 1;
    }
    let mode = (0..4096).max_by_key(|i| counts[*i]).unwrap_or(0);
    let centre = [((mode >> 8) as u8) << 4 | 8, (((mode >> 4) & 15) as u8) << 4 | 8, ((mode & 15) as u8) << 4 | 8];
    let near = image.pixels().filter(|p| (0..3).all(|i| (i32::from(p[i]) - i32::from(centre[i])).abs() <= 24)).count();
    near as f64 / total as f64
}

/// Whether an image is blank (near-constant).
pub fn is_blank(image: &RgbImage) -> bool {
    blankness(image) >= BLANK_FROM
}

/// Class of a pixel for comparisons: 0 for anything that is not a shape colour, else 1 + the
/// colour's palette index.
fn class(p: [u8; 3]) -> u8 {
    nearest_colour(p).map_or(0, |c| 1 + Colour::ALL.iter().position(|x| *x == c).unwrap_or(0) as u8)
}

/// Intersection over union of the shape-coloured pixels of `image` and `reference` (see the
/// module docs); 0 when the sizes differ, 1 when neither has any shape pixel.
pub fn layout_agreement(reference: &RgbImage, image: &RgbImage) -> f64 {
    if (reference.width, reference.height) != (image.width, image.height) {
        return 0.0;
    }
    let (mut both, mut either) = (0u64, 0u64);
    for (a, b) in reference.pixels().zip(image.pixels()) {
        let (ca, cb) = (class(a), class(b));
        if ca != 0 || cb != 0 {
            either += 1;
            if ca == cb {
                both += 1;
            }
        }
    }
    if either == 0 { 1.0 } else { both as f64 / either as f64 }
}

/// Side of a [`Fingerprint`] grid.
pub const GRID: usize = 32;

/// A coarse picture of where the shape colours are (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(pub Vec<u8>);

impl Fingerprint {
    /// Samples the class of the pixel at the centre of each grid cell.
    pub fn of(image: &RgbImage) -> Fingerprint {
        let mut cells = Vec::with_capacity(GRID * GRID);
        for gy in 0..GRID {
            for gx in 0..GRID {
                let x = ((2 * gx + 1) as u64 * u64::from(image.width) / (2 * GRID) as u64) as u32;
                let y = ((2 * gy + 1) as u64 * u64::from(image.height) / (2 * GRID) as u64) as u32;
                let inside = x < image.width && y < image.height;
                cells.push(if inside { class(image.pixel(x, y)) } else { 0 });
            }
        }
        Fingerprint(cells)
    }

    /// Reads a fingerprint back from its bytes; `None` unless it has [`GRID`]² cells.
    pub fn from_bytes(bytes: &[u8]) -> Option<Fingerprint> {
        (bytes.len() == GRID * GRID).then(|| Fingerprint(bytes.to_vec()))
    }

    /// Intersection over union of the two grids' shape cells; 1 when neither has any.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        let (mut both, mut either) = (0u32, 0u32);
        for (a, b) in self.0.iter().zip(&other.0) {
            if *a != 0 || *b != 0 {
                either += 1;
                if a == b {
                    both += 1;
                }
            }
        }
        if either == 0 { 1.0 } else { f64::from(both) / f64::from(either) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render;
    use crate::rng::SplitMix64;
    use crate::scene::Scene;

    #[test]
    fn rendered_scenes_are_never_blank_and_flat_images_are() {
        let mut rng = SplitMix64::new(1);
        for seed in 0..300 {
            let scene = Scene::random(&mut rng);
            let image = render(&scene, seed, 256, 192).unwrap();
            assert!(!is_blank(&image), "{scene}: {}", blankness(&image));
        }
        assert!(is_blank(&RgbImage::filled(64, 64, [200, 10, 10])));
        // Faint noise on a flat image is still blank.
        let mut noisy = RgbImage::filled(64, 64, [100, 100, 100]);
        for i in 0..64 {
            noisy.set(i, i, [110, 95, 104]);
        }
        assert!(is_blank(&noisy));
    }

    #[test]
    fn layout_agreement_rewards_the_exact_layout_only() {
        let scene = Scene::parse("two large red circles above a small blue square on a white background").unwrap();
        let a = render(&scene, 1, 224, 224).unwrap();
        assert_eq!(layout_agreement(&a, &a), 1.0);
        let moved = render(&scene, 2, 224, 224).unwrap();
        assert!(layout_agreement(&a, &moved) < 0.5, "{}", layout_agreement(&a, &moved));
        let empty = RgbImage::filled(224, 224, [250, 250, 250]);
        assert_eq!(layout_agreement(&a, &empty), 0.0);
        assert_eq!(layout_agreement(&a, &render(&scene, 1, 200, 224).unwrap()), 0.0);
    }

    #[test]
    fn fingerprints_match_copies_not_other_scenes() {
        let mut rng = SplitMix64::new(2);
        let scenes: Vec<Scene> = (0..50).map(|_| Scene::random(&mut rng)).collect();
        let prints: Vec<Fingerprint> =
            scenes.iter().enumerate().map(|(i, s)| Fingerprint::of(&render(s, i as u64, 224, 224).unwrap())).collect();
        for (i, p) in prints.iter().enumerate() {
            assert_eq!(p.similarity(p), 1.0);
            assert_eq!(Fingerprint::from_bytes(&p.0).as_ref(), Some(p));
            for q in &prints[i + 1..] {
                assert!(p.similarity(q) < 0.8, "{} vs {}", scenes[i], p.similarity(q));
            }
        }
    }
}
