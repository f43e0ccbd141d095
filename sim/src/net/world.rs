//! The network world: the fault server as a turmoil host, each client a
//! turmoil client running our `Retrying` around an [`HttpProvider`], and the
//! scenario's network faults applied on the simulation's clock.
//!
//! turmoil is seeded from the scenario's seed and given a fixed epoch, so a
//! seed replays exactly; the trace is the in-process world's (wrapper
//! events from the observer, chunks sent by the server and received by the
//! client), so every oracle and the determinism check apply unchanged.

use super::http::HttpProvider;
use super::server::Server;
use crate::faults::Faults;
use crate::provider::{Clock, Shared};
use crate::scenario::{Direction, Scenario, Workload};
use crate::seeds::derive;
use crate::trace::Trace;
use crate::world::{client_calls, recorder};
use provider_retry::Retrying;
use std::time::{Duration, SystemTime};

/// How long a network run may go, in simulated time, before it is cut off
/// (every call still open then is reported by the `calls_end` oracle).
pub const NETWORK_HORIZON: Duration = Duration::from_secs(300);

/// The simulated wall clock: a fixed epoch plus turmoil's elapsed time, so
/// HTTP-dates are the same on every run.
pub fn wall() -> SystemTime {
    epoch() + turmoil::sim_elapsed().unwrap_or_default()
}

/// 2026-01-01T00:00:00Z.
fn epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

const SERVER: &str = "server";
const PORT: u16 = 80;

/// A timed change to the network.
#[derive(Debug, Clone, Copy)]
enum Change {
    Partition(Direction),
    Repair(Direction),
    Hold,
    Release,
    Crash,
    Restart,
}

fn schedule(scenario: &Scenario) -> Vec<(Duration, Change)> {
    let ms = Duration::from_millis;
    let net = &scenario.network;
    let mut out = Vec::new();
    for p in &net.partitions {
        out.push((ms(p.start_ms), Change::Partition(p.direction)));
        out.push((ms(p.end_ms), Change::Repair(p.direction)));
    }
    for w in &net.holds {
        out.push((ms(w.start_ms), Change::Hold));
        out.push((ms(w.end_ms), Change::Release));
    }
    for c in &net.crashes {
        out.push((ms(c.at_ms), Change::Crash));
        out.push((ms(c.restart_ms), Change::Restart));
    }
    // Stable: changes at one instant apply in the order the file gives them.
    out.sort_by_key(|(at, _)| *at);
    out
}

fn apply(sim: &mut turmoil::Sim<'_>, change: Change, clients: &[String]) {
    for client in clients {
        let client = client.as_str();
        match change {
            Change::Partition(Direction::Both) => sim.partition(SERVER, client),
            Change::Partition(Direction::ToServer) => sim.partition_oneway(client, SERVER),
            Change::Partition(Direction::ToClients) => sim.partition_oneway(SERVER, client),
            Change::Repair(Direction::Both) => sim.repair(SERVER, client),
            Change::Repair(Direction::ToServer) => sim.repair_oneway(client, SERVER),
            Change::Repair(Direction::ToClients) => sim.repair_oneway(SERVER, client),
            Change::Hold => sim.hold(SERVER, client),
            Change::Release => sim.release(SERVER, client),
            Change::Crash | Change::Restart => {}
        }
    }
    match change {
        Change::Crash => sim.crash(SERVER),
        Change::Restart => sim.bounce(SERVER),
        _ => {}
    }
}

/// Run `scenario` (a closed workload) under `seed` over the simulated network.
///
/// # Errors
///
/// If turmoil reports a failure other than running out of simulated time.
pub fn run(scenario: &Scenario, seed: u64) -> std::io::Result<Trace> {
    let net = &scenario.network;
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(epoch())
        .simulation_duration(NETWORK_HORIZON)
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_millis(net.latency_min_ms))
        .max_message_latency(Duration::from_millis(net.latency_max_ms))
        .fail_rate(net.loss)
        .repair_rate(net.repair)
        .build();
    let shared = Shared::with_clock(
        Faults::new(scenario.faults.clone(), seed),
        scenario.faults.capacity,
        Clock::Turmoil,
    );
    let server = Server::new(shared.clone(), wall);
    sim.host(SERVER, move || {
        let server = server.clone();
        async move {
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
            loop {
                let (stream, _) = listener.accept().await?;
                tokio::spawn(server.clone().connection(stream));
            }
        }
    });
    let (clients, calls) = match scenario.workload.workload() {
        Ok(Workload::Closed { clients, calls, .. }) => (clients, calls),
        // Validation admits only closed workloads here.
        _ => (0, 0),
    };
    let policy = scenario.policy.policy();
    let method = scenario.workload.method;
    let think = Duration::from_millis(scenario.workload.think_ms);
    let names: Vec<String> = (0..clients).map(|c| format!("client{c}")).collect();
    for (client, name) in (0..clients).zip(&names) {
        let shared = shared.clone();
        let view = HttpProvider::new(&format!("{SERVER}:{PORT}"), client, wall);
        let call = view.clone();
        let wrapped = Retrying::with_policy(view.clone(), policy)
            .seed(derive(seed, "wrapper", client.into()))
            .observer(recorder(shared.clone(), client, move || call.call()));
        sim.client(name.as_str(), async move {
            let set_call = |call| view.set_call(call);
            client_calls(&wrapped, set_call, &shared, client, calls, think, method).await;
            Ok(())
        });
    }
    let mut changes = schedule(scenario).into_iter().peekable();
    loop {
        while let Some((_, change)) = changes.next_if(|(at, _)| *at <= sim.elapsed()) {
            apply(&mut sim, change, &names);
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            // Out of simulated time: the open calls show in the trace.
            Err(e) if e.to_string().contains("Ran for duration") => break,
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        }
    }
    Ok(Trace {
        records: shared.take_trace(),
    })
}
