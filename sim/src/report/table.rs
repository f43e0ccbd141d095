//! The text table `retry-sim run` and `replay` print for one scenario and seed.

use crate::check::ORACLES;
use crate::check::verdict::{count, unviolated};
use crate::duration::human;
use crate::run::Evaluation;
use std::fmt::Write as _;

/// The table `retry-sim run` prints for scenario `name`'s evaluation `e`:
/// the summary, then every oracle: violated, held (with the calls and
/// attempts it judged) or not exercised.
pub fn table(name: &str, e: &Evaluation) -> String {
    let (s, seed) = (&e.summary, e.seed);
    let mut out = String::new();
    let _ = writeln!(out, "scenario {name} (seed {seed})");
    let rows = [
        ("calls", s.calls.to_string()),
        ("success rate", format!("{:.2}%", s.success_rate() * 100.0)),
        ("attempts per call", format!("{:.3}", s.amplification())),
        ("p50 latency", human(s.p50_ns)),
        ("p99 latency", human(s.p99_ns)),
        ("max latency", human(s.max_ns)),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<20} {v:>14}");
    }
    let _ = writeln!(out, "  {:<20} {}", "faults fired", e.fired);
    let tally = |oracle: &str| e.tallies.get(oracle).copied().unwrap_or_default();
    let violated = |oracle: &str| e.violations.iter().filter(|v| v.oracle == oracle).count();
    let counts = e.oracle_counts();
    let _ = writeln!(
        out,
        "  {:<20} {:>14}  ({} violated, {} not exercised)",
        "oracles held",
        format!("{}/{}", counts.held, counts.judged()),
        counts.violated,
        counts.not_judged,
    );
    for oracle in ORACLES {
        let verdict = match violated(oracle) {
            0 => unviolated(tally(oracle)),
            n => format!(
                "VIOLATED: {} (judged {})",
                count(n as u64, "violation"),
                tally(oracle)
            ),
        };
        let _ = writeln!(out, "    {oracle:<24} {verdict}");
    }
    out.push_str(&super::overview::violation_lines(&e.violations, "    "));
    for u in &e.unmet {
        let _ = writeln!(out, "  EXPECTATION {u}");
    }
    out
}
