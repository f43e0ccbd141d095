//! What a wrapper promises, in the judge's own terms.
//!
//! A [`Claim`] is written from a wrapper's documentation, never from its
//! code: per retry, the backoff envelope and how delays are drawn inside
//! it; which failures are retried; what a Retry-After does; the deadline;
//! the per-attempt timeout; which methods are retried. The four jitter
//! kinds of provider-retry are presets ([`Claim::provider_retry`]).

use crate::method::Method;
use crate::scenario::{JitterSpec, PolicySpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// Saturating nanoseconds of a duration.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A wrapper's documented behaviour for one scenario's policy.
///
/// It reads from and writes to JSON (`retry-sim judge --claim FILE`); every
/// field is required and unknown ones are refused, so a typo cannot make a
/// claim looser than it reads.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// At most this many attempts per call (retries + 1).
    pub max_attempts: u64,
    /// Each attempt of a method in `timed` is abandoned after this long.
    pub timeout_ns: Option<u64>,
    /// How long the wait before retry `n` may be, and how it is drawn.
    pub backoff: Backoff,
    /// What a Retry-After on a retried failure does.
    pub retry_after: RetryAfterRule,
    /// No wait may end later than this after the first attempt began.
    pub deadline_ns: Option<u64>,
    /// Which failures are retried.
    pub retryable: Retryable,
    /// Methods whose failures are retried (stream methods: the open).
    pub retried: BTreeSet<Method>,
    /// Methods whose attempts are bounded by `timeout_ns`.
    pub timed: BTreeSet<Method>,
    /// A handed-over stream of a method in `timed` that goes this long
    /// from its hand-over without a first item ends with a timeout.
    pub first_chunk_ns: Option<u64>,
    /// A handed-over stream of a method in `timed` that goes this long
    /// without an item, after its first, ends with a timeout.
    pub stream_idle_ns: Option<u64>,
    /// A shared budget may refuse a retry the rest of the claim allows.
    pub budget: bool,
    /// The subject reports its attempts, waits and give-ups through an
    /// observer: every call of a retried method that made an attempt must
    /// have reports (what passes straight through is not reported).
    pub reports: bool,
    /// How many upstreams a call may try, in order: a gateway falls back
    /// from one deployment to the next, each under the rest of this claim
    /// (its own attempts, waits, timeout and deadline), and leaves one only
    /// when that deployment's claim lets the call end there. Absent in a
    /// claim file: 1 (no fallback), the strictest.
    #[serde(default = "one")]
    pub upstreams: u32,
    /// A throttle shared by every call of the run: a transient failure's
    /// Retry-After, seen by any call, pauses every call's next attempts
    /// (first ones included) until it has passed
    /// ([`SharedPause`]). Absent in a claim file: none, the strictest (no
    /// wait before a first attempt, none beyond a retry's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_pause: Option<SharedPause>,
    /// A Retry-After wait may last up to this much longer than asked (a
    /// client that adds jitter to it); never shorter. Absent in a claim
    /// file: 0, the strictest.
    #[serde(default)]
    pub retry_after_jitter_ns: u64,
    /// How a call goes through its `upstreams`: an ordered fallback chain
    /// (each deployment its own retries), or one group whose attempts any
    /// deployment may serve, in any order, counted together. Absent in a
    /// claim file: in order.
    #[serde(default)]
    pub upstream_order: UpstreamOrder,
    /// After a 429 from an upstream (answered to any call of the run), that
    /// upstream is not tried again for this long, unless every upstream of
    /// the group is cooling down then; a call with retries left may end
    /// when every upstream is cooling down. Absent in a claim file: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_ns: Option<u64>,
    /// The client promises the server side of Retry-After: no attempt
    /// reaches a server before a Retry-After that server sent (to any call,
    /// under any deployment name) has passed. `None`: as `shared_pause`
    /// says (promised under one, else not). See [`Claim::server_waits`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_waits: Option<bool>,
    /// What an answer's `x-should-retry` header does: honoured, it
    /// overrides `retryable` for that answer (`true`: retried whatever its
    /// status, while attempts remain and after the claim's wait; `false`:
    /// the call ends with it at once); ignored, it changes nothing. Absent
    /// in a claim file: ignored.
    #[serde(default, skip_serializing_if = "ShouldRetryHeader::is_ignored")]
    pub should_retry_header: ShouldRetryHeader,
}

/// What a claim does with an answer's `x-should-retry: true|false` header
/// (the official SDKs' override of their status rule).
///
/// # Default
///
/// [`ShouldRetryHeader::Ignored`]: a claim file written before the
/// header was judged said nothing about it, and most clients read no
/// header but Retry-After.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShouldRetryHeader {
    /// `true` retries any status, `false` retries none, over `retryable`.
    Honoured,
    /// The header changes nothing: `retryable` alone decides.
    #[default]
    Ignored,
}

impl ShouldRetryHeader {
    fn is_ignored(&self) -> bool {
        *self == ShouldRetryHeader::Ignored
    }
}

/// How a call goes through a claim's upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamOrder {
    /// A fallback chain: upstream 0 first, then each next one once, each
    /// deployment judged on its part of the call under the whole claim.
    #[default]
    InOrder,
    /// One group: any of the upstreams may serve any attempt, in any
    /// order, and `max_attempts` and the backoff count the whole call.
    Any,
}

/// What a throttle shared by every call of a run promises, from
/// provider-retry's documented `Throttle` semantics (adaptivity off).
///
/// A transient failure carrying a Retry-After of `r`, answered to any call
/// at `t`, pauses every call until `t + min(r, max_pause)` (a pause is only
/// extended). While paused no attempt starts; an attempt held by it starts
/// at its end plus an offset uniform in `[0, spread]`, drawn per wait. A
/// wait the pause imposes that would pass the deadline (counted from the
/// call's start) or whose rest is longer than the longest Retry-After
/// waited is refused: a retry's ends the call with the last attempt's
/// failure, a first attempt's with a 429 carrying the refused wait as its
/// Retry-After, the provider never reached.
///
/// With `answered`, a held attempt does not wait: the throttle answers it
/// at once with a 429 whose Retry-After is its wait, never longer than the
/// Retry-After (capped) that set the pause's end. The answer counts as an
/// attempt of the call (its retries, its longest Retry-After and its
/// deadline treat it as a 429), though no provider saw it: a call may
/// reach the provider fewer times than its attempts, and a call whose last
/// attempt was answered ends with its last real failure, or, with none,
/// with that 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SharedPause {
    /// Held attempts wake at most this long after the pause ends.
    pub spread_ns: u64,
    /// One Retry-After pauses the others at most this long.
    pub max_pause_ns: u64,
    /// A held attempt is answered at once in the provider's stead, and
    /// counted, instead of waiting for free. Absent in a claim file: false
    /// (held attempts wait).
    #[serde(default)]
    pub answered: bool,
}

fn one() -> u32 {
    1
}

/// The backoff envelope: base `n` is `min(cap, initial * factor^n)`
/// (saturating), and the delay is drawn from `jitter` around it.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// The first backoff, before any growth, in nanoseconds.
    pub initial_ns: u64,
    /// Growth per retry (2 for doubling).
    pub factor: f64,
    /// The cap on the base (and, with `cap_after_jitter`, on the delay); `None`: uncapped.
    pub cap_ns: Option<u64>,
    /// How the delay is drawn around its base.
    pub jitter: JitterShape,
    /// The cap also bounds the jittered delay (not only the base).
    pub cap_after_jitter: bool,
    /// Retry `n` takes schedule item `n` even when retry `n - 1` waited a
    /// Retry-After instead of its backoff (provider-retry's rule). When
    /// false, a Retry-After wait does not advance the schedule.
    pub advances_on_retry_after: bool,
    /// No backoff wait is shorter than this: a shorter draw is raised to
    /// it (LiteLLM's `min_timeout`). It raises backoff waits only, those
    /// that stand in for a Retry-After the claim does not wait included; a
    /// Retry-After waited as asked is not raised. Absent in a claim file: 0.
    #[serde(default)]
    pub floor_ns: u64,
}

/// How a delay is drawn around its base `b`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JitterShape {
    /// Uniform in `[lo * b, hi * b]`: none is `[1, 1]`, equal `[0.5, 1]`,
    /// full `[0, 1]`, OpenAI's SDKs `[0.75, 1]`.
    Scale {
        /// The low end, as a share of the base.
        lo: f64,
        /// The high end, as a share of the base.
        hi: f64,
    },
    /// Uniform in `[b + lo_ns, b + hi_ns]`.
    Add {
        /// The least added, in nanoseconds.
        lo_ns: u64,
        /// The most added, in nanoseconds.
        hi_ns: u64,
    },
    /// Uniform in `[initial, 3 * previous]` (the first previous is
    /// `initial`), then capped: the AWS "decorrelated" kind.
    Decorrelated,
}

/// In words: `uniform in [0.5 b, b]`, `uniform in [b + 0 ns, b + 250 ms]`,
/// `decorrelated: uniform in [initial, 3 × previous]`, where `b` is the
/// schedule's base delay.
impl std::fmt::Display for JitterShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `b`'s factor: `b` alone for 1, `0.5 b` else.
        let times_b = |k: f64| match k == 1.0 {
            true => "b".to_string(),
            false => format!("{k} b"),
        };
        match *self {
            JitterShape::Scale { lo, hi } if lo == hi => write!(f, "exactly {}", times_b(lo)),
            JitterShape::Scale { lo, hi } => {
                write!(f, "uniform in [{}, {}]", times_b(lo), times_b(hi))
            }
            JitterShape::Add { lo_ns, hi_ns } => write!(
                f,
                "uniform in [b + {}, b + {}]",
                crate::duration::human(lo_ns),
                crate::duration::human(hi_ns)
            ),
            JitterShape::Decorrelated => {
                f.write_str("decorrelated: uniform in [initial, 3 × previous]")
            }
        }
    }
}

/// What a Retry-After does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterRule {
    /// Ignored: the backoff is waited.
    Ignored,
    /// Waited exactly when at most `max_ns`; a longer one ends the call at once.
    Exact {
        /// The longest Retry-After waited, in nanoseconds.
        max_ns: u64,
    },
    /// Waited exactly when positive and at most `max_ns`; a zero one (or
    /// a date already past) is no instruction, and the backoff is waited
    /// as if there were none. Above `max_ns`, the call ends at once if
    /// `refuse_above`, else `max_ns` is waited. The Python SDKs' rule.
    Positive {
        /// The longest Retry-After waited as given, in nanoseconds.
        max_ns: u64,
        /// Above `max_ns`: end the call (true) or wait `max_ns` (false).
        refuse_above: bool,
    },
    /// Waited exactly when positive (or zero, if `zero_waited`) and at
    /// most `max_ns`; any other (zero otherwise, a date already past, or
    /// above `max_ns`) is no instruction, and the backoff is waited as if
    /// there were none. LiteLLM's rule; with `zero_waited`, the Vercel AI
    /// SDK's.
    Within {
        /// The longest Retry-After waited, in nanoseconds.
        max_ns: u64,
        /// A zero Retry-After is waited as zero, not as no instruction.
        /// Absent in a claim file: false.
        #[serde(default)]
        zero_waited: bool,
    },
}

/// Which failures are retried.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retryable {
    /// The HTTP statuses that are retried.
    pub statuses: BTreeSet<u16>,
    /// Whether a network error is retried.
    pub network: bool,
    /// Whether an expired per-attempt timeout is retried.
    pub timeout: bool,
}

impl Retryable {
    /// 429, 500, 502, 503, 504, network errors and timeouts: what
    /// `crabllm_core::Error::is_transient` documents.
    pub fn transient() -> Self {
        Self {
            statuses: [429, 500, 502, 503, 504].into(),
            network: true,
            timeout: true,
        }
    }
}

impl Claim {
    /// provider-retry's documented semantics (`docs/wrapper.md`,
    /// "Semantics"; the crate doc's "Which methods are retried") for `spec`.
    pub fn provider_retry(spec: &PolicySpec) -> Self {
        let jitter = match spec.jitter {
            JitterSpec::None => JitterShape::Scale { lo: 1.0, hi: 1.0 },
            JitterSpec::Equal => JitterShape::Scale { lo: 0.5, hi: 1.0 },
            JitterSpec::Full => JitterShape::Scale { lo: 0.0, hi: 1.0 },
            JitterSpec::Decorrelated => JitterShape::Decorrelated,
        };
        let retried: BTreeSet<Method> = Method::ALL
            .into_iter()
            .filter(|m| {
                !matches!(
                    m,
                    Method::Passthrough
                        | Method::Image
                        | Method::AudioSpeech
                        | Method::AudioTranscription
                )
            })
            .collect();
        let mut timed = retried.clone();
        timed.insert(Method::Passthrough);
        let positive = |d: Duration| (!d.is_zero()).then(|| nanos(d));
        Claim {
            max_attempts: u64::from(spec.max_retries) + 1,
            timeout_ns: positive(spec.timeout),
            backoff: Backoff {
                initial_ns: nanos(spec.initial_backoff),
                factor: 2.0,
                cap_ns: Some(nanos(spec.max_backoff)),
                jitter,
                cap_after_jitter: true,
                advances_on_retry_after: true,
                floor_ns: 0,
            },
            retry_after: RetryAfterRule::Exact {
                max_ns: nanos(spec.max_retry_after),
            },
            deadline_ns: spec.retry_deadline.map(nanos),
            retryable: Retryable::transient(),
            retried,
            timed,
            first_chunk_ns: positive(spec.first_chunk),
            stream_idle_ns: positive(spec.stream_idle),
            budget: false,
            reports: false,
            upstreams: 1,
            shared_pause: None,
            retry_after_jitter_ns: 0,
            upstream_order: UpstreamOrder::InOrder,
            cooldown_ns: None,
            server_waits: None,
            // A crabllm provider's error keeps no response headers, so the
            // wrapper never sees one.
            should_retry_header: ShouldRetryHeader::Ignored,
        }
    }

    /// Whether the claim promises the server side of Retry-After (see
    /// [`Claim::server_waits`](field@Claim::server_waits)): as it says, else
    /// under a shared pause only.
    pub fn server_waits(&self) -> bool {
        self.server_waits.unwrap_or(self.shared_pause.is_some())
    }

    /// The longest Retry-After the claim waits as given (0 if it ignores
    /// them): what a server's Retry-After can hold its attempts back.
    pub fn retry_after_max(&self) -> u64 {
        match self.retry_after {
            RetryAfterRule::Ignored => 0,
            RetryAfterRule::Exact { max_ns }
            | RetryAfterRule::Positive { max_ns, .. }
            | RetryAfterRule::Within { max_ns, .. } => max_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_retrys_claim_reads_the_policy() {
        let spec = PolicySpec {
            max_retries: 3,
            timeout: Duration::ZERO,
            first_chunk: Duration::from_secs(5),
            retry_deadline: Some(Duration::from_secs(7)),
            ..PolicySpec::default()
        };
        let c = Claim::provider_retry(&spec);
        assert_eq!(c.max_attempts, 4);
        assert_eq!(c.timeout_ns, None, "a zero timeout is no timeout");
        assert_eq!(c.first_chunk_ns, Some(5_000_000_000));
        assert_eq!(c.deadline_ns, Some(7_000_000_000));
        assert_eq!(c.backoff.cap_ns, Some(20_000_000_000));
        assert_eq!(c.retryable, Retryable::transient());
        assert_eq!(c.retryable.statuses.len(), 5);
        assert!(c.retried.contains(&Method::Chat) && !c.retried.contains(&Method::Image));
        assert!(
            c.timed.contains(&Method::Passthrough) && !c.retried.contains(&Method::Passthrough)
        );
    }

    #[test]
    fn a_claim_file_without_upstreams_allows_no_fallback() {
        let mut json = serde_json::to_value(Claim::provider_retry(&PolicySpec::default())).unwrap();
        json.as_object_mut().unwrap().remove("upstreams");
        let read: Claim = serde_json::from_value(json).unwrap();
        assert_eq!(read.upstreams, 1);
    }

    #[test]
    fn a_claim_file_written_before_the_group_knobs_reads_as_the_strictest() {
        let claim = Claim::provider_retry(&PolicySpec::default());
        let mut json = serde_json::to_value(&claim).unwrap();
        let fields = json.as_object_mut().unwrap();
        for field in ["retry_after_jitter_ns", "upstream_order"] {
            assert!(fields.remove(field).is_some(), "{field} is written");
        }
        fields["backoff"]
            .as_object_mut()
            .unwrap()
            .remove("floor_ns");
        let read: Claim = serde_json::from_value(json).unwrap();
        assert_eq!(read, claim);
        assert_eq!(read.retry_after_jitter_ns, 0);
        assert_eq!(read.backoff.floor_ns, 0);
        assert_eq!(read.upstream_order, UpstreamOrder::InOrder);
        assert_eq!((read.cooldown_ns, read.server_waits), (None, None));
        assert!(!read.server_waits());
    }

    #[test]
    fn a_claim_file_without_the_header_rule_ignores_the_header() {
        let mut claim = Claim::provider_retry(&PolicySpec::default());
        let json = serde_json::to_value(&claim).unwrap();
        assert!(
            json.get("should_retry_header").is_none(),
            "ignored is not written"
        );
        let read: Claim = serde_json::from_value(json).unwrap();
        assert_eq!(read.should_retry_header, ShouldRetryHeader::Ignored);
        claim.should_retry_header = ShouldRetryHeader::Honoured;
        let json = serde_json::to_value(&claim).unwrap();
        assert_eq!(json["should_retry_header"], "honoured");
        assert_eq!(serde_json::from_value::<Claim>(json).unwrap(), claim);
    }

    #[test]
    fn nanos_saturates() {
        assert_eq!(nanos(Duration::from_nanos(7)), 7);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }
}
