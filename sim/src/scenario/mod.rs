//! Scenario files: a policy, a fault plan, a workload and expectations, in TOML.
//!
//! A file is parsed once into a validated [`Scenario`]: unknown fields,
//! wrong types and invalid values are errors, each naming the file, line
//! and column of the key at fault (spans from the TOML parser).
//!
//! | module | role |
//! |---|---|
//! | [`policy`] | the wrapper's knobs |
//! | [`workload`] | who calls, how often, which methods |
//! | [`drops`] | which calls their callers drop, and at which point |
//! | [`network`] | the world, and the simulated network's faults |
//! | [`locate`] | key paths to lines and columns |

pub mod drops;
pub mod locate;
pub mod network;
pub mod policy;
pub mod workload;

pub use crate::invalid::{Invalid, Seg};
pub use drops::{CallDrop, DropPoint, DropSpec, During};
pub use network::{Crash, Direction, NetworkSpec, Partition, Window, WorldKind};
pub use policy::{JitterSpec, PolicySpec};
pub use workload::{Shape, Workload, WorkloadKind, WorkloadSpec, Wrapper};

use crate::faults::FaultPlan;
use crate::fired::Fault;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// A scenario as its file gives it, before validation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// The scenario's name, used in replay commands and reports.
    pub name: String,
    /// What the scenario shows, in a sentence or two.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// In process, or over the simulated network.
    #[serde(default)]
    pub world: WorldKind,
    /// The retry policy the subject is configured with.
    #[serde(default)]
    pub policy: PolicySpec,
    /// How the provider answers.
    #[serde(default)]
    pub faults: FaultPlan,
    /// Upstreams a gateway falls back to, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<FaultPlan>,
    /// Who calls, and how: required by every command that drives calls
    /// itself; `retry-sim serve`, whose callers come from outside, needs
    /// none ([`Scenario::parse_served`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadSpec>,
    /// What the run must show beyond the oracles.
    #[serde(default)]
    pub expect: Expect,
    /// The simulated network's behaviour (the network world only).
    #[serde(default)]
    pub network: NetworkSpec,
}

/// One scenario, validated: every part of it can be run as it is.
#[derive(Debug, Clone, Serialize)]
#[serde(into = "ScenarioSpec")]
pub struct Scenario {
    /// Short name, used in reports and replay commands.
    pub name: String,
    /// What the scenario exercises.
    pub description: String,
    /// The wrapper's policy.
    pub policy: PolicySpec,
    /// The provider's behaviour and its faults.
    pub faults: FaultPlan,
    /// Further upstreams' plans, in a gateway's fallback order after
    /// `faults` (`[[fallback]]`). Only `retry-sim serve` answers them (a
    /// path under `/upstream/<i>/`): the simulator's subjects each wrap
    /// one provider.
    pub fallback: Vec<FaultPlan>,
    /// Who calls, and how.
    pub workload: Workload,
    /// What the run must achieve besides the oracles.
    pub expect: Expect,
    /// Where the calls travel: in process, or over a simulated network.
    pub world: WorldKind,
    /// The simulated network's links and faults (`world = "network"` only).
    pub network: NetworkSpec,
}

impl From<Scenario> for ScenarioSpec {
    fn from(s: Scenario) -> Self {
        ScenarioSpec {
            name: s.name,
            description: s.description,
            world: s.world,
            policy: s.policy,
            faults: s.faults,
            fallback: s.fallback,
            workload: Some(s.workload.into()),
            expect: s.expect,
            network: s.network,
        }
    }
}

/// What the run must achieve.
///
/// The success-rate bounds are statements about the mean: they are judged
/// on the calls of every seed a sweep runs, pooled, never on one seed's (a
/// bound on one seed's share of successes would fail by chance; a rate
/// that must be 0, as under a permanent outage, is 0 pooled exactly when
/// it is 0 on every seed). `max_p99_ms` holds on every seed by
/// construction and is judged per run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Lowest acceptable mean share of calls that succeed, over the seeds swept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_success_rate: Option<f64>,
    /// Highest acceptable mean share of calls that succeed, over the seeds
    /// swept (0 for outage scenarios that must fail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_success_rate: Option<f64>,
    /// Highest acceptable 99th percentile of call latency, every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p99_ms: Option<u64>,
    /// Calls starting this long after the faults heal must all succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_after_heal_ms: Option<u64>,
    /// The fault kinds the scenario means to inject (`fires = ["status-503",
    /// "hang"]`; `[]`: none, on purpose): each must fire on at least one
    /// of the seeds a sweep runs, or the scenario tested nothing of it (a
    /// kind may miss one seed). Absent: not stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fires: Option<Vec<Fault>>,
}

/// A scenario file that could not be used.
#[derive(Debug)]
pub struct ScenarioError {
    /// The file.
    pub path: PathBuf,
    /// The line of the bad value, from 1 (0 when unknown).
    pub line: usize,
    /// Its column, from 1 (0 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        write!(f, "{path}:{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// Parse and validate scenario text; `path` only names it in errors.
    ///
    /// # Errors
    ///
    /// Syntax errors, unknown fields, wrong types and invalid values, each
    /// located at a line and column of the text.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ScenarioError> {
        Self::parse_filling(path, text, false)
    }

    /// [`Scenario::parse`] for `retry-sim serve`, whose callers come from
    /// outside: a scenario without `[workload]` is one closed client of
    /// one call ([`SERVED_WORKLOAD`]), which nothing serve does reads.
    ///
    /// # Errors
    ///
    /// As [`Scenario::parse`], but for a missing `[workload]`.
    pub fn parse_served(path: &Path, text: &str) -> Result<Self, ScenarioError> {
        Self::parse_filling(path, text, true)
    }

    fn parse_filling(path: &Path, text: &str, served: bool) -> Result<Self, ScenarioError> {
        let error = |at: Option<usize>, message: String| {
            let (line, column) = locate::line_col(text, at.unwrap_or(0));
            ScenarioError {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let mut spec: ScenarioSpec = toml::from_str(text).map_err(|e| {
            // The parser locates an unknown key at the key itself.
            error(e.span().map(|s| s.start), e.message().to_string())
        })?;
        if served && spec.workload.is_none() {
            spec.workload = Some(SERVED_WORKLOAD);
        }
        Scenario::try_from(spec).map_err(|invalid| {
            let at = locate::span(text, &invalid.path).map(|s| s.start);
            error(at, invalid.message)
        })
    }

    /// Read and parse a scenario file.
    ///
    /// # Errors
    ///
    /// The file cannot be read (line 0, column 0), or [`Scenario::parse`] fails.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        Self::parse(path, &Self::read(path)?)
    }

    /// Read and parse a scenario file for `retry-sim serve`
    /// ([`Scenario::parse_served`]: `[workload]` may be left out).
    ///
    /// # Errors
    ///
    /// The file cannot be read (line 0, column 0), or the parse fails.
    pub fn load_served(path: &Path) -> Result<Self, ScenarioError> {
        Self::parse_served(path, &Self::read(path)?)
    }

    fn read(path: &Path) -> Result<String, ScenarioError> {
        std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })
    }
}

/// The workload a served scenario without `[workload]` stands on: one
/// closed client of one chat call, as unread as any other there.
pub const SERVED_WORKLOAD: WorkloadSpec = WorkloadSpec {
    kind: WorkloadKind::Closed,
    clients: Some(1),
    calls: Some(1),
    think_ms: 0,
    rate_per_s: None,
    duration_ms: None,
    method: None,
    methods: Vec::new(),
    wrapper: Wrapper::Shared,
    drops: Vec::new(),
};

impl TryFrom<ScenarioSpec> for Scenario {
    type Error = Invalid;

    /// Validate every part once: what passes can be run as it is.
    fn try_from(spec: ScenarioSpec) -> Result<Self, Invalid> {
        let Some(workload) = spec.workload else {
            return Err(Invalid::at(
                &["workload"],
                "missing table [workload] (who calls, and how); only `retry-sim serve` runs without one",
            ));
        };
        let workload = Workload::try_from(workload)?;
        if spec.world == WorldKind::InProcess && spec.network != NetworkSpec::default() {
            return Err(Invalid::at(
                &["network"],
                "a [network] table needs world = \"network\" (in process it would be ignored)",
            ));
        }
        if spec.world == WorldKind::Network {
            if !matches!(workload.shape, Shape::Closed { .. }) {
                return Err(Invalid::at(
                    &["workload", "kind"],
                    "the network world runs closed workloads only",
                ));
            }
            spec.network.validate()?;
        }
        for (key, rate) in [
            ("min_success_rate", spec.expect.min_success_rate),
            ("max_success_rate", spec.expect.max_success_rate),
        ] {
            if rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
                return Err(Invalid::at(
                    &["expect", key],
                    format!("{key} must be between 0 and 1"),
                ));
            }
        }
        spec.faults.validate()?;
        for (i, plan) in spec.fallback.iter().enumerate() {
            plan.validate().map_err(|e| e.in_item("fallback", i))?;
        }
        Ok(Scenario {
            name: spec.name,
            description: spec.description,
            policy: spec.policy,
            faults: spec.faults,
            fallback: spec.fallback,
            workload,
            expect: spec.expect,
            world: spec.world,
            network: spec.network,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new("x.toml"), text)
    }

    #[test]
    fn a_script_scope_is_one_of_three_and_needs_a_script() {
        let text = "name = \"m\"\n[workload]\nkind = \"closed\"\nclients = 1\ncalls = 1\n[faults]\nscript = [\"503\"]\nscript_scope = \"per-call\"\n";
        let e = parse(text).unwrap_err();
        assert_eq!((e.line, e.column), (8, 16), "{e}");
        assert!(
            e.message.contains("shared") && e.message.contains("call"),
            "{e}"
        );
        let good = parse(&text.replace("per-call", "call")).unwrap();
        assert_eq!(good.faults.script_scope, crate::faults::ScriptScope::Call);
        let unscripted = text
            .replace("script = [\"503\"]\n", "")
            .replace("per-call", "client");
        let e = parse(&unscripted).unwrap_err();
        assert_eq!((e.line, e.column), (7, 1), "{e}");
        assert!(e.message.contains("needs a script"), "{e}");
        // Left out, it is shared, as every scenario before it.
        let shared = parse(&text.replace("script_scope = \"per-call\"\n", "")).unwrap();
        assert_eq!(
            shared.faults.script_scope,
            crate::faults::ScriptScope::Shared
        );
    }

    #[test]
    fn only_a_served_scenario_may_leave_out_its_workload() {
        let text = "name = \"m\"\n[faults]\nscript = [\"503\", \"ok\"]\n";
        let e = parse(text).unwrap_err();
        assert!(e.message.contains("missing table [workload]"), "{e}");
        let served = Scenario::parse_served(Path::new("x.toml"), text).unwrap();
        assert_eq!(served.faults.script.len(), 2);
        // One given is still validated.
        let bad = format!("{text}[workload]\nkind = \"closed\"\nclients = 0\ncalls = 1\n");
        assert!(Scenario::parse_served(Path::new("x.toml"), &bad).is_err());
    }

    const MINIMAL: &str = "name = \"m\"\n[workload]\nkind = \"closed\"\nclients = 1\ncalls = 1\n";

    #[test]
    fn should_retry_is_a_boolean_located_when_it_is_not() {
        let with = |value: &str| parse(&format!("{MINIMAL}[faults]\nshould_retry = {value}\n"));
        assert_eq!(with("false").unwrap().faults.should_retry, Some(false));
        assert_eq!(with("true").unwrap().faults.should_retry, Some(true));
        assert_eq!(parse(MINIMAL).unwrap().faults.should_retry, None);
        let e = with("\"no\"").unwrap_err();
        assert_eq!((e.line, e.column), (7, 16), "{e}");
        assert!(e.message.contains("bool"), "{e}");
    }

    #[test]
    fn minimal_scenario_takes_default_policy() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.policy, PolicySpec::default());
    }

    #[test]
    fn a_workload_cannot_call_a_served_only_method() {
        let e = parse(&format!("{MINIMAL}method = \"responses\"\n")).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(
            e.message.contains("`responses` has no Provider method"),
            "{e}"
        );
        let listed = format!("{MINIMAL}methods = [\"chat\", \"responses_stream\"]\n");
        let e = parse(&listed).unwrap_err();
        assert!(e.message.contains("`responses_stream`"), "{e}");
        assert!(parse(&format!("{MINIMAL}method = \"embedding\"\n")).is_ok());
    }

    #[test]
    fn unknown_field_is_located() {
        let e = parse(&format!("{MINIMAL}bogus = 1\n")).unwrap_err();
        assert_eq!((e.line, e.column), (6, 1), "{e}");
        assert!(e.to_string().starts_with("x.toml:6:1: "), "{e}");
        assert!(e.message.contains("bogus"), "{e}");
    }

    #[test]
    fn an_unknown_key_in_a_table_is_located_at_the_key_not_its_twin_elsewhere() {
        // `think_ms` is a key of `[workload]` (line 6), unknown in
        // `[policy]`, where it stands indented on line 8.
        let e = parse(&format!(
            "{MINIMAL}think_ms = 5\n[policy]\n  think_ms = 5\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (8, 3), "{e}");
        // In an inline table, at its key.
        let inline =
            "[faults]\nlatency = { kind = \"uniform\", min_ms = 1, max_ms = 2, most_ms = 3 }\n";
        let e = parse(&format!("{MINIMAL}{inline}")).unwrap_err();
        assert_eq!((e.line, e.column), (7, 55), "{e}");
    }

    #[test]
    fn a_file_is_read_and_one_that_cannot_be_is_named() {
        let dir = std::env::temp_dir().join(format!("retry-sim-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("m.toml");
        std::fs::write(&file, MINIMAL).unwrap();
        assert_eq!(Scenario::load(&file).unwrap().name, "m");
        assert_eq!(Scenario::load_served(&file).unwrap().name, "m");
        let e = Scenario::load(&dir.join("none.toml")).unwrap_err();
        assert_eq!((e.line, e.column), (0, 0), "{e}");
        assert!(e.message.starts_with("cannot read"), "{e}");
        assert!(e.to_string().contains("none.toml"), "{e}");
    }

    #[test]
    fn a_workload_is_held_to_its_sizes_on_both_sides_of_each_bound() {
        let closed = |clients: u32, calls: u32| {
            parse(&format!(
                "name = \"m\"\n[workload]\nkind = \"closed\"\nclients = {clients}\ncalls = {calls}\n"
            ))
        };
        assert!(closed(1_000, 1_000).is_ok());
        let e = closed(1_000, 1_001).unwrap_err();
        assert!(e.message.contains("1,000,000"), "{e}");
        let open = |rate: &str, duration_ms: u64| {
            parse(&format!(
                "name = \"m\"\n[workload]\nkind = \"open\"\nrate_per_s = {rate}\nduration_ms = {duration_ms}\n"
            ))
        };
        // A million arrivals, by the highest rate and by a long run.
        assert!(open("100000.0", 10_000).is_ok());
        assert!(open("1000.0", 1_000_000).is_ok());
        for rate in ["100000.5", "0.0", "-1.0", "inf", "nan"] {
            let e = open(rate, 10).unwrap_err();
            assert!(e.message.contains("rate_per_s must be"), "{rate}: {e}");
        }
        for (rate, duration_ms) in [("1000.0", 1_000_001), ("1.0", 0)] {
            let e = open(rate, duration_ms).unwrap_err();
            assert!(e.message.contains("duration_ms must be"), "{e}");
        }
    }

    #[test]
    fn the_file_form_writes_the_wrapper_only_when_not_shared() {
        let file_form = |s: Scenario| toml::to_string(&ScenarioSpec::from(s)).unwrap();
        let per_client = parse(&format!("{MINIMAL}wrapper = \"per_client\"\n")).unwrap();
        let text = file_form(per_client);
        assert!(text.contains("wrapper = \"per_client\""), "{text}");
        assert_eq!(parse(&text).unwrap().workload.wrapper, Wrapper::PerClient);
        let shared = file_form(parse(MINIMAL).unwrap());
        assert!(!shared.contains("wrapper"), "{shared}");
    }

    #[test]
    fn syntax_error_is_located() {
        let e = parse("name = \"m\"\n[workload\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn wrong_type_is_located() {
        let e =
            parse("name = \"m\"\n[workload]\nkind = \"closed\"\nclients = \"ten\"\ncalls = 1\n")
                .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
    }

    #[test]
    fn invalid_values_are_located() {
        let e = parse("name = \"m\"\n[workload]\nkind = \"closed\"\nclients = 0\ncalls = 1\n")
            .unwrap_err();
        assert_eq!((e.line, e.column), (4, 1), "{e}");
        let e = parse(&format!("{MINIMAL}[expect]\nmin_success_rate = 1.5\n")).unwrap_err();
        assert_eq!(e.line, 7, "{e}");
    }

    #[test]
    fn named_faults_are_read_and_an_unknown_one_is_located() {
        let s = parse(&format!(
            "{MINIMAL}[expect]\nfires = [\"status-503\", \"hang\"]\n"
        ))
        .unwrap();
        assert_eq!(s.expect.fires, Some(vec![Fault::Status(503), Fault::Hang]));
        assert_eq!(parse(MINIMAL).unwrap().expect.fires, None);
        let e = parse(&format!(
            "{MINIMAL}[expect]\nfires = [\"hang\", \"hangs\"]\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (7, 9), "{e}");
        assert!(e.message.contains("unknown fault \"hangs\""), "{e}");
        let e = parse(&format!("{MINIMAL}[expect]\nfires = [\"status-200\"]\n")).unwrap_err();
        assert_eq!(e.line, 7, "{e}");
    }

    #[test]
    fn network_settings_are_checked_and_located() {
        let net = format!("world = \"network\"\n{MINIMAL}[network]\n");
        assert!(parse(&net).is_ok());
        let e = parse(&format!("{net}loss = 2.0\n")).unwrap_err();
        assert_eq!((e.line, e.column), (8, 1), "{e}");
        let e = parse(&format!("{net}holds = [{{ start_ms = 5, end_ms = 5 }}]\n")).unwrap_err();
        assert!(e.message.contains("must end after it starts"), "{e}");
        let e = parse(&format!(
            "{net}partitions = [{{ start_ms = 1, end_ms = 2, direction = \"up\" }}]\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        let open = "world = \"network\"\nname = \"m\"\n[workload]\nkind = \"open\"\nrate_per_s = 1.0\nduration_ms = 10\n";
        let e = parse(open).unwrap_err();
        assert!(e.message.contains("closed workloads only"), "{e}");
    }

    #[test]
    fn fallback_plans_are_read_checked_and_located() {
        let two = format!(
            "{MINIMAL}[[fallback]]
p_transient = 0.5
[[fallback]]
"
        );
        let s = parse(&two).unwrap();
        assert_eq!(s.fallback.len(), 2);
        assert_eq!(s.fallback[0].p_transient, 0.5);
        let e = parse(&format!(
            "{two}p_hang = 2.0
"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (9, 1), "{e}");
        assert!(e.message.contains("p_hang"), "{e}");
    }
}
