//! The `x-should-retry` response header: a server's word on whether a
//! failed request may be tried again, which the official SDKs obey over
//! their own status rule (`true` retries any status, `false` none).
//!
//! Only the exact values `true` and `false` mean anything, as the SDKs
//! compare them: any other value (`True`, `1`, empty) is no header at all.

use hyper::HeaderMap;
use hyper::header::HeaderValue;

/// The header's name, as the SDKs read it (header names are case-blind).
pub const HEADER: &str = "x-should-retry";

/// The header's value that says `retry`.
pub fn value(retry: bool) -> HeaderValue {
    HeaderValue::from_static(match retry {
        true => "true",
        false => "false",
    })
}

/// What a response's header says, if it says anything the SDKs read.
pub fn parse(headers: &HeaderMap) -> Option<bool> {
    match headers.get(HEADER)?.as_bytes() {
        b"true" => Some(true),
        b"false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn both_values_read_back_as_written() {
        for retry in [true, false] {
            let mut headers = HeaderMap::new();
            headers.insert(HEADER, value(retry));
            assert_eq!(parse(&headers), Some(retry));
        }
    }

    #[test]
    fn only_the_exact_lowercase_words_count() {
        // The SDKs compare `=== 'true'` / `== "true"`: anything else is
        // their status rule, so the judge must not read more into it.
        for other in ["True", "FALSE", "1", "", "yes"] {
            assert_eq!(parse(&with(other)), None, "{other:?}");
        }
        assert_eq!(parse(&HeaderMap::new()), None);
    }
}
