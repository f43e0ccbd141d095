//! provider-retry, crabllm's wrapper and the bare provider; every
//! subject `retry-sim` knows by name.

use super::peers::reference::Shape;
use super::peers::{Backon, BackonAdjust, Reference, TokioRetry2, Tower};
use super::{Probe, Subject};
use crate::check::claim::{Backoff, Claim, JitterShape, RetryAfterRule, SharedPause, nanos};
use crate::method::Method;
use crate::scenario::{JitterSpec, PolicySpec};
use crate::trace::{GiveUpReason, Reported};
use provider_retry::{Event, Jitter, RetryPolicy, Retrying, Throttle};
use std::time::Duration;

/// provider-retry's `Retrying`, configured from the scenario's policy, its
/// observer reporting into the trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ours;

impl Subject for Ours {
    type Wrapped = Retrying<Probe>;

    fn name(&self) -> String {
        "provider-retry".into()
    }

    /// The documented semantics, and it reports through its observer.
    fn claim(&self, policy: &PolicySpec) -> Claim {
        Claim {
            reports: true,
            ..Claim::provider_retry(policy)
        }
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        let reporter = inner.reporter();
        Retrying::with_policy(inner, policy_of(policy))
            .seed(seed)
            .observer(move |e: &Event<'_>| {
                if let Some(event) = reported(e) {
                    reporter.report(event);
                }
            })
    }
}

/// provider-retry with a [`Throttle`] every call of the run shares, its
/// pauses only (adaptivity off: the send rate is not claimed).
///
/// The scenario's clients share one wrapper (every built-in and generated
/// scenario), so its one throttle is the run's. With `wrapper =
/// "per_client"` each client's wrapper would have its own, which this
/// claim does not describe: run it on shared scenarios.
#[derive(Debug, Clone, Copy, Default)]
pub struct OursThrottle;

/// The spread [`OursThrottle`] sets and claims: provider-retry's default.
pub const THROTTLE_SPREAD: Duration = Duration::from_secs(1);

impl OursThrottle {
    /// The throttle's longest pause: the policy's longest Retry-After, so
    /// that no pause holds others longer than any call would wait itself.
    fn max_pause(policy: &PolicySpec) -> Duration {
        policy.max_retry_after
    }
}

impl Subject for OursThrottle {
    type Wrapped = Retrying<Probe>;

    fn name(&self) -> String {
        "provider-retry, shared throttle".into()
    }

    /// [`Ours`]'s claim, and the shared pause the throttle's documentation
    /// promises.
    fn claim(&self, policy: &PolicySpec) -> Claim {
        Claim {
            shared_pause: Some(SharedPause {
                spread_ns: nanos(THROTTLE_SPREAD),
                max_pause_ns: nanos(Self::max_pause(policy)),
                answered: false,
            }),
            ..Ours.claim(policy)
        }
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        // Made outside the world's runtime in the network world: its
        // origin is then off the host's clock by a constant, which only
        // pauses' differences see (adaptivity, which reads elapsed time
        // since the origin, is off).
        let throttle = Throttle::new()
            .adaptive(false)
            .spread(THROTTLE_SPREAD)
            .max_pause(Self::max_pause(policy));
        Ours.wrap(inner, policy, seed).throttle(throttle)
    }
}

/// provider-retry with [`OursThrottle`]'s throttle answering held
/// attempts in the provider's stead (`Throttle::answer_held`): a held
/// attempt is answered at once with a 429 whose Retry-After is its wait
/// (never longer than what set the pause), and counts as an attempt.
#[derive(Debug, Clone, Copy, Default)]
pub struct OursThrottleAnswered;

impl Subject for OursThrottleAnswered {
    type Wrapped = Retrying<Probe>;

    fn name(&self) -> String {
        "provider-retry, answering throttle".into()
    }

    /// [`OursThrottle`]'s claim, its held attempts answered.
    fn claim(&self, policy: &PolicySpec) -> Claim {
        let mut claim = OursThrottle.claim(policy);
        if let Some(shared) = claim.shared_pause.as_mut() {
            shared.answered = true;
        }
        claim
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        // Made outside the world's runtime in the network world, as
        // `OursThrottle`'s is.
        let throttle = Throttle::new()
            .adaptive(false)
            .answer_held(true)
            .spread(THROTTLE_SPREAD)
            .max_pause(OursThrottle::max_pause(policy));
        Ours.wrap(inner, policy, seed).throttle(throttle)
    }
}

/// provider-retry with one jitter kind whatever the scenario's policy asks
/// for: each of its four kinds judged on every scenario, not only where a
/// scenario happens to name it.
#[derive(Debug, Clone, Copy)]
pub struct OursJitter(pub JitterSpec);

impl OursJitter {
    /// `policy` with this subject's jitter.
    fn policy(&self, policy: &PolicySpec) -> PolicySpec {
        PolicySpec {
            jitter: self.0,
            ..policy.clone()
        }
    }
}

impl Subject for OursJitter {
    type Wrapped = Retrying<Probe>;

    fn name(&self) -> String {
        let kind = match self.0 {
            JitterSpec::None => "no",
            JitterSpec::Equal => "equal",
            JitterSpec::Full => "full",
            JitterSpec::Decorrelated => "decorrelated",
        };
        format!("provider-retry, {kind} jitter")
    }

    /// [`Ours`]'s claim for the policy with this jitter.
    fn claim(&self, policy: &PolicySpec) -> Claim {
        Ours.claim(&self.policy(policy))
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        Ours.wrap(inner, &self.policy(policy), seed)
    }
}

/// The wrapper's policy for a scenario's.
pub fn policy_of(spec: &PolicySpec) -> RetryPolicy {
    RetryPolicy::new()
        .max_retries(spec.max_retries)
        .timeout(spec.timeout)
        .initial_backoff(spec.initial_backoff)
        .max_backoff(spec.max_backoff)
        .jitter(match spec.jitter {
            JitterSpec::None => Jitter::None,
            JitterSpec::Equal => Jitter::Equal,
            JitterSpec::Full => Jitter::Full,
            JitterSpec::Decorrelated => Jitter::Decorrelated,
        })
        .max_retry_after(spec.max_retry_after)
        .first_chunk(spec.first_chunk)
        .stream_idle(spec.stream_idle)
        .retry_deadline(spec.retry_deadline)
}

fn reported(event: &Event<'_>) -> Option<Reported> {
    Some(match *event {
        Event::AttemptStarted { attempt, .. } => Reported::Attempt { attempt },
        Event::Delay {
            attempt,
            delay,
            reason,
            ..
        } => Reported::Delay {
            attempt,
            delay_ns: nanos(delay),
            retry_after: reason == provider_retry::DelayReason::RetryAfter,
        },
        Event::GaveUp {
            attempt, reason, ..
        } => Reported::GaveUp {
            attempt,
            reason: match reason {
                provider_retry::GiveUp::NotTransient => GiveUpReason::NotTransient,
                provider_retry::GiveUp::Exhausted => GiveUpReason::Exhausted,
                provider_retry::GiveUp::RetryAfterTooLong => GiveUpReason::RetryAfterTooLong,
                provider_retry::GiveUp::Deadline => GiveUpReason::Deadline,
                provider_retry::GiveUp::Budget => GiveUpReason::Budget,
            },
        },
        Event::AttemptEnded { .. } | Event::StreamTimedOut { .. } | Event::Throttled { .. } => {
            return None;
        }
    })
}

/// `crabllm_core::Retrying` 0.0.25, configured through its four setters.
///
/// Its claim is what its documentation says: "retries transient failures
/// with exponential backoff and full jitter" from a 100 ms initial backoff
/// (its `new`), no cap and no deadline; Retry-After up to
/// `max_retry_after` waited, a longer one propagated at once; the
/// per-attempt timeout and the stream idle bound as set. It overrides, and
/// so retries, chat, Anthropic messages and the Gemini stream, with their
/// stream opens; `chat_completion_raw` is retried too, through the trait's
/// default (which calls the wrapper's own `chat_completion`); embedding,
/// models, image and audio it documents as passed through. Its jitter
/// comes from the thread RNG: not seedable.
#[derive(Debug, Clone, Copy, Default)]
pub struct Crabllm;

impl Subject for Crabllm {
    type Wrapped = crabllm_core::Retrying<Probe>;

    fn name(&self) -> String {
        "crabllm-core 0.0.25".into()
    }

    fn claim(&self, policy: &PolicySpec) -> Claim {
        let retried = [
            Method::Chat,
            Method::ChatStream,
            Method::ChatRaw,
            Method::Anthropic,
            Method::AnthropicStream,
            Method::GeminiStream,
        ];
        let positive = |d: Duration| (!d.is_zero()).then(|| nanos(d));
        Claim {
            max_attempts: u64::from(policy.max_retries) + 1,
            timeout_ns: positive(policy.timeout),
            backoff: Backoff {
                initial_ns: 100_000_000,
                factor: 2.0,
                cap_ns: None,
                jitter: JitterShape::Scale { lo: 0.0, hi: 1.0 },
                cap_after_jitter: false,
                advances_on_retry_after: true,
                floor_ns: 0,
            },
            retry_after: RetryAfterRule::Exact {
                max_ns: nanos(policy.max_retry_after),
            },
            deadline_ns: None,
            retryable: crate::check::claim::Retryable::transient(),
            retried: retried.into(),
            timed: retried.into(),
            // Its single idle bound starts at the hand-over, so it bounds
            // the first item too.
            first_chunk_ns: positive(policy.stream_idle),
            stream_idle_ns: positive(policy.stream_idle),
            budget: false,
            reports: false,
            upstreams: 1,
            shared_pause: None,
            retry_after_jitter_ns: 0,
            upstream_order: crate::check::claim::UpstreamOrder::InOrder,
            cooldown_ns: None,
            server_waits: None,
            should_retry_header: crate::check::claim::ShouldRetryHeader::Ignored,
        }
    }

    fn seedable(&self) -> bool {
        false
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, _: u64) -> Self::Wrapped {
        crabllm_core::Retrying::new(inner)
            .max_retries(policy.max_retries)
            .timeout(policy.timeout)
            .max_retry_after(policy.max_retry_after)
            .stream_idle(policy.stream_idle)
    }
}

/// No wrapper at all, judged against provider-retry's claim: the control
/// that shows the retry oracles can fail.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bare;

impl Subject for Bare {
    type Wrapped = Probe;

    fn name(&self) -> String {
        "bare provider".into()
    }

    fn claim(&self, policy: &PolicySpec) -> Claim {
        Claim::provider_retry(policy)
    }

    fn wrap(&self, inner: Probe, _: &PolicySpec, _: u64) -> Probe {
        inner
    }
}

/// The built-in subjects by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum SubjectName {
    /// provider-retry's `Retrying`, with the scenario's jitter.
    Ours,
    /// provider-retry with no jitter, whatever the scenario says.
    OursNone,
    /// provider-retry with equal jitter.
    OursEqual,
    /// provider-retry with full jitter.
    OursFull,
    /// provider-retry with decorrelated jitter.
    OursDecorrelated,
    /// provider-retry with a throttle every call shares (its pauses).
    OursThrottle,
    /// provider-retry with a shared throttle answering held attempts.
    OursThrottleAnswered,
    /// `crabllm_core::Retrying` 0.0.25.
    Crabllm,
    /// backon 1.6, Retry-After ignored.
    Backon,
    /// backon 1.6 with its `adjust` idiom for Retry-After.
    BackonAdjust,
    /// tokio-retry2 0.9.
    #[value(name = "tokio-retry2")]
    TokioRetry2,
    /// tower 0.5's `retry`.
    Tower,
    /// A correct reference loop with OpenAI's jitter, `[0.75 b, b]`.
    ReferenceOpenai,
    /// A correct reference loop with additive jitter, `b + [0, 250 ms]`.
    ReferenceAdded,
    /// The provider with no wrapper (a control).
    Bare,
}

impl SubjectName {
    /// Every built-in subject `conform` runs when none is named, in table order.
    pub const ALL: [SubjectName; 15] = [
        SubjectName::Ours,
        SubjectName::OursNone,
        SubjectName::OursEqual,
        SubjectName::OursFull,
        SubjectName::OursDecorrelated,
        SubjectName::OursThrottle,
        SubjectName::OursThrottleAnswered,
        SubjectName::Crabllm,
        SubjectName::Backon,
        SubjectName::BackonAdjust,
        SubjectName::TokioRetry2,
        SubjectName::Tower,
        SubjectName::ReferenceOpenai,
        SubjectName::ReferenceAdded,
        SubjectName::Bare,
    ];

    /// The correct wrappers: every jitter shape a claim can express, each
    /// documented to hold every oracle. `retry-sim conform` fails if one
    /// of these it ran did not, and the false-alarm sweep runs them all.
    /// (tower 0.5 is not among them: shared by concurrent calls, every call
    /// draws the same jitter, and `delays_independent` convicts it.)
    pub const CORRECT: [SubjectName; 9] = [
        SubjectName::Ours,
        SubjectName::OursNone,
        SubjectName::OursEqual,
        SubjectName::OursFull,
        SubjectName::OursDecorrelated,
        SubjectName::OursThrottle,
        SubjectName::OursThrottleAnswered,
        SubjectName::ReferenceOpenai,
        SubjectName::ReferenceAdded,
    ];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectName::Ours => "ours",
            SubjectName::OursNone => "ours-none",
            SubjectName::OursEqual => "ours-equal",
            SubjectName::OursFull => "ours-full",
            SubjectName::OursDecorrelated => "ours-decorrelated",
            SubjectName::OursThrottle => "ours-throttle",
            SubjectName::OursThrottleAnswered => "ours-throttle-answered",
            SubjectName::ReferenceOpenai => "reference-openai",
            SubjectName::ReferenceAdded => "reference-added",
            SubjectName::Crabllm => "crabllm",
            SubjectName::Backon => "backon",
            SubjectName::BackonAdjust => "backon-adjust",
            SubjectName::TokioRetry2 => "tokio-retry2",
            SubjectName::Tower => "tower",
            SubjectName::Bare => "bare",
        }
    }
}

/// Something to do with a subject whatever its type.
pub trait Visit {
    /// What the visit returns.
    type Output;
    /// The work itself, on `subject` of whatever concrete type.
    fn visit<S: Subject>(self, subject: &S) -> Self::Output;
}

/// Do `v` with the subject `name` names: the one place names become types.
pub fn visit<V: Visit>(name: SubjectName, v: V) -> V::Output {
    match name {
        SubjectName::Ours => v.visit(&Ours),
        SubjectName::OursNone => v.visit(&OursJitter(JitterSpec::None)),
        SubjectName::OursEqual => v.visit(&OursJitter(JitterSpec::Equal)),
        SubjectName::OursFull => v.visit(&OursJitter(JitterSpec::Full)),
        SubjectName::OursDecorrelated => v.visit(&OursJitter(JitterSpec::Decorrelated)),
        SubjectName::OursThrottle => v.visit(&OursThrottle),
        SubjectName::OursThrottleAnswered => v.visit(&OursThrottleAnswered),
        SubjectName::ReferenceOpenai => v.visit(&Reference(Shape::OpenAi)),
        SubjectName::ReferenceAdded => v.visit(&Reference(Shape::Added)),
        SubjectName::Crabllm => v.visit(&Crabllm),
        SubjectName::Backon => v.visit(&Backon),
        SubjectName::BackonAdjust => v.visit(&BackonAdjust),
        SubjectName::TokioRetry2 => v.visit(&TokioRetry2),
        SubjectName::Tower => v.visit(&Tower),
        SubjectName::Bare => v.visit(&Bare),
    }
}
