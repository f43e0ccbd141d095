//! Throttled wrappers with one defect each, claiming `ours-throttle`'s
//! shared pause: a throttle that ignores other calls' Retry-After, one that
//! wakes every paused call in one instant, one whose waits pass the
//! deadline. Each is caught by the oracle for the rule it breaks, and
//! `ours-throttle` holds every oracle on the same scenarios.

use crabllm_core::Error;
use provider_retry::{Retrying, Throttle};
use provider_retry_sim::check::Claim;
use provider_retry_sim::run::{Evaluation, evaluate, replay_command};
use provider_retry_sim::scenario::{PolicySpec, Scenario};
use provider_retry_sim::subject::builtin::THROTTLE_SPREAD;
use provider_retry_sim::subject::peers::{Peer, RetryLib};
use provider_retry_sim::subject::{Ours, OursThrottle, OursThrottleAnswered, Probe, Subject};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Twenty closed-loop clients against a 5-per-second limiter answering 429
/// with Retry-After 1 s: calls arrive during every pause, several held at once.
pub(super) const LIMITED: &str = r#"
name = "zoo-throttle-limited"
[policy]
max_retries = 4
jitter = "none"
[faults]
rate_limit = { calls = 5, window_ms = 1000, retry_after_ms = 1000 }
[workload]
kind = "closed"
clients = 20
calls = 3
"#;

/// The same limiter under a 1.5 s retry deadline: held calls' waits reach it.
pub(super) const DEADLINE: &str = r#"
name = "zoo-throttle-deadline"
[policy]
max_retries = 4
jitter = "none"
retry_deadline = "1500ms"
[faults]
rate_limit = { calls = 5, window_ms = 1000, retry_after_ms = 1000 }
[workload]
kind = "closed"
clients = 20
calls = 3
"#;

const SEEDS: std::ops::Range<u64> = 0..4;

fn runs<S: Subject>(subject: &S, toml: &str) -> Vec<Evaluation> {
    let scenario = Scenario::parse(Path::new("zoo-throttle.toml"), toml)
        .unwrap_or_else(|e| panic!("zoo scenario does not parse: {e}"));
    SEEDS
        .map(|seed| {
            evaluate(subject, &scenario, seed, false)
                .unwrap_or_else(|e| panic!("world did not start: {e}"))
        })
        .collect()
}

/// `subject` breaks `oracle` on some seed of `toml`.
pub(super) fn assert_caught<S: Subject>(subject: &S, toml: &str, oracle: &str) {
    let found = runs(subject, toml)
        .into_iter()
        .find_map(|e| e.violations.into_iter().find(|v| v.oracle == oracle));
    assert!(
        found.is_some(),
        "{} was not caught by {oracle} on seeds {SEEDS:?}; replay one with {}",
        subject.name(),
        replay_command("zoo-throttle.toml", SEEDS.start, "ours-throttle")
    );
}

/// `subject` holds every oracle on every seed of `toml`.
pub(super) fn assert_holds<S: Subject>(subject: &S, toml: &str) {
    for e in runs(subject, toml) {
        assert!(
            e.violations.is_empty(),
            "{} failed on seed {}: {:#?}",
            subject.name(),
            e.seed,
            e.violations
        );
    }
}

/// How a zoo throttle treats the attempts a pause holds: it waits them
/// (`ours-throttle`'s claim) or answers them in the provider's stead
/// (`ours-throttle-answered`'s). Its name prefixes the subjects' names.
#[derive(Debug, Clone, Copy)]
pub(super) enum Holds {
    Waiting,
    Answering,
}

impl Holds {
    fn claim(self, policy: &PolicySpec) -> Claim {
        match self {
            Holds::Waiting => OursThrottle.claim(policy),
            Holds::Answering => OursThrottleAnswered.claim(policy),
        }
    }

    fn name(self, flaw: &str) -> String {
        match self {
            Holds::Waiting => format!("zoo-throttle:{flaw}"),
            Holds::Answering => format!("zoo-answered:{flaw}"),
        }
    }
}

/// provider-retry with no throttle, claiming a shared one: each call heeds
/// only its own Retry-After.
pub(super) struct IgnoresOthers(pub(super) Holds);

impl Subject for IgnoresOthers {
    type Wrapped = Retrying<Probe>;

    fn name(&self) -> String {
        self.0.name("ignores-others")
    }

    fn claim(&self, policy: &PolicySpec) -> Claim {
        self.0.claim(policy)
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        Ours.wrap(inner, policy, seed)
    }
}

/// provider-retry's throttle with no spread, claiming a 1 s one: every
/// held call comes back in the instant the pause ends.
pub(super) struct OneInstant(pub(super) Holds);

impl Subject for OneInstant {
    type Wrapped = Retrying<Probe>;

    fn name(&self) -> String {
        self.0.name("one-instant")
    }

    fn claim(&self, policy: &PolicySpec) -> Claim {
        self.0.claim(policy)
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        let throttle = Throttle::new()
            .adaptive(false)
            .answer_held(matches!(self.0, Holds::Answering))
            .spread(Duration::ZERO)
            .max_pause(policy.max_retry_after);
        Ours.wrap(inner, policy, seed).throttle(throttle)
    }
}

/// A shared pause kept below provider-retry (without a throttle of its
/// own): correct pauses and spread wake-ups, but the wrapper's deadline
/// never sees its waits, which run past it.
struct PastDeadline;

impl Subject for PastDeadline {
    type Wrapped = Retrying<Peer<Gate>>;

    fn name(&self) -> String {
        "zoo-throttle:past-deadline".into()
    }

    /// `ours-throttle`'s claim, but it reports nothing.
    fn claim(&self, policy: &PolicySpec) -> Claim {
        Claim {
            reports: false,
            ..OursThrottle.claim(policy)
        }
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        let gate = Gate {
            max_pause: policy.max_retry_after,
            state: Arc::new(Mutex::new(GateState {
                until: None,
                rng: ChaCha8Rng::seed_from_u64(seed),
            })),
        };
        Retrying::with_policy(
            Peer::new(inner, gate),
            provider_retry_sim::subject::builtin::policy_of(policy),
        )
        .seed(seed)
    }
}

struct GateState {
    until: Option<Instant>,
    rng: ChaCha8Rng,
}

/// The planted gate, in front of every attempt the wrapper makes: waits out
/// a pause any call's Retry-After set, then an offset uniform in
/// `[0, 1 s]`; no deadline. A `RetryLib` that makes one attempt, so that
/// `Peer` routes every method through it and forwards the rest.
struct Gate {
    max_pause: Duration,
    state: Arc<Mutex<GateState>>,
}

impl Gate {
    async fn pass(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().unwrap();
                let now = Instant::now();
                match s.until.filter(|u| *u > now) {
                    None => return,
                    Some(until) => {
                        let spread = THROTTLE_SPREAD.as_nanos() as u64 + 1;
                        let offset = Duration::from_nanos(s.rng.next_u64() % spread);
                        until - now + offset
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn learn(&self, e: &Error) {
        if let (Some(ra), true) = (e.retry_after(), e.is_transient()) {
            let mut s = self.state.lock().unwrap();
            let end = Instant::now() + ra.min(self.max_pause);
            s.until = Some(s.until.map_or(end, |u| u.max(end)));
        }
    }
}

impl RetryLib for Gate {
    async fn retry<'a, T, F, Fut>(&'a self, op: F) -> Result<T, Error>
    where
        T: Send + 'a,
        F: Fn() -> Fut + Clone + Send + Sync + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a,
    {
        self.pass().await;
        let answer = op().await;
        if let Err(e) = &answer {
            self.learn(e);
        }
        answer
    }
}

#[test]
fn a_throttle_ignoring_other_calls_retry_after_is_caught() {
    assert_caught(
        &IgnoresOthers(Holds::Waiting),
        LIMITED,
        "retry_after_shared",
    );
}

#[test]
fn a_throttle_waking_every_paused_call_at_once_is_caught() {
    assert_caught(&OneInstant(Holds::Waiting), LIMITED, "pause_wakes_spread");
}

#[test]
fn a_throttle_whose_waits_pass_the_deadline_is_caught() {
    assert_caught(&PastDeadline, DEADLINE, "first_attempt_at_once");
}

#[test]
fn ours_throttle_holds_every_oracle_on_the_throttle_scenarios() {
    assert_holds(&OursThrottle, LIMITED);
    assert_holds(&OursThrottle, DEADLINE);
}

/// Every other subject claims no shared pause, so `retry_after_shared`
/// judges none of them; judged against `ours-throttle`'s claim, the
/// plain wrapper's concurrent calls do break it (each heeds only its own
/// Retry-After), while under its own claim the oracle is not judged.
#[test]
fn a_wrapper_without_a_shared_throttle_breaks_retry_after_shared_under_concurrency() {
    use provider_retry_sim::check::{Context, judgement};
    let evaluations = runs(&Ours, LIMITED);
    let scenario = Scenario::parse(Path::new("zoo-throttle.toml"), LIMITED).unwrap();
    let claim = OursThrottle.claim(&scenario.policy);
    let broken = evaluations.iter().any(|e| {
        let judged = judgement(&e.trace, &claim, &Context::default());
        judged
            .violations
            .iter()
            .any(|v| v.oracle == "retry_after_shared")
    });
    assert!(
        broken,
        "no attempt of ours went inside another call's pause"
    );
    for e in &evaluations {
        assert!(
            !e.tallies.contains_key("retry_after_shared"),
            "judged under ours' own claim"
        );
        assert!(e.violations.is_empty(), "{:#?}", e.violations);
    }
}
