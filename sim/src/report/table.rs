//! The text table `retry-sim run` and `replay` print for one scenario and seed.

use crate::check::{ORACLES, Violation};
use crate::run::summary::{Summary, ms};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The table `retry-sim run` prints for one scenario and seed.
pub fn table(
    name: &str,
    seed: u64,
    s: &Summary,
    violations: &[Violation],
    unmet: &[String],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario {name} (seed {seed})");
    let rows = [
        ("calls", s.calls.to_string()),
        ("success rate", format!("{:.2}%", s.success_rate() * 100.0)),
        ("attempts per call", format!("{:.3}", s.amplification())),
        ("p50 latency", ms(s.p50_ns)),
        ("p99 latency", ms(s.p99_ns)),
        ("max latency", ms(s.max_ns)),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<20} {v:>14}");
    }
    let mut by_oracle: BTreeMap<&str, usize> = BTreeMap::new();
    for v in violations {
        *by_oracle.entry(v.oracle).or_default() += 1;
    }
    let held = ORACLES.len() - by_oracle.len();
    let _ = writeln!(
        out,
        "  {:<20} {:>14}",
        "oracles held",
        format!("{held}/{}", ORACLES.len())
    );
    for (oracle, n) in &by_oracle {
        let _ = writeln!(out, "  VIOLATED {oracle}: {n} call(s)");
    }
    for v in violations.iter().take(3) {
        let _ = writeln!(out, "    {v}");
    }
    for u in unmet {
        let _ = writeln!(out, "  EXPECTATION {u}");
    }
    out
}
