//! What fired in one run, read from its trace (see [`crate::fired`]).

use crate::fired::{Fault, Fired};
use crate::scenario::NetworkSpec;
use crate::trace::{AttemptOutcome, Failure, Kind, Trace};
use std::collections::BTreeMap;

/// What fired in a run: the backend's own counts (`trace.struck`), the
/// answers the subject's provider returned (as the probe recorded them,
/// above the world's link), and the network faults some call was open
/// through (a crash during a backoff counts: the subject meets it after).
pub fn fired(trace: &Trace, network: &NetworkSpec) -> Fired {
    let mut fired = trace.struck.clone();
    for record in &trace.records {
        if let Kind::AttemptEnded {
            outcome: AttemptOutcome::Failed(failure),
            ..
        } = &record.kind
        {
            match failure {
                Failure::Status {
                    status,
                    retry_after_ns,
                    ..
                } => {
                    fired.add(Fault::Status(*status), 1);
                    fired.add(Fault::RetryAfter, u64::from(retry_after_ns.is_some()));
                }
                Failure::Network => fired.add(Fault::Network, 1),
                Failure::Decode => fired.add(Fault::Decode, 1),
                _ => {}
            }
        }
    }
    windows(&mut fired, trace, network);
    fired
}

/// Count each network window some call was open in.
fn windows(fired: &mut Fired, trace: &Trace, network: &NetworkSpec) {
    let partitions = (network.partitions.iter()).map(|p| (Fault::Partition, p.start_ms, p.end_ms));
    let holds = (network.holds.iter()).map(|w| (Fault::Hold, w.start_ms, w.end_ms));
    let crashes = (network.crashes.iter()).map(|c| (Fault::Crash, c.at_ms, c.restart_ms));
    let windows: Vec<(Fault, u64, u64)> = partitions.chain(holds).chain(crashes).collect();
    if windows.is_empty() {
        return;
    }
    let open = calls_open(trace);
    for (fault, start_ms, end_ms) in windows {
        let ns = |ms: u64| ms.saturating_mul(1_000_000);
        let (start, end) = (ns(start_ms), ns(end_ms));
        // A call [from, to] meets the window [start, end) if it began
        // before the window ended and ended at or after it began.
        let met = open.iter().any(|&(from, to)| from < end && to >= start);
        fired.add(fault, u64::from(met));
    }
}
/// Every call's span in virtual nanoseconds: from its start to its end
/// (or its drop by the caller), or to the end of the run if it never ended.
fn calls_open(trace: &Trace) -> Vec<(u64, u64)> {
    let mut started: BTreeMap<(u32, u64), u64> = BTreeMap::new();
    let mut spans = Vec::new();
    for r in &trace.records {
        match &r.kind {
            Kind::CallStarted { .. } => {
                started.insert((r.client, r.call), r.t);
            }
            Kind::CallEnded { .. } | Kind::CallDropped => {
                if let Some(from) = started.remove(&(r.client, r.call)) {
                    spans.push((from, r.t));
                }
            }
            _ => {}
        }
    }
    spans.extend(started.into_values().map(|from| (from, trace.end_ns)));
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Crash, Partition};
    use crate::trace::Record;

    fn record(t: u64, call: u64, kind: Kind) -> Record {
        Record {
            t,
            client: 0,
            call,
            kind,
        }
    }

    fn started(t: u64, call: u64) -> Record {
        let kind = Kind::AttemptStarted {
            attempt: 0,
            upstream: 0,
            digest: None,
        };
        record(t, call, kind)
    }

    fn call(t: u64, call: u64) -> Record {
        let kind = Kind::CallStarted {
            method: crate::method::Method::Chat,
            compat: 0,
            inner_compat: 0,
            digest: None,
        };
        record(t, call, kind)
    }

    fn ended(t: u64, call: u64, outcome: AttemptOutcome) -> Record {
        record(
            t,
            call,
            Kind::AttemptEnded {
                attempt: 0,
                outcome,
            },
        )
    }

    #[test]
    fn answers_are_counted_as_the_subject_received_them() {
        let status = |retry_after_ns| {
            AttemptOutcome::Failed(Failure::Status {
                status: 503,
                retry_after_ns,
                should_retry: None,
            })
        };
        let mut trace = Trace::new(vec![
            started(0, 0),
            ended(1, 0, status(Some(5))),
            started(2, 1),
            ended(3, 1, status(None)),
            started(4, 2),
            ended(5, 2, AttemptOutcome::Failed(Failure::Network)),
            started(6, 3),
            ended(7, 3, AttemptOutcome::Dropped),
        ]);
        trace.struck.add(Fault::Hang, 1);
        let fired = fired(&trace, &NetworkSpec::default());
        assert_eq!(fired.count(Fault::Status(503)), 2);
        assert_eq!(fired.count(Fault::RetryAfter), 1);
        assert_eq!(fired.count(Fault::Network), 1);
        assert_eq!(fired.count(Fault::Hang), 1);
        assert_eq!(fired.count(Fault::Decode), 0);
        assert_eq!(
            fired.to_string(),
            "status-503 ×2, retry-after ×1, network ×1, hang ×1"
        );
    }

    #[test]
    fn a_network_window_fires_only_if_a_call_was_open_in_it() {
        let ms = 1_000_000;
        // One call over [10 ms, 20 ms], one still open from 50 ms to the end.
        let ok = Kind::CallEnded {
            outcome: crate::trace::CallOutcome::Ok,
        };
        let mut trace = Trace::new(vec![
            call(10 * ms, 0),
            record(20 * ms, 0, ok),
            call(50 * ms, 1),
        ]);
        trace.end_ns = 90 * ms;
        let partition = |start_ms, end_ms| Partition {
            start_ms,
            end_ms,
            direction: Default::default(),
        };
        let network = NetworkSpec {
            // Met, missed (between the calls), met by the open call.
            partitions: vec![partition(15, 16), partition(25, 40), partition(80, 85)],
            crashes: vec![Crash {
                at_ms: 21,
                restart_ms: 30,
            }],
            ..NetworkSpec::default()
        };
        let fired = fired(&trace, &network);
        assert_eq!(fired.count(Fault::Partition), 2);
        assert_eq!(fired.count(Fault::Crash), 0);
    }
}
