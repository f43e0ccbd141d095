//! What each attempt sends: a retry repeats the caller's request, exactly.
//!
//! The caller records the digest of the request it made, the probe the
//! digest of each attempt's (`digest` on `call_started` and
//! `attempt_started`). A wrapper may not change what the caller asked for
//! between attempts: no lowered `max_tokens`, no dropped message, no
//! flipped `stream` flag. Where either digest is missing (a trace from
//! before digests, `models()`, which sends none, a record from the wire)
//! nothing is judged.

use super::claim::Claim;
use super::model::Call;
use super::{Context, Verdict};

/// Every attempt of a call sends the request the caller made.
pub const REQUEST_UNCHANGED: &str = "request_unchanged";

/// Every attempt of `c` whose digest was recorded sent the caller's
/// request; not judged where the caller's digest or every attempt's is
/// missing.
pub fn request_unchanged(c: &Call, _: &Claim, _: &Context) -> Verdict {
    let Some(asked) = c.digest else {
        return Verdict::NotJudged;
    };
    let mut sent = c
        .attempts
        .iter()
        .filter_map(|a| a.digest.map(|d| (a.number, d)))
        .peekable();
    if sent.peek().is_none() {
        return Verdict::NotJudged;
    }
    Verdict::judged(sent.find(|&(_, d)| d != asked).map(|(attempt, d)| {
        format!(
            "attempt {attempt} sent another request than the caller's (digest {d:016x}, the caller's {asked:016x})"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixture::*;
    use crate::method::Method;
    use crate::trace::{Kind, Record};

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
        let found = crate::check::check(&trace(t), &claim(), &Context::default());
        assert!(found[0].detail.starts_with("attempt 2 sent"), "{found:?}");
    }

    #[test]
    fn the_same_request_every_attempt_holds() {
        let t = with_digests(Some(7), [Some(7); 3]);
        assert_eq!(names(t, &claim()), NONE);
    }

    #[test]
    fn a_missing_digest_on_either_side_is_not_judged() {
        let t = with_digests(None, [Some(7), Some(8), Some(9)]);
        assert_eq!(names(t.clone(), &claim()), NONE);
        assert!(!judges(REQUEST_UNCHANGED, t, &claim()));
        let t = with_digests(Some(7), [None; 3]);
        assert!(!judges(REQUEST_UNCHANGED, t, &claim()));
        // One attempt's digest is enough to judge, and the rest say nothing.
        let t = with_digests(Some(7), [Some(7), None, None]);
        assert_eq!(names(t.clone(), &claim()), NONE);
        assert!(judges(REQUEST_UNCHANGED, t, &claim()));
    }
}
