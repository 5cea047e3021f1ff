//! Questions about a scene, their true answers, and how answers are read.
//!
//! The question texts are part of the multimodal subnet's protocol (miners parse them):
//!
//! | question | kind |
//! | --- | --- |
//! | `Describe the image in one sentence.` | caption |
//! | `How many circles are there?` | count of a shape |
//! | `How many red shapes are there?` | count of a colour |
//! | `How many shapes are there in total?` | count of everything |
//! | `What colour is the square?` | colour of a shape (asked only when one colour has it) |
//! | `What shape is the blue object?` | shape of a colour (asked only when one shape has it) |
//!
//! Texts are singular whatever the count, so the wording gives nothing away.
//!
//! [`Facts`] is what a question is answered from: a [`Scene`] (the validator, which knows the
//! prompt) or an [`Analysis`] (a miner, which only has pixels) give the same answers for the
//! same picture. [`Reply::sentence`] is the reference answer's wording; [`Reply::matches`] is
//! the exact-answer check: the answer must mention the right value and no other value of its
//! kind, so hedging ("one, two or three") fails.

use std::collections::BTreeSet;

use crate::analyse::Analysis;
use crate::rng::Random;
use crate::scene::{Background, Colour, NUMBER_WORDS, Scene, Shape, capitalise, words};

/// What can be asked about a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Question {
    /// Describe it.
    Caption,
    /// How many of a shape.
    CountShape(Shape),
    /// How many of a colour.
    CountColour(Colour),
    /// How many objects.
    CountAll,
    /// The colour of a shape.
    ColourOf(Shape),
    /// The shape of a colour.
    ShapeOf(Colour),
}

/// The true answer to a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A caption.
    Caption(String),
    /// A count.
    Number(u32),
    /// Colours (exactly one for a well-posed question).
    Colours(BTreeSet<Colour>),
    /// Shapes (exactly one for a well-posed question).
    Shapes(BTreeSet<Shape>),
}

/// What a picture holds, for answering questions.
pub trait Facts {
    /// Every object's colour and shape.
    fn objects(&self) -> Vec<(Colour, Shape)>;
    /// A caption of the picture.
    fn describe(&self) -> String;
}

impl Facts for Scene {
    fn objects(&self) -> Vec<(Colour, Shape)> {
        self.groups().flat_map(|g| std::iter::repeat_n((g.colour, g.shape), usize::from(g.count))).collect()
    }
    fn describe(&self) -> String {
        self.caption()
    }
}

impl Facts for Analysis {
    fn objects(&self) -> Vec<(Colour, Shape)> {
        self.objects.iter().map(|o| (o.colour, o.shape)).collect()
    }
    fn describe(&self) -> String {
        self.caption()
    }
}

fn plural_count(n: u32, singular: &str) -> String {
    match n {
        0 => format!("There are no {singular}s."),
        1 => format!("There is one {singular}."),
        n => {
            format!("There are {} {singular}s.", NUMBER_WORDS.get(n as usize).map_or(n.to_string(), |w| w.to_string()))
        }
    }
}

fn list<T>(items: &BTreeSet<T>, name: impl Fn(&T) -> &'static str) -> String {
    let names: Vec<&str> = items.iter().map(name).collect();
    match names.as_slice() {
        [] => "nothing".into(),
        [one] => (*one).into(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl Question {
    /// The question's text (see the module docs).
    pub fn text(&self) -> String {
        match self {
            Question::Caption => "Describe the image in one sentence.".into(),
            Question::CountShape(s) => format!("How many {}s are there?", s.name()),
            Question::CountColour(c) => format!("How many {} shapes are there?", c.name()),
            Question::CountAll => "How many shapes are there in total?".into(),
            Question::ColourOf(s) => format!("What colour is the {}?", s.name()),
            Question::ShapeOf(c) => format!("What shape is the {} object?", c.name()),
        }
    }

    /// Reads a question text; `None` when it is none of the forms in the module docs.
    pub fn parse(text: &str) -> Option<Question> {
        let w = words(text);
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        match w.as_slice() {
            ["describe", ..] => Some(Question::Caption),
            ["how", "many", "shapes", "are", "there", "in", "total"] => Some(Question::CountAll),
            ["how", "many", colour, "shapes", "are", "there"] => Colour::from_word(colour).map(Question::CountColour),
            ["how", "many", shape, "are", "there"] => Shape::from_word(shape).map(Question::CountShape),
            ["what", "colour" | "color", "is" | "are", "the", shape] => Shape::from_word(shape).map(Question::ColourOf),
            ["what", "shape", "is" | "are", "the", colour, "object" | "objects"] => {
                Colour::from_word(colour).map(Question::ShapeOf)
            }
            _ => None,
        }
    }

    /// The true answer, from `facts`.
    pub fn answer(&self, facts: &dyn Facts) -> Reply {
        let objects = facts.objects();
        let count = |pred: &dyn Fn(&(Colour, Shape)) -> bool| objects.iter().filter(|o| pred(o)).count() as u32;
        match *self {
            Question::Caption => Reply::Caption(facts.describe()),
            Question::CountShape(s) => Reply::Number(count(&|o| o.1 == s)),
            Question::CountColour(c) => Reply::Number(count(&|o| o.0 == c)),
            Question::CountAll => Reply::Number(objects.len() as u32),
            Question::ColourOf(s) => Reply::Colours(objects.iter().filter(|o| o.1 == s).map(|o| o.0).collect()),
            Question::ShapeOf(c) => Reply::Shapes(objects.iter().filter(|o| o.0 == c).map(|o| o.1).collect()),
        }
    }

    /// Whether the question has exactly one right answer for `facts` (the validator asks only
    /// those): a colour question needs the shape in exactly one colour, and so on.
    pub fn well_posed(&self, facts: &dyn Facts) -> bool {
        match self.answer(facts) {
            Reply::Colours(set) => set.len() == 1,
            Reply::Shapes(set) => set.len() == 1,
            _ => true,
        }
    }

    /// A well-posed question about `scene`, every kind about equally likely (counts of a shape
    /// or colour that is absent come up too, so "zero" is a possible answer).
    pub fn random(scene: &Scene, rng: &mut dyn Random) -> Question {
        let groups: Vec<_> = scene.groups().copied().collect();
        let pick_group = |rng: &mut dyn Random| groups[rng.below(groups.len() as u64) as usize];
        loop {
            let q = match rng.below(6) {
                0 => Question::Caption,
                1 => Question::CountShape(if rng.below(5) == 0 {
                    Shape::ALL[rng.below(4) as usize]
                } else {
                    pick_group(rng).shape
                }),
                2 => Question::CountColour(if rng.below(5) == 0 {
                    Colour::ALL[rng.below(6) as usize]
                } else {
                    pick_group(rng).colour
                }),
                3 => Question::CountAll,
                4 => Question::ColourOf(pick_group(rng).shape),
                _ => Question::ShapeOf(pick_group(rng).colour),
            };
            if q.well_posed(scene) {
                return q;
            }
        }
    }
}

impl Reply {
    /// The answer as one sentence: "There are two circles.", "The square is red.", or the
    /// caption itself.
    pub fn sentence(&self, question: &Question) -> String {
        match (self, question) {
            (Reply::Caption(text), _) => text.clone(),
            (Reply::Number(n), Question::CountShape(s)) => plural_count(*n, s.name()),
            (Reply::Number(n), Question::CountColour(c)) => plural_count(*n, &format!("{} shape", c.name())),
            (Reply::Number(n), _) => plural_count(*n, "shape"),
            (Reply::Colours(set), Question::ColourOf(s)) => {
                format!("The {} is {}.", s.name(), list(set, |c| c.name()))
            }
            (Reply::Colours(set), _) => capitalise(&format!("{}.", list(set, |c| c.name()))),
            (Reply::Shapes(set), Question::ShapeOf(c)) => {
                let article = if set.len() == 1 { "a " } else { "" };
                format!("The {} object is {article}{}.", c.name(), list(set, |s| s.name()))
            }
            (Reply::Shapes(set), _) => capitalise(&format!("{}.", list(set, |s| s.name()))),
        }
    }

    /// Other answers of the same kind, worded the same way: what a vague answer cannot tell
    /// apart from the right one. Empty for captions (see [`caption_distractors`]).
    pub fn alternatives(&self) -> Vec<Reply> {
        match self {
            Reply::Caption(_) => Vec::new(),
            Reply::Number(n) => (0..=6).filter(|k| k != n).map(Reply::Number).collect(),
            Reply::Colours(set) => Colour::ALL
                .into_iter()
                .filter(|c| !set.contains(c))
                .map(|c| Reply::Colours(BTreeSet::from([c])))
                .collect(),
            Reply::Shapes(set) => Shape::ALL
                .into_iter()
                .filter(|s| !set.contains(s))
                .map(|s| Reply::Shapes(BTreeSet::from([s])))
                .collect(),
        }
    }

    /// The exact-answer check (see the module docs); `None` for captions, which have no
    /// single exact wording.
    pub fn matches(&self, answer: &str) -> Option<bool> {
        let w = words(answer);
        match self {
            Reply::Caption(_) => None,
            Reply::Number(n) => Some(numbers_in(&w) == BTreeSet::from([*n])),
            Reply::Colours(set) => {
                let said: BTreeSet<Colour> = w.iter().filter_map(|x| Colour::from_word(x)).collect();
                let backgrounds = w.iter().any(|x| Background::from_word(x).is_some());
                Some(!backgrounds && said == *set)
            }
            Reply::Shapes(set) => {
                let said: BTreeSet<Shape> = w.iter().filter_map(|x| Shape::from_word(x)).collect();
                Some(said == *set)
            }
        }
    }
}

/// The numbers an answer states: digits, number words up to ten, and "no"/"none" as zero.
pub fn numbers_in(words: &[String]) -> BTreeSet<u32> {
    words
        .iter()
        .filter_map(|w| match w.as_str() {
            "no" | "none" => Some(0),
            w => NUMBER_WORDS.iter().position(|n| *n == w).map(|n| n as u32).or_else(|| w.parse().ok()),
        })
        .collect()
}

/// Captions of scenes that differ from `scene` in one respect each (a colour, a shape, a count,
/// a size, the background, the relation): up to `n` of them, in random order.
pub fn caption_distractors(scene: &Scene, n: usize, rng: &mut dyn Random) -> Vec<String> {
    let mut variants: Vec<Scene> = Vec::new();
    let mut push = |s: Scene| {
        if s.validate().is_ok()
            && s.canonical() != scene.canonical()
            && !variants.iter().any(|v| v.canonical() == s.canonical())
        {
            variants.push(s);
        }
    };
    let other_colour = |c: Colour, rng: &mut dyn Random| loop {
        let x = Colour::ALL[rng.below(6) as usize];
        if x != c {
            return x;
        }
    };
    let other_shape = |s: Shape, rng: &mut dyn Random| loop {
        let x = Shape::ALL[rng.below(4) as usize];
        if x != s {
            return x;
        }
    };
    let mut s = *scene;
    s.first.colour = other_colour(scene.first.colour, rng);
    push(s);
    let mut s = *scene;
    s.first.shape = other_shape(scene.first.shape, rng);
    push(s);
    let mut s = *scene;
    s.first.count = if scene.first.count == 1 { 2 } else { scene.first.count - 1 };
    push(s);
    let mut s = *scene;
    s.first.size = if scene.first.size == crate::scene::Size::Small {
        crate::scene::Size::Large
    } else {
        crate::scene::Size::Small
    };
    push(s);
    let mut s = *scene;
    s.background = Background::ALL
        [(Background::ALL.iter().position(|b| *b == scene.background).unwrap_or(0) + 1 + rng.below(2) as usize) % 3];
    push(s);
    if let Some((relation, group)) = scene.second {
        let mut g = group;
        g.colour = other_colour(group.colour, rng);
        push(Scene { second: Some((relation, g)), ..*scene });
        let mut g = group;
        g.shape = other_shape(group.shape, rng);
        push(Scene { second: Some((relation, g)), ..*scene });
        push(Scene { second: Some((relation.inverse(), group)), ..*scene });
    } else {
        let mut g = scene.first;
        g.colour = other_colour(g.colour, rng);
        g.count = 1;
        push(Scene { second: Some((crate::scene::Relation::Above, g)), ..*scene });
    }
    // Fisher-Yates, then keep `n`.
    for i in (1..variants.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        variants.swap(i, j);
    }
    variants.truncate(n);
    variants.iter().map(Scene::caption).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::analyse;
    use crate::render::render;
    use crate::rng::SplitMix64;

    #[test]
    fn texts_parse_back() {
        let questions = [
            Question::Caption,
            Question::CountShape(Shape::Triangle),
            Question::CountColour(Colour::Orange),
            Question::CountAll,
            Question::ColourOf(Shape::Rectangle),
            Question::ShapeOf(Colour::Purple),
        ];
        for q in questions {
            assert_eq!(Question::parse(&q.text()), Some(q), "{}", q.text());
        }
        assert_eq!(Question::parse("What is the meaning of life?"), None);
        assert_eq!(Question::parse("How many hexagons are there?"), None);
    }

    #[test]
    fn answers_from_pixels_equal_answers_from_the_prompt() {
        let mut rng = SplitMix64::new(21);
        for seed in 0..300 {
            let scene = Scene::random(&mut rng);
            let q = Question::random(&scene, &mut rng);
            let image = render(&scene, seed, 224, 224).unwrap();
            let truth = q.answer(&scene);
            let seen = q.answer(&analyse(&image));
            assert_eq!(seen, truth, "{scene}: {}", q.text());
            if let Some(ok) = truth.matches(&truth.sentence(&q)) {
                assert!(ok, "{}", truth.sentence(&q));
            }
        }
    }

    #[test]
    fn exact_checks_refuse_hedges_and_echoes() {
        let two = Reply::Number(2);
        assert_eq!(two.matches("There are two circles."), Some(true));
        assert_eq!(two.matches("2"), Some(true));
        assert_eq!(two.matches("one or two"), Some(false));
        assert_eq!(two.matches("How many circles are there?"), Some(false));
        assert_eq!(Reply::Number(0).matches("There are no squares."), Some(true));
        let red = Reply::Colours(BTreeSet::from([Colour::Red]));
        assert_eq!(red.matches("The square is red."), Some(true));
        assert_eq!(red.matches("red, blue or green"), Some(false));
        assert_eq!(red.matches("What colour is the square?"), Some(false));
        assert_eq!(red.matches("red on a white background"), Some(false));
        let tri = Reply::Shapes(BTreeSet::from([Shape::Triangle]));
        assert_eq!(tri.matches("The blue object is a triangle."), Some(true));
        assert_eq!(tri.matches("triangles"), Some(true));
        assert_eq!(tri.matches("a triangle or a square"), Some(false));
        assert_eq!(Reply::Caption("x".into()).matches("x"), None);
    }

    #[test]
    fn sentences_read_naturally() {
        let q = Question::CountShape(Shape::Circle);
        assert_eq!(Reply::Number(0).sentence(&q), "There are no circles.");
        assert_eq!(Reply::Number(1).sentence(&q), "There is one circle.");
        assert_eq!(Reply::Number(3).sentence(&q), "There are three circles.");
        assert_eq!(Reply::Number(2).sentence(&Question::CountColour(Colour::Red)), "There are two red shapes.");
        assert_eq!(
            Reply::Colours(BTreeSet::from([Colour::Blue])).sentence(&Question::ColourOf(Shape::Square)),
            "The square is blue."
        );
        assert_eq!(
            Reply::Shapes(BTreeSet::from([Shape::Triangle])).sentence(&Question::ShapeOf(Colour::Green)),
            "The green object is a triangle."
        );
    }

    #[test]
    fn distractors_differ_from_the_scene_and_each_other() {
        let mut rng = SplitMix64::new(8);
        for _ in 0..200 {
            let scene = Scene::random(&mut rng);
            let d = caption_distractors(&scene, 6, &mut rng);
            assert!(d.len() >= 5, "{scene}: {d:?}");
            assert!(!d.contains(&scene.caption()));
            let unique: BTreeSet<&String> = d.iter().collect();
            assert_eq!(unique.len(), d.len());
        }
    }
}
