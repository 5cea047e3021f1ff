//! A small vision pipeline: reads a scene back from pixels alone.
//!
//! Steps: classify every pixel to the nearest palette colour (six shape colours, three
//! backgrounds) or to "other" when nothing is close; take the most common background class as
//! the background; find connected components (4-connected) of each shape colour; drop specks
//! smaller than [`min_area`]; classify each component's shape from its bounding box:
//!
//! | fill (area / box) | aspect (w / h) | shape |
//! | --- | --- | --- |
//! | < 0.65 | any | triangle (a triangle fills half its box) |
//! | 0.65 to 0.9 | any | circle (a disc fills pi/4 = 0.785) |
//! | >= 0.9 | 1/1.5 to 1.5 | square |
//! | >= 0.9 | otherwise | rectangle (the renderer's are 2:1) |
//!
//! and its size from its longer side relative to the canvas's shorter side (large from
//! [`LARGE_FROM`], halfway between the renderer's nominal 0.11 and 0.22). Groups are objects
//! of one colour and shape; the relation between two groups is the axis along which their
//! bounding hulls separate (the wider gap wins if both do).
//!
//! It never sees a prompt: it works on any RGB image, and on images that are not scenes it
//! returns whatever objects it finds ([`Analysis::scene`] then says why it is no scene).

use std::collections::BTreeMap;

use crate::render::RgbImage;
use crate::scene::{Background, Colour, Group, MAX_COUNT, Relation, Scene, Shape, Size};

/// Longer side over the canvas's shorter side from which an object counts as large.
pub const LARGE_FROM: f64 = 0.165;

/// Squared RGB distance beyond which a pixel matches no palette colour.
const MAX_DISTANCE2: i32 = 100 * 100;

/// A pixel's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Shape(Colour),
    Back(Background),
    Other,
}

fn distance2(a: [u8; 3], b: [u8; 3]) -> i32 {
    (0..3).map(|i| (i32::from(a[i]) - i32::from(b[i])).pow(2)).sum()
}

fn classify(rgb: [u8; 3]) -> Class {
    let shapes = Colour::ALL.iter().map(|c| (Class::Shape(*c), distance2(rgb, c.rgb())));
    let backs = Background::ALL.iter().map(|b| (Class::Back(*b), distance2(rgb, b.rgb())));
    match shapes.chain(backs).min_by_key(|(_, d)| *d) {
        Some((class, d)) if d <= MAX_DISTANCE2 => class,
        _ => Class::Other,
    }
}

/// The palette colour nearest to `rgb`, if any is near (see the module docs).
pub fn nearest_colour(rgb: [u8; 3]) -> Option<Colour> {
    match classify(rgb) {
        Class::Shape(c) => Some(c),
        _ => None,
    }
}

/// Smallest component kept as an object: 1/2500 of the canvas, at least 8 pixels.
pub fn min_area(width: u32, height: u32) -> u32 {
    ((u64::from(width) * u64::from(height) / 2500) as u32).max(8)
}

/// One object found in an image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Object {
    /// Its colour.
    pub colour: Colour,
    /// Its shape, from fill and aspect.
    pub shape: Shape,
    /// Its size class.
    pub size: Size,
    /// Bounding box: left, top, right, bottom (right and bottom exclusive).
    pub bbox: [u32; 4],
    /// Pixels in the component.
    pub area: u32,
    /// Area over bounding-box area.
    pub fill: f64,
    /// Box width over box height.
    pub aspect: f64,
}

/// What the analyser read from an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// The most common background class (white when the image has no background pixels).
    pub background: Background,
    /// Objects, in the order their top-left pixel is met scanning rows.
    pub objects: Vec<Object>,
    /// Foreground pixels left out: specks and pixels of no palette colour.
    pub stray_pixels: u32,
}

fn shape_of(fill: f64, aspect: f64) -> Shape {
    if fill < 0.65 {
        Shape::Triangle
    } else if fill < 0.9 {
        Shape::Circle
    } else if (1.0 / 1.5..=1.5).contains(&aspect) {
        Shape::Square
    } else {
        Shape::Rectangle
    }
}

/// Analyses an image (see the module docs).
pub fn analyse(image: &RgbImage) -> Analysis {
    let (w, h) = (image.width as usize, image.height as usize);
    let classes: Vec<Class> = image.pixels().map(classify).collect();
    let mut back_counts = [0u32; 3];
    for class in &classes {
        if let Class::Back(b) = class {
            back_counts[Background::ALL.iter().position(|x| x == b).unwrap_or(0)] += 1;
        }
    }
    let background = Background::ALL[(0..3).max_by_key(|i| (back_counts[*i], 2 - *i)).unwrap_or(0)];

    let min = min_area(image.width, image.height);
    let m = f64::from(image.width.min(image.height));
    let mut seen = vec![false; w * h];
    let mut objects = Vec::new();
    let mut stray = 0u32;
    let mut stack: Vec<usize> = Vec::new();
    for start in 0..w * h {
        let colour = match classes[start] {
            Class::Shape(c) if !seen[start] => c,
            Class::Other => {
                stray += 1;
                continue;
            }
            _ => continue,
        };
        // Flood fill with an explicit stack: components can be large, guests have small stacks.
        seen[start] = true;
        stack.push(start);
        let (mut area, mut x0, mut y0, mut x1, mut y1) = (0u32, usize::MAX, usize::MAX, 0usize, 0usize);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            area += 1;
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x + 1);
            y1 = y1.max(y + 1);
            let mut visit = |j: usize| {
                if !seen[j] && classes[j] == Class::Shape(colour) {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        if area < min {
            stray += area;
            continue;
        }
        let (bw, bh) = ((x1 - x0) as f64, (y1 - y0) as f64);
        let fill = f64::from(area) / (bw * bh);
        let aspect = bw / bh;
        let size = if bw.max(bh) / m >= LARGE_FROM { Size::Large } else { Size::Small };
        objects.push(Object {
            colour,
            shape: shape_of(fill, aspect),
            size,
            bbox: [x0 as u32, y0 as u32, x1 as u32, y1 as u32],
            area,
            fill,
            aspect,
        });
    }
    Analysis { width: image.width, height: image.height, background, objects, stray_pixels: stray }
}

/// Objects of one colour and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundGroup {
    /// The group as the grammar says it (size by majority, ties to large).
    pub group: Group,
    /// The bounding hull of its objects: left, top, right, bottom.
    pub hull: [u32; 4],
    /// Its objects' count may exceed the grammar's [`MAX_COUNT`]; this is the true count.
    pub count: usize,
}

impl Analysis {
    /// The objects grouped by colour and shape, in order of first appearance.
    pub fn groups(&self) -> Vec<FoundGroup> {
        let mut order: Vec<(Colour, Shape)> = Vec::new();
        let mut members: BTreeMap<(Colour, Shape), Vec<&Object>> = BTreeMap::new();
        for o in &self.objects {
            let key = (o.colour, o.shape);
            if !members.contains_key(&key) {
                order.push(key);
            }
            members.entry(key).or_default().push(o);
        }
        order
            .into_iter()
            .map(|key| {
                let objs = &members[&key];
                let large = objs.iter().filter(|o| o.size == Size::Large).count();
                let hull = objs.iter().fold([u32::MAX, u32::MAX, 0, 0], |h, o| {
                    [h[0].min(o.bbox[0]), h[1].min(o.bbox[1]), h[2].max(o.bbox[2]), h[3].max(o.bbox[3])]
                });
                FoundGroup {
                    group: Group {
                        count: objs.len().min(usize::from(u8::MAX)) as u8,
                        size: if 2 * large >= objs.len() { Size::Large } else { Size::Small },
                        colour: key.0,
                        shape: key.1,
                    },
                    hull,
                    count: objs.len(),
                }
            })
            .collect()
    }

    /// The scene the image shows, in canonical form, or why it shows none.
    pub fn scene(&self) -> Result<Scene, String> {
        let groups = self.groups();
        if let Some(g) = groups.iter().find(|g| g.count > usize::from(MAX_COUNT)) {
            return Err(format!(
                "{} {} {}s: more than {MAX_COUNT} in a group",
                g.count,
                g.group.colour.name(),
                g.group.shape.name()
            ));
        }
        match groups.as_slice() {
            [] => Err("no objects found".into()),
            [one] => Ok(Scene { first: one.group, second: None, background: self.background }),
            [a, b] => {
                let (ha, hb) = (a.hull, b.hull);
                // Gaps between the hulls along each axis (negative when they overlap); the
                // groups are stacked along the axis with the wider gap.
                let gap = |lo: usize, hi: usize| {
                    (i64::from(hb[lo]) - i64::from(ha[hi])).max(i64::from(ha[lo]) - i64::from(hb[hi]))
                };
                let (gap_y, gap_x) = (gap(1, 3), gap(0, 2));
                let (first, second, relation) = if gap_y >= 0 && gap_y >= gap_x {
                    if ha[1] < hb[1] { (a, b, Relation::Above) } else { (b, a, Relation::Above) }
                } else if gap_x >= 0 {
                    if ha[0] < hb[0] { (a, b, Relation::LeftOf) } else { (b, a, Relation::LeftOf) }
                } else {
                    // Interleaved groups: go by the centres, along the axis they differ most.
                    let centre = |h: [u32; 4]| (f64::from(h[0] + h[2]) / 2.0, f64::from(h[1] + h[3]) / 2.0);
                    let ((ax, ay), (bx, by)) = (centre(ha), centre(hb));
                    if (ay - by).abs() >= (ax - bx).abs() {
                        if ay <= by { (a, b, Relation::Above) } else { (b, a, Relation::Above) }
                    } else if ax <= bx {
                        (a, b, Relation::LeftOf)
                    } else {
                        (b, a, Relation::LeftOf)
                    }
                };
                Ok(Scene { first: first.group, second: Some((relation, second.group)), background: self.background })
            }
            more => Err(format!("{} kinds of object; scenes have one or two", more.len())),
        }
    }

    /// A one-sentence caption: the scene's caption, or a plain list of what was found when the
    /// image is not a scene of the grammar.
    pub fn caption(&self) -> String {
        if let Ok(scene) = self.scene() {
            return scene.caption();
        }
        let groups = self.groups();
        if groups.is_empty() {
            return format!("An empty {} image.", self.background.name());
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|g| {
                let count = crate::scene::NUMBER_WORDS.get(g.count).copied().unwrap_or("many");
                format!(
                    "{count} {} {} {}",
                    g.group.size.name(),
                    g.group.colour.name(),
                    g.group.shape.noun(g.count.min(2) as u8)
                )
            })
            .collect();
        crate::scene::capitalise(&format!("{} on a {} background.", parts.join(" and "), self.background.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render;
    use crate::rng::{Random, SplitMix64};

    #[test]
    fn reads_back_every_scene_it_renders() {
        let mut rng = SplitMix64::new(5);
        let mut failures = Vec::new();
        for i in 0..600u64 {
            let scene = Scene::random(&mut rng);
            let (w, h) = [(160, 160), (224, 224), (256, 192), (192, 256)][rng.below(4) as usize];
            let image = render(&scene, i, w, h).unwrap();
            let analysis = analyse(&image);
            assert_eq!(analysis.stray_pixels, 0);
            if analysis.scene() != Ok(scene.canonical()) {
                failures.push(format!("{scene} ({w}x{h}, seed {i}): {:?}", analysis.scene()));
            }
        }
        assert!(failures.is_empty(), "{} of 600 misread:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn shape_rules() {
        assert_eq!(shape_of(0.5, 1.15), Shape::Triangle);
        assert_eq!(shape_of(0.78, 1.0), Shape::Circle);
        assert_eq!(shape_of(1.0, 1.0), Shape::Square);
        assert_eq!(shape_of(1.0, 2.0), Shape::Rectangle);
        assert_eq!(shape_of(1.0, 0.5), Shape::Rectangle);
    }

    #[test]
    fn blank_and_odd_images_are_no_scene() {
        let blank = RgbImage::filled(100, 100, [15, 15, 15]);
        let a = analyse(&blank);
        assert_eq!(a.background, Background::Black);
        assert!(a.objects.is_empty());
        assert!(a.scene().is_err());
        assert_eq!(a.caption(), "An empty black image.");

        // Four red squares: counts above the grammar's still get a caption.
        let mut img = RgbImage::filled(200, 200, Background::White.rgb());
        for k in 0..4u32 {
            for y in 20..40 {
                for x in (10 + 45 * k)..(30 + 45 * k) {
                    img.set(x, y, Colour::Red.rgb());
                }
            }
        }
        let a = analyse(&img);
        assert_eq!(a.objects.len(), 4);
        assert!(a.scene().unwrap_err().contains("more than"));
        assert_eq!(a.caption(), "Four small red squares on a white background.");
    }
}
