//! Callers that walk away: which calls a workload drops, and at which point.
//!
//! A caller may stop waiting for a call at any time (a user closes the
//! tab, a request's own deadline passes); the call's future is dropped and
//! a correct wrapper stops all work for it at once. A drop is placed at an
//! event of the call, not at a time, so it lands where it is meant to
//! whatever schedule the subject under test keeps: while attempt `k` is in
//! flight, in the backoff after attempt `k` failed, or in a stream after
//! its item `j` arrived, each then `after_ms` later.

use super::Invalid;
use crate::method::Method;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One dropped call, as the file says it (an item of `[workload] drops`).
/// Flat, so that every field error keeps its line and column.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DropSpec {
    /// The client that drops its call.
    pub client: u32,
    /// Which of its calls (from 0).
    #[serde(default)]
    pub call: u64,
    /// `"attempt"`, `"backoff"` or `"stream"`.
    pub during: During,
    /// `attempt`: the attempt in flight; `backoff`: the attempt whose
    /// failure the backoff follows (numbered from 0 within the call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// `stream`: the item (from 0) after whose arrival the call is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
    /// How long after that event the caller drops the call.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub after_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The kinds of point a call is dropped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum During {
    /// While an attempt is in flight.
    Attempt,
    /// While the wrapper waits between attempts.
    Backoff,
    /// While a handed-over stream is being read.
    Stream,
}

/// Where in its call a caller drops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropPoint {
    /// Once attempt `n` has started (the provider saw it begin).
    Attempt(u32),
    /// Once attempt `n` has ended other than with success: the wait
    /// before the next attempt, if the wrapper retries.
    Backoff(u32),
    /// Once item `n` of the stream has reached the caller.
    Item(u32),
}

/// A call its caller drops, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallDrop {
    /// The client whose call is dropped.
    pub client: u32,
    /// That call's number within its client.
    pub call: u64,
    /// When it is dropped.
    pub point: DropPoint,
    /// How long after the point is reached the call is dropped.
    pub after: Duration,
}

impl From<CallDrop> for DropSpec {
    fn from(d: CallDrop) -> Self {
        let (during, attempt, item) = match d.point {
            DropPoint::Attempt(n) => (During::Attempt, Some(n), None),
            DropPoint::Backoff(n) => (During::Backoff, Some(n), None),
            DropPoint::Item(n) => (During::Stream, None, Some(n)),
        };
        DropSpec {
            client: d.client,
            call: d.call,
            during,
            attempt,
            item,
            after_ms: u64::try_from(d.after.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// The list's path in a scenario file.
const DROPS: [&str; 2] = ["workload", "drops"];

impl DropSpec {
    /// Validate item `index` of a closed workload of `clients` x `calls`,
    /// whose `client`'s call `call` makes `method(client, call)`.
    ///
    /// # Errors
    ///
    /// A client or call the workload does not have, or a point that does
    /// not fit the kind of drop (or the method called), located at its key.
    pub fn validate(
        &self,
        index: usize,
        (clients, calls): (u32, u32),
        method: impl Fn(u32, u64) -> Method,
    ) -> Result<CallDrop, Invalid> {
        let at = |key: &str, message: String| Invalid::at_item(&DROPS, index, key, message);
        if self.client >= clients {
            return Err(at(
                "client",
                format!("client {} is not one of the {clients} clients", self.client),
            ));
        }
        if self.call >= u64::from(calls) {
            return Err(at(
                "call",
                format!("call {} is not one of the {calls} calls", self.call),
            ));
        }
        let point = match (self.during, self.attempt, self.item) {
            (During::Attempt | During::Backoff, _, Some(_)) => {
                return Err(at("item", "`item` is for a drop during a stream".into()));
            }
            (During::Stream, Some(_), _) => {
                return Err(at(
                    "attempt",
                    "`attempt` is for a drop during an attempt or a backoff".into(),
                ));
            }
            (During::Attempt, Some(n), None) => DropPoint::Attempt(n),
            (During::Backoff, Some(n), None) => DropPoint::Backoff(n),
            (During::Stream, None, Some(n)) => DropPoint::Item(n),
            (During::Attempt | During::Backoff, None, None) => {
                return Err(at("during", "this drop needs `attempt`".into()));
            }
            (During::Stream, None, None) => {
                return Err(at("during", "a drop during a stream needs `item`".into()));
            }
        };
        let called = method(self.client, self.call);
        if matches!(point, DropPoint::Item(_)) && !called.is_stream() {
            return Err(at(
                "during",
                format!(
                    "client {}'s call {} calls {called}, which streams nothing",
                    self.client, self.call
                ),
            ));
        }
        Ok(CallDrop {
            client: self.client,
            call: self.call,
            point,
            after: Duration::from_millis(self.after_ms),
        })
    }
}

/// Validate every item of `drops`: at most one drop per call.
///
/// # Errors
///
/// The first invalid item, or the second drop of one call.
pub fn validate_all(
    drops: &[DropSpec],
    shape: (u32, u32),
    method: impl Fn(u32, u64) -> Method,
) -> Result<Vec<CallDrop>, Invalid> {
    let mut out: Vec<CallDrop> = Vec::with_capacity(drops.len());
    for (index, spec) in drops.iter().enumerate() {
        let drop = spec.validate(index, shape, &method)?;
        if out
            .iter()
            .any(|d| (d.client, d.call) == (drop.client, drop.call))
        {
            return Err(Invalid::at_item(
                &DROPS,
                index,
                "call",
                format!(
                    "client {}'s call {} is dropped twice",
                    drop.client, drop.call
                ),
            ));
        }
        out.push(drop);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Scenario, ScenarioError, ScenarioSpec};
    use std::path::Path;

    fn parse(drops: &str) -> Result<Scenario, ScenarioError> {
        let text = format!(
            "name = \"d\"\n[workload]\nkind = \"closed\"\nclients = 2\ncalls = 2\n\
             methods = [\"chat\", \"chat_stream\"]\ndrops = [\n{drops}\n]\n"
        );
        Scenario::parse(Path::new("d.toml"), &text)
    }

    #[test]
    fn drops_are_read_at_their_points() {
        let s = parse(
            "{ client = 0, during = \"attempt\", attempt = 1, after_ms = 50 },\n\
             { client = 0, call = 1, during = \"stream\", item = 2 },\n\
             { client = 1, during = \"backoff\", attempt = 0 },",
        )
        .unwrap();
        let points: Vec<(u32, u64, DropPoint, u64)> = s
            .workload
            .drops
            .iter()
            .map(|d| (d.client, d.call, d.point, d.after.as_millis() as u64))
            .collect();
        assert_eq!(
            points,
            [
                (0, 0, DropPoint::Attempt(1), 50),
                (0, 1, DropPoint::Item(2), 0),
                (1, 0, DropPoint::Backoff(0), 0),
            ]
        );
        assert_eq!(
            s.workload.drop_of(0, 1).map(|d| d.point),
            Some(DropPoint::Item(2))
        );
        assert_eq!(s.workload.drop_of(1, 1), None);
        assert_eq!(s.workload.walk_aways(), [(0, 0), (0, 1), (1, 0)]);
    }

    #[test]
    fn drops_survive_a_round_trip_through_the_file_form() {
        let s = parse(
            "{ client = 1, during = \"backoff\", attempt = 3, after_ms = 7 },\n\
             { client = 0, during = \"attempt\", attempt = 0 },",
        )
        .unwrap();
        let text = toml::to_string(&ScenarioSpec::from(s.clone())).unwrap();
        let again = Scenario::parse(Path::new("again.toml"), &text).unwrap();
        assert_eq!(again.workload.drops, s.workload.drops);
        // A drop at its point, with no wait after it, writes no `after_ms`.
        assert_eq!(text.matches("after_ms").count(), 1, "{text}");
    }

    #[test]
    fn a_bad_drop_names_the_key_at_fault() {
        // Line 8 holds the first item; columns count from 1.
        let e = parse("{ client = 2, during = \"attempt\", attempt = 0 },").unwrap_err();
        assert_eq!((e.line, e.column), (8, 3), "{e}");
        assert!(e.message.contains("client 2"), "{e}");
        let e = parse("{ client = 0, call = 5, during = \"attempt\", attempt = 0 },").unwrap_err();
        assert!(e.message.contains("call 5"), "{e}");
        let e = parse("{ client = 1, during = \"attempt\" },").unwrap_err();
        assert!(e.message.contains("needs `attempt`"), "{e}");
        let e = parse("{ client = 1, during = \"stream\", attempt = 0 },").unwrap_err();
        assert!(e.message.contains("`attempt` is for"), "{e}");
        let e = parse("{ client = 1, during = \"backoff\", attempt = 0, item = 1 },").unwrap_err();
        assert!(e.message.contains("`item` is for"), "{e}");
        let e = parse("{ client = 1, during = \"sometime\", attempt = 0 },").unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        let e = parse("{ client = 1, during = \"attempt\", attempt = 0, at = 1 },").unwrap_err();
        assert_eq!(e.line, 8, "{e}");
    }

    #[test]
    fn a_stream_drop_needs_a_stream_and_one_drop_a_call() {
        // Client 0's call 0 calls chat; its call 1 streams.
        let e = parse("{ client = 0, during = \"stream\", item = 0 },").unwrap_err();
        assert!(
            e.message.contains("calls chat, which streams nothing"),
            "{e}"
        );
        assert!(parse("{ client = 0, call = 1, during = \"stream\", item = 0 },").is_ok());
        let e = parse(
            "{ client = 0, during = \"attempt\", attempt = 0 },\n\
             { client = 0, during = \"backoff\", attempt = 0 },",
        )
        .unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("dropped twice"), "{e}");
    }

    #[test]
    fn an_open_workload_drops_nothing() {
        let text = "name = \"o\"\n[workload]\nkind = \"open\"\nrate_per_s = 1.0\n\
                    duration_ms = 10\ndrops = [{ client = 0, during = \"attempt\", attempt = 0 }]\n";
        let e = Scenario::parse(Path::new("o.toml"), text).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("open workload"), "{e}");
    }
}
