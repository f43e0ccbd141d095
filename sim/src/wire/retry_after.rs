//! Retry-After in its three forms: `Retry-After: <seconds>`, `Retry-After:
//! <HTTP-date>` and `retry-after-ms: <milliseconds>`.
//!
//! Parsing never fails loudly: a malformed or negative value is ignored,
//! as if the header were absent.

use crate::faults::RetryAfterForm;
use hyper::HeaderMap;
use std::time::{Duration, SystemTime};

/// The header that asks for `wait`, written in `form`, on a server whose clock reads `now`.
///
/// Whole seconds are rounded up, so the client never retries early; an
/// HTTP-date names the first whole second at or after `now + wait`.
pub fn header(form: RetryAfterForm, wait: Duration, now: SystemTime) -> (&'static str, String) {
    let whole_seconds = wait.as_millis().div_ceil(1000);
    match form {
        RetryAfterForm::Seconds => ("retry-after", whole_seconds.to_string()),
        RetryAfterForm::Ms => ("retry-after-ms", wait.as_millis().to_string()),
        RetryAfterForm::HttpDate => {
            let at = now + wait;
            let since = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            let rounded = SystemTime::UNIX_EPOCH
                + Duration::from_secs(since.as_secs() + u64::from(since.subsec_nanos() > 0));
            ("retry-after", httpdate::fmt_http_date(rounded))
        }
    }
}

/// The wait a response asks for, read at `now`: `retry-after-ms` first (the
/// more precise), then `Retry-After` as seconds or as an HTTP-date (a date
/// already past asks for no wait).
pub fn parse(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(parse_ms) {
        return Some(ms);
    }
    let value = text("retry-after")?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Milliseconds, fractions allowed; a negative, non-finite or overlong
/// value is none (`Duration` refuses each).
fn parse_ms(value: &str) -> Option<Duration> {
    let ms: f64 = value.parse().ok()?;
    Duration::try_from_secs_f64(ms / 1000.0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const NOW: Duration = Duration::from_secs(1_780_000_000);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + NOW
    }

    #[test]
    fn each_form_round_trips() {
        let cases = [
            (RetryAfterForm::Seconds, 2500, 3000),
            (RetryAfterForm::Ms, 2500, 2500),
            (RetryAfterForm::HttpDate, 2500, 3000),
            // A whole number of seconds from a whole second rounds nowhere.
            (RetryAfterForm::Seconds, 2000, 2000),
            (RetryAfterForm::HttpDate, 2000, 2000),
        ];
        for (form, wait, read) in cases {
            let (name, value) = header(form, Duration::from_millis(wait), now());
            let parsed = parse(&headers(&[(name, &value)]), now());
            assert_eq!(
                parsed,
                Some(Duration::from_millis(read)),
                "{form:?} {value}"
            );
        }
    }

    #[test]
    fn milliseconds_win_over_seconds() {
        let h = headers(&[("retry-after", "9"), ("retry-after-ms", "120.5")]);
        assert_eq!(parse(&h, now()), Some(Duration::from_micros(120_500)));
    }

    #[test]
    fn malformed_values_are_ignored() {
        for bad in ["soon", "-1", "1.5", "", "Mon, 99 Foo 2026 25:61:61 GMT"] {
            assert_eq!(
                parse(&headers(&[("retry-after", bad)]), now()),
                None,
                "{bad:?}"
            );
        }
        for bad in ["NaN", "-5", "inf", "1e400", "x"] {
            assert_eq!(
                parse(&headers(&[("retry-after-ms", bad)]), now()),
                None,
                "{bad:?}"
            );
        }
        assert_eq!(parse(&HeaderMap::new(), now()), None);
    }

    #[test]
    fn a_date_in_the_past_asks_for_no_wait() {
        let past = httpdate::fmt_http_date(now() - Duration::from_secs(30));
        let h = headers(&[("retry-after", &past)]);
        assert_eq!(parse(&h, now()), Some(Duration::ZERO));
    }
}
