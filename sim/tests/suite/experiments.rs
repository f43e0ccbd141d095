//! The experiments' qualitative findings, asserted on smaller runs of the
//! same code the CLI runs: who does more work, who recovers.

use provider_retry_sim::experiment::jitter::{self, Strategy};
use provider_retry_sim::experiment::limit;
use provider_retry_sim::experiment::storm::{self, Arm};

fn jitter_points() -> Vec<jitter::Point> {
    let config = jitter::Config {
        clients: vec![25, 100],
        runs: 4,
        seed: 1,
    };
    jitter::run(&config, || {}).expect("runtime")
}

#[test]
fn without_jitter_backoff_costs_more_calls_and_more_time_than_any_jitter() {
    let points = jitter_points();
    for clients in [25, 100] {
        let get = |s| jitter::at(&points, s, clients).expect("measured");
        let plain = get(Strategy::Exponential);
        for jittered in [Strategy::Equal, Strategy::Full, Strategy::Decorrelated] {
            let j = get(jittered);
            assert!(
                plain.mean_calls > j.mean_calls,
                "{clients}: {plain:?} vs {j:?}"
            );
            assert!(plain.mean_ms > j.mean_ms, "{clients}: {plain:?} vs {j:?}");
        }
        let none = get(Strategy::NoBackoff);
        assert!(none.mean_calls > plain.mean_calls, "{none:?} vs {plain:?}");
    }
}

#[test]
fn the_jitter_experiment_is_deterministic_per_seed() {
    assert_eq!(
        jitter::one_run(Strategy::Full, 50, 9).unwrap(),
        jitter::one_run(Strategy::Full, 50, 9).unwrap()
    );
}

fn storm_outcomes() -> (storm::Config, Vec<storm::Outcome>) {
    let config = storm::Config {
        triggers_ms: vec![500, 5000],
        after_ms: 20_000,
        ..storm::Config::default()
    };
    let outcomes = storm::run(&config, || {}).expect("runtime");
    (config, outcomes)
}

#[test]
fn a_long_trigger_tips_plain_retries_into_metastability_and_the_budget_prevents_it() {
    let (config, outcomes) = storm_outcomes();
    let get = |arm, t| {
        outcomes
            .iter()
            .find(|o| o.arm == arm && o.trigger_ms == t)
            .expect("measured")
    };
    let table = storm::table(&config, &outcomes);
    for arm in Arm::ALL {
        assert!(
            get(arm, 500).recovery_ms.is_some(),
            "short trigger: {table}"
        );
    }
    assert_eq!(get(Arm::Retries, 5000).recovery_ms, None, "{table}");
    assert!(get(Arm::NoRetries, 5000).recovery_ms.is_some(), "{table}");
    assert!(
        get(Arm::RetriesWithBudget, 5000).recovery_ms.is_some(),
        "{table}"
    );
    // The overload is sustained by retries: every call is tried to the limit.
    assert!(get(Arm::Retries, 5000).amplification_after > 2.5, "{table}");
    assert!(
        get(Arm::RetriesWithBudget, 5000).amplification_after < 1.2,
        "{table}"
    );
}

#[test]
fn the_storm_experiment_is_deterministic_per_seed() {
    let config = storm::Config::default();
    assert_eq!(
        storm::one_run(&config, Arm::RetriesWithBudget, 2000).unwrap(),
        storm::one_run(&config, Arm::RetriesWithBudget, 2000).unwrap()
    );
}

/// A table as the guide shows it: the tool's `a | b` rows as Markdown.
fn markdown(table: &str) -> String {
    let mut lines = table.lines();
    let head = lines.next().unwrap_or_default();
    let columns = head.split(" | ").count();
    let row = |l: &str| format!("| {} |", l.split(" | ").collect::<Vec<_>>().join(" | "));
    let mut out = vec![row(head), format!("|{}", "---|".repeat(columns))];
    out.extend(lines.map(row));
    out.join("\n")
}

fn repo_file(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    std::fs::read_to_string(format!("{root}/{path}")).unwrap()
}

#[test]
fn the_guide_shows_what_the_default_runs_print_and_draw() {
    let guide = repo_file("docs/experiments.md");
    let points = jitter::run(&jitter::Config::default(), || {}).unwrap();
    assert!(
        guide.contains(&markdown(&jitter::table(&points))),
        "jitter table"
    );
    let (calls, time) = jitter::svg(&points);
    assert_eq!(calls, repo_file("sim/plots/jitter-calls.svg"));
    assert_eq!(time, repo_file("sim/plots/jitter-time.svg"));
    let config = storm::Config::default();
    let outcomes = storm::run(&config, || {}).unwrap();
    let table = storm::table(&config, &outcomes);
    // The first line is the setting, said in prose in the guide.
    let rows = table.split_once('\n').map_or("", |(_, rows)| rows);
    assert!(guide.contains(&markdown(rows)), "storm table");
    assert_eq!(
        storm::svg(&config, &outcomes),
        repo_file("sim/plots/storm-goodput.svg")
    );
}

/// A small limit world: 100 callers, a 5 s limit, two seeds; the arms the
/// assertions compare (all seeded).
fn limit_config() -> limit::Config {
    limit::Config {
        limit_ms: 5_000,
        after_ms: 5_000,
        callers: vec![100],
        arms: vec![
            limit::Arm::NoRetries,
            limit::Arm::Retries,
            limit::Arm::RetriesBudget,
            limit::Arm::RetriesThrottle,
            limit::Arm::RetriesPause,
        ],
        seeds: 2,
        seed: 3,
        ..limit::Config::default()
    }
}

#[test]
fn the_limit_experiment_is_deterministic_per_seed() {
    let config = limit::Config {
        arms: limit::Arm::SEEDED.to_vec(),
        seeds: 1,
        ..limit_config()
    };
    let once = limit::table(&config, &limit::run(&config, || {}).expect("runtime"));
    let twice = limit::table(&config, &limit::run(&config, || {}).expect("runtime"));
    assert_eq!(once, twice);
}

#[test]
fn a_shared_throttle_cuts_rejections_and_costs_no_goodput_latency_or_recovery() {
    let config = limit_config();
    let points = limit::run(&config, || {}).expect("runtime");
    let table = limit::table(&config, &points);
    let get = |arm| limit::at(&points, arm, 100).expect("measured");
    let (plain, throttled) = (get(limit::Arm::Retries), get(limit::Arm::RetriesThrottle));
    // The claim the throttle was built for: at least 5x fewer 429s per
    // success, at no cost in goodput, p99 or recovery.
    assert!(
        throttled.rejected_per_success * 5.0 < plain.rejected_per_success,
        "{table}"
    );
    assert!(throttled.goodput >= plain.goodput, "{table}");
    assert!(throttled.p99_ms <= plain.p99_ms, "{table}");
    assert!(
        throttled.never_recovered <= plain.never_recovered,
        "{table}"
    );
    assert!(
        throttled.recovery_ms.unwrap_or(f64::INFINITY)
            <= plain.recovery_ms.unwrap_or(f64::INFINITY),
        "{table}"
    );
    // Held attempts that waited for free instead of being answered queue
    // calls behind the limit: by Little's law, 100 callers at 20 calls per
    // second wait 5 s per call on average, far past the retries' 2.2 s.
    let waiting = get(limit::Arm::RetriesPause);
    assert!(waiting.p99_ms > 2.0 * plain.p99_ms, "{table}");
    assert!(waiting.failed_share < plain.failed_share, "{table}");
    // A budget spent, calls fail at once and their callers come straight
    // back: more 429s per success than retrying, as many as no retries.
    let budget = get(limit::Arm::RetriesBudget);
    assert!(
        budget.rejected_per_success > 2.0 * plain.rejected_per_success,
        "{table}"
    );
    assert!(budget.failed_share > plain.failed_share, "{table}");
    // Without retries every call over the limit fails.
    assert!(
        get(limit::Arm::NoRetries).failed_share > budget.failed_share / 2.0,
        "{table}"
    );
}

/// The rate-limit run is too long for a test (1,000 seeds); the guide's
/// table must be the committed run's, which the same command drew the
/// charts beside.
#[test]
fn the_guide_shows_the_committed_limit_run_and_its_charts() {
    let guide = repo_file("docs/experiments.md");
    let committed = repo_file("sim/plots/limit/limit.md");
    let at_100: Vec<&str> = committed
        .lines()
        .filter_map(|l| l.strip_prefix("| 100 "))
        .collect();
    assert_eq!(at_100.len(), limit::Arm::ALL.len(), "{committed}");
    for row in at_100 {
        assert!(guide.contains(row), "the guide lacks {row}");
    }
    let page = repo_file("sim/plots/limit/index.html");
    for (file, _) in limit::svgs(&limit_config(), &[]) {
        assert!(page.contains(file), "the page does not show {file}");
        assert!(
            guide.contains(&format!("../sim/plots/limit/{file}")),
            "the guide does not show {file}"
        );
        assert!(repo_file(&format!("sim/plots/limit/{file}")).starts_with("<svg"));
    }
}
