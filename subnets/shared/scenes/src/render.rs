//! The deterministic renderer: the "model" both the validator and the honest miner run.
//!
//! `render(scene, seed, width, height)` draws every object of the scene, flat-coloured with
//! hard edges, on the background. The prompt fixes what is drawn (counts, sizes, colours,
//! shapes, which half each group is in); the seed fixes where: each object's exact size
//! (nominal ±8%) and position (anywhere in its group's region), drawn from [`SplitMix64`].
//!
//! Invariants (what the analyser and the tests rely on):
//! - Objects never overlap or touch: bounding boxes are at least 3% of the shorter side apart.
//! - Every object lies inside the canvas, at least 4% of the shorter side from its edge.
//! - In a two-group scene, the groups are separated along the relation's axis (first group
//!   wholly above / below / left / right of the second) and overlap on the other axis by at
//!   least 5% of the shorter side, so the relation is unambiguous from the pixels.
//! - The same (scene, seed, size) gives the same pixels on every platform: layout uses only
//!   basic float operations and integer maths; pixels are tested at their centres.
//!
//! Failure modes: a canvas outside [`MIN_SIDE`]..=[`MAX_SIDE`] is a [`RenderError`]. Placement
//! never fails: when random placement finds no room in [`LAYOUT_TRIES`] tries, objects fall
//! back to an evenly spaced row (or column) centred in their region.

use crate::rng::SplitMix64;
use crate::scene::{Group, Relation, Scene, Shape};

/// Smallest side of a canvas the renderer draws.
pub const MIN_SIDE: u32 = 64;
/// Largest side of a canvas the renderer draws.
pub const MAX_SIDE: u32 = 1024;
/// Random layouts tried before falling back to an even one.
pub const LAYOUT_TRIES: usize = 64;

/// An 8-bit RGB image, rows top to bottom.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}

impl RgbImage {
    /// An image filled with one colour.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> RgbImage {
        let n = width as usize * height as usize;
        let mut data = Vec::with_capacity(n * 3);
        for _ in 0..n {
            data.extend_from_slice(&rgb);
        }
        RgbImage { width, height, data }
    }

    /// The pixel at (x, y); the caller keeps x and y in range.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Sets the pixel at (x, y); the caller keeps x and y in range.
    pub fn set(&mut self, x: u32, y: u32, rgb: [u8; 3]) {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        self.data[i..i + 3].copy_from_slice(&rgb);
    }

    /// The pixels, in row order.
    pub fn pixels(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.data.chunks_exact(3).map(|p| [p[0], p[1], p[2]])
    }
}

/// Why a scene cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The canvas is too small or too large.
    #[error("canvas {width}x{height}: each side must be {MIN_SIDE} to {MAX_SIDE} pixels")]
    BadSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
}

/// An axis-aligned box, in pixels (floats; x grows right, y grows down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x0: f64,
    /// Top.
    pub y0: f64,
    /// Right.
    pub x1: f64,
    /// Bottom.
    pub y1: f64,
}

impl Rect {
    fn width(&self) -> f64 {
        self.x1 - self.x0
    }
    fn height(&self) -> f64 {
        self.y1 - self.y0
    }
    fn grown(&self, by: f64) -> Rect {
        Rect { x0: self.x0 - by, y0: self.y0 - by, x1: self.x1 + by, y1: self.y1 + by }
    }
    fn intersects(&self, other: &Rect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }
    fn union(&self, other: &Rect) -> Rect {
        Rect {
            x0: self.x0.min(other.x0),
            y0: self.y0.min(other.y0),
            x1: self.x1.max(other.x1),
            y1: self.y1.max(other.y1),
        }
    }
}

/// One object of a laid-out scene.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    /// Which group (0 = the prompt's first).
    pub group: usize,
    /// Its shape.
    pub shape: Shape,
    /// Its colour.
    pub rgb: [u8; 3],
    /// Its bounding box.
    pub bbox: Rect,
}

/// Width and height of a shape of extent `s`.
fn extent(shape: Shape, s: f64) -> (f64, f64) {
    match shape {
        Shape::Circle | Shape::Square => (s, s),
        // An equilateral-ish triangle: height = s * sqrt(3)/2, rounded to a constant.
        Shape::Triangle => (s, s * 0.866),
        Shape::Rectangle => (s, s * 0.5),
    }
}

/// The regions of the groups: the whole canvas inside the margin, or its two halves.
fn regions(scene: &Scene, width: f64, height: f64, margin: f64, gap: f64) -> Vec<Rect> {
    let full = Rect { x0: margin, y0: margin, x1: width - margin, y1: height - margin };
    let Some((relation, _)) = scene.second else {
        return vec![full];
    };
    let (xm, ym) = ((full.x0 + full.x1) / 2.0, (full.y0 + full.y1) / 2.0);
    let top = Rect { y1: ym - gap / 2.0, ..full };
    let bottom = Rect { y0: ym + gap / 2.0, ..full };
    let left = Rect { x1: xm - gap / 2.0, ..full };
    let right = Rect { x0: xm + gap / 2.0, ..full };
    match relation {
        Relation::Above => vec![top, bottom],
        Relation::Below => vec![bottom, top],
        Relation::LeftOf => vec![left, right],
        Relation::RightOf => vec![right, left],
    }
}

/// Sizes of a group's objects, drawn from the seed (nominal ±8%), capped to fit the region.
fn sizes(group: &Group, region: &Rect, m: f64, gap: f64, rng: &mut SplitMix64) -> Vec<(f64, f64)> {
    let n = f64::from(group.count);
    // Whatever the jitter, `count` objects and their gaps fit side by side along the region's
    // longer axis, and one fits across it.
    let along = region.width().max(region.height());
    let across = region.width().min(region.height());
    let cap = ((along - gap * n) / n).min(across - 2.0).max(1.0);
    (0..group.count)
        .map(|_| {
            let s = (group.size.fraction() * m * rng.range(0.92, 1.08)).min(cap);
            extent(group.shape, s)
        })
        .collect()
}

/// Evenly spaced, centred along the region's longer axis; always fits (see [`sizes`]).
fn even_row(group: usize, region: &Rect, dims: &[(f64, f64)], shape: Shape, rgb: [u8; 3]) -> Vec<Placed> {
    let horizontal = region.width() >= region.height();
    let (cx, cy) = ((region.x0 + region.x1) / 2.0, (region.y0 + region.y1) / 2.0);
    let n = dims.len() as f64;
    dims.iter()
        .enumerate()
        .map(|(i, (w, h))| {
            let t = (i as f64 + 0.5) / n;
            let (x, y) =
                if horizontal { (region.x0 + t * region.width(), cy) } else { (cx, region.y0 + t * region.height()) };
            Placed {
                group,
                shape,
                rgb,
                bbox: Rect { x0: x - w / 2.0, y0: y - h / 2.0, x1: x + w / 2.0, y1: y + h / 2.0 },
            }
        })
        .collect()
}

/// Random positions inside the region, apart from each other by `gap`; `None` if no room.
fn scatter(
    group: usize,
    region: &Rect,
    dims: &[(f64, f64)],
    shape: Shape,
    rgb: [u8; 3],
    gap: f64,
    rng: &mut SplitMix64,
) -> Option<Vec<Placed>> {
    let mut placed: Vec<Placed> = Vec::new();
    for (w, h) in dims {
        let mut found = None;
        for _ in 0..LAYOUT_TRIES {
            let free_x = region.width() - w;
            let free_y = region.height() - h;
            if free_x < 0.0 || free_y < 0.0 {
                return None;
            }
            let x0 = region.x0 + rng.unit() * free_x;
            let y0 = region.y0 + rng.unit() * free_y;
            let bbox = Rect { x0, y0, x1: x0 + w, y1: y0 + h };
            if placed.iter().all(|p| !p.bbox.grown(gap).intersects(&bbox)) {
                found = Some(bbox);
                break;
            }
        }
        placed.push(Placed { group, shape, rgb, bbox: found? });
    }
    Some(placed)
}

fn hull(objects: &[Placed], group: usize) -> Option<Rect> {
    objects.iter().filter(|o| o.group == group).map(|o| o.bbox).reduce(|a, b| a.union(&b))
}

/// Whether the two groups overlap by at least `min_overlap` on the axis across the relation
/// (so that, say, "above" cannot also read as "to the left of", even after rasterising).
fn unambiguous(scene: &Scene, objects: &[Placed], min_overlap: f64) -> bool {
    let (Some((relation, _)), Some(a), Some(b)) = (scene.second, hull(objects, 0), hull(objects, 1)) else {
        return true;
    };
    let overlap =
        if relation.is_vertical() { a.x1.min(b.x1) - a.x0.max(b.x0) } else { a.y1.min(b.y1) - a.y0.max(b.y0) };
    overlap >= min_overlap
}

/// Where every object of `scene` goes on a `width` x `height` canvas for `seed`.
pub fn layout(scene: &Scene, seed: u64, width: u32, height: u32) -> Result<Vec<Placed>, RenderError> {
    if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) {
        return Err(RenderError::BadSize { width, height });
    }
    let (w, h) = (f64::from(width), f64::from(height));
    let m = w.min(h);
    let (margin, gap) = (0.04 * m, 0.03 * m);
    let regions = regions(scene, w, h, margin, gap);
    // One stream for sizes, one for positions: the sizes stay put when a layout is redrawn.
    let mut size_rng = SplitMix64::new(seed ^ 0x5CE9_E5EE_D512_E5A1);
    let mut pos_rng = SplitMix64::new(seed ^ 0x1A70_B05E_ED00_0001);
    let groups: Vec<&Group> = scene.groups().collect();
    let dims: Vec<Vec<(f64, f64)>> =
        groups.iter().zip(&regions).map(|(g, r)| sizes(g, r, m, gap, &mut size_rng)).collect();
    'tries: for _ in 0..LAYOUT_TRIES {
        let mut objects = Vec::new();
        for (i, group) in groups.iter().enumerate() {
            match scatter(i, &regions[i], &dims[i], group.shape, group.colour.rgb(), gap, &mut pos_rng) {
                Some(placed) => objects.extend(placed),
                None => continue 'tries,
            }
        }
        if unambiguous(scene, &objects, 0.05 * m) {
            return Ok(objects);
        }
    }
    Ok(groups
        .iter()
        .enumerate()
        .flat_map(|(i, g)| even_row(i, &regions[i], &dims[i], g.shape, g.colour.rgb()))
        .collect())
}

/// Whether the pixel centre (px, py) lies inside the object.
fn covers(object: &Placed, px: f64, py: f64) -> bool {
    let b = &object.bbox;
    if px < b.x0 || px > b.x1 || py < b.y0 || py > b.y1 {
        return false;
    }
    let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
    match object.shape {
        Shape::Square | Shape::Rectangle => true,
        Shape::Circle => {
            let r = b.width() / 2.0;
            let (dx, dy) = (px - cx, py - cy);
            dx * dx + dy * dy <= r * r
        }
        Shape::Triangle => {
            // Apex at the top centre, base along the bottom edge.
            let half = (py - b.y0) / b.height() * b.width() / 2.0;
            (px - cx).abs() <= half
        }
    }
}

/// Draws `objects` onto `image`.
pub fn draw(image: &mut RgbImage, objects: &[Placed]) {
    for object in objects {
        let b = &object.bbox;
        let (x0, y0) = (b.x0.floor().max(0.0) as u32, b.y0.floor().max(0.0) as u32);
        let x1 = (b.x1.ceil().max(0.0) as u32).min(image.width);
        let y1 = (b.y1.ceil().max(0.0) as u32).min(image.height);
        for y in y0..y1 {
            for x in x0..x1 {
                if covers(object, f64::from(x) + 0.5, f64::from(y) + 0.5) {
                    image.set(x, y, object.rgb);
                }
            }
        }
    }
}

/// Renders `scene` for `seed` on a `width` x `height` canvas.
pub fn render(scene: &Scene, seed: u64, width: u32, height: u32) -> Result<RgbImage, RenderError> {
    let objects = layout(scene, seed, width, height)?;
    let mut image = RgbImage::filled(width, height, scene.background.rgb());
    draw(&mut image, &objects);
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Random, SplitMix64};

    #[test]
    fn layouts_keep_their_invariants() {
        let mut rng = SplitMix64::new(11);
        for i in 0..400u64 {
            let scene = Scene::random(&mut rng);
            let (w, h) = [(160, 160), (224, 224), (256, 192), (192, 256), (320, 160)][rng.below(5) as usize];
            let objects = layout(&scene, i, w, h).unwrap();
            let count: u8 = scene.groups().map(|g| g.count).sum();
            assert_eq!(objects.len(), usize::from(count));
            let m = f64::from(w.min(h));
            for (a, oa) in objects.iter().enumerate() {
                assert!(oa.bbox.x0 >= 0.04 * m - 1e-9 && oa.bbox.x1 <= f64::from(w) - 0.04 * m + 1e-9);
                assert!(oa.bbox.y0 >= 0.04 * m - 1e-9 && oa.bbox.y1 <= f64::from(h) - 0.04 * m + 1e-9);
                for ob in &objects[a + 1..] {
                    assert!(!oa.bbox.grown(0.03 * m - 1e-6).intersects(&ob.bbox), "{scene} seed {i}");
                }
            }
            assert!(unambiguous(&scene, &objects, 0.05 * m - 1e-9), "{scene} seed {i}");
        }
    }

    #[test]
    fn the_seed_moves_objects_and_the_same_seed_repeats_them() {
        let scene = Scene::parse("two large red circles above a small blue square on a white background").unwrap();
        let a = render(&scene, 1, 224, 224).unwrap();
        assert_eq!(a, render(&scene, 1, 224, 224).unwrap());
        assert_ne!(a, render(&scene, 2, 224, 224).unwrap());
        assert_eq!(a.pixel(0, 0), [250, 250, 250]);
        let red = a.pixels().filter(|p| *p == [220, 40, 40]).count();
        let blue = a.pixels().filter(|p| *p == [40, 90, 220]).count();
        // Two discs of about 0.22 * 224 px across and one square of about 0.11 * 224.
        let disc = std::f64::consts::PI / 4.0 * (0.22 * 224.0f64).powi(2);
        assert!((red as f64 - 2.0 * disc).abs() < 0.25 * 2.0 * disc, "{red}");
        assert!((blue as f64 - (0.11 * 224.0f64).powi(2)).abs() < 0.25 * (0.11 * 224.0f64).powi(2), "{blue}");
    }

    #[test]
    fn bad_canvas_sizes_are_errors() {
        let scene = Scene::parse("a large red circle on a white background").unwrap();
        assert!(matches!(render(&scene, 0, 10, 224), Err(RenderError::BadSize { .. })));
        assert!(render(&scene, 0, 224, 5000).is_err());
    }
}
