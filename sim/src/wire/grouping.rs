//! Which call an attempt belongs to, from what an unchanged client already
//! sends: a client judged from the wire need not name its calls.
//!
//! Strongest first ([`Grouping`]):
//!
//! 1. Call ids the client sends ([`address::named`]): headers, or a tag
//!    in the body. The client's number and the call's are its own.
//! 2. An `Idempotency-Key` header: one key, one call. Stainless-generated
//!    SDKs send one when the client class names a header for it; the
//!    Python `openai` 3.57.0 and `anthropic` 2.14.0 name none
//!    (`_base_client.py`: `self._idempotency_header = None`, openai line
//!    470, anthropic line 460), so they are grouped by 3.
//! 3. The `x-stainless-retry-count` header the official SDKs send on every
//!    attempt: `"0"` on the first, `n` on retry `n` (`_base_client.py`,
//!    openai lines 551-552, anthropic line 565, both from `retries_taken`).
//!    A 0 begins a call; `n` continues the oldest open call of the same
//!    client whose last attempt sent `n - 1` and the same body (the SDKs
//!    send the request unchanged on every retry). One exception: a 0 also
//!    continues a failed call of the same client and body whose attempts
//!    all sent 0. That is a retry layer above an SDK whose own retries are
//!    off (LiteLLM's Router sets the openai client's `max_retries` to 0 and
//!    retries itself), so every attempt says 0; an SDK retrying itself
//!    would have sent 1. As with 4, a call that fails after one attempt
//!    and the same request sent again read as one call.
//! 4. Otherwise the same body from the same client, while that call has no
//!    attempt in flight and has not yet succeeded: a retry follows a
//!    failure, and a request sent while the same one is still in flight,
//!    or after it succeeded, is another call.
//!
//! A client is told apart by its `User-Agent` (not its address: a retry
//! after a dropped connection comes from a new port), numbered 0, 1, ... in
//! the order the server first sees each. Clients that name their calls keep
//! their own numbers, so a run mixing both kinds may see their numbers
//! meet; one run should hold one kind.

use super::address::{self, CallId};
use crate::trace::Grouping;
use bytes::Bytes;
use hyper::HeaderMap;
use std::collections::BTreeMap;

/// The header Stainless-generated SDKs number each attempt with.
pub const RETRY_COUNT_HEADER: &str = "x-stainless-retry-count";
/// The header a client sends one key in for every attempt of a call.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Where an arriving attempt belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// The call it is an attempt of.
    pub id: CallId,
    /// Its number within the call, from 0.
    pub attempt: u32,
    /// How the call was told; `Some` on the call's first attempt only.
    pub first: Option<Grouping>,
}

/// The calls a served run has seen, and which are still open to retries.
#[derive(Debug, Default)]
pub struct Calls {
    /// Each user agent's client number.
    clients: BTreeMap<String, u32>,
    /// Each inferred client's next call number.
    next_call: BTreeMap<u32, u64>,
    /// Each call's next attempt number.
    attempts: BTreeMap<CallId, u32>,
    /// Inferred calls a retry may still continue, oldest first.
    open: Vec<Open>,
}

/// An inferred call a later attempt may continue.
#[derive(Debug)]
struct Open {
    id: CallId,
    by: Grouping,
    /// The idempotency key, or the body.
    key: Bytes,
    /// The retry count its last attempt sent.
    count: Option<u64>,
    in_flight: bool,
}

impl Calls {
    /// Place an attempt that sent `headers` and `body`.
    pub fn arrive(&mut self, headers: &HeaderMap, body: &Bytes) -> Arrival {
        if let Some(id) = address::named(headers, body) {
            return self.attempt_of(id, Some(Grouping::Ids));
        }
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let agent = text("user-agent").unwrap_or("").to_string();
        let next = self.clients.len() as u32;
        let client = *self.clients.entry(agent).or_insert(next);
        let key = text(IDEMPOTENCY_HEADER).map(|k| Bytes::copy_from_slice(k.as_bytes()));
        let count = text(RETRY_COUNT_HEADER).and_then(|c| c.trim().parse::<u64>().ok());
        let (by, key) = match (key, count) {
            (Some(key), _) => (Grouping::IdempotencyKey, key),
            (None, Some(_)) => (Grouping::RetryCount, body.clone()),
            (None, None) => (Grouping::Body, body.clone()),
        };
        let continues = |o: &Open| {
            o.id.client == client
                && o.by == by
                && o.key == key
                && !o.in_flight
                && match by {
                    // A 0 continues only a call whose attempts all sent 0:
                    // an outer layer retrying over an SDK's own retries off.
                    Grouping::RetryCount => match count {
                        Some(0) => o.count == Some(0),
                        Some(n) => o.count == Some(n - 1),
                        None => false,
                    },
                    _ => true,
                }
        };
        match self.open.iter().position(continues) {
            Some(i) => {
                let open = &mut self.open[i];
                (open.in_flight, open.count) = (true, count);
                let id = open.id;
                self.attempt_of(id, None)
            }
            None => {
                let number = self.next_call.entry(client).or_insert(0);
                let id = CallId::new(client, *number);
                *number += 1;
                self.open.push(Open {
                    id,
                    by,
                    key,
                    count,
                    in_flight: true,
                });
                self.attempt_of(id, Some(by))
            }
        }
    }

    /// The next attempt of `id`; `first` says how a new call was told.
    fn attempt_of(&mut self, id: CallId, first: Option<Grouping>) -> Arrival {
        let next = self.attempts.entry(id).or_insert(0);
        let attempt = *next;
        *next = next.saturating_add(1);
        Arrival {
            id,
            attempt,
            // Named calls are new when their first attempt arrives.
            first: first.filter(|_| attempt == 0),
        }
    }

    /// `id`'s attempt in flight has been answered (`ok`: a success, after
    /// which no retry continues the call) or dropped.
    pub fn answered(&mut self, id: CallId, ok: bool) {
        if let Some(i) = self.open.iter().position(|o| o.id == id) {
            match ok {
                true => {
                    self.open.remove(i);
                }
                false => self.open[i].in_flight = false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, value.parse().unwrap());
        }
        h
    }

    fn body(text: &'static str) -> Bytes {
        Bytes::from_static(text.as_bytes())
    }

    #[test]
    fn retry_counts_continue_the_call_that_sent_the_one_before() {
        let mut calls = Calls::default();
        let sdk = |n: &str| headers(&[("user-agent", "OpenAI/Python"), (RETRY_COUNT_HEADER, n)]);
        // Two calls in flight at once with one body: the retries go to the
        // call whose count they follow, oldest first.
        let a = calls.arrive(&sdk("0"), &body("x"));
        let b = calls.arrive(&sdk("0"), &body("x"));
        assert_eq!((a.id, b.id), (CallId::new(0, 0), CallId::new(0, 1)));
        assert_eq!(a.first, Some(Grouping::RetryCount));
        calls.answered(b.id, false);
        calls.answered(a.id, false);
        let retry = calls.arrive(&sdk("1"), &body("x"));
        assert_eq!((retry.id, retry.attempt, retry.first), (a.id, 1, None));
        let retry = calls.arrive(&sdk("1"), &body("x"));
        assert_eq!((retry.id, retry.attempt), (b.id, 1));
        // A different body is another call's retry: none is open, so a new one.
        let other = calls.arrive(&sdk("1"), &body("y"));
        assert_eq!(other.id, CallId::new(0, 2));
    }

    #[test]
    fn a_retry_count_of_zero_begins_a_call_after_an_sdk_retried() {
        let mut calls = Calls::default();
        let sdk = |n: &str| headers(&[(RETRY_COUNT_HEADER, n)]);
        let a = calls.arrive(&sdk("0"), &body("x"));
        calls.answered(a.id, false);
        let retry = calls.arrive(&sdk("1"), &body("x"));
        assert_eq!((retry.id, retry.attempt), (a.id, 1));
        calls.answered(a.id, false);
        // The SDK gave up after its retry: a 0 is the next call.
        let b = calls.arrive(&sdk("0"), &body("x"));
        assert_ne!(a.id, b.id);
        assert_eq!(b.attempt, 0);
        // While it is in flight, another 0 is yet another call.
        assert_ne!(calls.arrive(&sdk("0"), &body("x")).id, b.id);
    }

    #[test]
    fn zeros_after_a_failure_are_an_outer_layers_retries() {
        // LiteLLM's Router over an openai client with its retries off:
        // every attempt says 0.
        let mut calls = Calls::default();
        let sdk = |n: &str| headers(&[(RETRY_COUNT_HEADER, n)]);
        let a = calls.arrive(&sdk("0"), &body("x"));
        calls.answered(a.id, false);
        let retry = calls.arrive(&sdk("0"), &body("x"));
        assert_eq!((retry.id, retry.attempt, retry.first), (a.id, 1, None));
        calls.answered(a.id, true);
        // After its success the same request is a new call.
        let next = calls.arrive(&sdk("0"), &body("x"));
        assert_eq!((next.id, next.attempt), (CallId::new(0, 1), 0));
    }

    #[test]
    fn the_same_body_is_one_call_until_it_succeeds() {
        let mut calls = Calls::default();
        let none = headers(&[("user-agent", "hand/1")]);
        let a = calls.arrive(&none, &body("x"));
        // Sent again while the first is in flight: another call.
        let b = calls.arrive(&none, &body("x"));
        assert_ne!(a.id, b.id);
        calls.answered(a.id, false);
        let retry = calls.arrive(&none, &body("x"));
        assert_eq!((retry.id, retry.attempt), (a.id, 1));
        calls.answered(a.id, true);
        calls.answered(b.id, true);
        let next = calls.arrive(&none, &body("x"));
        assert_eq!((next.id, next.attempt), (CallId::new(0, 2), 0));
        // Another user agent is another client.
        let other = calls.arrive(&headers(&[("user-agent", "other")]), &body("x"));
        assert_eq!(other.id, CallId::new(1, 0));
        assert_eq!(other.first, Some(Grouping::Body));
    }

    #[test]
    fn ids_win_and_an_idempotency_key_beats_the_body() {
        let mut calls = Calls::default();
        let named = headers(&[("x-sim-client", "4"), ("x-sim-call", "9")]);
        let a = calls.arrive(&named, &body("x"));
        assert_eq!((a.id, a.first), (CallId::new(4, 9), Some(Grouping::Ids)));
        let again = calls.arrive(&named, &body("x"));
        assert_eq!((again.attempt, again.first), (1, None));
        let key = |k: &str| headers(&[(IDEMPOTENCY_HEADER, k), (RETRY_COUNT_HEADER, "0")]);
        let k = calls.arrive(&key("k1"), &body("x"));
        assert_eq!(k.first, Some(Grouping::IdempotencyKey));
        calls.answered(k.id, false);
        // The key holds the call together though the body changed.
        let retry = calls.arrive(&key("k1"), &body("changed"));
        assert_eq!((retry.id, retry.attempt), (k.id, 1));
        calls.answered(k.id, false);
        assert_ne!(calls.arrive(&key("k2"), &body("x")).id, k.id);
    }
}
