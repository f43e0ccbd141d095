//! The zoo's scenarios, each small and aimed at one rule, and the judging helpers.

use super::defect::Defect;
use super::subject::Zoo;
use provider_retry_sim::check::ORACLES;
use provider_retry_sim::run::{Evaluation, evaluate, replay_command};
use provider_retry_sim::scenario::Scenario;
use provider_retry_sim::subject::Subject;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A scenario written out in the test, run over a few fixed seeds.
pub struct Case {
    pub name: &'static str,
    pub toml: &'static str,
    pub seeds: Range<u64>,
}

/// A transient 503 with Retry-After 0 forever and 100 retries allowed:
/// the backoff is still computed each retry, so an unchecked doubling of
/// 100 ms overflows `Duration` at retry 67.
pub const MANY_RETRIES: Case = Case {
    name: "zoo-many-retries",
    seeds: 0..1,
    toml: r#"
name = "zoo-many-retries"
[policy]
max_retries = 100
jitter = "none"
[faults]
script = ["503:ra=0"]
script_repeat = true
[workload]
kind = "closed"
clients = 1
calls = 1
"#,
};

/// Every attempt fails transiently: calls run out of retries.
pub const EXHAUSTED: Case = Case {
    name: "zoo-exhausted",
    seeds: 0..2,
    toml: r#"
name = "zoo-exhausted"
[policy]
max_retries = 3
jitter = "none"
initial_backoff = "100ms"
[faults]
p_transient = 1.0
[workload]
kind = "closed"
clients = 3
calls = 2
"#,
};

/// A 250 ms cap that bites from retry 2 on.
pub const CAPPED: Case = Case {
    name: "zoo-capped",
    seeds: 0..2,
    toml: r#"
name = "zoo-capped"
[policy]
max_retries = 4
jitter = "none"
initial_backoff = "100ms"
max_backoff = "250ms"
[faults]
p_transient = 1.0
[workload]
kind = "closed"
clients = 2
calls = 2
"#,
};

/// Every answer is a 400.
pub const BAD_REQUEST: Case = Case {
    name: "zoo-bad-request",
    seeds: 0..2,
    toml: r#"
name = "zoo-bad-request"
[faults]
p_non_transient = 1.0
non_transient_statuses = [400]
[workload]
kind = "closed"
clients = 2
calls = 2
"#,
};

/// Transient failures asking for a 1 s Retry-After (below the 60 s cap).
pub const RETRY_AFTER: Case = Case {
    name: "zoo-retry-after",
    seeds: 0..2,
    toml: r#"
name = "zoo-retry-after"
[policy]
jitter = "full"
[faults]
p_transient = 1.0
retry_after_ms = 1000
[workload]
kind = "closed"
clients = 2
calls = 2
"#,
};

/// A 1.5 s deadline that cuts 10 retries of 200 ms doubling short.
pub const DEADLINE: Case = Case {
    name: "zoo-deadline",
    seeds: 0..2,
    toml: r#"
name = "zoo-deadline"
[policy]
max_retries = 10
initial_backoff = "200ms"
jitter = "none"
retry_deadline = "1500ms"
[faults]
p_transient = 1.0
[workload]
kind = "closed"
clients = 2
calls = 2
"#,
};

/// Every answer takes 2 s against a 500 ms per-attempt timeout.
pub const SLOW: Case = Case {
    name: "zoo-slow",
    seeds: 0..2,
    toml: r#"
name = "zoo-slow"
[policy]
max_retries = 1
timeout = "500ms"
[faults.latency]
kind = "uniform"
min_ms = 2000
max_ms = 2000
[workload]
kind = "closed"
clients = 1
calls = 2
"#,
};

/// The first attempt never answers; the timeout must end it so the retry succeeds.
pub const HANG: Case = Case {
    name: "zoo-hang",
    seeds: 0..1,
    toml: r#"
name = "zoo-hang"
[policy]
timeout = "1s"
[faults]
script = ["hang", "ok"]
[workload]
kind = "closed"
clients = 1
calls = 1
"#,
};

/// The first stream fails after half its chunks; a second open would succeed.
pub const STREAM_FAIL: Case = Case {
    name: "zoo-stream-fail",
    seeds: 0..1,
    toml: r#"
name = "zoo-stream-fail"
[faults]
script = ["stream-fail", "ok"]
chunks = 8
[workload]
kind = "closed"
clients = 1
calls = 2
method = "chat_stream"
"#,
};

/// 25 calls of 4 full-jitter retries each: 100 delays, enough for a KS test.
pub const FULL_JITTER: Case = Case {
    name: "zoo-full-jitter",
    seeds: 0..1,
    toml: r#"
name = "zoo-full-jitter"
[policy]
max_retries = 4
jitter = "full"
initial_backoff = "100ms"
[faults]
p_transient = 1.0
[workload]
kind = "closed"
clients = 25
calls = 1
"#,
};

/// Anthropic messages against a provider failing transiently.
pub const ANTHROPIC: Case = Case {
    name: "zoo-anthropic",
    seeds: 0..2,
    toml: r#"
name = "zoo-anthropic"
[faults]
p_transient = 1.0
[workload]
kind = "closed"
clients = 2
calls = 2
method = "anthropic"
"#,
};

/// `complete` against a healthy provider.
pub const COMPLETE: Case = Case {
    name: "zoo-complete",
    seeds: 0..1,
    toml: r#"
name = "zoo-complete"
[workload]
kind = "closed"
clients = 2
calls = 2
method = "complete"
"#,
};

/// A healthy provider: clients 0 and 1 differ in every compat flag (per
/// client), and a shared wrapper's provider flips every flag from one seed
/// to the next.
pub const HEALTHY: Case = Case {
    name: "zoo-healthy",
    seeds: 0..2,
    toml: r#"
name = "zoo-healthy"
[workload]
kind = "closed"
clients = 2
calls = 1
"#,
};

/// Image generation against a provider failing transiently.
pub const IMAGE: Case = Case {
    name: "zoo-image",
    seeds: 0..1,
    toml: r#"
name = "zoo-image"
[faults]
p_transient = 1.0
[workload]
kind = "closed"
clients = 2
calls = 2
method = "image"
"#,
};

/// Streams drip an item every 5 s against a 3 s idle bound: the bound must
/// end them with a timeout. (A stream that stalls for good is caught only
/// by `calls_end`: `stream_idle_bounded` does not judge the silence of a
/// call the horizon cut off.)
pub const DRIPPING: Case = Case {
    name: "zoo-dripping",
    seeds: 0..1,
    toml: r#"
name = "zoo-dripping"
[policy]
stream_idle = "3s"
[faults]
chunks = 3
chunk_gap_ms = 5000
[workload]
kind = "closed"
clients = 1
calls = 2
method = "chat_stream"
"#,
};

/// A reasoning model silent 6 s before its first item, then a fast
/// stream: within the 10 s first-chunk bound, past the 3 s idle bound.
pub const SILENT_FIRST: Case = Case {
    name: "zoo-silent-first",
    seeds: 0..1,
    toml: r#"
name = "zoo-silent-first"
[policy]
first_chunk = "10s"
stream_idle = "3s"
[faults]
first_chunk_ms = 6000
chunks = 3
chunk_gap_ms = 100
[workload]
kind = "closed"
clients = 1
calls = 2
methods = ["chat_stream", "anthropic_stream_raw"]
"#,
};

/// A 1 s outage, healed at 1 s: calls starting from 1.5 s on must succeed.
/// Four calls fail during the outage, enough to open a breaker at three.
pub const HEAL: Case = Case {
    name: "zoo-heal",
    seeds: 0..2,
    toml: r#"
name = "zoo-heal"
[policy]
max_retries = 1
jitter = "none"
initial_backoff = "50ms"
[faults]
outages = [{ start_ms = 0, end_ms = 1000 }]
heal_ms = 1000
[workload]
kind = "closed"
clients = 1
calls = 10
think_ms = 200
[expect]
liveness_after_heal_ms = 500
"#,
};

// -- One wrapper shared by every caller, and what each attempt sends --

/// 40 clients at once through one shared wrapper (the default), every
/// attempt failing transiently, 4 retries of full jitter from 20 ms: 20
/// pairs of concurrent calls, 80 pairs of backoffs, enough to test their
/// independence; and retries whose requests can be compared.
pub const SHARED_HERD: Case = Case {
    name: "zoo-shared-herd",
    seeds: 0..1,
    toml: r#"
name = "zoo-shared-herd"
[policy]
max_retries = 4
jitter = "full"
initial_backoff = "20ms"
[faults]
p_transient = 1.0
[workload]
kind = "closed"
clients = 40
calls = 1
wrapper = "shared"
"#,
};

/// [`SHARED_HERD`] over the simulated network: the clients on one
/// gateway host, sharing the wrapper.
pub const NET_SHARED_HERD: Case = Case {
    name: "zoo-net-shared-herd",
    seeds: 0..1,
    toml: r#"
name = "zoo-net-shared-herd"
world = "network"
[policy]
max_retries = 4
jitter = "full"
initial_backoff = "20ms"
[faults]
p_transient = 1.0
[workload]
kind = "closed"
clients = 40
calls = 1
wrapper = "shared"
"#,
};

/// Every zoo scenario, for the control.
pub const ALL: [&Case; 19] = [
    &MANY_RETRIES,
    &EXHAUSTED,
    &CAPPED,
    &BAD_REQUEST,
    &RETRY_AFTER,
    &DEADLINE,
    &SLOW,
    &HANG,
    &STREAM_FAIL,
    &FULL_JITTER,
    &ANTHROPIC,
    &COMPLETE,
    &HEALTHY,
    &IMAGE,
    &DRIPPING,
    &SILENT_FIRST,
    &HEAL,
    &SHARED_HERD,
    &NET_SHARED_HERD,
];

/// Not an oracle of the judge's: the determinism check (a seedable
/// subject's two runs of one seed must not diverge).
pub const DETERMINISM: &str = "determinism";

impl Case {
    pub fn scenario(&self) -> Scenario {
        Scenario::parse(Path::new(&format!("{}.toml", self.name)), self.toml)
            .unwrap_or_else(|e| panic!("zoo scenario does not parse: {e}"))
    }

    /// The scenario written to a file, so the replay command can name it.
    fn file(&self) -> PathBuf {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zoo");
        let path = dir.join(format!("{}.toml", self.name));
        let _ = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, self.toml));
        path
    }

    /// How to reproduce `seed` of this case for `defect`.
    pub fn replay(&self, seed: u64, defect: Defect) -> String {
        let file = self.file();
        format!(
            "replay: {} (the scenario against provider-retry); this variant: \
             cargo test -p provider-retry-sim --test suite -- --exact zoo::{}",
            replay_command(&file.display().to_string(), seed, "ours"),
            test_name(defect),
        )
    }

    /// Run every seed of this case against `defect`'s variant.
    pub fn evaluate(&self, defect: Defect, twice: bool) -> Vec<Evaluation> {
        self.evaluate_as(&Zoo(defect), twice)
    }

    /// Run every seed of this case against `subject`.
    pub fn evaluate_as<S: Subject>(&self, subject: &S, twice: bool) -> Vec<Evaluation> {
        // world::run keeps a planted panic (a finding) off stderr itself.
        let scenario = self.scenario();
        self.seeds
            .clone()
            .map(|seed| {
                evaluate(subject, &scenario, seed, twice)
                    .unwrap_or_else(|e| panic!("world did not start: {e}"))
            })
            .collect()
    }
}

/// The test that pins `defect` (the control's for `Defect::None`).
pub fn test_name(defect: Defect) -> String {
    match defect {
        Defect::None => "control_holds_every_oracle_on_every_zoo_scenario".into(),
        d => format!("{}_is_caught", d.name().replace('-', "_")),
    }
}

/// Assert that `oracle` catches `defect` on some seed of `case`.
pub fn assert_caught(defect: Defect, case: &Case, oracle: &str) {
    if oracle == DETERMINISM {
        return assert_diverges(defect, case);
    }
    let runs = case.evaluate(defect, false);
    assert!(
        ORACLES.contains(&oracle),
        "the judge has no oracle named {oracle} (it has {ORACLES:?}); {}",
        case.replay(case.seeds.start, defect)
    );
    let caught = runs
        .iter()
        .find_map(|e| e.violations.iter().find(|v| v.oracle == oracle));
    if let Some(v) = caught {
        eprintln!("{} caught: {v}", defect.name());
        return;
    }
    let fired: Vec<String> = runs
        .iter()
        .flat_map(|e| e.failures(case.name))
        .take(10)
        .collect();
    panic!(
        "{oracle} did not catch {} on {} seeds {:?}; what fired instead: {fired:#?}\n{}",
        defect.name(),
        case.name,
        case.seeds,
        case.replay(case.seeds.start, defect)
    );
}

/// Assert that two runs of one seed of `case` diverge for `defect`, a
/// variant that claims to be seedable: it is flagged as reading the wall
/// clock (or some other randomness no seed fixes).
fn assert_diverges(defect: Defect, case: &Case) {
    let runs = case.evaluate(defect, true);
    if let Some(d) = runs.iter().find_map(|e| e.divergence.as_ref()) {
        eprintln!("{} flagged as not deterministic: {d}", defect.name());
        return;
    }
    panic!(
        "two runs of every seed {:?} of {} agreed for {}: the determinism check did not flag it\n{}",
        case.seeds,
        case.name,
        defect.name(),
        case.replay(case.seeds.start, defect)
    );
}

/// Assert that the control holds every oracle (and repeats exactly) on `case`.
pub fn assert_control_holds(case: &Case) {
    assert_holds(&Zoo(Defect::None), Defect::None, case);
}

/// Assert that `subject` (`defect`'s variant under some claim) holds every
/// oracle and repeats exactly on `case`.
pub fn assert_holds<S: Subject>(subject: &S, defect: Defect, case: &Case) {
    for e in case.evaluate_as(subject, true) {
        let failures = e.failures(case.name);
        assert!(
            failures.is_empty(),
            "{} failed: {failures:#?}\n{}",
            subject.name(),
            case.replay(e.seed, defect)
        );
    }
}

// Callers that walk away, and attempts cut short.

/// Every attempt fails after 200 ms; client 0 drops its call 50 ms into
/// attempt 1, client 1 50 ms into the backoff after attempt 0. Each makes
/// one call and then thinks 3 s, so what a variant still does for the
/// dropped call shows, credited to that call (by the call its request
/// names).
pub const WALK_AWAY: Case = Case {
    name: "zoo-walk-away",
    seeds: 0..2,
    toml: WALK_AWAY_TOML,
};

/// [`WALK_AWAY`] over the network.
pub const NET_WALK_AWAY: Case = Case {
    name: "zoo-net-walk-away",
    seeds: 0..1,
    toml: NET_WALK_AWAY_TOML,
};

macro_rules! walk_away {
    ($name:literal, $world:literal) => {
        concat!(
            "name = \"",
            $name,
            "\"\n",
            $world,
            r#"
[policy]
max_retries = 3
jitter = "none"
initial_backoff = "100ms"
timeout = "1s"
[faults]
p_transient = 1.0
latency = { kind = "uniform", min_ms = 200, max_ms = 200 }
[workload]
kind = "closed"
clients = 2
calls = 1
think_ms = 3000
drops = [
    { client = 0, during = "attempt", attempt = 1, after_ms = 50 },
    { client = 1, during = "backoff", attempt = 0, after_ms = 50 },
]
"#
        )
    };
}

const WALK_AWAY_TOML: &str = walk_away!("zoo-walk-away", "");
const NET_WALK_AWAY_TOML: &str = walk_away!("zoo-net-walk-away", "world = \"network\"\n");

/// A quick 503, then a hang a 1 s timeout must end, then success: the
/// retry after the 503 is owed its whole second.
pub const HANG_AFTER_FAILURE: Case = Case {
    name: "zoo-hang-after-failure",
    seeds: 0..1,
    toml: HANG_AFTER_FAILURE_TOML,
};

/// [`HANG_AFTER_FAILURE`] over the network.
pub const NET_HANG_AFTER_FAILURE: Case = Case {
    name: "zoo-net-hang-after-failure",
    seeds: 0..1,
    toml: NET_HANG_AFTER_FAILURE_TOML,
};

macro_rules! hang_after_failure {
    ($name:literal, $world:literal) => {
        concat!(
            "name = \"",
            $name,
            "\"\n",
            $world,
            r#"
[policy]
max_retries = 2
jitter = "none"
initial_backoff = "100ms"
timeout = "1s"
[faults]
script = ["503", "hang", "ok"]
[workload]
kind = "closed"
clients = 1
calls = 1
"#
        )
    };
}

const HANG_AFTER_FAILURE_TOML: &str = hang_after_failure!("zoo-hang-after-failure", "");
const NET_HANG_AFTER_FAILURE_TOML: &str =
    hang_after_failure!("zoo-net-hang-after-failure", "world = \"network\"\n");

/// The scenarios of callers that walk away and attempts cut short, both
/// worlds, for the control and the variants correct under their claims.
pub const LEFT_OR_CUT: [&Case; 4] = [
    &WALK_AWAY,
    &NET_WALK_AWAY,
    &HANG_AFTER_FAILURE,
    &NET_HANG_AFTER_FAILURE,
];
