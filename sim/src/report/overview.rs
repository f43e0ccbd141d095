//! The one table `retry-sim run` prints for many scenarios: a row per
//! scenario, the violations below it, and a last word on the whole run.
//!
//! The detail of one scenario (every oracle, latencies by percentile) is
//! [`mod@super::table`]'s, behind `run NAME` or `run --verbose`.

use crate::check::Violation;
use crate::check::verdict::count;
use crate::duration::human;
use crate::run::{Evaluation, replay_command};
use std::fmt::Write as _;

/// Oracles whose violations are listed below the table at most per
/// scenario: each one's first shows what broke, and the replay command
/// shows the rest.
pub const ORACLES_SHOWN: usize = 5;

/// Each violated oracle's first violation in `violations`, in the order
/// they were found, with how many more that oracle found.
pub fn first_of_each(violations: &[Violation]) -> Vec<(&Violation, usize)> {
    let mut firsts: Vec<(&Violation, usize)> = Vec::new();
    for v in violations {
        match firsts
            .iter_mut()
            .find(|(first, _)| first.oracle == v.oracle)
        {
            Some((_, more)) => *more += 1,
            None => firsts.push((v, 0)),
        }
    }
    firsts
}

/// Each violated oracle's first violation, a line each (`(and 4 more)`
/// after it if there are), at most [`ORACLES_SHOWN`] oracles, every line
/// begun with `indent`.
pub fn violation_lines(violations: &[Violation], indent: &str) -> String {
    let firsts = first_of_each(violations);
    let mut out = String::new();
    for (v, more) in firsts.iter().take(ORACLES_SHOWN) {
        let _ = match more {
            0 => writeln!(out, "{indent}{v}"),
            n => writeln!(out, "{indent}{v} (and {n} more)"),
        };
    }
    if let Some(rest) = firsts.len().checked_sub(ORACLES_SHOWN)
        && rest > 0
    {
        let oracles = match rest {
            1 => "oracle",
            _ => "oracles",
        };
        let _ = writeln!(out, "{indent}and {rest} more {oracles}");
    }
    out
}

/// One scenario's run, as the overview shows it.
pub struct Row<'a> {
    /// The scenario as the command line named it (a built-in or a file).
    pub name: &'a str,
    /// What the run produced and how it was judged.
    pub evaluation: &'a Evaluation,
}

/// What the run as a whole was: its seed and the subject judged.
pub struct Whole<'a> {
    /// The seed every scenario ran under.
    pub seed: u64,
    /// The subject's name as a person reads it.
    pub subject: &'a str,
    /// The subject's key on the command line (`ours`, `crabllm`, ...).
    pub key: &'a str,
}

/// The overview of `rows`: the table, every failing scenario's first
/// violations with its replay command, what to run next, and a verdict.
pub fn overview(rows: &[Row<'_>], whole: &Whole<'_>) -> String {
    let mut out = table(rows);
    let failing: Vec<&Row<'_>> = rows.iter().filter(|r| !r.evaluation.passed()).collect();
    for row in &failing {
        out.push('\n');
        out.push_str(&findings(row, whole));
    }
    out.push('\n');
    out.push_str(&verdict(rows, failing.len(), whole));
    out
}

/// The header and a line per scenario; a failing one ends in what failed.
fn table(rows: &[Row<'_>]) -> String {
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("scenario".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>5}  {:>7}  {:>13}  {:>9}  {:>12}  {:>10}",
        "scenario", "calls", "success", "attempts/call", "p99", "oracles held", "not exercised"
    );
    for row in rows {
        let (e, s) = (row.evaluation, &row.evaluation.summary);
        let oracles = e.oracle_counts();
        let _ = write!(
            out,
            "{:<width$}  {:>5}  {:>7}  {:>13.3}  {:>9}  {:>12}  {:>10}",
            row.name,
            s.calls,
            format!("{:.2}%", s.success_rate() * 100.0),
            s.amplification(),
            human(s.p99_ns),
            format!("{}/{}", oracles.held, oracles.judged()),
            oracles.not_judged,
        );
        if let Some(failed) = failed(e) {
            let _ = write!(out, "  FAILED: {failed}");
        }
        out.push('\n');
    }
    out
}

/// What failed in `e`, briefly, if anything.
fn failed(e: &Evaluation) -> Option<String> {
    let mut failed = Vec::new();
    if !e.violations.is_empty() {
        failed.push(count(e.violations.len() as u64, "violation"));
    }
    if !e.unmet.is_empty() {
        failed.push(count(e.unmet.len() as u64, "expectation") + " missed");
    }
    if e.divergence.is_some() {
        failed.push("not deterministic".to_string());
    }
    (!failed.is_empty()).then(|| failed.join(", "))
}

/// A failing scenario: its first violations, missed expectations and
/// divergence, and the command that replays it.
fn findings(row: &Row<'_>, whole: &Whole<'_>) -> String {
    let e = row.evaluation;
    let mut out = format!("{} (seed {}):\n", row.name, e.seed);
    out.push_str(&violation_lines(&e.violations, "  "));
    for u in &e.unmet {
        let _ = writeln!(out, "  expectation missed: {u}");
    }
    if let Some(d) = &e.divergence {
        let _ = writeln!(out, "  NOT DETERMINISTIC: {d}");
    }
    let _ = writeln!(
        out,
        "  replay: {}",
        replay_command(row.name, e.seed, whole.key)
    );
    out
}

/// What to run next, then the verdict on the whole run: the last line.
fn verdict(rows: &[Row<'_>], failing: usize, whole: &Whole<'_>) -> String {
    let scenarios = count(rows.len() as u64, "scenario");
    let next = "next: `run NAME` for one scenario in detail (`--verbose`: every one), \
                `--report DIR` for pictures,\n      \
                `sweep --seeds 0..2000` for the expectations stated across seeds";
    let last = match failing {
        0 => format!(
            "ok: every oracle held in all {scenarios}, each run repeated exactly (seed {}, {})",
            whole.seed, whole.subject
        ),
        n => format!(
            "FAILED: {n} of {scenarios} (seed {}, {}); their replay commands are above",
            whole.seed, whole.subject
        ),
    };
    format!("{next}\n{last}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{ORACLES, Tally, Violation};
    use crate::run::summary::Summary;
    use crate::trace::Trace;
    use std::collections::BTreeMap;

    /// A run of `calls` calls in which `judged` oracles judged one call
    /// each, and `violations` were found.
    fn run(calls: u64, judged: usize, violations: Vec<Violation>) -> Evaluation {
        let one = Tally {
            calls: 1,
            attempts: 1,
            ..Tally::default()
        };
        let tallies: BTreeMap<&'static str, Tally> =
            ORACLES.iter().take(judged).map(|o| (*o, one)).collect();
        Evaluation {
            seed: 7,
            trace: Trace::default(),
            summary: Summary {
                calls,
                ok: calls,
                attempts: calls,
                p50_ns: 10_000_000,
                p99_ns: 1_500_000_000,
                max_ns: 2_000_000_000,
            },
            violations,
            tallies,
            unmet: Vec::new(),
            divergence: None,
            fired: Default::default(),
            pools: Default::default(),
        }
    }

    fn whole() -> Whole<'static> {
        Whole {
            seed: 7,
            subject: "provider-retry",
            key: "ours",
        }
    }

    /// A violation of `ORACLES[oracle]` in call `call`.
    fn violation(oracle: usize, call: u64) -> Violation {
        Violation {
            oracle: ORACLES[oracle],
            client: 0,
            call,
            detail: format!("finding {oracle}.{call}"),
        }
    }

    #[test]
    fn thirty_scenarios_fit_one_screen_and_end_in_the_verdict() {
        let runs: Vec<(String, Evaluation)> = (0..30)
            .map(|i| (format!("scenario-{i}"), run(100, 12, Vec::new())))
            .collect();
        let rows: Vec<Row<'_>> = runs
            .iter()
            .map(|(name, evaluation)| Row { name, evaluation })
            .collect();
        let text = overview(&rows, &whole());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= 40, "{text}");
        assert!(lines.iter().all(|l| l.chars().count() <= 100), "{text}");
        assert_eq!(
            lines[1],
            format!(
                // The name column is as wide as the longest, `scenario-29`.
                "{:<11}  {:>5}  {:>7}  {:>13}  {:>9}  {:>12}  {:>10}",
                "scenario-0",
                100,
                "100.00%",
                "1.000",
                "1.500 s",
                "12/12",
                ORACLES.len() - 12
            )
        );
        assert_eq!(
            lines.last().copied(),
            Some(
                "ok: every oracle held in all 30 scenarios, each run repeated exactly \
                 (seed 7, provider-retry)"
            )
        );
    }

    #[test]
    fn a_failing_scenario_is_marked_and_its_findings_follow_with_a_replay() {
        // Four violations of one oracle, then one each of six others.
        let mut found: Vec<Violation> = (0..4).map(|call| violation(0, call)).collect();
        found.extend((1..7).map(|oracle| violation(oracle, 9)));
        let runs = [("good", run(5, 10, Vec::new())), ("bad", run(5, 10, found))];
        let rows: Vec<Row<'_>> = runs
            .iter()
            .map(|(name, evaluation)| Row { name, evaluation })
            .collect();
        let text = overview(&rows, &whole());
        let bad = text.lines().find(|l| l.starts_with("bad ")).unwrap();
        assert!(
            bad.contains(" 3/10 ") && bad.ends_with("FAILED: 10 violations"),
            "{bad}"
        );
        assert!(!text.lines().nth(1).unwrap().contains("FAILED"), "{text}");
        // Each oracle's first, with how many more it found; five oracles at most.
        assert!(text.contains("c0#0: finding 0.0 (and 3 more)\n"), "{text}");
        assert!(!text.contains("finding 0.1"), "{text}");
        assert!(
            text.contains("c0#9: finding 4.9\n") && !text.contains("finding 5.9"),
            "{text}"
        );
        assert!(text.contains("\n  and 2 more oracles\n"), "{text}");
        assert!(
            text.contains(
                "replay: cargo run --release -p provider-retry-sim -- replay bad --seed 7"
            )
        );
        assert_eq!(
            text.lines().last(),
            Some(
                "FAILED: 1 of 2 scenarios (seed 7, provider-retry); their replay commands are above"
            )
        );
    }
}
