//! Where calls travel, and the simulated network's links and faults.

use super::Invalid;
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    /// Each message takes between these many milliseconds.
    pub latency_min_ms: u64,
    /// The longest a message takes, in milliseconds.
    pub latency_max_ms: u64,
    /// Probability that a link breaks on a message, and that a broken one heals.
    pub loss: f64,
    /// Probability that a broken link heals on a message.
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
    /// Both directions.
    #[default]
    Both,
    /// Requests are lost; answers would get through.
    ToServer,
    /// Answers are lost; requests get through.
    ToClients,
}

/// A partition window.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The window's start, in virtual milliseconds.
    pub start_ms: u64,
    /// The window's end (excluded).
    pub end_ms: u64,
    /// Which direction is cut.
    #[serde(default)]
    pub direction: Direction,
}

/// A time window.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// The window's start, in virtual milliseconds.
    pub start_ms: u64,
    /// The window's end (excluded).
    pub end_ms: u64,
}

/// A server crash and restart.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    /// When the server crashes, in virtual milliseconds.
    pub at_ms: u64,
    /// When it comes back.
    pub restart_ms: u64,
}

impl NetworkSpec {
    pub(crate) fn validate(&self) -> Result<(), Invalid> {
        for (key, p) in [("loss", self.loss), ("repair", self.repair)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Invalid::at(
                    &["network", key],
                    format!("{key} must be between 0 and 1, not {p}"),
                ));
            }
        }
        if self.latency_min_ms > self.latency_max_ms {
            return Err(Invalid::at(
                &["network", "latency_min_ms"],
                "latency_min_ms must not exceed latency_max_ms",
            ));
        }
        let windows = [
            (
                "partitions",
                "start_ms",
                self.partitions
                    .iter()
                    .map(|p| (p.start_ms, p.end_ms))
                    .collect::<Vec<_>>(),
            ),
            (
                "holds",
                "start_ms",
                self.holds.iter().map(|w| (w.start_ms, w.end_ms)).collect(),
            ),
            (
                "crashes",
                "at_ms",
                self.crashes
                    .iter()
                    .map(|c| (c.at_ms, c.restart_ms))
                    .collect(),
            ),
        ];
        for (list, key, spans) in windows {
            for (i, (start, end)) in spans.into_iter().enumerate() {
                if start >= end {
                    return Err(Invalid::at_item(
                        &["network", list],
                        i,
                        key,
                        format!("a network fault window must end after it starts ({start}..{end})"),
                    ));
                }
            }
        }
        Ok(())
    }
}
