//! What each attempt sends: a retry repeats the caller's request, exactly.
//!
//! The caller records the digest of the request it made, the probe the
//! digest of each attempt's (`digest` on `call_started` and
//! `attempt_started`). A wrapper may not change what the caller asked for
//! between attempts: no lowered `max_tokens`, no dropped message, no
//! flipped `stream` flag. Where either digest is missing (a trace from
//! before digests, `models()`, which sends none, a record from the wire)
//! nothing is judged.

use super::Context;
use super::claim::Claim;
use crate::trace::{Kind, Record, Trace};

/// Every attempt of a call sends the request the caller made.
pub const REQUEST_UNCHANGED: &str = "request_unchanged";

/// The calls of `trace` with an attempt that sent another request than
/// the caller's: `(client, call, what)`.
pub fn request_unchanged(trace: &Trace, _: &Claim, _: &Context) -> Vec<(u32, u64, String)> {
    trace
        .calls()
        .into_iter()
        .filter_map(|((client, call), records)| {
            changed(&records).map(|detail| (client, call, detail))
        })
        .collect()
}

/// The first attempt of one call's `records` whose digest is not the caller's.
fn changed(records: &[&Record]) -> Option<String> {
    let asked = records.iter().find_map(|r| match r.kind {
        Kind::CallStarted { digest, .. } => digest,
        _ => None,
    })?;
    records.iter().find_map(|r| match r.kind {
        Kind::AttemptStarted {
            attempt,
            digest: Some(sent),
            ..
        } if sent != asked => Some(format!(
            "attempt {attempt} sent another request than the caller's (digest {sent:016x}, the caller's {asked:016x})"
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixture::*;
    use crate::method::Method;

    fn with_digests(call: Option<u64>, attempts: [Option<u64>; 3]) -> Vec<Record> {
        let mut t = good();
        t[0].kind = Kind::CallStarted {
            method: Method::Chat,
            compat: 1,
            inner_compat: 1,
            digest: call,
        };
        for (i, digest) in [1, 3, 5].into_iter().zip(attempts) {
            let Kind::AttemptStarted { attempt, .. } = t[i].kind else {
                panic!("record {i} is no attempt's start");
            };
            t[i].kind = Kind::AttemptStarted {
                attempt,
                upstream: 0,
                digest,
            };
        }
        t
    }

    #[test]
    fn a_retry_that_sends_another_request_is_caught() {
        let t = with_digests(Some(7), [Some(7), Some(7), Some(8)]);
        assert_eq!(names(t.clone(), &claim()), [REQUEST_UNCHANGED]);
        let found = request_unchanged(&trace(t), &claim(), &Context::default());
        assert_eq!(found.len(), 1);
        assert!(found[0].2.starts_with("attempt 2 sent"), "{found:?}");
    }

    #[test]
    fn the_same_request_every_attempt_holds() {
        let t = with_digests(Some(7), [Some(7); 3]);
        assert_eq!(names(t, &claim()), NONE);
    }

    #[test]
    fn a_missing_digest_on_either_side_is_not_judged() {
        let t = with_digests(None, [Some(7), Some(8), Some(9)]);
        assert_eq!(names(t, &claim()), NONE);
        let t = with_digests(Some(7), [Some(7), None, None]);
        assert_eq!(names(t, &claim()), NONE);
    }
}
