//! A caller that walks away: it waits for its call to reach the point the
//! workload names, then for the delay after it, and then drops the call.
//!
//! The point is read from the trace as it is written (the probe's
//! attempts, the caller's own items), so a drop lands where it is meant
//! to whatever schedule the subject keeps. Both worlds record those facts
//! on the client's side, on the client's clock.

use crate::backend::Backend;
use crate::scenario::{CallDrop, DropPoint};
use crate::trace::{AttemptOutcome, Kind, Record};

/// Resolves when `client`'s call `call` has reached `plan`'s point and
/// `plan.after` has passed since. Create it before the call is first
/// polled: it sees only what is recorded from its creation on.
pub fn walk_away<'a>(
    backend: &'a Backend,
    client: u32,
    call: u64,
    plan: CallDrop,
) -> impl std::future::Future<Output = ()> + 'a {
    let mut point = Point::new(plan.point);
    let reached = backend.watch(move |r| (r.client, r.call) == (client, call) && point.sees(r));
    async move {
        reached.await;
        tokio::time::sleep(plan.after).await;
    }
}

/// A drop point, and the items the caller has received on the way to it.
struct Point {
    point: DropPoint,
    items: u32,
}

impl Point {
    fn new(point: DropPoint) -> Self {
        Self { point, items: 0 }
    }

    /// Whether `record`, the call's next, reaches the point.
    fn sees(&mut self, record: &Record) -> bool {
        match (self.point, &record.kind) {
            (DropPoint::Attempt(n), Kind::AttemptStarted { attempt, .. }) => *attempt == n,
            (DropPoint::Backoff(n), Kind::AttemptEnded { attempt, outcome }) => {
                *attempt == n && *outcome != AttemptOutcome::Ok
            }
            (DropPoint::Item(n), Kind::ChunkReceived { .. }) => {
                self.items += 1;
                self.items > n
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Failure;

    fn at(kind: Kind) -> Record {
        Record {
            t: 0,
            client: 0,
            call: 0,
            kind,
        }
    }

    #[test]
    fn each_point_is_reached_by_its_own_event_only() {
        let started = |attempt| {
            at(Kind::AttemptStarted {
                attempt,
                upstream: 0,
                digest: None,
            })
        };
        let ended = |attempt, outcome| at(Kind::AttemptEnded { attempt, outcome });
        let mut attempt = Point::new(DropPoint::Attempt(1));
        assert!(!attempt.sees(&started(0)));
        assert!(attempt.sees(&started(1)));
        let mut backoff = Point::new(DropPoint::Backoff(0));
        assert!(!backoff.sees(&started(0)));
        assert!(!backoff.sees(&ended(0, AttemptOutcome::Ok)));
        assert!(backoff.sees(&ended(0, AttemptOutcome::Dropped)));
        assert!(backoff.sees(&ended(0, AttemptOutcome::Failed(Failure::Network))));
        let mut item = Point::new(DropPoint::Item(1));
        let received = || at(Kind::ChunkReceived { chunk: None });
        assert!(!item.sees(&started(0)));
        assert!(!item.sees(&received()));
        assert!(item.sees(&received()), "the second item is item 1");
    }
}
