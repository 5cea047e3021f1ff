//! Small helpers several modules need, kept once: cutting text to a byte budget on a
//! character boundary, the wall clock in milliseconds for records, and where in a TOML file
//! a deserialization error is.

use std::time::{SystemTime, UNIX_EPOCH};

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Where a TOML deserialization error of `text` is and what it says: the key path
/// (`subnet[1].limits`; empty for a syntax error, which has none) and the message on one line,
/// prefixed with `line L, column C` when there is no key to name.
pub fn toml_error(text: &str, error: serde_path_to_error::Error<toml::de::Error>) -> (String, String) {
    let key = error.path().to_string();
    let inner = error.into_inner();
    let message = inner.message().trim().replace('\n', ", ");
    if key != "." && !key.is_empty() {
        return (key, message);
    }
    let message = match inner.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    };
    (String::new(), message)
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncate_keeps_whole_characters() {
        assert_eq!(super::truncate("héllo", 2), "h");
        assert_eq!(super::truncate("héllo", 3), "hé");
        assert_eq!(super::truncate("abc", 10), "abc");
    }
}
