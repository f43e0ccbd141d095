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
    let delay = match b.cap_after_jitter || matches!(b.jitter, JitterShape::Decorrelated) {
        true if b.cap_ns.is_some() => delay.min(cap),
        _ => delay,
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

    #[test]
    fn an_exponential_latency_has_no_bound() {
        let mut s = builtin::get("net-partition-during-attempt")
            .expect("built in")
            .expect("valid");
        s.faults.latency.kind = LatencyKind::Exponential;
        assert_eq!(bound(&s, &Claim::provider_retry(&s.policy)), None);
    }
}
