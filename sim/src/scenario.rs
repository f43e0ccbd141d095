//! Scenario files: a policy, a fault plan, a workload and expectations, in TOML.
//!
//! Unknown fields are errors, and every error names the file, line and column.

use crate::faults::FaultPlan;
use crate::method::Method;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One scenario, as read from its file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in reports and replay commands.
    pub name: String,
    /// What the scenario exercises.
    #[serde(default)]
    pub description: String,
    /// The wrapper's policy.
    #[serde(default)]
    pub policy: PolicySpec,
    /// The provider's behaviour and its faults.
    #[serde(default)]
    pub faults: FaultPlan,
    /// Who calls, and how.
    pub workload: Workload,
    /// What the run must achieve besides the oracles.
    #[serde(default)]
    pub expect: Expect,
    /// Where the calls travel: in process, or over a simulated network.
    #[serde(default)]
    pub world: WorldKind,
    /// The simulated network's links and faults (`world = "network"` only).
    #[serde(default)]
    pub network: NetworkSpec,
}

/// The two worlds a scenario can run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorldKind {
    /// Clients call the scripted provider directly, on one paused clock.
    #[default]
    InProcess,
    /// Clients call an HTTP server over turmoil's simulated network.
    Network,
}

/// The simulated network: link latency and loss, and timed faults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    /// Each message takes between these many milliseconds.
    pub latency_min_ms: u64,
    pub latency_max_ms: u64,
    /// Probability that a link breaks on a message, and that a broken one heals.
    pub loss: f64,
    pub repair: f64,
    /// `[start_ms, end_ms)`: messages between clients and server are dropped.
    pub partitions: Vec<Partition>,
    /// `[start_ms, end_ms)`: messages are held, then delivered at the end.
    pub holds: Vec<Window>,
    /// The server crashes at `at_ms` and restarts at `restart_ms`.
    pub crashes: Vec<Crash>,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            latency_min_ms: 1,
            latency_max_ms: 2,
            loss: 0.0,
            repair: 0.0,
            partitions: Vec::new(),
            holds: Vec::new(),
            crashes: Vec::new(),
        }
    }
}

/// Which way a partition cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Both,
    /// Requests are lost; answers would get through.
    ToServer,
    /// Answers are lost; requests get through.
    ToClients,
}

/// A partition window.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub start_ms: u64,
    pub end_ms: u64,
    #[serde(default)]
    pub direction: Direction,
}

/// A time window.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub start_ms: u64,
    pub end_ms: u64,
}

/// A server crash and restart.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    pub at_ms: u64,
    pub restart_ms: u64,
}

impl NetworkSpec {
    fn validate(&self) -> Result<(), (&'static str, String)> {
        for (key, p) in [("loss", self.loss), ("repair", self.repair)] {
            if !(0.0..=1.0).contains(&p) {
                return Err((key, format!("{key} must be between 0 and 1, not {p}")));
            }
        }
        if self.latency_min_ms > self.latency_max_ms {
            return Err((
                "latency_min_ms",
                "latency_min_ms must not exceed latency_max_ms".into(),
            ));
        }
        let windows = self
            .partitions
            .iter()
            .map(|p| (p.start_ms, p.end_ms))
            .chain(self.holds.iter().map(|w| (w.start_ms, w.end_ms)))
            .chain(self.crashes.iter().map(|c| (c.at_ms, c.restart_ms)));
        for (start, end) in windows {
            if start >= end {
                return Err((
                    "start_ms",
                    format!("a network fault window must end after it starts ({start}..{end})"),
                ));
            }
        }
        Ok(())
    }
}

/// The wrapper's knobs. Durations are written as integer milliseconds
/// (`timeout = 30000`) or as text with a unit (`"250ns"`, `"1.5s"`, `"2m"`);
/// the older `*_ms` names are accepted too.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySpec {
    pub max_retries: u32,
    #[serde(alias = "timeout_ms", with = "crate::duration")]
    pub timeout: Duration,
    #[serde(alias = "initial_backoff_ms", with = "crate::duration")]
    pub initial_backoff: Duration,
    #[serde(alias = "max_backoff_ms", with = "crate::duration")]
    pub max_backoff: Duration,
    pub jitter: JitterSpec,
    #[serde(alias = "max_retry_after_ms", with = "crate::duration")]
    pub max_retry_after: Duration,
    #[serde(alias = "stream_idle_ms", with = "crate::duration")]
    pub stream_idle: Duration,
    #[serde(
        alias = "retry_deadline_ms",
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_deadline: Option<Duration>,
}

/// provider-retry's documented defaults (README, "Defaults"), written here
/// again so a scenario's meaning never depends on the wrapper's code.
impl Default for PolicySpec {
    fn default() -> Self {
        Self {
            max_retries: 2,
            timeout: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(20),
            jitter: JitterSpec::Equal,
            max_retry_after: Duration::from_secs(60),
            stream_idle: Duration::from_secs(90),
            retry_deadline: None,
        }
    }
}

/// A jitter kind, as scenario files spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JitterSpec {
    None,
    Equal,
    Full,
    Decorrelated,
}

/// Who calls, as the file says it. Flat (not a tagged enum) so that every
/// field error keeps its line and column.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// `"closed"` or `"open"`.
    pub kind: WorkloadKind,
    /// Closed: clients, calls per client, pause between calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<u32>,
    #[serde(default)]
    pub think_ms: u64,
    /// Open: Poisson arrivals per second, for this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The one method every call makes (default `chat`)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// ...or methods taken in turn: a client's call `k` makes
    /// `methods[(client + k) % len]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<Method>,
}

/// The two workload shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadKind {
    Closed,
    Open,
}

/// Who calls, validated: the shape and the methods called.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "WorkloadSpec", into = "WorkloadSpec")]
pub struct Workload {
    pub shape: Shape,
    /// Never empty.
    pub methods: Vec<Method>,
}

/// When calls are made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// `clients` clients, each making `calls` calls one after another, `think_ms` apart.
    Closed {
        clients: u32,
        calls: u32,
        think_ms: u64,
    },
    /// Calls arrive as a Poisson process at `rate_per_s` for `duration_ms`.
    Open { rate_per_s: f64, duration_ms: u64 },
}

impl Workload {
    /// The method of `client`'s call `call`.
    pub fn method(&self, client: u32, call: u64) -> Method {
        let n = self.methods.len().max(1) as u64;
        let i = (u64::from(client) + call) % n;
        self.methods
            .get(i as usize)
            .copied()
            .unwrap_or(Method::Chat)
    }
}

impl From<Workload> for WorkloadSpec {
    fn from(w: Workload) -> Self {
        let (method, methods) = match w.methods.as_slice() {
            [Method::Chat] => (None, Vec::new()),
            [one] => (Some(*one), Vec::new()),
            many => (None, many.to_vec()),
        };
        let mut spec = WorkloadSpec {
            kind: WorkloadKind::Closed,
            clients: None,
            calls: None,
            think_ms: 0,
            rate_per_s: None,
            duration_ms: None,
            method,
            methods,
        };
        match w.shape {
            Shape::Closed {
                clients,
                calls,
                think_ms,
            } => {
                spec.clients = Some(clients);
                spec.calls = Some(calls);
                spec.think_ms = think_ms;
            }
            Shape::Open {
                rate_per_s,
                duration_ms,
            } => {
                spec.kind = WorkloadKind::Open;
                spec.rate_per_s = Some(rate_per_s);
                spec.duration_ms = Some(duration_ms);
            }
        }
        spec
    }
}

impl TryFrom<WorkloadSpec> for Workload {
    type Error = String;

    fn try_from(spec: WorkloadSpec) -> Result<Self, String> {
        let methods = match (spec.method, spec.methods.is_empty()) {
            (Some(_), false) => return Err("give `method` or `methods`, not both".into()),
            (Some(m), true) => vec![m],
            (None, true) => vec![Method::Chat],
            (None, false) => spec.methods.clone(),
        };
        Ok(Workload {
            shape: spec.shape()?,
            methods,
        })
    }
}

impl WorkloadSpec {
    fn shape(&self) -> Result<Shape, String> {
        match self.kind {
            WorkloadKind::Closed => {
                let (Some(clients), Some(calls)) = (self.clients, self.calls) else {
                    return Err("a closed workload needs `clients` and `calls`".into());
                };
                if clients == 0 || calls == 0 {
                    return Err("a closed workload needs at least one client and one call".into());
                }
                if u64::from(clients) * u64::from(calls) > 1_000_000 {
                    return Err(
                        "clients x calls above 1,000,000 is more than a run should hold".into(),
                    );
                }
                Ok(Shape::Closed {
                    clients,
                    calls,
                    think_ms: self.think_ms,
                })
            }
            WorkloadKind::Open => {
                let (Some(rate_per_s), Some(duration_ms)) = (self.rate_per_s, self.duration_ms)
                else {
                    return Err("an open workload needs `rate_per_s` and `duration_ms`".into());
                };
                if !(rate_per_s.is_finite() && rate_per_s > 0.0 && rate_per_s <= 100_000.0) {
                    return Err("rate_per_s must be in (0, 100000]".into());
                }
                if duration_ms == 0 || rate_per_s * duration_ms as f64 / 1000.0 > 1_000_000.0 {
                    return Err(
                        "duration_ms must be positive and hold at most 1,000,000 arrivals".into(),
                    );
                }
                Ok(Shape::Open {
                    rate_per_s,
                    duration_ms,
                })
            }
        }
    }
}

/// What the run must achieve.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Lowest acceptable share of calls that succeed, 0 to 1.
    pub min_success_rate: Option<f64>,
    /// Highest acceptable share of calls that succeed (for outage scenarios that must fail).
    pub max_success_rate: Option<f64>,
    /// Highest acceptable 99th percentile of call latency.
    pub max_p99_ms: Option<u64>,
    /// Calls starting this long after the faults heal must all succeed.
    pub liveness_after_heal_ms: Option<u64>,
}

/// A scenario file that could not be used.
#[derive(Debug)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        write!(f, "{path}:{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Where an unknown field's key stands: serde reports some of them (those
/// inside tagged tables) at the enclosing table, so look for the key itself.
fn unknown_key_span(
    text: &str,
    message: &str,
    span: Option<std::ops::Range<usize>>,
) -> Option<std::ops::Range<usize>> {
    let key = message.strip_prefix("unknown field `")?.split('`').next()?;
    let from = span.map_or(0, |s| s.start);
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let is_key = trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if offset >= from && is_key {
            return Some(offset + indent..offset + indent + key.len());
        }
        offset += line.len();
    }
    None
}

impl Scenario {
    /// Parse and validate scenario text; `path` only names it in errors.
    ///
    /// # Errors
    ///
    /// Syntax errors, unknown fields, wrong types and invalid values, each
    /// located at a line and column of the text.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ScenarioError> {
        let error = |span: Option<std::ops::Range<usize>>, message: String| {
            let (line, column) = line_col(text, span.map_or(0, |s| s.start));
            ScenarioError {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let scenario: Scenario = toml::from_str(text).map_err(|e| {
            let span = unknown_key_span(text, e.message(), e.span()).or(e.span());
            error(span, e.message().to_string())
        })?;
        scenario.validate().map_err(|(key, msg)| {
            let at = text.find(&format!("{key} =")).or_else(|| text.find(key));
            error(at.map(|s| s..s), msg)
        })?;
        Ok(scenario)
    }

    /// Read and parse a scenario file.
    ///
    /// # Errors
    ///
    /// The file cannot be read (line 0, column 0), or [`Scenario::parse`] fails.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Values serde accepts but the simulator cannot run: (key, message).
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.world == WorldKind::Network {
            if !matches!(self.workload.shape, Shape::Closed { .. }) {
                return Err((
                    "kind",
                    "the network world runs closed workloads only".into(),
                ));
            }
            self.network.validate()?;
        }
        for (key, rate) in [
            ("min_success_rate", self.expect.min_success_rate),
            ("max_success_rate", self.expect.max_success_rate),
        ] {
            if rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
                return Err((key, format!("{key} must be between 0 and 1")));
            }
        }
        self.faults.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new("x.toml"), text)
    }

    const MINIMAL: &str = "name = \"m\"\n[workload]\nkind = \"closed\"\nclients = 1\ncalls = 1\n";

    #[test]
    fn minimal_scenario_takes_default_policy() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.policy, PolicySpec::default());
    }

    #[test]
    fn unknown_field_is_located() {
        let e = parse(&format!("{MINIMAL}bogus = 1\n")).unwrap_err();
        assert_eq!((e.line, e.column), (6, 1), "{e}");
        assert!(e.to_string().starts_with("x.toml:6:1: "), "{e}");
        assert!(e.message.contains("bogus"), "{e}");
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
}
