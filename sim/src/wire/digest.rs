//! What a request says, as one stable number, and which call it names.
//!
//! The caller digests the request it makes and the probe digests each
//! attempt's, so the judge can tell whether a retry sent what the caller
//! asked for. Both go through [`Sent`]'s constructors, so the two sides
//! cannot disagree on how a request is read.
//!
//! A request is read as JSON and written back canonically (object keys
//! sorted, no spaces), so a raw body and the typed request it parses to
//! digest alike (a wrapper that forwards `chat_completion_raw` through its
//! own `chat_completion`, as crabllm's trait default does, sends the same
//! request). A model that travels outside the body (Gemini's path, a
//! transcription's form) is part of what is sent; one that is also in the
//! body is not counted twice. The hash is 64-bit FNV-1a: fixed by its
//! definition, not keyed per process as std's hasher is, so a digest means
//! the same in every run and every trace file.

use super::address::{CallId, find_tag_in};
use crabllm_core::MultipartField;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;

/// What one request sends: its digest, and the call its content names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// A hash of everything the request sends.
    pub digest: u64,
    /// The call a [`tag`](super::address::tag) in the content names.
    pub call: Option<CallId>,
}

impl Sent {
    /// A typed request, sent with `model` outside its body (if any).
    pub fn typed<T: Serialize>(request: &T, model: Option<&str>) -> Self {
        match serde_json::to_value(request) {
            Ok(value) => Self::of_text(model, &canonical(&value)),
            // Nothing the simulator sends fails to serialise; should a
            // wrapper's request, it is still digested, as its name.
            Err(e) => Self::of_text(model, &format!("unserialisable: {e}")),
        }
    }

    /// A raw body (JSON, or any bytes), sent with `model` outside it.
    pub fn body(bytes: &[u8], model: Option<&str>) -> Self {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => Self::of_text(model, &canonical(&value)),
            Err(_) => Self::of_text(model, &String::from_utf8_lossy(bytes)),
        }
    }

    /// A transcription's multipart form, with its model.
    pub fn fields(model: &str, fields: &[MultipartField]) -> Self {
        let mut text = String::new();
        for f in fields {
            // Length-prefixed, so no two forms write the same text.
            for part in [
                f.name.as_bytes(),
                f.filename.as_deref().unwrap_or("").as_bytes(),
                f.content_type.as_deref().unwrap_or("").as_bytes(),
                &f.bytes,
            ] {
                let _ = write!(text, "{}:{};", part.len(), String::from_utf8_lossy(part));
            }
        }
        Self::of_text(Some(model), &text)
    }

    fn of_text(model: Option<&str>, text: &str) -> Self {
        let mut hash = Fnv::default();
        if let Some(model) = model {
            hash.write(model.as_bytes());
            // Keeps ("ab", "c") apart from ("a", "bc").
            hash.write(&[0]);
        }
        hash.write(text.as_bytes());
        Sent {
            digest: hash.0,
            call: find_tag_in(text),
        }
    }
}

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// `value` as compact JSON with every object's keys sorted.
fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::requests;

    #[test]
    fn a_raw_body_digests_as_the_typed_request_it_parses_to() {
        let id = CallId::new(3, 41);
        let typed = Sent::typed(&requests::chat(id), None);
        let raw = Sent::body(&requests::chat_body(id), None);
        assert_eq!(typed, raw);
        assert_eq!(typed.call, Some(id));
    }

    #[test]
    fn key_order_and_spacing_do_not_change_a_digest_and_content_does() {
        let a = Sent::body(br#"{"a":1,"b":[true,null]}"#, None);
        let b = Sent::body(br#"{ "b": [true, null], "a": 1 }"#, None);
        assert_eq!(a, b);
        assert_ne!(a, Sent::body(br#"{"a":2,"b":[true,null]}"#, None));
        assert_ne!(a, Sent::body(br#"{"a":1,"b":[true,null]}"#, Some("m")));
    }

    #[test]
    fn the_digest_is_fixed_across_processes() {
        // FNV-1a of the empty input and of "a", from its definition.
        assert_eq!(Sent::body(b"", None).digest, 0xcbf2_9ce4_8422_2325);
        assert_eq!(Sent::body(b"a", None).digest, 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn every_request_the_caller_makes_names_its_call_and_calls_differ() {
        let (one, two) = (CallId::new(1, 7), CallId::new(2, 7));
        for method in crate::method::Method::ALL {
            let (a, b) = (requests::sent(method, one), requests::sent(method, two));
            match method {
                crate::method::Method::Models => assert_eq!((a, b), (None, None)),
                _ => {
                    let (a, b) = (a.unwrap(), b.unwrap());
                    assert_eq!((a.call, b.call), (Some(one), Some(two)), "{method}");
                    assert_ne!(a.digest, b.digest, "{method}");
                }
            }
        }
    }
}
