//! Fault plans as data, and the seeded state that turns a plan into per-attempt outcomes.

use crate::invalid::Invalid;
use crate::seeds::{stream, unit};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// How the provider answers, and how it fails, as a scenario file gives it.
///
/// For each attempt, in this order: the literal `script` if any is left;
/// after `heal_ms` nothing fails; an `outage` window answers its status; the
/// `rate_limit` answers 429 past its quota; then each probabilistic fault
/// kind rolls its own die, first hit wins; else success after a latency.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// How long a successful attempt takes.
    pub latency: Latency,
    /// Probability that an attempt answers a transient status.
    pub p_transient: f64,
    /// Statuses drawn (uniformly) for transient answers.
    pub transient_statuses: Vec<u16>,
    /// Retry-After attached to transient answers.
    pub retry_after_ms: Option<u64>,
    /// How the network world's server writes Retry-After (in process it is
    /// a `Duration` and needs no form).
    pub retry_after_form: RetryAfterForm,
    /// The `x-should-retry: true|false` header sent with every status
    /// answer of the plan (transient, non-transient, outage, rate limit and
    /// scripted alike), which the official SDKs obey over their status
    /// rule. Only the wire carries it: in process a provider error has no
    /// headers, so it has no effect there (as `keepalive_ms`), and a
    /// subject there is judged as if the header were absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub should_retry: Option<bool>,
    /// Probability of a non-transient status (drawn from `non_transient_statuses`).
    pub p_non_transient: f64,
    /// Statuses drawn (uniformly) for non-transient answers.
    pub non_transient_statuses: Vec<u16>,
    /// Probability of a decode error (not transient).
    pub p_decode: f64,
    /// Probability of a network error.
    pub p_network: f64,
    /// Probability the attempt never answers.
    pub p_hang: f64,
    /// Streams: items per stream and the gap before each.
    pub chunks: u32,
    /// Streams: the gap before each item, in milliseconds.
    pub chunk_gap_ms: u64,
    /// Streams: a silence before the first item (or a break, if the stream
    /// has none), on top of its gap, as a reasoning model thinks before its
    /// first token. Both worlds honour it.
    pub first_chunk_ms: u64,
    /// Streams over the network: during every silence the server sends an
    /// SSE comment (`: keep-alive`) this often. In process there is no wire
    /// and no comment, so it has no effect there.
    pub keepalive_ms: Option<u64>,
    /// Probability a stream fails after half its items.
    pub p_stream_fail: f64,
    /// Probability a stream stalls after half its items.
    pub p_stream_stall: f64,
    /// Literal outcomes for the first attempts (`"ok"`, `"503"`, `"429:ra=2000"`,
    /// `"network"`, `"decode"`, `"hang"`, `"stream-fail"`, `"stream-stall"`).
    pub script: Vec<Step>,
    /// Replay `script` forever instead of falling back to the plan.
    pub script_repeat: bool,
    /// Whose attempts the script answers: every attempt in turn (shared,
    /// the default), each client's in turn, or each call's from its start.
    #[serde(skip_serializing_if = "ScriptScope::is_shared")]
    pub script_scope: ScriptScope,
    /// Windows in which every attempt answers one status.
    pub outages: Vec<Outage>,
    /// Windows in which latency is multiplied.
    pub brownouts: Vec<Brownout>,
    /// A quota of attempts per window, past which attempts get 429.
    pub rate_limit: Option<RateLimit>,
    /// At most this many attempts in flight; the rest queue (FIFO).
    pub capacity: Option<u32>,
    /// From this time on, no fault fires (the script still plays).
    pub heal_ms: Option<u64>,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            latency: Latency {
                kind: LatencyKind::Uniform,
                min_ms: 10,
                max_ms: 10,
                mean_ms: 0,
            },
            p_transient: 0.0,
            transient_statuses: vec![503],
            retry_after_ms: None,
            retry_after_form: RetryAfterForm::Seconds,
            should_retry: None,
            p_non_transient: 0.0,
            non_transient_statuses: vec![400],
            p_decode: 0.0,
            p_network: 0.0,
            p_hang: 0.0,
            chunks: 8,
            chunk_gap_ms: 5,
            first_chunk_ms: 0,
            keepalive_ms: None,
            p_stream_fail: 0.0,
            p_stream_stall: 0.0,
            script: Vec::new(),
            script_repeat: false,
            script_scope: ScriptScope::Shared,
            outages: Vec::new(),
            brownouts: Vec::new(),
            rate_limit: None,
            capacity: None,
            heal_ms: None,
        }
    }
}

/// Whose attempts a plan's `script` answers, step by step.
///
/// # Default
///
/// [`ScriptScope::Shared`]: one script for every attempt of every call, in
/// the order they arrive, as scenarios always had it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptScope {
    /// One script, stepped by every attempt in arrival order.
    #[default]
    Shared,
    /// One script per client, stepped by that client's attempts.
    Client,
    /// One script per call, from its first attempt: concurrent callers
    /// each meet the whole script.
    Call,
}

impl ScriptScope {
    fn is_shared(&self) -> bool {
        *self == ScriptScope::Shared
    }
}

/// The three ways an HTTP answer can say how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterForm {
    /// `Retry-After: <whole seconds, rounded up>`.
    Seconds,
    /// `Retry-After: <IMF-fixdate>`, the wait's end on the server's clock.
    HttpDate,
    /// `retry-after-ms: <milliseconds>`, as OpenAI sends it.
    Ms,
}

/// Time to answer: uniform in `[min_ms, max_ms]`, or exponential with `mean_ms`.
/// Flat (not a tagged enum) so that field errors keep their line and column.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// The distribution latencies are drawn from.
    pub kind: LatencyKind,
    /// Uniform latencies: the shortest.
    #[serde(default)]
    pub min_ms: u64,
    /// Uniform latencies: the longest.
    #[serde(default)]
    pub max_ms: u64,
    /// Exponential latencies: the mean.
    #[serde(default)]
    pub mean_ms: u64,
}

/// The latency distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyKind {
    /// Uniform in `[min_ms, max_ms]`.
    Uniform,
    /// Exponential with mean `mean_ms`.
    Exponential,
}

/// `[start_ms, end_ms)`: every attempt answers `status`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// The window's start, in virtual milliseconds.
    pub start_ms: u64,
    /// The window's end (excluded).
    pub end_ms: u64,
    /// The status every attempt in the window answers (503 unless given).
    #[serde(default = "default_outage_status")]
    pub status: u16,
    /// The Retry-After attached to it, if any.
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
}

fn default_outage_status() -> u16 {
    503
}

/// `[start_ms, end_ms)`: latency multiplied by `factor`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Brownout {
    /// The window's start, in virtual milliseconds.
    pub start_ms: u64,
    /// The window's end (excluded).
    pub end_ms: u64,
    /// What latency is multiplied by inside the window.
    pub factor: f64,
}

/// At most `calls` attempts per fixed window; the rest get 429 + Retry-After.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Attempts allowed per window.
    pub calls: u32,
    /// The window's length in milliseconds.
    pub window_ms: u64,
    /// The Retry-After sent; by default, the time left in the window.
    pub retry_after_ms: Option<u64>,
}

/// What one attempt will do.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Succeed after `latency` (for streams: open, then stream).
    Ok {
        /// How long before it answers.
        latency: Duration,
        /// How a stream opened by it ends.
        stream_end: StreamEnd,
    },
    /// Answer this HTTP status.
    Status {
        /// The HTTP status.
        status: u16,
        /// The Retry-After it carries, if any.
        retry_after: Option<Duration>,
        /// How long before it answers.
        latency: Duration,
    },
    /// Fail with a network error.
    Network {
        /// How long before it fails.
        latency: Duration,
    },
    /// Answer a body that does not parse (not transient).
    Decode {
        /// How long before it answers.
        latency: Duration,
    },
    /// Never answer.
    Hang,
}

/// How a plan's streams go: how many items, the gap before each, the
/// extra silence before the first, and the network's keep-alive period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamShape {
    /// Items per stream.
    pub count: u32,
    /// The gap before each item.
    pub gap: Duration,
    /// Extra silence before the first item.
    pub first: Duration,
    /// How often the network world's server sends a keep-alive comment in a silence; `None`: never.
    pub keepalive: Option<Duration>,
}

/// How an opened stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum StreamEnd {
    /// After its last item, the stream ends cleanly.
    Done,
    /// After half its items, the connection breaks.
    Fail,
    /// After half its items, the stream goes silent forever.
    Stall,
}

impl FaultPlan {
    /// Values serde accepts but no world can run, located by key path.
    pub(crate) fn validate(&self) -> Result<(), Invalid> {
        let probabilities = [
            ("p_transient", self.p_transient),
            ("p_non_transient", self.p_non_transient),
            ("p_decode", self.p_decode),
            ("p_network", self.p_network),
            ("p_hang", self.p_hang),
            ("p_stream_fail", self.p_stream_fail),
            ("p_stream_stall", self.p_stream_stall),
        ];
        for (key, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(Invalid::at(
                    &["faults", key],
                    format!("{key} must be between 0 and 1, not {p}"),
                ));
            }
        }
        for (key, list) in [
            ("transient_statuses", &self.transient_statuses),
            ("non_transient_statuses", &self.non_transient_statuses),
        ] {
            if list.is_empty() {
                return Err(Invalid::at(
                    &["faults", key],
                    format!("{key} must not be empty"),
                ));
            }
            if let Some(bad) = list.iter().find(|s| !(400..=599).contains(*s)) {
                return Err(Invalid::at(
                    &["faults", key],
                    format!("{bad} is not an error status (400 to 599)"),
                ));
            }
        }
        if let Some((i, b)) = self
            .brownouts
            .iter()
            .enumerate()
            .find(|(_, b)| !(b.factor.is_finite() && b.factor >= 0.0))
        {
            return Err(Invalid::at_item(
                &["faults", "brownouts"],
                i,
                "factor",
                format!(
                    "a brownout factor must be finite and non-negative, not {}",
                    b.factor
                ),
            ));
        }
        if let Some((i, o)) = self
            .outages
            .iter()
            .enumerate()
            .find(|(_, o)| !(400..=599).contains(&o.status))
        {
            return Err(Invalid::at_item(
                &["faults", "outages"],
                i,
                "status",
                format!("{} is not an error status (400 to 599)", o.status),
            ));
        }
        if self.rate_limit.as_ref().is_some_and(|r| r.window_ms == 0) {
            return Err(Invalid::at(
                &["faults", "rate_limit", "window_ms"],
                "a rate limit window must be positive",
            ));
        }
        if self.keepalive_ms == Some(0) {
            return Err(Invalid::at(
                &["faults", "keepalive_ms"],
                "keepalive_ms must be positive (leave it out for no keep-alives)",
            ));
        }
        if self.script_scope != ScriptScope::Shared && self.script.is_empty() {
            return Err(Invalid::at(
                &["faults", "script_scope"],
                "script_scope needs a script to scope (leave it out, or give a script)",
            ));
        }
        if self.capacity == Some(0) {
            return Err(Invalid::at(
                &["faults", "capacity"],
                "capacity must be at least 1",
            ));
        }
        Ok(())
    }

    /// When every fault stops, if ever.
    pub fn heal(&self) -> Option<Duration> {
        self.heal_ms.map(Duration::from_millis)
    }
}

/// A literal script step, parsed once when the scenario is read (written
/// `"ok"`, `"503"`, `"429:ra=2000"`, `"network"`, `"decode"`, `"hang"`,
/// `"stream-fail"`, `"stream-stall"`). The latency is filled in later.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum Step {
    /// Succeed; a stream ends as given (`"ok"`, `"stream-fail"`, `"stream-stall"`).
    Ok(StreamEnd),
    /// Answer this status, with this Retry-After (`"503"`, `"429:ra=2000"`).
    Status(u16, Option<Duration>),
    /// Fail with a network error (`"network"`).
    Network,
    /// Answer a body that does not parse (`"decode"`).
    Decode,
    /// Never answer (`"hang"`).
    Hang,
}

impl std::str::FromStr for Step {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        parse_step(text).ok_or_else(|| {
            format!("unknown script step {text:?} (ok, <status 400-599>[:ra=<ms>], network, decode, hang, stream-fail, stream-stall)")
        })
    }
}

impl TryFrom<String> for Step {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<Step> for String {
    fn from(step: Step) -> String {
        match step {
            Step::Ok(StreamEnd::Done) => "ok".into(),
            Step::Ok(StreamEnd::Fail) => "stream-fail".into(),
            Step::Ok(StreamEnd::Stall) => "stream-stall".into(),
            Step::Network => "network".into(),
            Step::Decode => "decode".into(),
            Step::Hang => "hang".into(),
            Step::Status(status, None) => status.to_string(),
            Step::Status(status, Some(ra)) => format!("{status}:ra={}", ra.as_millis()),
        }
    }
}

fn parse_step(text: &str) -> Option<Step> {
    Some(match text {
        "ok" => Step::Ok(StreamEnd::Done),
        "stream-fail" => Step::Ok(StreamEnd::Fail),
        "stream-stall" => Step::Ok(StreamEnd::Stall),
        "network" => Step::Network,
        "decode" => Step::Decode,
        "hang" => Step::Hang,
        _ => {
            let (status, ra) = match text.split_once(":ra=") {
                Some((s, ra)) => (s, Some(Duration::from_millis(ra.parse().ok()?))),
                None => (text, None),
            };
            let status: u16 = status.parse().ok()?;
            // Only error statuses: below 400 an answer is a success on the
            // wire, and the two worlds could not agree on what it means.
            (400..=599)
                .contains(&status)
                .then_some(Step::Status(status, ra))?
        }
    })
}

/// A plan in motion: the script left, the rate limiter's window, one generator per concern.
#[derive(Debug)]
pub struct Faults {
    plan: FaultPlan,
    /// The shared script left ([`ScriptScope::Shared`]).
    script: VecDeque<Step>,
    /// Each client's or call's script left, keyed `(client, call)` (call
    /// 0 for a client's), begun on its first attempt.
    scoped: BTreeMap<(u32, u64), VecDeque<Step>>,
    window: (u64, u32),
    latency: ChaCha8Rng,
    status: ChaCha8Rng,
    dice: [ChaCha8Rng; 7],
}

impl Faults {
    /// Start `plan` under the run's root `seed`.
    pub fn new(plan: FaultPlan, seed: u64) -> Self {
        let script = plan.script.iter().cloned().collect();
        let die = |name| stream(seed, name, 0);
        Self {
            script,
            scoped: BTreeMap::new(),
            window: (0, 0),
            latency: die("latency"),
            status: die("status"),
            dice: [
                die("transient"),
                die("non_transient"),
                die("decode"),
                die("network"),
                die("hang"),
                die("stream_fail"),
                die("stream_stall"),
            ],
            plan,
        }
    }

    /// The answer for an attempt arriving `now` after the world began, of
    /// client 0's call 0 (the script's scope aside, every call is alike).
    pub fn answer(&mut self, now: Duration) -> Answer {
        self.answer_for(now, 0, 0)
    }

    /// The answer for an attempt of `client`'s call `call` arriving `now`
    /// after the world began: the script's next step for the attempt's
    /// scope ([`ScriptScope`]), else the plan.
    pub fn answer_for(&mut self, now: Duration, client: u32, call: u64) -> Answer {
        let latency = self.latency(now);
        // Every die rolls on every attempt, so each kind's sequence is fixed
        // by the seed whatever the other kinds do.
        let rolls: [f64; 7] = std::array::from_fn(|i| unit(&mut self.dice[i]));
        if let Some(step) = self.next_scripted(client, call) {
            return self.scripted(step, latency);
        }
        if self.plan.heal().is_some_and(|heal| now >= heal) {
            return Answer::Ok {
                latency,
                stream_end: StreamEnd::Done,
            };
        }
        if let Some(answer) = self.windowed(now, latency) {
            return answer;
        }
        self.rolled(rolls, latency)
    }

    fn next_scripted(&mut self, client: u32, call: u64) -> Option<Step> {
        let key = match self.plan.script_scope {
            ScriptScope::Shared => None,
            ScriptScope::Client => Some((client, 0)),
            ScriptScope::Call => Some((client, call)),
        };
        let script = match key {
            None => &mut self.script,
            Some(key) => self
                .scoped
                .entry(key)
                .or_insert_with(|| self.plan.script.iter().cloned().collect()),
        };
        let step = script.pop_front()?;
        if self.plan.script_repeat {
            script.push_back(step.clone());
        }
        Some(step)
    }

    fn scripted(&self, step: Step, latency: Duration) -> Answer {
        match step {
            Step::Ok(stream_end) => Answer::Ok {
                latency,
                stream_end,
            },
            Step::Status(status, retry_after) => Answer::Status {
                status,
                retry_after,
                latency,
            },
            Step::Network => Answer::Network { latency },
            Step::Decode => Answer::Decode { latency },
            Step::Hang => Answer::Hang,
        }
    }

    fn windowed(&mut self, now: Duration, latency: Duration) -> Option<Answer> {
        let ms = now.as_millis() as u64;
        if let Some(o) = self
            .plan
            .outages
            .iter()
            .find(|o| (o.start_ms..o.end_ms).contains(&ms))
        {
            let retry_after = o.retry_after_ms.map(Duration::from_millis);
            return Some(Answer::Status {
                status: o.status,
                retry_after,
                latency,
            });
        }
        let limit = self.plan.rate_limit.as_ref()?;
        let window = ms / limit.window_ms;
        if self.window.0 != window {
            self.window = (window, 0);
        }
        self.window.1 += 1;
        (self.window.1 > limit.calls).then(|| {
            let left = (window + 1) * limit.window_ms - ms;
            let retry_after = Duration::from_millis(limit.retry_after_ms.unwrap_or(left));
            Answer::Status {
                status: 429,
                retry_after: Some(retry_after),
                latency,
            }
        })
    }

    fn rolled(&mut self, rolls: [f64; 7], latency: Duration) -> Answer {
        let p = &self.plan;
        let hit = |i: usize, p: f64| rolls[i] < p;
        if hit(0, p.p_transient) {
            let status = pick(&mut self.status, &p.transient_statuses);
            let retry_after = p.retry_after_ms.map(Duration::from_millis);
            return Answer::Status {
                status,
                retry_after,
                latency,
            };
        }
        if hit(1, p.p_non_transient) {
            let status = pick(&mut self.status, &p.non_transient_statuses);
            return Answer::Status {
                status,
                retry_after: None,
                latency,
            };
        }
        if hit(2, p.p_decode) {
            return Answer::Decode { latency };
        }
        if hit(3, p.p_network) {
            return Answer::Network { latency };
        }
        if hit(4, p.p_hang) {
            return Answer::Hang;
        }
        let stream_end = match (hit(5, p.p_stream_fail), hit(6, p.p_stream_stall)) {
            (true, _) => StreamEnd::Fail,
            (false, true) => StreamEnd::Stall,
            _ => StreamEnd::Done,
        };
        Answer::Ok {
            latency,
            stream_end,
        }
    }

    fn latency(&mut self, now: Duration) -> Duration {
        let Latency {
            kind,
            min_ms,
            max_ms,
            mean_ms,
        } = self.plan.latency;
        let base_ms = match kind {
            LatencyKind::Uniform => {
                let (lo, hi) = (min_ms.min(max_ms), min_ms.max(max_ms));
                lo as f64 + unit(&mut self.latency) * (hi - lo) as f64
            }
            LatencyKind::Exponential => -(1.0 - unit(&mut self.latency)).ln() * mean_ms as f64,
        };
        let ms = now.as_millis() as u64;
        let factor: f64 = self
            .plan
            .brownouts
            .iter()
            .filter(|b| (b.start_ms..b.end_ms).contains(&ms))
            .map(|b| b.factor)
            .product();
        // Whole microseconds keep traces short; the clock ticks in ms anyway.
        Duration::from_micros((base_ms * factor * 1000.0).round().min(1e15) as u64)
    }

    /// How the network world's server writes Retry-After.
    pub fn retry_after_form(&self) -> RetryAfterForm {
        self.plan.retry_after_form
    }

    /// The `x-should-retry` value the network world's server sends with
    /// every status answer, if any.
    pub fn should_retry(&self) -> Option<bool> {
        self.plan.should_retry
    }

    /// How the plan's streams go: how many items, the gap before each, the
    /// silence before the first, and the keep-alive period.
    pub fn stream_shape(&self) -> StreamShape {
        StreamShape {
            count: self.plan.chunks,
            gap: Duration::from_millis(self.plan.chunk_gap_ms),
            first: Duration::from_millis(self.plan.first_chunk_ms),
            keepalive: self.plan.keepalive_ms.map(Duration::from_millis),
        }
    }
}

fn pick(rng: &mut ChaCha8Rng, from: &[u16]) -> u16 {
    from[crate::seeds::below(rng, from.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> FaultPlan {
        FaultPlan::default()
    }

    #[test]
    fn script_plays_first_then_the_plan() {
        let p = FaultPlan {
            script: ["503", "429:ra=1500", "hang"]
                .map(|s| s.parse().unwrap())
                .to_vec(),
            ..plan()
        };
        let mut f = Faults::new(p, 1);
        let z = Duration::ZERO;
        assert!(matches!(
            f.answer(z),
            Answer::Status {
                status: 503,
                retry_after: None,
                ..
            }
        ));
        assert!(
            matches!(f.answer(z), Answer::Status { status: 429, retry_after: Some(ra), .. } if ra == Duration::from_millis(1500))
        );
        assert_eq!(f.answer(z), Answer::Hang);
        assert!(matches!(f.answer(z), Answer::Ok { .. }));
    }

    /// The status `f` answers `client`'s call `call` now, or 200.
    fn status_for(f: &mut Faults, client: u32, call: u64) -> u16 {
        match f.answer_for(Duration::ZERO, client, call) {
            Answer::Status { status, .. } => status,
            _ => 200,
        }
    }

    #[test]
    fn each_scope_steps_its_own_copy_of_the_script() {
        let scoped = |scope| {
            let p = FaultPlan {
                script: ["503", "502"].map(|s| s.parse().unwrap()).to_vec(),
                script_scope: scope,
                ..plan()
            };
            let mut f = Faults::new(p, 1);
            // Two calls of client 0 interleaved, then client 1's first call.
            [(0, 0), (0, 1), (0, 0), (0, 1), (1, 0)].map(|(c, k)| status_for(&mut f, c, k))
        };
        assert_eq!(scoped(ScriptScope::Shared), [503, 502, 200, 200, 200]);
        assert_eq!(scoped(ScriptScope::Client), [503, 502, 200, 200, 503]);
        assert_eq!(scoped(ScriptScope::Call), [503, 503, 502, 502, 503]);
    }

    #[test]
    fn a_scoped_script_repeats_per_scope() {
        let p = FaultPlan {
            script: ["503", "ok"].map(|s| s.parse().unwrap()).to_vec(),
            script_scope: ScriptScope::Call,
            script_repeat: true,
            ..plan()
        };
        let mut f = Faults::new(p, 1);
        let seen = [(0, 0), (0, 0), (0, 0), (0, 1)].map(|(c, k)| status_for(&mut f, c, k));
        assert_eq!(seen, [503, 200, 503, 503]);
    }

    #[test]
    fn outage_window_is_half_open() {
        let p = FaultPlan {
            outages: vec![Outage {
                start_ms: 100,
                end_ms: 200,
                status: 502,
                retry_after_ms: None,
            }],
            ..plan()
        };
        let mut f = Faults::new(p, 1);
        let at = |ms| Duration::from_millis(ms);
        assert!(matches!(f.answer(at(99)), Answer::Ok { .. }));
        assert!(matches!(
            f.answer(at(100)),
            Answer::Status { status: 502, .. }
        ));
        assert!(matches!(f.answer(at(199)), Answer::Status { .. }));
        assert!(matches!(f.answer(at(200)), Answer::Ok { .. }));
    }

    #[test]
    fn rate_limit_answers_429_with_time_left_in_window() {
        let p = FaultPlan {
            rate_limit: Some(RateLimit {
                calls: 2,
                window_ms: 1000,
                retry_after_ms: None,
            }),
            ..plan()
        };
        let mut f = Faults::new(p, 1);
        let at = |ms| Duration::from_millis(ms);
        assert!(matches!(f.answer(at(0)), Answer::Ok { .. }));
        assert!(matches!(f.answer(at(10)), Answer::Ok { .. }));
        let third = f.answer(at(300));
        assert!(
            matches!(third, Answer::Status { status: 429, retry_after: Some(ra), .. } if ra == at(700)),
            "{third:?}"
        );
        assert!(matches!(f.answer(at(1000)), Answer::Ok { .. }));
    }

    #[test]
    fn heal_stops_every_fault() {
        let p = FaultPlan {
            p_transient: 1.0,
            heal_ms: Some(500),
            ..plan()
        };
        let mut f = Faults::new(p, 1);
        assert!(matches!(
            f.answer(Duration::from_millis(499)),
            Answer::Status { .. }
        ));
        assert!(matches!(
            f.answer(Duration::from_millis(500)),
            Answer::Ok { .. }
        ));
    }

    #[test]
    fn adding_a_fault_kind_does_not_reshuffle_the_others() {
        // The transient die must give the same hits with or without hangs
        // (except where a hang... never: transient is checked first).
        let base = FaultPlan {
            p_transient: 0.3,
            ..plan()
        };
        let more = FaultPlan {
            p_hang: 0.2,
            ..base.clone()
        };
        let (mut a, mut b) = (Faults::new(base, 9), Faults::new(more, 9));
        for _ in 0..500 {
            let (x, y) = (a.answer(Duration::ZERO), b.answer(Duration::ZERO));
            assert_eq!(
                matches!(x, Answer::Status { .. }),
                matches!(y, Answer::Status { .. })
            );
            if let (Answer::Ok { latency: l1, .. }, Answer::Ok { latency: l2, .. }) = (&x, &y) {
                assert_eq!(l1, l2, "latency draws must not move either");
            }
        }
    }

    #[test]
    fn probabilities_are_roughly_honoured() {
        // 10,000 attempts at p = 0.25: expect 2,500 with sd about 43; allow 5 sd.
        let mut f = Faults::new(
            FaultPlan {
                p_network: 0.25,
                ..plan()
            },
            3,
        );
        let n = (0..10_000)
            .filter(|_| matches!(f.answer(Duration::ZERO), Answer::Network { .. }))
            .count();
        assert!((2_285..=2_715).contains(&n), "{n}");
    }

    #[test]
    fn brownout_multiplies_latency() {
        let p = FaultPlan {
            brownouts: vec![Brownout {
                start_ms: 0,
                end_ms: 100,
                factor: 4.0,
            }],
            ..plan()
        };
        let mut f = Faults::new(p, 1);
        assert!(
            matches!(f.answer(Duration::ZERO), Answer::Ok { latency, .. } if latency == Duration::from_millis(40))
        );
        assert!(
            matches!(f.answer(Duration::from_millis(100)), Answer::Ok { latency, .. } if latency == Duration::from_millis(10))
        );
    }

    #[test]
    fn every_script_step_is_written_as_it_is_read() {
        // A failing run's scenario is written back out as TOML for replay:
        // each step must come back as the text that reads as that step.
        for text in [
            "ok",
            "stream-fail",
            "stream-stall",
            "network",
            "decode",
            "hang",
            "503",
            "429:ra=1500",
        ] {
            let step: Step = text.parse().unwrap();
            assert_eq!(String::from(step.clone()), text);
        }
    }

    #[test]
    fn a_brownout_factor_must_be_finite_and_non_negative() {
        let with = |factor| FaultPlan {
            brownouts: vec![Brownout {
                start_ms: 0,
                end_ms: 100,
                factor,
            }],
            ..plan()
        };
        assert!(with(0.0).validate().is_ok());
        assert!(with(4.0).validate().is_ok());
        for bad in [-1.0, f64::INFINITY, f64::NAN] {
            let err = with(bad).validate().unwrap_err();
            assert!(err.message.contains("brownout factor"), "{bad}: {err:?}");
        }
    }

    #[test]
    fn a_probability_of_zero_never_fires_and_one_always_does() {
        // The dice roll in [0, 1): even the lowest roll must not fire a
        // fault the plan gives probability 0, nor the highest miss one it
        // gives 1.
        let z = Duration::ZERO;
        let mut never = Faults::new(plan(), 1);
        assert_eq!(
            never.rolled([0.0; 7], z),
            Answer::Ok {
                latency: z,
                stream_end: StreamEnd::Done
            }
        );
        let mut always = Faults::new(
            FaultPlan {
                p_transient: 1.0,
                ..plan()
            },
            1,
        );
        let highest = 1.0 - f64::EPSILON / 2.0;
        assert!(matches!(
            always.rolled([highest; 7], z),
            Answer::Status { .. }
        ));
    }
}
