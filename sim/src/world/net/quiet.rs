//! Idle skipping for the network world: a run that has gone quiet for
//! longer than any timer the world or the subject's claim can hold is
//! over, and jumps to the horizon instead of stepping every millisecond
//! to it.
//!
//! turmoil steps time one tick at a time, every host every tick, whether
//! or not anything is due: a subject that hangs (the bare provider
//! behind a partition) kept the simulation ticking for 300,000 simulated
//! milliseconds, about 1.5 s of CPU per run. Nothing can happen after the
//! last event of a run unless a timer is still pending somewhere, and
//! every timer of the world has a bound we know before the run:
//!
//! - the world's own: the fault plan's latency (brownouts included), its
//!   stream gaps and first-chunk silences, the think time between calls,
//!   the link latency, and the scheduled network changes;
//! - the subject's, as it claims them: the attempt timeout, the longest
//!   backoff its envelope allows, the longest Retry-After the server can
//!   send (never longer than what it sent: a wrapper waits less or
//!   refuses), the retry deadline, and the stream bounds when the workload
//!   calls a stream method.
//!
//! A run is *quiet* while no task of any host is polled and no message
//! is in flight. Once it has been quiet for longer than twice the largest
//! of those bounds (plus [`SLACK`]), after the last scheduled network change,
//! the rest of the run up to the horizon steps through nothing: the run
//! stops and reports the horizon as its end, so its trace is the one full
//! stepping writes (`quiet_runs_end_as_full_stepping_does` compares them).
//! A subject that breaks its own claim (a hidden timer longer than it
//! claims) may act later under full stepping; it has broken an oracle
//! either way, and a finding may then name a different one.

use crate::check::claim::{Claim, JitterShape, nanos};
use crate::faults::LatencyKind;
use crate::scenario::{Scenario, Shape};
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

/// Added to the longest timer: turmoil rounds every wait up to its tick,
/// and a wrapper's timer may be armed a few ticks after the event that
/// caused it (a retry's backoff starts when the failure is read).
pub const SLACK: Duration = Duration::from_secs(1);

/// Counts the polls of every task the world wraps.
#[derive(Debug, Clone, Default)]
pub struct Activity(Rc<Cell<u64>>);

impl Activity {
    /// `future`, counting each of its polls here.
    pub fn count<F: Future>(&self, future: F) -> impl Future<Output = F::Output> + use<F> {
        let polls = self.0.clone();
        async move {
            let mut future = std::pin::pin!(future);
            std::future::poll_fn(|cx| {
                polls.set(polls.get() + 1);
                future.as_mut().poll(cx)
            })
            .await
        }
    }

    /// Polls so far.
    pub fn polls(&self) -> u64 {
        self.0.get()
    }
}

/// How long a run must stay quiet before nothing more can happen in it:
/// twice the longest timer the world or the claim allows, plus [`SLACK`];
/// `None` when some timer has no bound (an exponential latency), and the
/// run steps to the horizon.
///
/// Twice, because subjects overshoot their claims: crabllm sleeps one more
/// backoff after its last attempt. A subject whose hidden timer stays
/// within twice its claim still acts inside the run, and is judged for
/// what it did (`no_sleep_after_final`), not cut off for it.
pub fn bound(scenario: &Scenario, claim: &Claim) -> Option<Duration> {
    let world = world_timer(scenario)?;
    let longest = world.max(claim_timer(scenario, claim));
    Some(Duration::from_nanos(longest.saturating_mul(2)).saturating_add(SLACK))
}

/// The longest timer of the world's own, in nanoseconds.
fn world_timer(scenario: &Scenario) -> Option<u64> {
    let f = &scenario.faults;
    let latency_ms = match f.latency.kind {
        LatencyKind::Uniform => f.latency.max_ms,
        LatencyKind::Exponential => return None,
    };
    let brownout = f.brownouts.iter().map(|b| b.factor).fold(1.0, f64::max);
    let think_ms = match scenario.workload.shape {
        Shape::Closed { think_ms, .. } => think_ms,
        Shape::Open { .. } => 0,
    };
    let ms = [
        saturating_ns(latency_ms as f64 * 1e6 * brownout) / 1_000_000,
        f.chunk_gap_ms.saturating_add(f.first_chunk_ms),
        f.keepalive_ms.unwrap_or(0),
        think_ms,
        scenario.network.latency_max_ms,
    ];
    Some(ms.into_iter().max().unwrap_or(0).saturating_mul(1_000_000))
}

/// The longest timer the subject's claim lets it hold, in nanoseconds.
fn claim_timer(scenario: &Scenario, claim: &Claim) -> u64 {
    let streams = scenario.workload.methods.iter().any(|m| m.is_stream());
    let stream_bounds = [claim.first_chunk_ns, claim.stream_idle_ns];
    [
        claim.timeout_ns,
        Some(longest_backoff(claim)),
        Some(longest_retry_after(scenario, claim)),
        claim.deadline_ns,
    ]
    .into_iter()
    .chain(stream_bounds.into_iter().filter(|_| streams))
    .flatten()
    .max()
    .unwrap_or(0)
}

/// The longest delay the claim's envelope allows before any retry.
fn longest_backoff(claim: &Claim) -> u64 {
    let b = &claim.backoff;
    let cap = b.cap_ns.unwrap_or(u64::MAX) as f64;
    let retries = claim.max_attempts.saturating_sub(1);
    // Past 64 doublings every base is the cap (or saturated). One item
    // more than the retries: a wait after the last attempt is a defect
    // this bound lets the run show.
    let base = (0..=retries.min(64))
        .map(|n| (b.initial_ns as f64 * b.factor.powf(n as f64)).min(cap))
        .fold(0.0, f64::max);
    let delay = match b.jitter {
        JitterShape::Scale { hi, .. } => base * hi.max(1.0),
        JitterShape::Add { hi_ns, .. } => base + hi_ns as f64,
        // Up to three times the previous delay, which is itself bounded so.
        JitterShape::Decorrelated => b.initial_ns as f64 * 3f64.powf((retries + 1).min(64) as f64),
    };
    // (Uncapped, `cap` is `u64::MAX`: the bound saturates there anyway.)
    let delay = match b.cap_after_jitter || matches!(b.jitter, JitterShape::Decorrelated) {
        true => delay.min(cap),
        false => delay,
    };
    // A floor raises a shorter draw to it.
    saturating_ns(delay).max(b.floor_ns)
}

/// The longest Retry-After wait: what the server can send, rounded up to
/// the second its header may carry, and never more than the claim waits.
fn longest_retry_after(scenario: &Scenario, claim: &Claim) -> u64 {
    let f = &scenario.faults;
    let scripted = f.script.iter().filter_map(|s| match s {
        crate::faults::Step::Status(_, ra) => ra.map(nanos),
        _ => None,
    });
    let limited = f.rate_limit.iter().map(|r| {
        let ms = r.retry_after_ms.unwrap_or(r.window_ms).max(r.window_ms);
        ms.saturating_mul(1_000_000)
    });
    let sent = f
        .retry_after_ms
        .map(|ms| ms.saturating_mul(1_000_000))
        .into_iter()
        .chain(scripted)
        .chain(limited)
        .max();
    let Some(sent) = sent else { return 0 };
    let sent = sent.saturating_add(1_000_000_000);
    // A Retry-After waited may run its claimed jitter longer.
    sent.min(claim.retry_after_max())
        .saturating_add(claim.retry_after_jitter_ns)
}

fn saturating_ns(x: f64) -> u64 {
    // `as` saturates (and maps NaN to 0, which no bound here can be).
    x as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;

    #[test]
    fn a_partition_scenario_is_bounded_by_its_longest_backoff() {
        let s = builtin::get("net-partition-during-attempt")
            .expect("built in")
            .expect("valid");
        let claim = Claim::provider_retry(&s.policy);
        // Five retries from 200 ms, full jitter: 3.2 s at most, and the
        // item after the last retry 6.4 s.
        assert_eq!(longest_backoff(&claim), 6_400_000_000);
        assert_eq!(bound(&s, &claim), Some(Duration::from_millis(13_800)));
    }

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    /// A one-call network scenario with `faults`, `network` and a think
    /// time.
    fn scenario(faults: &str, network: &str, think_ms: u64) -> Scenario {
        let text = format!(
            "name = \"quiet\"\nworld = \"network\"\n[faults]\n{faults}\n[network]\n{network}\n\
             [workload]\nkind = \"closed\"\nclients = 1\ncalls = 1\nthink_ms = {think_ms}\n"
        );
        Scenario::parse(std::path::Path::new("quiet.toml"), &text).expect("valid")
    }

    #[test]
    fn the_worlds_longest_timer_is_its_longest_latency_silence_think_or_link_delay() {
        let world = |faults: &str, network: &str, think_ms: u64| {
            world_timer(&scenario(faults, network, think_ms))
        };
        let latency = "latency = { kind = \"uniform\", min_ms = 5, max_ms = 40 }";
        assert_eq!(world(latency, "", 0), Some(40 * MS));
        // The strongest brownout stretches it; a factor under 1 does not shorten it.
        let brownouts = "brownouts = [{ start_ms = 0, end_ms = 10, factor = 3.0 }, \
                         { start_ms = 20, end_ms = 30, factor = 2.0 }]";
        assert_eq!(
            world(&format!("{latency}\n{brownouts}"), "", 0),
            Some(120 * MS)
        );
        let faint = "brownouts = [{ start_ms = 0, end_ms = 10, factor = 0.5 }]";
        assert_eq!(world(&format!("{latency}\n{faint}"), "", 0), Some(40 * MS));
        // A stream's first silence and its gaps add up.
        assert_eq!(
            world("chunk_gap_ms = 70\nfirst_chunk_ms = 80", "", 0),
            Some(150 * MS)
        );
        assert_eq!(world("keepalive_ms = 300", "", 0), Some(300 * MS));
        assert_eq!(world("", "", 250), Some(250 * MS));
        assert_eq!(
            world("", "latency_min_ms = 1\nlatency_max_ms = 90", 0),
            Some(90 * MS)
        );
    }

    #[test]
    fn the_longest_retry_after_is_the_longest_sent_plus_a_second_within_the_claim() {
        let longest = |faults: &str, max_ns: Option<u64>, jitter_ns: u64| {
            let s = scenario(faults, "", 0);
            let mut claim = Claim::provider_retry(&s.policy);
            claim.retry_after_jitter_ns = jitter_ns;
            if let Some(max_ns) = max_ns {
                claim.retry_after = crate::check::claim::RetryAfterRule::Exact { max_ns };
            }
            longest_retry_after(&s, &claim)
        };
        // Nothing sent, nothing waited: no jitter either.
        assert_eq!(longest("", None, 7), 0);
        assert_eq!(longest("retry_after_ms = 2000", None, 0), 3 * S);
        assert_eq!(
            longest("script = [\"503\", \"429:ra=4000\"]", None, 0),
            5 * S
        );
        // A limiter asks for its window at least.
        let limiter = |window: u64, ra: &str| {
            format!("rate_limit = {{ calls = 1, window_ms = {window}{ra} }}")
        };
        assert_eq!(longest(&limiter(1500, ""), None, 0), 2500 * MS);
        assert_eq!(
            longest(&limiter(1500, ", retry_after_ms = 500"), None, 0),
            2500 * MS
        );
        assert_eq!(
            longest(&limiter(500, ", retry_after_ms = 2500"), None, 0),
            3500 * MS
        );
        // The longest of every source.
        let all = format!(
            "retry_after_ms = 2000\nscript = [\"429:ra=6000\"]\n{}",
            limiter(500, ", retry_after_ms = 2500")
        );
        assert_eq!(longest(&all, None, 0), 7 * S);
        // Never more than the claim waits; its jitter on top.
        assert_eq!(
            longest("retry_after_ms = 120000", Some(60 * S), 5),
            60 * S + 5
        );
        assert_eq!(longest("retry_after_ms = 2000", Some(60 * S), 5), 3 * S + 5);
    }

    #[test]
    fn the_longest_backoff_is_the_top_of_the_last_envelope() {
        let backoff = |jitter: JitterShape, cap_ms: Option<u64>, after: bool, floor_ms: u64| {
            let mut claim = Claim::provider_retry(&scenario("", "", 0).policy);
            // Two retries from 100 ms, doubling: bases 100, 200 and (the
            // item after the last retry) 400 ms.
            claim.max_attempts = 3;
            claim.backoff.initial_ns = 100 * MS;
            claim.backoff.factor = 2.0;
            claim.backoff.cap_ns = cap_ms.map(|ms| ms * MS);
            claim.backoff.jitter = jitter;
            claim.backoff.cap_after_jitter = after;
            claim.backoff.floor_ns = floor_ms * MS;
            longest_backoff(&claim)
        };
        let scale = |hi| JitterShape::Scale { lo: 0.0, hi };
        assert_eq!(backoff(scale(1.0), None, false, 0), 400 * MS);
        assert_eq!(backoff(scale(1.5), None, false, 0), 600 * MS);
        // A share under 1 never shortens the bound.
        assert_eq!(backoff(scale(0.5), None, false, 0), 400 * MS);
        // The cap bounds the base; the jitter above it only when it caps after.
        assert_eq!(backoff(scale(1.5), Some(300), false, 0), 450 * MS);
        assert_eq!(backoff(scale(1.5), Some(300), true, 0), 300 * MS);
        let add = JitterShape::Add {
            lo_ns: 0,
            hi_ns: 50 * MS,
        };
        assert_eq!(backoff(add, None, false, 0), 450 * MS);
        // Three times the previous, three times over from 100 ms, then capped.
        assert_eq!(
            backoff(JitterShape::Decorrelated, None, false, 0),
            2700 * MS
        );
        assert_eq!(backoff(JitterShape::Decorrelated, Some(1000), false, 0), S);
        // A floor raises a shorter bound to it.
        assert_eq!(backoff(scale(1.0), None, false, 5000), 5 * S);
        assert_eq!(backoff(scale(1.0), None, false, 300), 400 * MS);
    }

    #[test]
    fn the_bound_is_twice_the_longest_timer_plus_the_slack_and_stream_bounds_count_for_streams() {
        let s = scenario("", "", 0);
        let mut claim = Claim::provider_retry(&s.policy);
        claim.timeout_ns = Some(7 * S);
        claim.deadline_ns = None;
        claim.max_attempts = 1;
        claim.backoff.initial_ns = MS;
        claim.backoff.floor_ns = 0;
        claim.first_chunk_ns = Some(20 * S);
        claim.stream_idle_ns = Some(30 * S);
        // No stream method called: the stream bounds hold no timer.
        assert_eq!(bound(&s, &claim), Some(Duration::from_secs(15)));
        let mut streaming = s.clone();
        streaming.workload.methods = vec![crate::method::Method::ChatStream];
        assert_eq!(bound(&streaming, &claim), Some(Duration::from_secs(61)));
        // A deadline longer than any other timer is the bound's.
        claim.deadline_ns = Some(40 * S);
        assert_eq!(bound(&s, &claim), Some(Duration::from_secs(81)));
    }

    #[test]
    fn an_exponential_latency_has_no_bound() {
        let mut s = builtin::get("net-partition-during-attempt")
            .expect("built in")
            .expect("valid");
        s.faults.latency.kind = LatencyKind::Exponential;
        assert_eq!(bound(&s, &Claim::provider_retry(&s.policy)), None);
    }
}
