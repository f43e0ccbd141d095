//! Requests a caller has lent to a call in flight, with what they send.
//!
//! The probe digests every attempt's request ([`Sent`]). A wrapper that
//! retries mostly hands each attempt the very request its caller lent it
//! (the same `&T`, or a handle on the same `Bytes`), and serialising it
//! again for every attempt was a tenth of a sweep. So the caller lends its
//! request here for as long as the call runs ([`Loan`]), with the digest it
//! records for the call, and [`Sent`]'s constructors look a request up
//! before they read it.
//!
//! Why a match is the same request, not a likely one: while a loan lasts
//! its caller holds the request (the call borrows it, or the caller keeps a
//! handle on its bytes), so no other value lives at its address, and
//! nothing changes it: the request types hold no interior mutability, and
//! the bytes behind a `Bytes` never change while a handle on them exists.
//! The same address and length, read the same way (as the same type, with
//! the same model sent beside it), is the same bytes written, so the same
//! digest. A copy, a changed request or a wrapper's own request is at
//! another address and is read anew. In builds with debug assertions
//! (every test) each loan is checked against a reading of its request.
//!
//! Loans are kept per thread: a world runs on one thread.

use super::digest::Sent;
use crabllm_core::{MultipartField, anthropic, ir};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::TypeId;
use std::cell::RefCell;

/// How a request is read into its digest: the same bytes read two ways
/// digest apart, so a loan answers only the reading it was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// A typed request, as the JSON its type writes.
    Typed(TypeId),
    /// A raw body, as the typed request of this type it parses to.
    Body(TypeId),
    /// A canonical (IR) request, as the Anthropic request it converts to.
    Converted,
    /// A transcription's multipart form.
    Fields,
}

/// Where a request lies (its address and length) and how it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    at: usize,
    len: usize,
    reading: Reading,
}

impl Place {
    fn new<T: ?Sized>(value: &T, len: usize, reading: Reading) -> Self {
        Place {
            at: std::ptr::from_ref(value).cast::<u8>() as usize,
            len,
            reading,
        }
    }

    /// A typed request, read as the JSON its type writes.
    pub fn typed<T: 'static>(request: &T) -> Self {
        Self::new(request, 1, Reading::Typed(TypeId::of::<T>()))
    }

    /// A raw body, read as the `T` it parses to.
    pub fn body<T: 'static>(bytes: &[u8]) -> Self {
        Self::new(bytes, bytes.len(), Reading::Body(TypeId::of::<T>()))
    }

    /// A canonical request, read as the Anthropic request it converts to.
    pub fn converted(request: &ir::Request) -> Self {
        Self::new(request, 1, Reading::Converted)
    }

    /// A transcription's form.
    pub fn fields(fields: &[MultipartField]) -> Self {
        Self::new(fields, fields.len(), Reading::Fields)
    }
}

struct Entry {
    place: Place,
    model: Option<&'static str>,
    sent: Sent,
}

thread_local! {
    /// The loans of the calls in flight on this thread, oldest first.
    static LOANS: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// A request lent to a call: [`find`] knows it until this is dropped.
/// Made after the request is where the call borrows it from, and dropped
/// before the request is.
#[derive(Debug)]
#[must_use = "a loan lasts only while it is held"]
pub struct Loan {
    place: Option<Place>,
}

impl Loan {
    /// Lend the request at `place`, sent with `model` beside it, whose
    /// digest is `sent` (`None`: nothing is lent).
    fn new(place: Place, model: Option<&'static str>, sent: Option<Sent>) -> Self {
        let Some(sent) = sent else {
            return Loan { place: None };
        };
        LOANS.with_borrow_mut(|loans| loans.push(Entry { place, model, sent }));
        Loan { place: Some(place) }
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        let Some(place) = self.place else { return };
        LOANS.with_borrow_mut(|loans| {
            if let Some(i) = loans.iter().rposition(|e| e.place == place) {
                loans.swap_remove(i);
            }
        });
    }
}

/// Lend the typed `request`, sent with `model`, whose digest is `sent`.
pub fn typed<T: Serialize + 'static>(
    request: &T,
    model: Option<&'static str>,
    sent: Option<Sent>,
) -> Loan {
    debug_assert!(sent.is_none_or(|s| s == Sent::read_typed(request, model)));
    Loan::new(Place::typed(request), model, sent)
}

/// Lend the raw body `bytes`, meant as a `T` and sent with `model`, whose
/// digest is `sent`. The caller keeps a handle on the bytes while the loan lasts.
pub fn body<T: Serialize + DeserializeOwned + 'static>(
    bytes: &[u8],
    model: Option<&'static str>,
    sent: Option<Sent>,
) -> Loan {
    debug_assert!(sent.is_none_or(|s| s == Sent::read_body::<T>(bytes, model)));
    Loan::new(Place::body::<T>(bytes), model, sent)
}

/// Lend the canonical `request`, whose digest is `sent`.
pub fn converted(request: &ir::Request, sent: Option<Sent>) -> Loan {
    debug_assert!(
        sent.is_none_or(|s| s == Sent::read_typed(&anthropic::Request::from(request), None))
    );
    Loan::new(Place::converted(request), None, sent)
}

/// Lend a transcription's `fields`, sent with `model`, whose digest is `sent`.
pub fn fields(fields: &[MultipartField], model: &'static str, sent: Option<Sent>) -> Loan {
    debug_assert!(sent.is_none_or(|s| s == Sent::read_fields(model, fields)));
    Loan::new(Place::fields(fields), Some(model), sent)
}

/// The digest of the request at `place` sent with `model`, if it is lent.
pub fn find(place: Place, model: Option<&str>) -> Option<Sent> {
    LOANS.with_borrow(|loans| {
        let entry = loans.iter().rev().find(|e| e.place == place)?;
        (entry.model == model).then_some(entry.sent)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::address::CallId;
    use crate::wire::requests;
    use crabllm_core::ChatCompletionRequest;

    #[test]
    fn a_lent_request_is_found_only_while_lent_and_only_as_lent() {
        let r = requests::chat(CallId::new(1, 2));
        let sent = Sent::typed(&r, None);
        {
            let _loan = typed(&r, None, Some(sent));
            assert_eq!(find(Place::typed(&r), None), Some(sent));
            assert_eq!(find(Place::typed(&r), Some("m")), None, "another model");
            assert_eq!(
                find(Place::converted(&requests::ir(CallId::new(1, 2))), None),
                None
            );
            let copy = r.clone();
            assert_eq!(find(Place::typed(&copy), None), None, "a copy is read anew");
        }
        assert_eq!(find(Place::typed(&r), None), None, "the loan ended");
    }

    #[test]
    fn bytes_are_found_by_their_place_and_their_reading() {
        let id = CallId::new(3, 4);
        let body = requests::chat_body(id);
        let sent = Sent::body::<ChatCompletionRequest>(&body, None);
        let _loan = self::body::<ChatCompletionRequest>(&body, None, Some(sent));
        let handle = body.clone();
        assert_eq!(
            find(Place::body::<ChatCompletionRequest>(&handle), None),
            Some(sent)
        );
        assert_eq!(find(Place::body::<anthropic::Request>(&handle), None), None);
        assert_eq!(
            find(Place::body::<ChatCompletionRequest>(&handle[1..]), None),
            None
        );
    }

    #[test]
    fn a_loan_ends_with_its_own_place_and_nothing_lends_none() {
        let (a, b) = (
            requests::chat(CallId::new(0, 1)),
            requests::chat(CallId::new(0, 2)),
        );
        let (sa, sb) = (Sent::typed(&a, None), Sent::typed(&b, None));
        let la = typed(&a, None, Some(sa));
        let lb = typed(&b, None, Some(sb));
        drop(la);
        assert_eq!(
            (find(Place::typed(&a), None), find(Place::typed(&b), None)),
            (None, Some(sb))
        );
        drop(lb);
        let _none = typed(&a, None, None);
        assert_eq!(find(Place::typed(&a), None), None);
    }

    #[test]
    fn an_attempt_that_sends_a_changed_request_is_read_anew() {
        let r = requests::chat(CallId::new(5, 6));
        let sent = Sent::typed(&r, None);
        let _loan = typed(&r, None, Some(sent));
        let mut changed = r.clone();
        changed.temperature = Some(0.5);
        assert_ne!(Sent::typed(&changed, None), sent);
        assert_eq!(Sent::typed(&r, None), sent);
    }
}
