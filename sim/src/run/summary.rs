//! What a run amounted to: counts, latency percentiles, and the expectations it missed.

use crate::duration::human;
use crate::scenario::Expect;
use crate::trace::{Kind, Record, Trace};
use std::collections::BTreeMap;

/// A call's start and end records, if it ended.
fn ended<'a>(records: &[&'a Record]) -> Option<(&'a Record, &'a Record)> {
    let start = records
        .iter()
        .find(|r| matches!(r.kind, Kind::CallStarted { .. }))?;
    let end = records
        .iter()
        .find(|r| matches!(r.kind, Kind::CallEnded { .. }))?;
    Some((start, end))
}

/// The latency (ns) of every call in `trace` that ended, in call order.
pub fn latencies_ns(trace: &Trace) -> Vec<u64> {
    trace
        .calls()
        .values()
        .filter_map(|records| ended(records))
        .map(|(start, end)| end.t - start.t)
        .collect()
}

/// The `q` quantile of `sorted` (nearest rank), or the default when empty.
pub fn percentile<T: Copy + Default>(sorted: &[T], q: f64) -> T {
    let i = ((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1);
    sorted.get(i).copied().unwrap_or_default()
}

/// A call's first start, and its first end with whether it succeeded.
type Span = (Option<u64>, Option<(u64, bool)>);

/// Counts and virtual latencies of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Logical calls started.
    pub calls: u64,
    /// Calls that succeeded.
    pub ok: u64,
    /// Attempts the provider saw, first tries included.
    pub attempts: u64,
    /// Call latencies in ns, by percentile.
    pub p50_ns: u64,
    /// The 99th percentile call latency, in ns.
    pub p99_ns: u64,
    /// The slowest call's latency, in ns.
    pub max_ns: u64,
}

impl Summary {
    /// Summarise a trace.
    pub fn of(trace: &Trace) -> Self {
        let mut s = Summary::default();
        // One pass, not the trace grouped by call: a sweep summarises
        // every run. A call counts from its first start to its first end.
        let mut calls: BTreeMap<(u32, u64), Span> = BTreeMap::new();
        for r in &trace.records {
            match &r.kind {
                Kind::AttemptStarted { .. } => s.attempts += 1,
                Kind::CallStarted { .. } => {
                    calls
                        .entry((r.client, r.call))
                        .or_default()
                        .0
                        .get_or_insert(r.t);
                }
                Kind::CallEnded { outcome } => {
                    let end = (r.t, outcome.is_ok());
                    calls
                        .entry((r.client, r.call))
                        .or_default()
                        .1
                        .get_or_insert(end);
                }
                _ => {}
            }
        }
        let mut latencies = Vec::new();
        for (start, end) in calls.into_values() {
            if let (Some(start), Some((end, ok))) = (start, end) {
                s.calls += 1;
                s.ok += u64::from(ok);
                latencies.push(end.saturating_sub(start));
            }
        }
        latencies.sort_unstable();
        s.p50_ns = percentile(&latencies, 0.50);
        s.p99_ns = percentile(&latencies, 0.99);
        s.max_ns = latencies.last().copied().unwrap_or(0);
        s
    }

    /// Share of calls that succeeded (1 for no calls).
    pub fn success_rate(&self) -> f64 {
        if self.calls == 0 {
            1.0
        } else {
            self.ok as f64 / self.calls as f64
        }
    }

    /// Attempts per call.
    pub fn amplification(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.attempts as f64 / self.calls as f64
        }
    }

    /// Add `other`'s counts (percentiles keep the larger: a bound, not a pool).
    pub fn pool(&mut self, other: &Summary) {
        self.calls += other.calls;
        self.ok += other.ok;
        self.attempts += other.attempts;
        self.p50_ns = self.p50_ns.max(other.p50_ns);
        self.p99_ns = self.p99_ns.max(other.p99_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The expectations a single run misses: those that hold on every seed
    /// by construction (a latency bound).
    pub fn unmet(&self, expect: &Expect) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(max) = expect.max_p99_ms.filter(|m| self.p99_ns > m * 1_000_000) {
            out.push(format!("p99 {} above {max} ms", human(self.p99_ns)));
        }
        out
    }
}

/// The false-alarm rate of an expectation stated across seeds: a correct
/// scenario misses it by chance once in a million sweeps.
pub const POOLED_ALPHA: f64 = 1e-6;

/// How far a mean of `seeds` independent per-seed rates (each in `[0, 1]`)
/// may stray from its expectation by chance at [`POOLED_ALPHA`]: Hoeffding's
/// bound, `sqrt(ln(2 / alpha) / (2 * seeds))`. About 0.06 over 2,000 seeds,
/// 0.027 over 10,000; over one seed no bound can be missed by a correct run.
pub fn pooled_margin(seeds: u64) -> f64 {
    ((2.0 / POOLED_ALPHA).ln() / (2.0 * seeds.max(1) as f64)).sqrt()
}

/// The success-rate expectations that a mean of per-seed success rates
/// over `seeds` seeds misses by more than [`pooled_margin`]: those bounds
/// are statements about the mean, and seeds are the independent units.
pub fn unmet_pooled(expect: &Expect, mean_rate: f64, seeds: u64) -> Vec<String> {
    let margin = pooled_margin(seeds);
    let mut out = Vec::new();
    if let Some(min) = expect.min_success_rate.filter(|m| mean_rate < *m - margin) {
        out.push(format!(
            "mean success rate {mean_rate:.4} over {seeds} seed(s) below {min} (margin {margin:.4} at alpha {POOLED_ALPHA:e})"
        ));
    }
    if let Some(max) = expect.max_success_rate.filter(|m| mean_rate > *m + margin) {
        out.push(format!(
            "mean success rate {mean_rate:.4} over {seeds} seed(s) above {max} (margin {margin:.4} at alpha {POOLED_ALPHA:e})"
        ));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::trace::Record;

    pub(crate) fn call(client: u32, start_ms: u64, end_ms: u64, ok: bool) -> Vec<Record> {
        let r = |t: u64, kind| Record {
            t: t * 1_000_000,
            client,
            call: 0,
            kind,
        };
        vec![
            r(
                start_ms,
                Kind::CallStarted {
                    method: crate::method::Method::Chat,
                    compat: 0,
                    inner_compat: 0,
                    digest: None,
                },
            ),
            r(
                start_ms,
                Kind::AttemptStarted {
                    attempt: 0,
                    upstream: 0,
                    digest: None,
                },
            ),
            r(
                end_ms,
                Kind::CallEnded {
                    outcome: match ok {
                        true => crate::trace::CallOutcome::Ok,
                        false => crate::trace::CallOutcome::Failed(crate::trace::Failure::Network),
                    },
                },
            ),
        ]
    }

    #[test]
    fn a_call_that_never_ended_counts_its_attempts_and_no_latency() {
        let mut records = call(0, 0, 5, true);
        let mut open = call(1, 1, 9, true);
        open.pop();
        records.extend(open);
        let s = Summary::of(&Trace::new(records));
        assert_eq!((s.calls, s.ok, s.attempts), (1, 1, 2));
        assert_eq!((s.p50_ns, s.max_ns), (5_000_000, 5_000_000));
    }

    #[test]
    fn summary_counts_and_percentiles() {
        let mut records = Vec::new();
        for c in 0..100 {
            records.extend(call(c, 0, u64::from(c) + 1, c % 10 != 0));
        }
        let s = Summary::of(&Trace::new(records));
        assert_eq!((s.calls, s.ok, s.attempts), (100, 90, 100));
        assert_eq!(
            (s.p50_ns, s.p99_ns, s.max_ns),
            (50_000_000, 99_000_000, 100_000_000)
        );
        let expect = Expect {
            min_success_rate: Some(0.95),
            max_p99_ms: Some(50),
            ..Expect::default()
        };
        assert_eq!(s.unmet(&expect).len(), 1, "the p99 bound, per run");
        let ceiling = Expect {
            max_success_rate: Some(0.5),
            ..Expect::default()
        };
        assert!(
            s.unmet(&ceiling).is_empty(),
            "a rate is never judged on one run"
        );
        // A mean of 0.9 against a floor of 0.95: no verdict from one seed,
        // a miss over ten thousand (margin 0.027).
        assert!(unmet_pooled(&expect, 0.9, 1).is_empty());
        assert_eq!(unmet_pooled(&expect, 0.9, 10_000).len(), 1);
        assert_eq!(unmet_pooled(&ceiling, 0.9, 10_000).len(), 1);
        assert!(
            unmet_pooled(&expect, 0.94, 10_000).is_empty(),
            "within the margin"
        );
        assert!(s.unmet(&Expect::default()).is_empty());
    }
}
