//! Python values as a synapse's fields hold them, read from JSON the way Python's `json.loads`
//! reads it, and written the way Python's `str()` writes them: the input of the Synapse body hash.
//!
//! # Fidelity
//! - JSON is read as CPython's `json.loads` reads a `str`: the four whitespace characters, the
//!   `NaN`/`Infinity`/`-Infinity` literals Python writes for non-finite floats, integers of any
//!   size (up to Python's default 4300-digit conversion limit, past which Python raises too),
//!   `1.0` a float and `1` an int, object keys in document order with a repeated key keeping its
//!   first position and last value, `\u` escapes with surrogate pairs joined. A lone surrogate
//!   is refused: Python would read it, but could not UTF-8-encode the `str()` to hash it either.
//!   Nesting deeper than [`MAX_DEPTH`] is refused (Python's recursion limit stops it near 1000).
//! - `str()` follows CPython: `None`, `True`, `False`; ints in decimal; floats by `repr` (the
//!   shortest text that reads back, `1.0`, `1e-05`, `1e+16`, `inf`, `nan`, `-0.0`); a top-level
//!   `str` as itself; inside containers each item by `repr`: strings quoted with `'` unless they
//!   contain `'` and no `"`, escaping `\\`, the quote, `\t` `\n` `\r`, other control characters
//!   as `\xNN`, and non-printable non-ASCII characters as `\xNN`/`\uNNNN`/`\UNNNNNNNN` (printable
//!   per [`printable::UNICODE_VERSION`](super::printable::UNICODE_VERSION), the Unicode version of
//!   the Python the table was made from); `[a, b]`, `(a,)`, `{'k': v}`.
//! - What JSON cannot say is the caller's to state: a field the synapse declares as a tuple must
//!   be passed as [`PyValue::Tuple`], an `int`-keyed dict with [`PyValue::Int`] keys. Values a
//!   real dendrite sends (pydantic `model_dump()` through `json.dumps`) read back as the fields
//!   held them for `str`, `int`, `float`, `bool`, `None`, lists, dicts and nested models (whose
//!   `model_dump()` order is the JSON order).

use std::collections::HashMap;
use std::fmt::Write as _;

use super::SynapseError;
use super::printable::NOT_PRINTABLE;

/// How deep JSON arrays and objects may nest.
pub const MAX_DEPTH: usize = 256;
/// Python's default limit on the digits of an int converted from or to decimal text
/// (`sys.get_int_max_str_digits()`).
pub const MAX_INT_DIGITS: usize = 4300;

/// A Python int of any size, kept as its canonical decimal text (`-12`, `0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyInt(String);

impl PyInt {
    /// Parses canonical or JSON decimal text (`-0` is `0`; leading zeros are stripped).
    pub fn parse(text: &str) -> Option<PyInt> {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = digits.trim_start_matches('0');
        Some(match (digits.is_empty(), neg) {
            (true, _) => PyInt("0".into()),
            (false, true) => PyInt(format!("-{digits}")),
            (false, false) => PyInt(digits.to_string()),
        })
    }

    /// The decimal text, as Python's `str(int)` writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<i128> for PyInt {
    fn from(v: i128) -> Self {
        PyInt(v.to_string())
    }
}

impl From<i64> for PyInt {
    fn from(v: i64) -> Self {
        PyInt(v.to_string())
    }
}

impl From<u64> for PyInt {
    fn from(v: u64) -> Self {
        PyInt(v.to_string())
    }
}

/// A Python value as a synapse field holds it after validation.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int.
    Int(PyInt),
    /// A float.
    Float(f64),
    /// A str.
    Str(String),
    /// A list.
    List(Vec<PyValue>),
    /// A tuple (JSON has none; for fields declared as tuples).
    Tuple(Vec<PyValue>),
    /// A dict, in insertion order.
    Dict(Vec<(PyValue, PyValue)>),
}

impl PyValue {
    /// Reads one JSON document as Python's `json.loads` would (see the module docs).
    pub fn from_json(text: &[u8]) -> Result<PyValue, SynapseError> {
        let text = std::str::from_utf8(text).map_err(|_| bad_json("not UTF-8"))?;
        if text.starts_with('\u{feff}') {
            return Err(bad_json("starts with a byte order mark"));
        }
        let mut p = Parser { s: text.as_bytes(), text, i: 0 };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(bad_json("extra data after the value"));
        }
        Ok(v)
    }

    /// Python's `str()` of the value.
    pub fn python_str(&self) -> String {
        let mut out = String::new();
        match self {
            PyValue::Str(s) => out.push_str(s),
            other => other.write_repr(&mut out),
        }
        out
    }

    /// Python's `repr()` of the value.
    pub fn python_repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            PyValue::None => out.push_str("None"),
            PyValue::Bool(true) => out.push_str("True"),
            PyValue::Bool(false) => out.push_str("False"),
            PyValue::Int(i) => out.push_str(i.as_str()),
            PyValue::Float(f) => out.push_str(&float_repr(*f)),
            PyValue::Str(s) => str_repr(s, out),
            PyValue::List(items) => {
                out.push('[');
                join(items, out);
                out.push(']');
            }
            PyValue::Tuple(items) => {
                out.push('(');
                join(items, out);
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            PyValue::Dict(pairs) => {
                out.push('{');
                for (n, (k, v)) in pairs.iter().enumerate() {
                    if n > 0 {
                        out.push_str(", ");
                    }
                    k.write_repr(out);
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
        }
    }
}

fn join(items: &[PyValue], out: &mut String) {
    for (n, v) in items.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        v.write_repr(out);
    }
}

/// Python's `repr(float)`: the shortest digits that read back, fixed notation for decimal
/// exponents -4 ..= 15 (with `.0` for integral values), else `d.ddde±XX`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` prints the shortest round-trip digits, as Python's repr picks them.
    let e = format!("{:e}", f.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    let decpt = exp + 1;
    let n = digits.len() as i32;
    if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-decpt) as usize))
        } else if decpt >= n {
            format!("{sign}{digits}{}.0", "0".repeat((decpt - n) as usize))
        } else {
            let (a, b) = digits.split_at(decpt as usize);
            format!("{sign}{a}.{b}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{dot}e{esign}{:02}", exp.unsigned_abs())
    }
}

/// Whether Python's `str.isprintable()` holds for this one character.
pub fn is_printable(c: char) -> bool {
    let cp = u32::from(c);
    NOT_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_err()
}

/// Python's `repr(str)`.
pub fn str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_ascii() || is_printable(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
}

fn bad_json(reason: &'static str) -> SynapseError {
    SynapseError::MalformedBody { reason }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, SynapseError> {
        if depth > MAX_DEPTH {
            return Err(bad_json("nested too deeply"));
        }
        match self.s.get(self.i) {
            None => Err(bad_json("unexpected end")),
            Some(b'"') => self.string().map(PyValue::Str),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(PyValue::List(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat("]") {
                        return Ok(PyValue::List(items));
                    }
                    if !self.eat(",") {
                        return Err(bad_json("expected ',' or ']'"));
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut pairs: Vec<(PyValue, PyValue)> = Vec::new();
                let mut index: HashMap<String, usize> = HashMap::new();
                self.ws();
                if self.eat("}") {
                    return Ok(PyValue::Dict(pairs));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(bad_json("expected a string key"));
                    }
                    let key = self.string()?;
                    self.ws();
                    if !self.eat(":") {
                        return Err(bad_json("expected ':'"));
                    }
                    self.ws();
                    let v = self.value(depth + 1)?;
                    // dict(pairs): a repeated key keeps its place and takes the last value.
                    match index.get(&key) {
                        Some(&at) => pairs[at].1 = v,
                        None => {
                            index.insert(key.clone(), pairs.len());
                            pairs.push((PyValue::Str(key), v));
                        }
                    }
                    self.ws();
                    if self.eat("}") {
                        return Ok(PyValue::Dict(pairs));
                    }
                    if !self.eat(",") {
                        return Err(bad_json("expected ',' or '}'"));
                    }
                }
            }
            Some(_) if self.eat("null") => Ok(PyValue::None),
            Some(_) if self.eat("true") => Ok(PyValue::Bool(true)),
            Some(_) if self.eat("false") => Ok(PyValue::Bool(false)),
            Some(_) if self.eat("NaN") => Ok(PyValue::Float(f64::NAN)),
            Some(_) if self.eat("Infinity") => Ok(PyValue::Float(f64::INFINITY)),
            Some(_) if self.eat("-Infinity") => Ok(PyValue::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(bad_json("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<PyValue, SynapseError> {
        let start = self.i;
        self.eat("-");
        let int_start = self.i;
        match self.digits() {
            0 => return Err(bad_json("expected a digit")),
            // Python's scanner reads `0` and stops: `01` is `0` followed by extra data.
            _ if self.s[int_start] == b'0' => self.i = int_start + 1,
            _ => {}
        }
        let mut float = false;
        let save = self.i;
        if self.eat(".") {
            if self.digits() == 0 {
                self.i = save;
            } else {
                float = true;
            }
        }
        let save = self.i;
        if self.eat("e") || self.eat("E") {
            let _ = self.eat("+") || self.eat("-");
            if self.digits() == 0 {
                self.i = save;
            } else {
                float = true;
            }
        }
        let text = &self.text[start..self.i];
        if float {
            // Correctly rounded like Python's float(); overflow reads as inf, as there.
            text.parse::<f64>().map(PyValue::Float).map_err(|_| bad_json("bad number"))
        } else {
            if text.trim_start_matches('-').len() > MAX_INT_DIGITS {
                return Err(bad_json("integer longer than Python's 4300-digit limit"));
            }
            PyInt::parse(text).map(PyValue::Int).ok_or(bad_json("bad number"))
        }
    }

    fn hex4(&mut self) -> Result<u32, SynapseError> {
        let h = self.s.get(self.i..self.i + 4).ok_or(bad_json("short \\u escape"))?;
        let h = std::str::from_utf8(h).map_err(|_| bad_json("bad \\u escape"))?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad_json("bad \\u escape"));
        }
        self.i += 4;
        u32::from_str_radix(h, 16).map_err(|_| bad_json("bad \\u escape"))
    }

    fn string(&mut self) -> Result<String, SynapseError> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.s.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.s.get(self.i) {
                None => return Err(bad_json("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let esc = *self.s.get(self.i).ok_or(bad_json("unterminated string"))?;
                    self.i += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xd800..0xdc00).contains(&cp) && self.s[self.i..].starts_with(b"\\u") {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xdc00..0xe000).contains(&lo) {
                                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                } else {
                                    self.i = save;
                                }
                            }
                            out.push(char::from_u32(cp).ok_or(bad_json("lone surrogate in a string"))?);
                        }
                        _ => return Err(bad_json("bad escape")),
                    }
                }
                Some(_) => return Err(bad_json("control character in a string")),
            }
        }
    }
}
