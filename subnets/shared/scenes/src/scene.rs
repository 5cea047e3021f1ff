//! The scene grammar: what a prompt may say, how it reads, how it parses.
//!
//! ```text
//! prompt   := group [relation group] "on a" background "background"
//! group    := count size colour shape        e.g. "two large red circles"
//! count    := "a" | "an" | "one" | "two" | "three" | 1..3
//! size     := "small" | "large"
//! colour   := "red" | "orange" | "yellow" | "green" | "blue" | "purple"
//! shape    := "circle" | "square" | "triangle" | "rectangle"   (plural with "s")
//! relation := "above" | "below" | "to the left of" | "to the right of"
//! background := "white" | "black" | "grey" | "gray"
//! ```
//!
//! Invariants of a valid [`Scene`] (checked by [`Scene::validate`], guaranteed by
//! [`Scene::random`] and [`Scene::parse`]): counts are 1 to 3, and the two groups of a
//! two-group scene differ in colour or shape, so every object belongs to exactly one group and
//! questions about "the red objects" have one answer. Foreground colours are never background
//! colours, so shapes are always visible.
//!
//! [`Scene::prompt`] and [`Scene::parse`] are inverse: `parse(prompt(s)) == s`. Parsing is
//! strict (an unknown or misplaced word is a [`ParseError`] naming it) but ignores case and
//! punctuation.

use std::fmt;

use crate::rng::Random;

/// Colours shapes are painted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Colour {
    /// Red.
    Red,
    /// Orange.
    Orange,
    /// Yellow.
    Yellow,
    /// Green.
    Green,
    /// Blue.
    Blue,
    /// Purple.
    Purple,
}

impl Colour {
    /// Every colour, in palette order.
    pub const ALL: [Colour; 6] =
        [Colour::Red, Colour::Orange, Colour::Yellow, Colour::Green, Colour::Blue, Colour::Purple];

    /// The word for it.
    pub fn name(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Orange => "orange",
            Colour::Yellow => "yellow",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Purple => "purple",
        }
    }

    /// The colour a word names (`violet` reads as purple).
    pub fn from_word(word: &str) -> Option<Colour> {
        Some(match word {
            "red" => Colour::Red,
            "orange" => Colour::Orange,
            "yellow" => Colour::Yellow,
            "green" => Colour::Green,
            "blue" => Colour::Blue,
            "purple" | "violet" => Colour::Purple,
            _ => return None,
        })
    }

    /// The sRGB value the renderer paints.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::Red => [220, 40, 40],
            Colour::Orange => [245, 140, 30],
            Colour::Yellow => [240, 215, 40],
            Colour::Green => [40, 165, 70],
            Colour::Blue => [40, 90, 220],
            Colour::Purple => [140, 60, 180],
        }
    }
}

/// Background colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Background {
    /// White.
    White,
    /// Black.
    Black,
    /// Grey.
    Grey,
}

impl Background {
    /// Every background.
    pub const ALL: [Background; 3] = [Background::White, Background::Black, Background::Grey];

    /// The word for it.
    pub fn name(self) -> &'static str {
        match self {
            Background::White => "white",
            Background::Black => "black",
            Background::Grey => "grey",
        }
    }

    /// The background a word names (`gray` reads as grey).
    pub fn from_word(word: &str) -> Option<Background> {
        Some(match word {
            "white" => Background::White,
            "black" => Background::Black,
            "grey" | "gray" => Background::Grey,
            _ => return None,
        })
    }

    /// The sRGB value the renderer paints.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Background::White => [250, 250, 250],
            Background::Black => [15, 15, 15],
            Background::Grey => [128, 128, 128],
        }
    }
}

/// Shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    /// A filled disc.
    Circle,
    /// A filled square.
    Square,
    /// A filled isosceles triangle, apex up.
    Triangle,
    /// A filled rectangle twice as wide as it is tall.
    Rectangle,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 4] = [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Rectangle];

    /// The singular noun.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Rectangle => "rectangle",
        }
    }

    /// The noun for `count` of them.
    pub fn noun(self, count: u8) -> String {
        if count == 1 { self.name().to_string() } else { format!("{}s", self.name()) }
    }

    /// The shape a singular or plural noun names.
    pub fn from_word(word: &str) -> Option<Shape> {
        let singular = word.strip_suffix('s').unwrap_or(word);
        Shape::ALL.into_iter().find(|s| s.name() == singular || s.name() == word)
    }
}

/// Sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Size {
    /// About 11% of the canvas's shorter side.
    Small,
    /// About 22% of the canvas's shorter side.
    Large,
}

impl Size {
    /// The word for it.
    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Large => "large",
        }
    }

    /// The size a word names (`big` reads as large, `little` as small).
    pub fn from_word(word: &str) -> Option<Size> {
        Some(match word {
            "small" | "little" => Size::Small,
            "large" | "big" => Size::Large,
            _ => return None,
        })
    }

    /// Nominal extent as a fraction of the canvas's shorter side (before jitter).
    pub fn fraction(self) -> f64 {
        match self {
            Size::Small => 0.11,
            Size::Large => 0.22,
        }
    }
}

/// Where the first group is relative to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// First group in the top half.
    Above,
    /// First group in the bottom half.
    Below,
    /// First group in the left half.
    LeftOf,
    /// First group in the right half.
    RightOf,
}

impl Relation {
    /// Every relation.
    pub const ALL: [Relation; 4] = [Relation::Above, Relation::Below, Relation::LeftOf, Relation::RightOf];

    /// The words for it.
    pub fn phrase(self) -> &'static str {
        match self {
            Relation::Above => "above",
            Relation::Below => "below",
            Relation::LeftOf => "to the left of",
            Relation::RightOf => "to the right of",
        }
    }

    /// The same placement said from the other group's side.
    pub fn inverse(self) -> Relation {
        match self {
            Relation::Above => Relation::Below,
            Relation::Below => Relation::Above,
            Relation::LeftOf => Relation::RightOf,
            Relation::RightOf => Relation::LeftOf,
        }
    }

    /// Whether the groups are stacked vertically.
    pub fn is_vertical(self) -> bool {
        matches!(self, Relation::Above | Relation::Below)
    }
}

/// Number words, zero to ten; used for prompts and for reading answers.
pub const NUMBER_WORDS: [&str; 11] =
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

/// Objects of one kind: `count` shapes of one size and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Group {
    /// How many, 1 to [`MAX_COUNT`].
    pub count: u8,
    /// Their size.
    pub size: Size,
    /// Their colour.
    pub colour: Colour,
    /// Their shape.
    pub shape: Shape,
}

/// Most objects in one group.
pub const MAX_COUNT: u8 = 3;

impl Group {
    /// "two large red circles", "a small blue square".
    pub fn phrase(&self) -> String {
        let count = if self.count == 1 { "a" } else { NUMBER_WORDS[usize::from(self.count)] };
        format!("{count} {} {} {}", self.size.name(), self.colour.name(), self.shape.noun(self.count))
    }

    fn random(rng: &mut dyn Random) -> Group {
        Group {
            count: 1 + rng.below(u64::from(MAX_COUNT)) as u8,
            size: if rng.below(2) == 0 { Size::Small } else { Size::Large },
            colour: Colour::ALL[rng.below(Colour::ALL.len() as u64) as usize],
            shape: Shape::ALL[rng.below(Shape::ALL.len() as u64) as usize],
        }
    }
}

/// A scene: one or two groups of shapes on a background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scene {
    /// The group the prompt names first.
    pub first: Group,
    /// The second group and where the first one is relative to it.
    pub second: Option<(Relation, Group)>,
    /// The background.
    pub background: Background,
}

/// Why a prompt does not parse, or a scene breaks the grammar's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text ended where more was expected.
    #[error("the prompt ends early: expected {expected}")]
    UnexpectedEnd {
        /// What should have come.
        expected: &'static str,
    },
    /// A word that does not fit where it is.
    #[error("unexpected word `{word}` (word {position}): expected {expected}")]
    UnexpectedWord {
        /// The word.
        word: String,
        /// Its position, from 1.
        position: usize,
        /// What should have come.
        expected: &'static str,
    },
    /// The scene parses but breaks a rule of the grammar.
    #[error("invalid scene: {0}")]
    Invalid(String),
}

/// Lower-case words of `text`, punctuation dropped (`left-of` reads as two words).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_ascii_lowercase()).collect()
}

struct Cursor<'a> {
    words: &'a [String],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<&str> {
        self.words.get(self.at).map(String::as_str)
    }

    fn next(&mut self, expected: &'static str) -> Result<&str, ParseError> {
        let word = self.words.get(self.at).ok_or(ParseError::UnexpectedEnd { expected })?;
        self.at += 1;
        Ok(word)
    }

    fn unexpected(&self, expected: &'static str) -> ParseError {
        ParseError::UnexpectedWord { word: self.words[self.at - 1].clone(), position: self.at, expected }
    }

    fn expect(&mut self, word: &'static str) -> Result<(), ParseError> {
        if self.next(word)? == word { Ok(()) } else { Err(self.unexpected(word)) }
    }

    fn item<T>(&mut self, expected: &'static str, read: impl Fn(&str) -> Option<T>) -> Result<T, ParseError> {
        let word = self.next(expected)?;
        read(word).ok_or_else(|| self.unexpected(expected))
    }

    fn group(&mut self) -> Result<Group, ParseError> {
        let count = self.item("a count (a, one, two, three)", |w| match w {
            "a" | "an" => Some(1u8),
            _ => NUMBER_WORDS
                .iter()
                .position(|n| *n == w)
                .map(|n| n as u8)
                .or_else(|| w.parse::<u8>().ok())
                .filter(|n| (1..=MAX_COUNT).contains(n)),
        })?;
        let size = self.item("a size (small, large)", Size::from_word)?;
        let colour = self.item("a colour (red, orange, yellow, green, blue, purple)", Colour::from_word)?;
        let shape = self.item("a shape (circle, square, triangle, rectangle)", Shape::from_word)?;
        Ok(Group { count, size, colour, shape })
    }
}

impl Scene {
    /// A scene drawn from the grammar: two groups two times in three, any relation.
    pub fn random(rng: &mut dyn Random) -> Scene {
        let background = Background::ALL[rng.below(Background::ALL.len() as u64) as usize];
        let first = Group::random(rng);
        let second = if rng.below(3) < 2 {
            let relation = Relation::ALL[rng.below(Relation::ALL.len() as u64) as usize];
            let mut group = Group::random(rng);
            // Redraw until the groups differ; a few draws always suffice (24 kinds).
            while (group.colour, group.shape) == (first.colour, first.shape) {
                group = Group::random(rng);
            }
            Some((relation, group))
        } else {
            None
        };
        Scene { first, second, background }
    }

    /// The prompt: "two large red circles above a small blue square on a white background".
    pub fn prompt(&self) -> String {
        let mut text = self.first.phrase();
        if let Some((relation, group)) = &self.second {
            text.push(' ');
            text.push_str(relation.phrase());
            text.push(' ');
            text.push_str(&group.phrase());
        }
        text.push_str(&format!(" on a {} background", self.background.name()));
        text
    }

    /// Parses a prompt of the grammar (see the module docs).
    pub fn parse(text: &str) -> Result<Scene, ParseError> {
        let words = words(text);
        let mut c = Cursor { words: &words, at: 0 };
        let first = c.group()?;
        let second = if c.peek() == Some("on") {
            None
        } else {
            let relation = match c.next("a relation or `on`")? {
                "above" => Relation::Above,
                "below" | "under" => Relation::Below,
                "to" => {
                    c.expect("the")?;
                    let side = match c.next("left or right")? {
                        "left" => Relation::LeftOf,
                        "right" => Relation::RightOf,
                        _ => return Err(c.unexpected("left or right")),
                    };
                    c.expect("of")?;
                    side
                }
                _ => {
                    return Err(c.unexpected("a relation (above, below, to the left of, to the right of) or `on`"));
                }
            };
            Some((relation, c.group()?))
        };
        c.expect("on")?;
        c.item("a or an", |w| matches!(w, "a" | "an").then_some(()))?;
        let background = c.item("a background (white, black, grey)", Background::from_word)?;
        c.expect("background")?;
        if let Some(word) = c.peek() {
            return Err(ParseError::UnexpectedWord {
                word: word.to_string(),
                position: c.at + 1,
                expected: "the end of the prompt",
            });
        }
        let scene = Scene { first, second, background };
        scene.validate()?;
        Ok(scene)
    }

    /// Checks the rules of the module docs.
    pub fn validate(&self) -> Result<(), ParseError> {
        for g in self.groups() {
            if !(1..=MAX_COUNT).contains(&g.count) {
                return Err(ParseError::Invalid(format!("a group of {} objects (1 to {MAX_COUNT})", g.count)));
            }
        }
        if let Some((_, g)) = &self.second
            && (g.colour, g.shape) == (self.first.colour, self.first.shape)
        {
            return Err(ParseError::Invalid(format!(
                "both groups are {} {}s; groups must differ in colour or shape",
                g.colour.name(),
                g.shape.name()
            )));
        }
        Ok(())
    }

    /// The groups, first one first.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        std::iter::once(&self.first).chain(self.second.as_ref().map(|(_, g)| g))
    }

    /// The same scene said the canonical way: the top group first ("above"), or the left group
    /// first ("to the left of"). Two descriptions of one picture have one canonical form.
    pub fn canonical(&self) -> Scene {
        match self.second {
            Some((relation @ (Relation::Below | Relation::RightOf), group)) => {
                Scene { first: group, second: Some((relation.inverse(), self.first)), background: self.background }
            }
            _ => *self,
        }
    }

    /// The caption of the picture: the canonical prompt, as one sentence.
    pub fn caption(&self) -> String {
        capitalise(&self.canonical().prompt()) + "."
    }
}

impl fmt::Display for Scene {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prompt())
    }
}

/// `text` with its first letter upper-case.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn prompts_read_as_the_brief_says_and_parse_back() {
        let scene = Scene::parse("two large red circles above a small blue square on a white background").unwrap();
        assert_eq!(scene.first, Group { count: 2, size: Size::Large, colour: Colour::Red, shape: Shape::Circle });
        assert_eq!(
            scene.second,
            Some((Relation::Above, Group { count: 1, size: Size::Small, colour: Colour::Blue, shape: Shape::Square }))
        );
        assert_eq!(scene.prompt(), "two large red circles above a small blue square on a white background");

        let mut rng = SplitMix64::new(3);
        for _ in 0..500 {
            let s = Scene::random(&mut rng);
            s.validate().unwrap();
            assert_eq!(Scene::parse(&s.prompt()).unwrap(), s, "{}", s.prompt());
            assert_eq!(Scene::parse(&s.caption()).unwrap(), s.canonical());
        }
    }

    #[test]
    fn parsing_is_lenient_on_case_and_punctuation_only() {
        let s =
            Scene::parse("Three small GREEN triangles to the right of 1 big purple rectangle, on a gray background.")
                .unwrap();
        assert_eq!(s.second.unwrap().0, Relation::RightOf);
        assert_eq!(s.background, Background::Grey);
        assert_eq!(s.canonical().second.unwrap().0, Relation::LeftOf);
        assert_eq!(s.canonical().first.shape, Shape::Rectangle);
    }

    #[test]
    fn bad_prompts_name_the_offending_word() {
        let err = Scene::parse("two large pink circles on a white background").unwrap_err();
        assert!(matches!(&err, ParseError::UnexpectedWord { word, position: 3, .. } if word == "pink"), "{err}");
        let err = Scene::parse("two large red circles on a").unwrap_err();
        assert!(matches!(err, ParseError::UnexpectedEnd { .. }), "{err}");
        let err = Scene::parse("five large red circles on a white background").unwrap_err();
        assert!(err.to_string().contains("five"), "{err}");
        let err = Scene::parse("a large red circle on a white background please").unwrap_err();
        assert!(err.to_string().contains("please"), "{err}");
        let err = Scene::parse("a large red circle above two small red circles on a white background").unwrap_err();
        assert!(matches!(err, ParseError::Invalid(_)), "{err}");
        assert!(Scene::parse("").is_err());
    }
}
