//! The in-process world: the subject (one every client shares, or one per
//! client) around one backend, on a paused clock.

use super::clients::{Plan, drive_all};
use crate::backend::Backend;
use crate::faults::Faults;
use crate::link::Link;
use crate::link::local::SimProvider;
use crate::scenario::{Scenario, Shape};
use crate::seeds::{stream, unit};
use crate::subject::Subject;
use crate::trace::Trace;
use std::time::Duration;

/// Virtual time after which a run is cut off: far beyond any built-in
/// scenario, near enough that a hung run ends at once in real time.
pub const HORIZON: Duration = Duration::from_secs(24 * 3600);

/// Run `scenario` under `seed` against `subject` on a paused clock.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn run<S: Subject>(subject: &S, scenario: &Scenario, seed: u64) -> std::io::Result<Trace> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    Ok(runtime.block_on(world(subject, scenario, seed)))
}

async fn world<S: Subject>(subject: &S, scenario: &Scenario, seed: u64) -> Trace {
    let backend = Backend::on_tokio(
        Faults::new(scenario.faults.clone(), seed),
        scenario.faults.capacity,
    );
    let plans: Vec<Plan> = match scenario.workload.shape {
        Shape::Closed {
            clients,
            calls,
            think_ms,
        } => (0..clients)
            .map(|c| Plan::closed(c, calls, Duration::from_millis(think_ms)))
            .collect(),
        Shape::Open {
            rate_per_s,
            duration_ms,
        } => arrivals(seed, rate_per_s, duration_ms)
            .into_iter()
            .enumerate()
            .map(|(i, at)| Plan::arrival(i as u32, at))
            .collect(),
    };
    // Every client is one future, all joined in one task, so the order of
    // events depends only on the paused clock and the seed.
    let link = Link::Local(SimProvider::new(backend.clone()));
    let clients = drive_all(subject, scenario, seed, plans, link, backend.clone());
    // A subject that never gives up would leave the paused clock with
    // nothing to advance to: the horizon ends the run, and the `calls_end`
    // oracle reports the calls it cut off.
    let mut all = std::pin::pin!(futures::future::join_all(clients));
    let _ = tokio::time::timeout(HORIZON, all.as_mut()).await;
    let end_ns = u64::try_from(backend.now().as_nanos()).unwrap_or(u64::MAX);
    linger(backend.now()).await;
    // Dropping calls still in flight must not write ends they never had.
    backend.cut();
    Trace {
        records: backend.take_trace(),
        end_ns,
        struck: backend.struck(),
        walk_aways: scenario.workload.walk_aways(),
    }
}

/// How long the world goes on after its callers are done: work a subject
/// left running for a call nobody waits for any more (a retry loop in a
/// task of its own, an attempt spawned and not cancelled) shows only in
/// what happens after. Without it, such work for the last call of a run
/// would end with the runtime, unseen, and the oracles on dropped calls
/// would pass it. A subject that leaves nothing running costs nothing:
/// the paused clock jumps to the end at once.
pub const LINGER: Duration = Duration::from_secs(600);

/// Let the subject's leftover work run for [`LINGER`], but not past the
/// horizon.
async fn linger(now: Duration) {
    tokio::time::sleep(LINGER.min(HORIZON.saturating_sub(now))).await;
}

/// Poisson arrival times over `[0, duration)`.
fn arrivals(seed: u64, rate_per_s: f64, duration_ms: u64) -> Vec<Duration> {
    let mut rng = stream(seed, "arrivals", 0);
    let end = duration_ms as f64 / 1000.0;
    let mut t = 0.0;
    let mut out = Vec::new();
    loop {
        t += -(1.0 - unit(&mut rng)).ln() / rate_per_s;
        if t >= end {
            return out;
        }
        out.push(Duration::from_nanos((t * 1e9) as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_sorted_inside_the_window_and_near_the_rate() {
        let a = arrivals(5, 100.0, 10_000);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert!(a.iter().all(|t| *t < Duration::from_secs(10)));
        // Poisson(1000): sd about 32; five of them either side.
        assert!((840..=1160).contains(&a.len()), "{}", a.len());
    }
}
