//! Values as a person types them on the command line.
//!
//! A duration may carry its unit (`1.5s`, `250ms`, `2m`) or be a bare number,
//! whole or not, in the flag's own unit (`--horizon 1.5` is 1.5 s). An
//! address may name `localhost`. Every refusal says what would be taken.

use crate::duration;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// A duration whose bare numbers are seconds: `90`, `1.5`, `500ms`, `2m`.
///
/// # Errors
///
/// Text that is neither a number nor a number with a unit.
pub fn seconds(text: &str) -> Result<Duration, String> {
    in_unit(text, "s")
}

/// A duration whose bare numbers are milliseconds: `250`, `0.5`, `1s`.
///
/// # Errors
///
/// Text that is neither a number nor a number with a unit.
pub fn millis(text: &str) -> Result<Duration, String> {
    in_unit(text, "ms")
}

/// `serve`'s horizon: [`seconds`], more than nothing and at most a day.
///
/// # Errors
///
/// Text [`seconds`] refuses, zero, or more than 24 hours.
pub fn horizon(text: &str) -> Result<Duration, String> {
    const DAY: Duration = Duration::from_secs(86_400);
    let d = seconds(text)?;
    if d.is_zero() || d > DAY {
        return Err(format!(
            "{text:?} is out of range: give more than 0 s and at most a day (86400, 24h)"
        ));
    }
    Ok(d)
}

fn in_unit(text: &str, unit: &str) -> Result<Duration, String> {
    duration::parse_in(text, unit).map_err(|e| {
        format!("{e}; give a number of {} or a number with a unit (ns, us, ms, s, m, h), for example 1.5 or 250ms", name(unit))
    })
}

fn name(unit: &str) -> &'static str {
    match unit {
        "s" => "seconds",
        _ => "milliseconds",
    }
}

/// A loopback address and port: `127.0.0.1:8787`, `[::1]:8787` or
/// `localhost:8787` (taken as `127.0.0.1`); port 0 picks a free one.
///
/// # Errors
///
/// Text that is not a host and a port, or a host that is not loopback.
pub fn loopback(text: &str) -> Result<SocketAddr, String> {
    let hint = "give HOST:PORT on loopback, for example 127.0.0.1:8787, localhost:8787 or [::1]:8787 (port 0 picks a free one)";
    let addr = match text.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => {
            let (host, port) = text
                .rsplit_once(':')
                .ok_or_else(|| format!("{text:?} has no port; {hint}"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| format!("{port:?} is not a port (0 to 65535); {hint}"))?;
            if !host.eq_ignore_ascii_case("localhost") {
                return Err(format!(
                    "{host:?} is not an address this can listen on; {hint}"
                ));
            }
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        }
    };
    // The one refusal of a non-loopback address is `serve`'s; the flag adds its hint.
    crate::serve::loopback_only(addr).map_err(|e| format!("{e}; {hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_take_the_flags_unit_and_may_be_fractions() {
        assert_eq!(seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(seconds("90"), Ok(Duration::from_secs(90)));
        assert_eq!(millis("250"), Ok(Duration::from_millis(250)));
        assert_eq!(millis("0.5"), Ok(Duration::from_micros(500)));
    }

    #[test]
    fn a_unit_overrides_the_flags_unit() {
        assert_eq!(seconds("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(seconds(" 2m "), Ok(Duration::from_secs(120)));
        assert_eq!(millis("1s"), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn a_bad_duration_is_refused_with_a_hint() {
        for bad in ["", "abc", "1.5 parsecs", "-1", "1..5"] {
            let e = seconds(bad).expect_err(bad);
            assert!(e.contains("for example 1.5 or 250ms"), "{bad:?}: {e}");
        }
        assert!(millis("x").unwrap_err().contains("number of milliseconds"));
        assert!(seconds("x").unwrap_err().contains("number of seconds"));
    }

    #[test]
    fn the_horizon_is_more_than_nothing_and_at_most_a_day() {
        assert_eq!(horizon("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(horizon("24h"), Ok(Duration::from_secs(86_400)));
        assert!(horizon("0").unwrap_err().contains("out of range"));
        assert!(horizon("86401").unwrap_err().contains("out of range"));
    }

    #[test]
    fn localhost_and_loopback_addresses_are_taken() {
        assert_eq!(
            loopback("localhost:8799"),
            Ok("127.0.0.1:8799".parse().unwrap())
        );
        assert_eq!(loopback("LOCALHOST:0"), Ok("127.0.0.1:0".parse().unwrap()));
        assert_eq!(
            loopback("127.0.0.1:8787"),
            Ok("127.0.0.1:8787".parse().unwrap())
        );
        assert_eq!(loopback("[::1]:8787"), Ok("[::1]:8787".parse().unwrap()));
    }

    #[test]
    fn other_addresses_are_refused_with_a_hint() {
        for (bad, says) in [
            ("localhost", "has no port"),
            ("localhost:http", "is not a port"),
            ("localhost:70000", "is not a port"),
            ("example.com:80", "is not an address"),
            ("0.0.0.0:8787", "loopback only"),
            ("10.0.0.1:8787", "loopback only"),
        ] {
            let e = loopback(bad).expect_err(bad);
            assert!(
                e.contains(says) && e.contains("localhost:8787"),
                "{bad:?}: {e}"
            );
        }
    }
}
