//! Sweeps: scenarios x seeds on every core, sharded across machines, merged.
//!
//! A sweep is a list of jobs (scenario, seed) in a fixed order; shard `I/N`
//! takes the jobs whose position is `I` modulo `N`, so `N` independent
//! processes (a CI matrix, indexed batch jobs) cover a sweep exactly once.
//! Each writes one JSON line per run ([`RunLine`]); [`merge`] reads any set
//! of them back and gives the report one process would have printed.

pub use super::shard::Shard;
use super::summary::Summary;
use super::{Evaluation, evaluate, replay_command};
use crate::duration::human;
use crate::fired::Fired;
use crate::scenario::Scenario;
use crate::subject::Subject;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One run's result as a JSON line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLine {
    /// The scenario as the command line named it.
    pub scenario: String,
    /// The seed it ran under.
    pub seed: u64,
    /// The subject's name.
    pub subject: String,
    /// Logical calls started.
    pub calls: u64,
    /// Calls that succeeded.
    pub ok: u64,
    /// Attempts the provider saw.
    pub attempts: u64,
    /// The 99th percentile call latency, in virtual nanoseconds.
    pub p99_ns: u64,
    /// One line per violation, missed expectation or divergence.
    pub failures: Vec<String>,
    /// Which fault kinds fired, and how often (absent in lines written
    /// before faults were counted: read as nothing fired).
    #[serde(default)]
    pub fired: Fired,
}

impl RunLine {
    fn of(scenario: &str, subject: &str, e: &Evaluation) -> Self {
        RunLine {
            scenario: scenario.to_string(),
            seed: e.seed,
            subject: subject.to_string(),
            calls: e.summary.calls,
            ok: e.summary.ok,
            attempts: e.summary.attempts,
            p99_ns: e.summary.p99_ns,
            failures: e.failures(scenario),
            fired: e.fired.clone(),
        }
    }

    fn summary(&self) -> Summary {
        Summary {
            calls: self.calls,
            ok: self.ok,
            attempts: self.attempts,
            p99_ns: self.p99_ns,
            ..Summary::default()
        }
    }
}

/// Run shard `shard` of `scenarios` x `seeds` against `subject` on every
/// core, each run twice for determinism; `tick` is called after each run.
/// Lines come back in job order, whatever the threads did.
///
/// # Errors
///
/// A world that could not start.
pub fn sweep<S: Subject>(
    subject: &S,
    subject_name: &str,
    scenarios: &[(String, Scenario)],
    seeds: Range<u64>,
    shard: Shard,
    tick: &(dyn Fn() + Sync),
) -> std::io::Result<Vec<RunLine>> {
    let jobs: Vec<(usize, u64)> = (0..scenarios.len())
        .flat_map(|s| seeds.clone().map(move |seed| (s, seed)))
        .enumerate()
        .filter(|(i, _)| *i as u64 % shard.count == shard.index)
        .map(|(_, job)| job)
        .collect();
    let next = AtomicUsize::new(0);
    let lines: Mutex<Vec<Option<std::io::Result<RunLine>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(s, seed)) = jobs.get(at) else {
                        break;
                    };
                    let (name, scenario) = &scenarios[s];
                    let line = evaluate(subject, scenario, seed, true)
                        .map(|e| RunLine::of(name, subject_name, &e));
                    lines.lock().unwrap_or_else(|p| p.into_inner())[at] = Some(line);
                    tick();
                }
            });
        }
    });
    let lines = lines.into_inner().unwrap_or_else(|p| p.into_inner());
    lines.into_iter().flatten().collect()
}

/// The report of a sweep (or of merged shards): per scenario the pooled
/// counts and the expectations stated across seeds, then every failing run
/// with the command that replays it. `expect` gives each scenario's
/// expectations by name. True when nothing failed.
pub fn report(lines: &[RunLine], scenarios: &BTreeMap<String, Scenario>) -> (String, bool) {
    let mut out = String::new();
    // Per scenario: pooled counts, seeds, the sum of per-seed rates, and
    // what fired on any seed.
    let mut pooled: BTreeMap<&str, (Summary, u64, f64, Fired)> = BTreeMap::new();
    for line in lines {
        let entry = pooled.entry(&line.scenario).or_default();
        entry.0.pool(&line.summary());
        entry.1 += 1;
        entry.2 += line.summary().success_rate();
        entry.3.merge(&line.fired);
    }
    let mut failing = 0;
    let _ = writeln!(
        out,
        "| scenario | seeds | calls | mean success | attempts/call | worst p99 |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let mut pooled_unmet = Vec::new();
    for (name, (summary, seeds, rates, fired)) in &pooled {
        let _ = writeln!(
            out,
            "| {name} | {seeds} | {} | {:.4} | {:.3} | {} |",
            summary.calls,
            summary.success_rate(),
            summary.amplification(),
            human(summary.p99_ns)
        );
        if let Some(scenario) = scenarios.get(*name) {
            let mean = rates / *seeds as f64;
            for u in super::summary::unmet_pooled(&scenario.expect, mean, *seeds) {
                pooled_unmet.push(format!("{name}: expectation {u}"));
            }
            for fault in fired.missing(scenario.expect.fires.as_deref().unwrap_or_default()) {
                pooled_unmet.push(never_fired(name, fault, *seeds));
            }
        }
    }
    let mut sorted: Vec<&RunLine> = lines.iter().collect();
    sorted.sort_by(|a, b| (&a.scenario, a.seed).cmp(&(&b.scenario, b.seed)));
    for line in sorted.iter().filter(|l| !l.failures.is_empty()) {
        failing += 1;
        for f in line.failures.iter().take(3) {
            let _ = writeln!(out, "  {f}");
        }
        let _ = writeln!(
            out,
            "  replay: {}",
            replay_command(&line.scenario, line.seed, &line.subject)
        );
    }
    for u in &pooled_unmet {
        let _ = writeln!(out, "  {u}");
    }
    let _ = writeln!(
        out,
        "{} run(s), {failing} failing, {} pooled expectation(s) missed",
        lines.len(),
        pooled_unmet.len()
    );
    (out, failing == 0 && pooled_unmet.is_empty())
}

/// The failure of a scenario that named `fault` and never injected it: its
/// verdicts say nothing of that fault.
pub fn never_fired(scenario: &str, fault: crate::fired::Fault, seeds: u64) -> String {
    let seeds = crate::check::verdict::count(seeds, "seed");
    format!("{scenario}: fault {fault} named by scenario never fired across {seeds}")
}

/// JSON lines, one per run.
pub fn to_json_lines(lines: &[RunLine]) -> String {
    let mut out = String::new();
    for line in lines {
        // A RunLine holds only strings and integers: it always serialises.
        let _ = writeln!(out, "{}", serde_json::to_string(line).unwrap_or_default());
    }
    out
}

/// Read JSON lines written by sharded sweeps; `origin` names the text in errors.
///
/// # Errors
///
/// A line that is not a run result, with its file and line number.
pub fn parse_json_lines(origin: &str, text: &str) -> Result<Vec<RunLine>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{origin}:{}:{}: {e}", i + 1, e.column()))
        })
        .collect()
}

/// Merge shards: every run once (a run listed twice is an error).
///
/// # Errors
///
/// The same (scenario, seed, subject) in two shards.
pub fn merge(shards: Vec<Vec<RunLine>>) -> Result<Vec<RunLine>, String> {
    let mut all: BTreeMap<(String, u64, String), RunLine> = BTreeMap::new();
    for line in shards.into_iter().flatten() {
        let key = (line.scenario.clone(), line.seed, line.subject.clone());
        let (scenario, seed) = (line.scenario.clone(), line.seed);
        if all.insert(key, line).is_some() {
            return Err(format!("run {scenario} seed {seed} appears in two shards"));
        }
    }
    Ok(all.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_lines_round_trip_and_bad_lines_are_located() {
        let line = RunLine {
            scenario: "s".into(),
            seed: 3,
            subject: "ours".into(),
            calls: 2,
            ok: 1,
            attempts: 4,
            p99_ns: 9,
            failures: vec!["x".into()],
            fired: Fired::default(),
        };
        let text = to_json_lines(std::slice::from_ref(&line));
        assert_eq!(parse_json_lines("f", &text), Ok(vec![line]));
        let e = parse_json_lines("f.jsonl", "\n{\"seed\": 1}\n").unwrap_err();
        assert!(e.starts_with("f.jsonl:2:"), "{e}");
    }

    /// A named fault may miss a seed, not every seed; lines from two
    /// shards pool, and a line written before faults were counted reads
    /// as nothing fired.
    #[test]
    fn a_named_fault_must_fire_on_some_seed_of_the_merged_shards() {
        use crate::fired::Fault;
        let text = "name = \"h\"\n[workload]\nkind = \"closed\"\nclients = 1\ncalls = 1\n[expect]\nfires = [\"hang\"]\n";
        let scenario = Scenario::parse(std::path::Path::new("h.toml"), text).unwrap();
        let by_name = BTreeMap::from([("h".to_string(), scenario)]);
        let old = r#"{"scenario":"h","seed":0,"subject":"ours","calls":1,"ok":1,"attempts":1,"p99_ns":1,"failures":[]}"#;
        let quiet = parse_json_lines("a.jsonl", old).unwrap();
        assert_eq!(quiet[0].fired, Fired::default());
        let mut hung = RunLine {
            seed: 1,
            ..quiet[0].clone()
        };
        hung.fired.add(Fault::Hang, 2);
        let text = to_json_lines(std::slice::from_ref(&hung));
        assert!(text.contains(r#""fired":{"hang":2}"#), "{text}");
        let merged = merge(vec![
            quiet.clone(),
            parse_json_lines("b.jsonl", &text).unwrap(),
        ])
        .unwrap();
        let (out, passed) = report(&merged, &by_name);
        assert!(passed, "{out}");
        let (out, passed) = report(&quiet, &by_name);
        assert!(!passed);
        assert!(
            out.contains("h: fault hang named by scenario never fired across 1 seed\n"),
            "{out}"
        );
    }
}
