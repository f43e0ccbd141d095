//! Durations in scenario files: integer milliseconds, or text with a unit.
//!
//! `250` is 250 ms; `"250ns"`, `"3us"`, `"1.5s"`, `"2m"`, `"1h"` say their
//! unit. Written back as integer milliseconds when whole, else as
//! nanoseconds with `ns`, so every value round-trips exactly. For a
//! person to read, [`human`] writes nanoseconds in the unit that fits.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Parse `text` (a number and a unit: ns, us, ms, s, m, h).
///
/// # Errors
///
/// A missing or unknown unit, a number that does not parse, or a value
/// beyond `Duration::MAX`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text:?} has no unit (ns, us, ms, s, m, h)"))?;
    let (number, unit) = text.split_at(split);
    let scale: u128 = match unit.trim() {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => return Err(format!("unknown unit {other:?} in {text:?}")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let bad = || format!("{text:?} is not a duration");
    let whole: u128 = match whole {
        "" => 0,
        w => w.parse().map_err(|_| bad())?,
    };
    let mut nanos = whole.checked_mul(scale).ok_or_else(bad)?;
    let mut place = scale;
    for digit in fraction.chars() {
        let d = digit.to_digit(10).ok_or_else(bad)?;
        place /= 10;
        nanos += u128::from(d) * place;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| format!("{text:?} is too long"))?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Parse `text` as [`parse`] does, except that a bare number (whole or
/// not: `90`, `1.5`) is taken in `unit`, a flag's or a knob's own.
///
/// # Errors
///
/// As [`parse`]: a number that does not parse, an unknown unit, a value
/// beyond `Duration::MAX`.
pub fn parse_in(text: &str, unit: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bare = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.');
    if bare {
        parse(&format!("{text}{unit}"))
    } else {
        parse(text)
    }
}

/// The text form of `d`: whole milliseconds as a number, else nanoseconds.
fn write<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    let nanos = d.as_nanos();
    match u64::try_from(nanos / 1_000_000) {
        Ok(ms) if nanos.is_multiple_of(1_000_000) => s.serialize_u64(ms),
        _ => s.serialize_str(&format!("{nanos}ns")),
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("milliseconds as an integer, or a string such as \"250ns\" or \"1.5s\"")
    }

    fn visit_u64<E: de::Error>(self, ms: u64) -> Result<Duration, E> {
        Ok(Duration::from_millis(ms))
    }

    fn visit_i64<E: de::Error>(self, ms: i64) -> Result<Duration, E> {
        u64::try_from(ms)
            .map(Duration::from_millis)
            .map_err(|_| E::custom("a duration cannot be negative"))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse(text).map_err(E::custom)
    }
}

/// `#[serde(with = "crate::duration")]`.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    write(d, s)
}

/// `#[serde(with = "crate::duration")]`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

/// The same for `Option<Duration>`.
pub mod option {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct Wrapped(#[serde(with = "super")] Duration);

    /// `#[serde(with = "crate::duration::option")]`.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        d.map(Wrapped).serialize(s)
    }

    /// `#[serde(with = "crate::duration::option")]`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}

/// Nanoseconds as a person reads them: `1.500 s`, `88 ms`, `12.346 ms`,
/// `250 µs`, `1.500 µs`, `250 ns` (a whole number of the unit without
/// decimals, else three; seconds always with three, as cargo prints them).
///
/// The one home of durations in words: every verdict, table and page a
/// person reads writes its durations here.
pub fn human(ns: u64) -> String {
    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    match ns {
        n if n >= 1_000 * MS => format!("{:.3} s", n as f64 / 1e9),
        n if n >= MS => in_unit(n, MS, "ms"),
        n if n >= US => in_unit(n, US, "µs"),
        n => format!("{n} ns"),
    }
}

/// `ns` in `unit` (`scale` nanoseconds each): whole without decimals, else three.
fn in_unit(ns: u64, scale: u64, unit: &str) -> String {
    match ns.is_multiple_of(scale) {
        true => format!("{} {unit}", ns / scale),
        false => format!("{:.3} {unit}", ns as f64 / scale as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_take_the_unit_that_fits() {
        assert_eq!(human(1_500_000_000), "1.500 s");
        assert_eq!(human(88_000_000), "88 ms");
        assert_eq!(human(12_345_678), "12.346 ms");
        assert_eq!(human(250_000), "250 µs");
        assert_eq!(human(1_500), "1.500 µs");
        assert_eq!(human(999_999), "999.999 µs");
        assert_eq!(human(250), "250 ns");
        assert_eq!(human(0), "0 ns");
        assert_eq!(human(u64::MAX), "18446744073.710 s");
    }

    #[test]
    fn units_and_fractions_parse_exactly() {
        assert_eq!(parse("250ns"), Ok(Duration::from_nanos(250)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("3us"), Ok(Duration::from_micros(3)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert!(parse("5").is_err());
        assert!(parse("5 parsecs").is_err());
        assert!(parse("99999999999999999999999h").is_err());
    }

    #[test]
    fn values_round_trip_through_toml() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct T {
            #[serde(with = "super")]
            d: Duration,
        }
        for d in [
            Duration::ZERO,
            Duration::from_millis(7),
            Duration::from_nanos(1),
            Duration::MAX,
        ] {
            let text = toml::to_string(&T { d }).unwrap();
            assert_eq!(toml::from_str::<T>(&text).unwrap(), T { d }, "{text}");
        }
    }
}
