//! The network world: the fault server as a turmoil host, the clients on
//! turmoil client hosts running the subject around an [`HttpProvider`],
//! and the scenario's network faults applied on the simulation's clock.
//!
//! With a shared wrapper ([`Wrapper::Shared`]) every client runs on one
//! host, a gateway's ([`GATEWAY`]), through the one wrapper; per client,
//! each client runs on a host of its own (`client<i>`). Network faults
//! apply between the server and every client host.
//!
//! turmoil is seeded from the scenario's seed and given a fixed epoch, so a
//! seed replays exactly; the trace is the in-process world's (attempts seen
//! by the probe, chunks sent by the server and received by the caller), so
//! every oracle and the determinism check apply unchanged.

use super::quiet::{self, Activity};
use super::server::Server;
use crate::backend::{Backend, Clock};
use crate::faults::Faults;
use crate::link::Link;
use crate::link::http::HttpProvider;
use crate::scenario::{Direction, Scenario, Shape, Wrapper};
use crate::subject::Subject;
use crate::trace::Trace;
use crate::world::clients::{Plan, drive, drive_all};
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

/// The host every client runs on when they share one wrapper.
pub const GATEWAY: &str = "gateway";
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

/// How a run advances through simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stepping {
    /// Every tick up to the horizon, as turmoil steps it.
    Full,
    /// Every tick while anything may still happen; once the run has gone
    /// quiet for longer than any timer it can hold, straight to the
    /// horizon ([`quiet`]).
    SkipQuiet,
}

/// Put `server` on the simulation as the host `server`, port 80.
pub fn serve(sim: &mut turmoil::Sim<'_>, server: Server) {
    serve_counted(sim, server, Activity::default());
}

/// [`serve`], counting the polls of the server's tasks in `activity`.
fn serve_counted(sim: &mut turmoil::Sim<'_>, server: Server, activity: Activity) {
    sim.host(SERVER, move || {
        let server = server.clone();
        let counter = activity.clone();
        let software = async move {
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
            loop {
                let (stream, _) = listener.accept().await?;
                // On the host's LocalSet, not the runtime: a crash or bounce
                // drops the runtime's tasks in the order of tokio's
                // process-wide task ids, and each dropped socket sends its
                // RST or FIN, drawing on turmoil's seeded rng. The LocalSet
                // drops its tasks in spawn order, the same on every run.
                tokio::task::spawn_local(counter.count(server.clone().connection(stream)));
            }
        };
        activity.count(software)
    });
}

/// Run `scenario` (a closed workload) under `seed` against `subject` over
/// the simulated network.
///
/// # Errors
///
/// If turmoil reports a failure other than running out of simulated time.
pub fn run<S: Subject>(subject: &S, scenario: &Scenario, seed: u64) -> std::io::Result<Trace> {
    run_stepping(subject, scenario, seed, Stepping::SkipQuiet)
}

/// [`run`], advancing time as `stepping` says (the trace is the same).
///
/// # Errors
///
/// As [`run`].
pub fn run_stepping<S: Subject>(
    subject: &S,
    scenario: &Scenario,
    seed: u64,
    stepping: Stepping,
) -> std::io::Result<Trace> {
    run_serving(subject, scenario, seed, stepping, |server| server)
}

/// [`run_stepping`], its server first passed through `serve` (the seam a
/// test plants a broken network through, such as [`Server::stripping`]).
///
/// # Errors
///
/// As [`run`].
pub fn run_serving<S: Subject>(
    subject: &S,
    scenario: &Scenario,
    seed: u64,
    stepping: Stepping,
    serve: fn(Server) -> Server,
) -> std::io::Result<Trace> {
    let net = &scenario.network;
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(epoch())
        .simulation_duration(NETWORK_HORIZON)
        .tick_duration(TICK)
        .min_message_latency(Duration::from_millis(net.latency_min_ms))
        .max_message_latency(Duration::from_millis(net.latency_max_ms))
        .fail_rate(net.loss)
        .repair_rate(net.repair)
        .build();
    let backend = Backend::new(
        Faults::new(scenario.faults.clone(), seed),
        scenario.faults.capacity,
        Clock::Turmoil,
    );
    let activity = Activity::default();
    serve_counted(
        &mut sim,
        serve(Server::new(backend.clone(), wall)),
        activity.clone(),
    );
    let (clients, calls, think_ms) = match scenario.workload.shape {
        Shape::Closed {
            clients,
            calls,
            think_ms,
        } => (clients, calls, think_ms),
        // Validation admits only closed workloads here.
        Shape::Open { .. } => (0, 0, 0),
    };
    let link = Link::Http(HttpProvider::new(&format!("{SERVER}:{PORT}"), wall));
    let plans = (0..clients).map(|c| Plan::closed(c, calls, Duration::from_millis(think_ms)));
    let names: Vec<String> = match scenario.workload.wrapper {
        Wrapper::Shared => {
            let all = drive_all(
                subject,
                scenario,
                seed,
                plans.collect(),
                link,
                backend.clone(),
            );
            let all = activity.count(futures::future::join_all(all));
            sim.client(GATEWAY, async move {
                all.await;
                Ok(())
            });
            vec![GATEWAY.to_string()]
        }
        Wrapper::PerClient => plans
            .map(|plan| {
                let name = format!("client{}", plan.client);
                let calls = drive(subject, scenario, seed, plan, link.clone(), backend.clone());
                let calls = activity.count(calls);
                sim.client(name.as_str(), async move {
                    calls.await;
                    Ok(())
                });
                name
            })
            .collect(),
    };
    let changes = schedule(scenario);
    let quiet = match stepping {
        Stepping::Full => None,
        Stepping::SkipQuiet => quiet::bound(scenario, &subject.claim(&scenario.policy)),
    };
    let settled = changes.last().map_or(Duration::ZERO, |(at, _)| *at);
    let mut watch = Watch::new(quiet, settled, activity.polls());
    let mut changes = changes.into_iter().peekable();
    let end = loop {
        while let Some((_, change)) = changes.next_if(|(at, _)| *at <= sim.elapsed()) {
            apply(&mut sim, change, &names);
        }
        match sim.step() {
            Ok(true) => break sim.elapsed(),
            Ok(false) => {}
            // Out of simulated time: the open calls show in the trace.
            Err(e) if out_of_time(&*e) => break sim.elapsed(),
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        }
        if watch.nothing_more(sim.elapsed(), activity.polls(), || in_flight(&sim)) {
            break HORIZON_END;
        }
    };
    Ok(Trace {
        records: backend.take_trace(),
        end_ns: u64::try_from(end.as_nanos()).unwrap_or(u64::MAX),
        struck: backend.struck(),
        walk_aways: scenario.workload.walk_aways(),
    })
}

/// Whether turmoil's error is its running out of simulated time (past
/// the horizon): the one error a run ends on as a run, not a failure.
pub(super) fn out_of_time(e: &dyn std::error::Error) -> bool {
    e.to_string().contains("Ran for duration")
}

/// Where full stepping stops a run that has not finished: turmoil fails
/// the first step that takes it past the horizon.
const HORIZON_END: Duration = NETWORK_HORIZON.saturating_add(TICK);

/// turmoil's step: every wait ends on a whole millisecond.
const TICK: Duration = Duration::from_millis(1);

/// Whether a run has gone quiet for good ([`quiet`]).
pub(super) struct Watch {
    /// How long it must stay quiet; `None`: never skip.
    bound: Option<Duration>,
    /// The last scheduled network change.
    settled: Duration,
    polls: u64,
    /// When a task was last polled or a message last in flight.
    busy_at: Duration,
}

impl Watch {
    /// A watch from the run's start, its tasks polled `polls` times so far.
    pub(super) fn new(bound: Option<Duration>, settled: Duration, polls: u64) -> Self {
        Watch {
            bound,
            settled,
            polls,
            busy_at: Duration::ZERO,
        }
    }

    /// After a step ending at `now`, the run's tasks polled `polls` times
    /// in all and `in_flight` saying whether a message is on its way:
    /// whether nothing more can happen. That is once the network's last
    /// change is past and nothing has stirred for longer than the bound.
    pub(super) fn nothing_more(
        &mut self,
        now: Duration,
        polls: u64,
        in_flight: impl FnOnce() -> bool,
    ) -> bool {
        let Some(bound) = self.bound else {
            return false;
        };
        if polls != self.polls || in_flight() {
            self.polls = polls;
            self.busy_at = now;
            return false;
        }
        now >= self.settled && now - self.busy_at > bound
    }
}

/// A message is on its way between two hosts.
pub(super) fn in_flight(sim: &turmoil::Sim<'_>) -> bool {
    let mut any = false;
    sim.links(|links| {
        for mut link in links {
            any |= link.next().is_some();
        }
    });
    any
}
