//! Throttles that answer held attempts, with one defect each, claiming
//! `ours-throttle-answered`'s shared pause: one that ignores other calls'
//! Retry-After, one that wakes every held call in one instant, one whose
//! waits pass the deadline, one whose answers ask longer than what set the
//! pause, one whose answers are not counted as attempts, one that answers
//! with no pause on. Each is caught by the oracle for the rule it breaks;
//! `ours-throttle-answered` and a correct answering gate of another shape
//! (below the retry loop, not inside it) hold every oracle on the same
//! scenarios.

use super::throttle::{
    DEADLINE, Holds, IgnoresOthers, LIMITED, OneInstant, assert_caught, assert_holds,
};
use crabllm_core::Error;
use provider_retry::Retrying;
use provider_retry::throttle::HELD_BACK;
use provider_retry_sim::check::Claim;
use provider_retry_sim::scenario::PolicySpec;
use provider_retry_sim::subject::builtin::{THROTTLE_SPREAD, policy_of};
use provider_retry_sim::subject::peers::{Peer, RetryLib};
use provider_retry_sim::subject::{OursThrottleAnswered, Probe, Subject};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The limiter of [`LIMITED`] asking for 3 s: calls held a second or more
/// after a pause began come back uniformly over the spread (those held
/// sooner are clipped to what set the pause, as the claim allows).
const LONG_PAUSE: &str = r#"
name = "zoo-answered-long-pause"
[policy]
max_retries = 4
jitter = "none"
[faults]
rate_limit = { calls = 5, window_ms = 1000, retry_after_ms = 3000 }
[workload]
kind = "closed"
clients = 20
calls = 3
"#;

/// The limiter of [`LIMITED`] with one retry: a call held at its start
/// has one real attempt left.
const ONE_RETRY: &str = r#"
name = "zoo-answered-one-retry"
[policy]
max_retries = 1
jitter = "none"
[faults]
rate_limit = { calls = 5, window_ms = 1000, retry_after_ms = 1000 }
[workload]
kind = "closed"
clients = 20
calls = 3
"#;

/// Two clients at once: one meets a 503 with a Retry-After of 1 s, the
/// other a plain 503, so its one retry, after no backoff, is answered at
/// its gate while the first's pause holds, and ends the call there with
/// its last real error.
const ENDS_AT_GATE: &str = r#"
name = "zoo-answered-ends-at-gate"
[policy]
max_retries = 1
initial_backoff = 0
max_backoff = 0
jitter = "none"
max_retry_after = 2000
[faults]
script = ["503:ra=1000", "503"]
latency = { kind = "uniform", min_ms = 10, max_ms = 10 }
[workload]
kind = "closed"
clients = 2
calls = 1
think_ms = 0
"#;

/// One client, no retries: its first call's 429 asks for 733 ms, the
/// provider heals at once, and the next calls, started inside that pause,
/// are answered at their gates: failures after the heal that the pause,
/// not the provider, gave.
const PAUSE_OUTLIVES_HEAL: &str = r#"
name = "zoo-answered-pause-outlives-heal"
[policy]
max_retries = 0
jitter = "none"
max_retry_after = 733
[faults]
script = ["429:ra=733"]
heal_ms = 1
latency = { kind = "uniform", min_ms = 10, max_ms = 10 }
[workload]
kind = "closed"
clients = 1
calls = 3
think_ms = 50
[expect]
liveness_after_heal_ms = 0
"#;

/// `ours-throttle-answered`'s claim, for a subject that reports nothing.
fn silent_claim(policy: &PolicySpec) -> Claim {
    Claim {
        reports: false,
        ..OursThrottleAnswered.claim(policy)
    }
}

/// What an [`AnsweringGate`] gets wrong, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    /// Nothing: a correct answering throttle below the retry loop.
    None,
    /// The retry loop above it has no deadline, though the claim has one.
    PastDeadline,
    /// Its answers ask the rest of the pause plus the whole offset, past
    /// what set the pause.
    Unclipped,
    /// It waits a held attempt's answer out itself and tries again: the
    /// retry loop never counts the held attempt.
    Uncounted,
    /// It also holds attempts for a spread after the pause has ended.
    AfterPause,
}

/// A shared pause below provider-retry (without a throttle of its own)
/// that answers held attempts in the provider's stead: a 429 whose
/// Retry-After is the rest of the pause plus an offset uniform in
/// `[0, 1 s]`, never longer than the Retry-After that set the pause. The
/// retry loop above counts the answer as an attempt and waits it as a
/// Retry-After, as the claim says: the claim allows this shape too. A
/// `RetryLib` that makes one attempt, so that `Peer` routes every method
/// through it and forwards the rest.
struct AnsweringGate {
    flaw: Flaw,
    max_pause: Duration,
    state: Arc<Mutex<GateState>>,
}

struct GateState {
    until: Option<Instant>,
    /// The Retry-After (capped) that set `until`.
    asked: Duration,
    rng: ChaCha8Rng,
}

impl AnsweringGate {
    /// The Retry-After of the answer to an attempt held now, if one is.
    fn held(&self) -> Option<Duration> {
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        let until = s.until?;
        let spread = THROTTLE_SPREAD.as_nanos() as u64 + 1;
        let offset = Duration::from_nanos(s.rng.next_u64() % spread);
        if self.flaw == Flaw::AfterPause && now >= until && now < until + THROTTLE_SPREAD {
            return Some(until + THROTTLE_SPREAD - now);
        }
        let left = until.checked_duration_since(now).filter(|l| !l.is_zero())?;
        Some(match self.flaw {
            Flaw::Unclipped => left + offset,
            _ => (left + offset).min(s.asked.max(left)),
        })
    }

    fn learn(&self, e: &Error) {
        if let (Some(ra), true) = (e.retry_after(), e.is_transient()) {
            let mut s = self.state.lock().unwrap();
            let asked = ra.min(self.max_pause);
            let end = Instant::now() + asked;
            if s.until.is_none_or(|u| end > u) {
                (s.until, s.asked) = (Some(end), asked);
            }
        }
    }
}

impl RetryLib for AnsweringGate {
    async fn retry<'a, T, F, Fut>(&'a self, op: F) -> Result<T, Error>
    where
        T: Send + 'a,
        F: Fn() -> Fut + Clone + Send + Sync + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a,
    {
        while let Some(wait) = self.held() {
            if self.flaw != Flaw::Uncounted {
                return Err(Error::Provider {
                    status: 429,
                    body: HELD_BACK.into(),
                    retry_after: Some(wait),
                });
            }
            tokio::time::sleep(wait).await;
        }
        let answer = op().await;
        if let Err(e) = &answer {
            self.learn(e);
        }
        answer
    }
}

/// provider-retry's retry loop (no throttle) over an [`AnsweringGate`].
struct Gated(Flaw);

impl Subject for Gated {
    type Wrapped = Retrying<Peer<AnsweringGate>>;

    fn name(&self) -> String {
        format!("zoo-answered:gate-{:?}", self.0).to_lowercase()
    }

    /// `ours-throttle-answered`'s claim, but it reports nothing.
    fn claim(&self, policy: &PolicySpec) -> Claim {
        silent_claim(policy)
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        let gate = AnsweringGate {
            flaw: self.0,
            max_pause: policy.max_retry_after,
            state: Arc::new(Mutex::new(GateState {
                until: None,
                asked: Duration::ZERO,
                rng: ChaCha8Rng::seed_from_u64(seed),
            })),
        };
        let mut policy = policy_of(policy);
        if self.0 == Flaw::PastDeadline {
            policy = policy.retry_deadline(None);
        }
        Retrying::with_policy(Peer::new(inner, gate), policy).seed(seed)
    }
}

#[test]
fn an_answering_throttle_ignoring_other_calls_retry_after_is_caught() {
    assert_caught(
        &IgnoresOthers(Holds::Answering),
        LIMITED,
        "retry_after_shared",
    );
}

#[test]
fn an_answering_throttle_waking_every_held_call_at_once_is_caught() {
    assert_caught(
        &OneInstant(Holds::Answering),
        LONG_PAUSE,
        "pause_wakes_spread",
    );
}

#[test]
fn an_answering_throttle_whose_waits_pass_the_deadline_is_caught() {
    assert_caught(&Gated(Flaw::PastDeadline), DEADLINE, "deadline_respected");
}

#[test]
fn an_answer_asking_longer_than_what_set_the_pause_is_caught() {
    assert_caught(&Gated(Flaw::Unclipped), LIMITED, "first_attempt_at_once");
}

#[test]
fn an_answered_attempt_not_counted_is_caught() {
    assert_caught(&Gated(Flaw::Uncounted), ONE_RETRY, "attempts_bounded");
}

#[test]
fn an_attempt_answered_with_no_pause_on_is_caught() {
    assert_caught(&Gated(Flaw::AfterPause), LIMITED, "first_attempt_at_once");
}

#[test]
fn correct_answering_throttles_of_both_shapes_hold_every_oracle() {
    let answered_at_gate = [ENDS_AT_GATE, PAUSE_OUTLIVES_HEAL];
    for toml in [LIMITED, DEADLINE, LONG_PAUSE, ONE_RETRY]
        .into_iter()
        .chain(answered_at_gate)
    {
        assert_holds(&OursThrottleAnswered, toml);
        assert_holds(&Gated(Flaw::None), toml);
    }
}
