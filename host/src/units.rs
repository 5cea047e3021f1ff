//! Durations and sizes as people write them, shared by `subnetd.toml` and the command line, so
//! `"500ms"` or `"8MiB"` means the same everywhere.
//!
//! Grammar: a non-negative decimal number followed by a unit. Durations take `ms`, `s`, `m`
//! (or `min`) and `h`, and need the unit (a bare `5` is refused rather than guessed). Sizes take
//! `B`, `KiB`, `MiB`, `GiB` (powers of two) and `KB`/`kB`, `MB`, `GB` (powers of ten); a bare
//! integer is bytes. Whitespace around the text and between number and unit is ignored.
//!
//! Failure modes: every refusal is an `Err(String)` that quotes the input and says what would
//! be accepted; nothing here panics.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Longest duration accepted: about 31 years, far beyond any timeout or cadence.
const MAX_SECONDS: f64 = 1e9;

/// Parses `"<number><unit>"` with unit `ms`, `s`, `m`/`min` or `h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: use a number and a unit, like \"500ms\", \"2s\" or \"5m\""))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "" => return Err(format!("invalid duration {text:?}: the unit is missing (ms, s, m or h)")),
        other => return Err(format!("invalid duration {text:?}: unknown unit `{other}` (use ms, s, m or h)")),
    };
    if !seconds.is_finite() || seconds > MAX_SECONDS {
        return Err(format!("invalid duration {text:?}: too long"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses `"<integer><unit>"` with unit `B`, `KiB`, `MiB`, `GiB`, `KB`, `MB` or `GB` (none = bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: use a number of bytes or a string like \"256MiB\""))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!("invalid size {text:?}: unknown unit `{other}` (use B, KiB, MiB, GiB, KB, MB or GB)"));
        }
    };
    value.checked_mul(factor).ok_or_else(|| format!("invalid size {text:?}: too large"))
}

/// A duration in a config file, written as `"500ms"`, `"2s"`, `"5m"` or `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Other(serde::de::IgnoredAny),
        }
        match Raw::deserialize(d)? {
            Raw::Text(text) => parse_duration(&text).map(Dur).map_err(serde::de::Error::custom),
            Raw::Other(_) => Err(serde::de::Error::custom(
                "expected a duration string with a unit, like \"500ms\", \"2s\" or \"5m\"",
            )),
        }
    }
}

/// A size in bytes in a config file, written as an integer or as `"64MiB"`, `"512KiB"`, `"10MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a number of bytes or a string like \"256MiB\""))?
        {
            Raw::Int(n) => Ok(Bytes(n)),
            Raw::Text(t) => parse_size(&t).map(Bytes).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit_and_take_hours() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration(" 2 s ").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2min").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("5").unwrap_err().contains("unit is missing"));
        assert!(parse_duration("5d").unwrap_err().contains("unknown unit `d`"));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1e300s").is_err());
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("8388608").unwrap(), 8 << 20);
        assert_eq!(parse_size("512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("8 MiB").unwrap(), 8 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("10MB").unwrap(), 10_000_000);
        assert_eq!(parse_size("3kB").unwrap(), 3_000);
        assert!(parse_size("1TiB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("99999999999999GiB").unwrap_err().contains("too large"));
    }
}
