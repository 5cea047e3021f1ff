//! Numbers in header text read as Python's `int()` and `float()` read them, for the protocols
//! whose reference implementations are Python (btauth nonces, Synapse terminal fields, Epistula
//! timestamps).
//!
//! Both accept ASCII only: surrounding ASCII whitespace, an optional sign, single `_` between
//! digits. Python's `int()` also accepts non-ASCII digits and whitespace; no peer sends those, and
//! refusing them keeps a signed decimal line canonical.

/// An integer read from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PyIntText {
    /// Fits in an `i128`.
    Value(i128),
    /// Too large in magnitude for an `i128`; `true` when negative.
    Overflow(bool),
}

/// Python's `int(text)`; `None` where Python raises `ValueError`.
pub(crate) fn parse_int(text: &str) -> Option<PyIntText> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_digit() || !bytes[bytes.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut value: i128 = 0;
    let mut overflow = false;
    let mut prev_underscore = false;
    for &b in bytes {
        match b {
            b'_' if !prev_underscore => prev_underscore = true,
            b'0'..=b'9' => {
                prev_underscore = false;
                let d = i128::from(b - b'0');
                match value.checked_mul(10).and_then(|v| if negative { v.checked_sub(d) } else { v.checked_add(d) }) {
                    Some(v) => value = v,
                    None => overflow = true,
                }
            }
            _ => return None,
        }
    }
    Some(if overflow { PyIntText::Overflow(negative) } else { PyIntText::Value(value) })
}

/// Python's `float(text)`; `None` where Python raises `ValueError`.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let b = t.as_bytes();
    // Underscores only between digits, as Python's grammar allows; Rust's parser takes none.
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            return None;
        }
    }
    let cleaned: String = t.chars().filter(|&c| c != '_').collect();
    // Rust accepts exactly Python's spellings otherwise (digits with optional `.`, exponent, and
    // case-insensitive `inf`, `infinity`, `nan` with a sign), except for a few it adds: none of
    // them contain characters outside these.
    if cleaned.is_empty() || !cleaned.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')) {
        return None;
    }
    cleaned.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_as_python_reads_them() {
        assert_eq!(parse_int(" +1_000 "), Some(PyIntText::Value(1000)));
        assert_eq!(parse_int("-5"), Some(PyIntText::Value(-5)));
        assert_eq!(parse_int("-0"), Some(PyIntText::Value(0)));
        assert_eq!(parse_int(&"9".repeat(50)), Some(PyIntText::Overflow(false)));
        assert_eq!(parse_int(&format!("-{}", "9".repeat(50))), Some(PyIntText::Overflow(true)));
        for bad in ["", " ", "1__0", "_1", "1_", "0x10", "1.5", "+-1", "١"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats_as_python_reads_them() {
        assert_eq!(parse_float(" 12.0 "), Some(12.0));
        assert_eq!(parse_float("1_2.5e1_0"), Some(12.5e10));
        assert_eq!(parse_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("Infinity"), Some(f64::INFINITY));
        assert!(parse_float("nan").is_some_and(f64::is_nan));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float("5."), Some(5.0));
        for bad in ["", "1__0", "_1", "1_.5", "0x10", "1,5", "e5", "None"] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
    }
}
