//! What a request says, as one stable number, and which call it names.
//!
//! The caller digests the request it makes and the probe digests each
//! attempt's, so the judge can tell whether a retry sent what the caller
//! asked for. Both go through [`Sent`]'s constructors, so the two sides
//! cannot disagree on how a request is read.
//!
//! A request is digested as the JSON its type writes (fields in a fixed
//! order, no spaces), and a raw body as the typed request it parses to, so
//! the two digest alike (a wrapper that forwards `chat_completion_raw`
//! through its own `chat_completion`, as crabllm's trait default does,
//! sends the same request) and key order or spacing in a body change
//! nothing. A body that is no such request is digested byte for byte. The
//! typed request is written straight to bytes: the probe digests every
//! attempt, and building a JSON tree for each cost the simulator more than
//! the rest of an attempt. An attempt that sends the very request its
//! caller lent to the call is not read again: its digest is the one the
//! caller recorded ([`lent`] says why that is exact). A model
//! that travels outside the body (Gemini's path, a transcription's form)
//! is part of what is sent. The hash
//! (`WordHash`, below) is fixed by its definition, not keyed per process as
//! std's hasher is, so a digest means the same in every run and every
//! trace file.

use super::address::{CallId, find_tag_in};
use super::lent::{self, Place};
use crabllm_core::MultipartField;
use serde::Serialize;
use serde::de::DeserializeOwned;
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
    pub fn typed<T: Serialize + 'static>(request: &T, model: Option<&str>) -> Self {
        lent::find(Place::typed(request), model).unwrap_or_else(|| Self::read_typed(request, model))
    }

    /// A raw body meant as a `T`, sent with `model` outside it: digested as
    /// the `T` it parses to, or byte for byte if it is no `T`.
    pub fn body<T: Serialize + DeserializeOwned + 'static>(
        bytes: &[u8],
        model: Option<&str>,
    ) -> Self {
        lent::find(Place::body::<T>(bytes), model)
            .unwrap_or_else(|| Self::read_body::<T>(bytes, model))
    }

    /// A transcription's multipart form, with its model.
    pub fn fields(model: &str, fields: &[MultipartField]) -> Self {
        lent::find(Place::fields(fields), Some(model))
            .unwrap_or_else(|| Self::read_fields(model, fields))
    }

    /// [`typed`](Self::typed), read from the request whether lent or not.
    pub(super) fn read_typed<T: Serialize>(request: &T, model: Option<&str>) -> Self {
        match serde_json::to_vec(request) {
            Ok(bytes) => Self::of_bytes(model, &bytes),
            // Nothing the simulator sends fails to serialise; should a
            // wrapper's request, it is still digested, as its name.
            Err(e) => Self::of_bytes(model, format!("unserialisable: {e}").as_bytes()),
        }
    }

    /// [`body`](Self::body), read from the bytes whether lent or not.
    pub(super) fn read_body<T: Serialize + DeserializeOwned>(
        bytes: &[u8],
        model: Option<&str>,
    ) -> Self {
        match serde_json::from_slice::<T>(bytes) {
            Ok(request) => Self::read_typed(&request, model),
            Err(_) => Self::of_bytes(model, bytes),
        }
    }

    /// [`fields`](Self::fields), read from the form whether lent or not.
    pub(super) fn read_fields(model: &str, fields: &[MultipartField]) -> Self {
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
        Self::of_bytes(Some(model), text.as_bytes())
    }

    fn of_bytes(model: Option<&str>, bytes: &[u8]) -> Self {
        let mut hash = WordHash::default();
        if let Some(model) = model {
            hash.write(model.as_bytes());
        }
        hash.write(bytes);
        Sent {
            digest: hash.0,
            call: find_tag_in(bytes),
        }
    }
}

/// A 64-bit hash taken eight bytes at a time (a byte at a time, as
/// FNV-1a goes, cost the probe more than serialising the request).
///
/// Each little-endian word, the last one padded with zeros, is mixed in by
/// xor, a multiply by an odd constant and an xor-shift that carries high
/// bits down (a multiply only carries them up); each write ends by mixing
/// in its length, so `("ab", "c")` and `("a", "bc")`, or `"a"` and
/// `"a\0"`, differ. The mix is a bijection of the state, so requests that
/// differ in one word never collide; otherwise a collision is a 2^-64
/// chance.
struct WordHash(u64);

impl Default for WordHash {
    fn default() -> Self {
        WordHash(0xcbf2_9ce4_8422_2325)
    }
}

impl WordHash {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0; 8];
            w.copy_from_slice(word);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w));
        }
        self.mix(bytes.len() as u64);
    }

    fn mix(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 ^= self.0 >> 32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::requests;
    use crabllm_core::ChatCompletionRequest;

    #[test]
    fn a_raw_body_digests_as_the_typed_request_it_parses_to() {
        let id = CallId::new(3, 41);
        let typed = Sent::typed(&requests::chat(id), None);
        let raw = Sent::body::<ChatCompletionRequest>(&requests::chat_body(id), None);
        assert_eq!(typed, raw);
        assert_eq!(typed.call, Some(id));
    }

    #[test]
    fn key_order_and_spacing_do_not_change_a_digest_and_content_does() {
        let chat = |body: &str| Sent::body::<ChatCompletionRequest>(body.as_bytes(), None);
        let a = chat(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":1}"#);
        let b =
            chat(r#"{ "n": 1, "messages": [ {"content": "x", "role": "user"} ], "model": "m" }"#);
        assert_eq!(a, b);
        assert_ne!(
            a,
            chat(r#"{"model":"m","messages":[{"role":"user","content":"y"}],"n":1}"#)
        );
        assert_ne!(
            a,
            chat(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}"#)
        );
        assert_ne!(
            a,
            chat(r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#)
        );
        let with_model = r#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":1}"#;
        assert_ne!(
            a,
            Sent::body::<ChatCompletionRequest>(with_model.as_bytes(), Some("m"))
        );
    }

    #[test]
    fn a_body_that_is_no_request_is_digested_byte_for_byte() {
        let chat = |body: &[u8]| Sent::body::<ChatCompletionRequest>(body, None);
        assert_eq!(chat(b"not json").digest, chat(b"not json").digest);
        assert_ne!(chat(b"not json").digest, chat(b"not  json").digest);
        assert_eq!(chat(b"a sim-call:2:9 b").call, Some(CallId::new(2, 9)));
    }

    #[test]
    fn the_digest_is_fixed_across_processes() {
        // Worked out from WordHash's definition, outside this code.
        let raw = |body: &[u8]| Sent::body::<ChatCompletionRequest>(body, None).digest;
        assert_eq!(raw(b""), 0xf8bb_92c9_1b3f_5cc0);
        assert_eq!(raw(b"a"), 0xeb9a_3d4f_b2ec_2c36);
        assert_eq!(raw(b"hello, world!"), 0xd46d_614e_37fb_267c);
    }

    #[test]
    fn where_the_model_ends_and_the_body_begins_is_part_of_the_digest() {
        let of = |model, body: &[u8]| Sent::of_bytes(Some(model), body).digest;
        assert_ne!(of("ab", b"c"), of("a", b"bc"));
        assert_ne!(of("", b"a"), Sent::of_bytes(None, b"a").digest);
        assert_ne!(
            Sent::of_bytes(None, b"a").digest,
            Sent::of_bytes(None, b"a\0").digest
        );
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
