//! One judged run of one scenario as a section of the HTML report: its
//! summary, every oracle's verdict, the timeline, the delays against the
//! claim, the latencies, and, if it failed, how to replay it.

use super::charts::Span;
use super::histogram::{self, Histogram};
use super::html::{self, escape};
use super::{delays, timeline};
use crate::check::verdict::{NOT_JUDGED, count, unviolated};
use crate::check::{Claim, DELAY_DISTRIBUTION, ORACLES};
use crate::duration::human;
use crate::run::summary;
use crate::run::sweep::RunLine;
use crate::run::{Evaluation, evaluate, replay_command};
use crate::scenario::Scenario;
use crate::subject::Subject;
use crate::trace::Trace;
use std::collections::BTreeMap;

/// Rows a report's timeline has at most.
pub const TIMELINE_ROWS: usize = 60;

/// A scenario's run as the judge saw it, with what a reader needs to replay it.
pub struct Judged<'a> {
    /// The scenario as the command line named it (a built-in or a file).
    pub name: &'a str,
    /// The scenario that ran.
    pub scenario: &'a Scenario,
    /// What the run produced and how it was judged.
    pub evaluation: &'a Evaluation,
    /// What the subject claims under the scenario's policy.
    pub claim: &'a Claim,
    /// The command that replays this run.
    pub replay: String,
}

/// A section of a page and the image files it refers to.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// The anchor id, also the prefix of its files.
    pub id: String,
    /// The section's heading.
    pub heading: String,
    /// Whether every oracle held.
    pub passed: bool,
    /// Calls, success rate, attempts per call and p99, for the contents table.
    pub row: Vec<String>,
    /// The section's body.
    pub html: String,
    /// `(file name, contents)`, relative to the report's directory.
    pub files: Vec<(String, String)>,
}

/// The section for `j`, anchored at `id` (a [`html::slug`]), which also
/// begins its files' names.
pub fn section(j: &Judged<'_>, id: &str) -> Section {
    let e = j.evaluation;
    let id = id.to_string();
    let sum = &e.summary;
    let mut s = Section {
        heading: format!("{} (seed {})", j.name, e.seed),
        passed: e.passed(),
        row: vec![
            sum.calls.to_string(),
            format!("{:.2} %", sum.success_rate() * 100.0),
            format!("{:.3}", sum.amplification()),
            human(sum.p99_ns),
        ],
        ..Section::default()
    };
    let mut out = format!(
        "<h2 id=\"{id}\">{} {}</h2>\n",
        escape(&s.heading),
        verdict(e)
    );
    if !j.scenario.description.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", escape(&j.scenario.description)));
    }
    out.push_str(&summary(e));
    out.push_str(&oracles(e));
    let timeline_file = format!("{id}-timeline.svg");
    out.push_str("<h3>Timeline</h3>\n");
    out.push_str(&html::image(
        &timeline_file,
        &format!("timeline of {}", j.name),
    ));
    s.files
        .push((timeline_file, timeline::svg(&e.trace, TIMELINE_ROWS)));
    out.push_str(&delay_part(j, &id, &mut s.files));
    let latency_file = format!("{id}-latency.svg");
    out.push_str("<h3>Latency</h3>\n");
    out.push_str(&html::image(
        &latency_file,
        &format!("latencies of {}", j.name),
    ));
    s.files.push((latency_file, latency_svg(&e.trace)));
    out.push_str(&replay_part(j));
    (s.id, s.html) = (id, out);
    s
}

/// The section of `e`, a run of `scenario` (named `name` on the command
/// line) against `subject` (named `key`).
pub fn of_run<S: Subject>(
    subject: &S,
    name: &str,
    scenario: &Scenario,
    e: &Evaluation,
    key: &str,
) -> Section {
    let claim = subject.claim(&scenario.policy);
    let judged = Judged {
        name,
        scenario,
        evaluation: e,
        claim: &claim,
        replay: replay_command(name, e.seed, key),
    };
    section(&judged, &html::slug(&[name]))
}

/// A section per swept scenario: its first failing run, else its first seed, run again.
///
/// # Errors
///
/// A world that cannot start.
pub fn of_sweep<S: Subject>(
    subject: &S,
    scenarios: &[(String, Scenario)],
    lines: &[RunLine],
    key: &str,
) -> std::io::Result<Vec<Section>> {
    let mut sections = Vec::new();
    for (name, scenario) in scenarios {
        let mine = || lines.iter().filter(|l| l.scenario == *name);
        let shown = mine().find(|l| !l.failures.is_empty()).or(mine().next());
        if let Some(line) = shown {
            let e = evaluate(subject, scenario, line.seed, false)?;
            sections.push(of_run(subject, name, scenario, &e, key));
        }
    }
    Ok(sections)
}

fn verdict(e: &Evaluation) -> String {
    match e.passed() {
        true => html::badge(true, "passed"),
        false => html::badge(false, "FAILED"),
    }
}

fn summary(e: &Evaluation) -> String {
    let s = &e.summary;
    let cell = |v: String| format!("<span class=\"num\">{}</span>", escape(&v));
    let rows = vec![vec![
        cell(s.calls.to_string()),
        cell(format!("{:.2} %", s.success_rate() * 100.0)),
        cell(format!("{:.3}", s.amplification())),
        cell(human(s.p50_ns)),
        cell(human(s.p99_ns)),
        cell(human(s.max_ns)),
    ]];
    let head = [
        "calls",
        "success rate",
        "attempts per call",
        "p50 latency",
        "p99 latency",
        "max latency",
    ];
    format!(
        "<h3>Summary</h3>\n{}<p>Faults fired: {}.</p>\n",
        html::table(&head, &rows),
        escape(&e.fired.to_string())
    )
}

/// Every oracle, violated (with how many times and the first detail), held
/// (over how many calls and attempts) or not exercised, then the missed
/// expectations and any divergence.
fn oracles(e: &Evaluation) -> String {
    let mut by: BTreeMap<&str, Vec<&crate::check::Violation>> = BTreeMap::new();
    for v in &e.violations {
        by.entry(v.oracle).or_default().push(v);
    }
    let tally = |oracle: &str| e.tallies.get(oracle).copied().unwrap_or_default();
    let rows: Vec<Vec<String>> = ORACLES
        .iter()
        .map(|&oracle| {
            let t = tally(oracle);
            let verdict = match (by.get(oracle), t.judged(), oracle == DELAY_DISTRIBUTION) {
                (Some(v), ..) => html::badge(false, &format!("violated {} (judged {t})", count(v.len() as u64, "time"))),
                (None, true, _) => html::badge(true, &unviolated(t)),
                (None, false, true) => html::not_judged(
                    "not exercised: too few samples in one run (conform pools them across seeds; see the delays below)",
                ),
                (None, false, false) => html::not_judged(NOT_JUDGED),
            };
            let first = by.get(oracle).and_then(|v| v.first());
            let detail = first.map_or(String::new(), |v| {
                format!("<code>{}</code>", escape(&v.to_string()))
            });
            vec![format!("<code>{oracle}</code>"), verdict, detail]
        })
        .collect();
    let counts = e.oracle_counts();
    let mut out = format!(
        "<h3>Oracles</h3>\n<p>{} of {} held in this run, {} violated, {} not exercised (nothing in this run for them to judge).</p>\n",
        html::badge(by.is_empty(), &counts.held.to_string()),
        ORACLES.len(),
        counts.violated,
        counts.not_judged
    );
    let table = html::table(&["oracle", "verdict", "first violation"], &rows);
    // A passing run's 19 green rows say little: folded, a click away.
    match by.is_empty() {
        true => out.push_str(&format!(
            "<details><summary>every oracle</summary>\n{table}</details>\n"
        )),
        false => out.push_str(&table),
    }
    for u in &e.unmet {
        out.push_str(&format!(
            "<p class=\"violated\">Expectation missed: {}</p>\n",
            escape(u)
        ));
    }
    if let Some(d) = &e.divergence {
        out.push_str(&format!(
            "<p class=\"violated\">Not deterministic: {}</p>\n",
            escape(&d.to_string())
        ));
    }
    out
}

fn delay_part(j: &Judged<'_>, id: &str, files: &mut Vec<(String, String)>) -> String {
    let mut out = String::from("<h3>Backoff delays</h3>\n");
    match delays::svg(&j.evaluation.trace, j.claim) {
        None => out.push_str("<p class=\"muted\">No backoff waits in this run.</p>\n"),
        Some((svg, verdict)) => {
            let file = format!("{id}-delays.svg");
            out.push_str(&html::image(
                &file,
                &format!("backoff delays of {}", j.name),
            ));
            out.push_str(&format!("<p>Distribution: {}.</p>\n", escape(&verdict)));
            files.push((file, svg));
        }
    }
    out
}

/// The latency of every call that ended, p50 and p99 marked.
pub fn latency_svg(trace: &Trace) -> String {
    let mut latencies: Vec<f64> = summary::latencies_ns(trace)
        .into_iter()
        .map(|ns| ns as f64 / 1e6)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| summary::percentile(&latencies, q);
    // A log axis from the fastest call (at least a tenth of a millisecond):
    // latencies of one attempt and of several backoffs differ a hundredfold.
    let floor = latencies.first().copied().unwrap_or(1.0).max(0.1);
    let top = latencies.last().copied().unwrap_or(1.0).max(floor * 10.0);
    let h = Histogram {
        title: format!("{} call(s), log scale", latencies.len()),
        x_label: "call latency, ms (log scale)".into(),
        marks: vec![
            (at(0.5).max(floor), "p50".into()),
            (at(0.99).max(floor), "p99".into()),
        ],
        values: latencies,
        range: (floor * 0.9, top * 1.1),
        bins: 40,
        spans: Vec::<Span>::new(),
        expected: None,
        log_x: true,
    };
    histogram::draw("Call latency (virtual time)", None, &[h])
}

fn replay_part(j: &Judged<'_>) -> String {
    if j.evaluation.passed() {
        return format!(
            "<p class=\"muted\">Replay: <code>{}</code></p>\n",
            escape(&j.replay)
        );
    }
    let toml = toml::to_string(j.scenario).unwrap_or_else(|e| format!("# cannot show: {e}"));
    format!(
        "<h3>Finding</h3>\n<p>Replay this run:</p>\n<pre>{}</pre>\n<p>The scenario:</p>\n<pre>{}</pre>\n",
        escape(&j.replay),
        escape(&toml)
    )
}
