//! Who calls, how often, and which methods.

use super::Invalid;
use super::drops::{CallDrop, DropSpec, validate_all};
use crate::method::Method;
use serde::{Deserialize, Serialize};

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
    /// Closed: calls per client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<u32>,
    /// Closed: the pause between a client's calls, in milliseconds.
    #[serde(default)]
    pub think_ms: u64,
    /// Open: Poisson arrivals per second, for this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// Open: how long calls arrive, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The one method every call makes (default `chat`)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// ...or methods taken in turn: a client's call `k` makes
    /// `methods[(client + k) % len]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<Method>,
    /// Whether every client calls through one wrapper or each through its
    /// own ([`Wrapper`]; default shared).
    #[serde(default, skip_serializing_if = "Wrapper::is_shared")]
    pub wrapper: Wrapper,
    /// Calls their callers drop before they end (closed workloads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drops: Vec<DropSpec>,
}

/// How the clients meet the subject.
///
/// # Default
///
/// [`Wrapper::Shared`]: every subject the simulator runs is a provider
/// wrapper, and a gateway, the deployment such a wrapper is for, builds
/// one per provider and sends every request through it concurrently.
/// `per_client` models separate processes, each with its own wrapper (a
/// fleet of clients, each retrying on its own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wrapper {
    /// `Subject::wrap` is called once (one seed) and every client's calls
    /// go through that one instance, around one probe and one link. Over
    /// the network the clients run on one host, a gateway's.
    #[default]
    Shared,
    /// Each client wraps its own probe, with its own seed, on its own host
    /// over the network.
    PerClient,
}

impl Wrapper {
    /// Every client shares one wrapper.
    pub fn is_shared(&self) -> bool {
        *self == Wrapper::Shared
    }
}

/// The two workload shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadKind {
    /// Each client calls again once its previous call ended.
    Closed,
    /// Calls arrive as a Poisson process, whether earlier ones ended or not.
    Open,
}

/// Who calls, validated: the shape, the methods called, and whether the
/// clients share one wrapper.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Closed or open, with its sizes.
    pub shape: Shape,
    /// Never empty.
    pub methods: Vec<Method>,
    /// Whether the clients share one wrapper.
    pub wrapper: Wrapper,
    /// The calls their callers drop, at most one entry per call.
    pub drops: Vec<CallDrop>,
}

/// When calls are made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// `clients` clients, each making `calls` calls one after another, `think_ms` apart.
    Closed {
        /// How many clients.
        clients: u32,
        /// Calls per client.
        calls: u32,
        /// Pause between a client's calls, in milliseconds.
        think_ms: u64,
    },
    /// Calls arrive as a Poisson process at `rate_per_s` for `duration_ms`.
    Open {
        /// Mean arrivals per second.
        rate_per_s: f64,
        /// How long calls arrive, in milliseconds.
        duration_ms: u64,
    },
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

    /// `(client, call)` of every call its caller is to drop.
    pub fn walk_aways(&self) -> Vec<(u32, u64)> {
        self.drops.iter().map(|d| (d.client, d.call)).collect()
    }

    /// Where `client`'s call `call` is dropped, if its caller drops it.
    pub fn drop_of(&self, client: u32, call: u64) -> Option<&CallDrop> {
        self.drops
            .iter()
            .find(|d| (d.client, d.call) == (client, call))
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
            wrapper: w.wrapper,
            drops: w.drops.into_iter().map(DropSpec::from).collect(),
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
    type Error = Invalid;

    fn try_from(spec: WorkloadSpec) -> Result<Self, Invalid> {
        let methods = match (spec.method, spec.methods.is_empty()) {
            (Some(_), false) => {
                return Err(Invalid::at(
                    &["workload", "methods"],
                    "give `method` or `methods`, not both",
                ));
            }
            (Some(m), true) => vec![m],
            (None, true) => vec![Method::Chat],
            (None, false) => spec.methods.clone(),
        };
        if let Some(served) = methods.iter().find(|m| !m.in_provider()) {
            let key = if spec.method.is_some() {
                "method"
            } else {
                "methods"
            };
            return Err(Invalid::at(
                &["workload", key],
                format!(
                    "`{served}` has no Provider method to call: only real clients \
                     call it, through `retry-sim serve`"
                ),
            ));
        }
        let shape = spec.shape()?;
        let drops = match (shape, spec.drops.is_empty()) {
            (_, true) => Vec::new(),
            (Shape::Closed { clients, calls, .. }, false) => {
                let called = Workload {
                    shape,
                    methods: methods.clone(),
                    wrapper: spec.wrapper,
                    drops: Vec::new(),
                };
                validate_all(&spec.drops, (clients, calls), |client, call| {
                    called.method(client, call)
                })?
            }
            (Shape::Open { .. }, false) => {
                return Err(Invalid::at(
                    &["workload", "drops"],
                    "an open workload drops no calls: give `drops` a closed one",
                ));
            }
        };
        Ok(Workload {
            shape,
            methods,
            wrapper: spec.wrapper,
            drops,
        })
    }
}

impl WorkloadSpec {
    fn shape(&self) -> Result<Shape, Invalid> {
        self.shape_or_message()
            .map_err(|(key, message)| Invalid::at(&["workload", key], message))
    }

    fn shape_or_message(&self) -> Result<Shape, (&'static str, String)> {
        match self.kind {
            WorkloadKind::Closed => {
                let (Some(clients), Some(calls)) = (self.clients, self.calls) else {
                    return Err((
                        "kind",
                        "a closed workload needs `clients` and `calls`".into(),
                    ));
                };
                if clients == 0 || calls == 0 {
                    return Err((
                        "clients",
                        "a closed workload needs at least one client and one call".into(),
                    ));
                }
                if u64::from(clients) * u64::from(calls) > 1_000_000 {
                    return Err((
                        "calls",
                        "clients x calls above 1,000,000 is more than a run should hold".into(),
                    ));
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
                    return Err((
                        "kind",
                        "an open workload needs `rate_per_s` and `duration_ms`".into(),
                    ));
                };
                if !(rate_per_s.is_finite() && rate_per_s > 0.0 && rate_per_s <= 100_000.0) {
                    return Err(("rate_per_s", "rate_per_s must be in (0, 100000]".into()));
                }
                if duration_ms == 0 || rate_per_s * duration_ms as f64 / 1000.0 > 1_000_000.0 {
                    return Err((
                        "duration_ms",
                        "duration_ms must be positive and hold at most 1,000,000 arrivals".into(),
                    ));
                }
                Ok(Shape::Open {
                    rate_per_s,
                    duration_ms,
                })
            }
        }
    }
}
