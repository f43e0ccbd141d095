//! The fault backend: answers every attempt from the scenario's fault plan.
//!
//! It is the one place fault behaviour lives. The in-process provider and
//! the network world's HTTP server both ask it for each attempt's
//! [`Reply`] and each stream's items, and only render them (as typed values,
//! or as HTTP), so every fault field means the same in both worlds:
//! capacity and queueing, latency, statuses and Retry-After, network and
//! decode errors, hangs, and streams that end, fail or stall halfway.
//!
//! It also keeps the run's trace: every record, stamped on the world's clock.

use crate::faults::{Answer, Faults, RetryAfterForm, StreamEnd};
use crate::fired::{Fault, Fired, STRUCK};
use crate::trace::{AttemptOutcome, ChunkId, Kind, Record};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, sleep};

/// Where a world reads virtual time from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The current tokio runtime's clock, since this instant.
    Tokio(Instant),
    /// turmoil's simulated time, shared by every host (each host has its own
    /// runtime, and their clocks do not share an origin).
    Turmoil,
}

impl Clock {
    /// Time since the world began.
    pub fn elapsed(&self) -> Duration {
        match self {
            Clock::Tokio(start) => start.elapsed(),
            Clock::Turmoil => turmoil::sim_elapsed().unwrap_or_default(),
        }
    }
}

/// A poisoned lock only means a subject panicked while a record was being
/// written: the data is still whole, and a panic is a finding, not an abort.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One live [`Backend::watch`], counted in its backend's `watchers`.
struct Watching<'a>(&'a AtomicUsize);

impl<'a> Watching<'a> {
    fn new(watchers: &'a AtomicUsize) -> Self {
        watchers.fetch_add(1, Ordering::Relaxed);
        Watching(watchers)
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The fault plans in motion (one per upstream), the clock and the trace.
#[derive(Debug)]
pub struct Backend {
    upstreams: Vec<Upstream>,
    clock: Clock,
    trace: Mutex<Vec<Record>>,
    next_stream: AtomicU64,
    /// Set when the run is cut off: what is dropped after is not recorded,
    /// so the trace stops at the horizon instead of inventing ends there.
    cut: AtomicBool,
    /// Wakes whoever [watches](Backend::watch) the trace for a record.
    recorded: Notify,
    /// How often each fault no record shows struck, in the order of
    /// [`STRUCK`]: plain counters, so counting costs an attempt nothing.
    struck: [AtomicU64; STRUCK.len()],
    /// How many [`watch`](Backend::watch) futures are alive: a record
    /// wakes watchers only when there are any (most runs have none, and
    /// waking nobody cost a sweep 1 % of its time).
    watchers: AtomicUsize,
}

/// One upstream: its fault plan in motion, and its capacity.
///
/// A scenario's `[faults]` is upstream 0; each `[[fallback]]` plan is the
/// next, for a gateway that falls back across deployments (`retry-sim
/// serve` routes a path under `/upstream/<i>/` to upstream `i`).
#[derive(Debug)]
pub struct Upstream {
    faults: Mutex<Faults>,
    capacity: Option<Arc<Semaphore>>,
}

impl Upstream {
    /// An upstream following `faults` with at most `capacity` attempts in flight.
    pub fn new(faults: Faults, capacity: Option<u32>) -> Self {
        Self {
            faults: Mutex::new(faults),
            capacity: capacity.map(|c| Arc::new(Semaphore::new(c as usize))),
        }
    }
}

/// What one attempt gets, after its latency (and its wait for capacity).
#[derive(Debug)]
pub enum Reply {
    /// Success: the response (or the stream's items) carry this identity.
    Ok(Opened),
    /// An HTTP status, with the Retry-After the plan attached and the form
    /// the network world writes it in.
    Status {
        /// The HTTP status the plan chose.
        status: u16,
        /// The wait the answer asks for, if the plan attaches one.
        retry_after: Option<Duration>,
        /// Whether the network world writes that wait as seconds or as an HTTP date.
        form: RetryAfterForm,
        /// The `x-should-retry` value the network world sends with it, if
        /// the plan sets one (in process there is no header to carry it).
        should_retry: Option<bool>,
    },
    /// The connection failed.
    Network,
    /// A body that does not parse.
    Decode,
}

/// A successful answer: the response's identity, and for streams how the
/// stream goes. Holds the attempt's capacity slot until the answer is
/// complete (a stream's last item, its failure, or its drop).
#[derive(Debug)]
pub struct Opened {
    backend: Arc<Backend>,
    client: u32,
    call: u64,
    stream: u64,
    /// Items delivered before the end.
    items: u32,
    gap: Duration,
    /// Extra silence before the first item (or the break).
    first: Duration,
    /// How often the network server sends a keep-alive comment in a silence.
    keepalive: Option<Duration>,
    end: StreamEnd,
    next: u32,
    finished: bool,
    _slot: Option<OwnedSemaphorePermit>,
}

/// A stream item, or how the stream ends after its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// An item carrying this identity, which the caller can check it received.
    Chunk(ChunkId),
    /// The connection breaks.
    Fail,
}

impl Backend {
    /// A backend following `faults` with at most `capacity` attempts in
    /// flight, its clock read from `clock`.
    pub fn new(faults: Faults, capacity: Option<u32>, clock: Clock) -> Arc<Self> {
        Self::with_upstreams(vec![Upstream::new(faults, capacity)], clock)
    }

    /// A backend answering each of `upstreams` by its own plan (at least
    /// one), its clock read from `clock`.
    pub fn with_upstreams(upstreams: Vec<Upstream>, clock: Clock) -> Arc<Self> {
        assert!(
            !upstreams.is_empty(),
            "a backend answers at least one upstream"
        );
        Arc::new(Self {
            upstreams,
            clock,
            trace: Mutex::new(Vec::new()),
            next_stream: AtomicU64::new(0),
            cut: AtomicBool::new(false),
            recorded: Notify::new(),
            struck: Default::default(),
            watchers: AtomicUsize::new(0),
        })
    }

    /// How many upstreams answer.
    pub fn upstream_count(&self) -> usize {
        self.upstreams.len()
    }

    /// A backend on the current tokio runtime's clock.
    pub fn on_tokio(faults: Faults, capacity: Option<u32>) -> Arc<Self> {
        Self::new(faults, capacity, Clock::Tokio(Instant::now()))
    }

    /// Virtual time since the world began.
    pub fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Append a record stamped now (nothing, once the run is cut off).
    pub fn record(&self, client: u32, call: u64, kind: Kind) {
        if self.cut.load(Ordering::Relaxed) {
            return;
        }
        let t = u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX);
        lock(&self.trace).push(Record {
            t,
            client,
            call,
            kind,
        });
        if self.watchers.load(Ordering::Relaxed) > 0 {
            self.recorded.notify_waiters();
        }
    }

    /// Wait until a record written from now on (from this call, not from
    /// the future's first poll, so nothing written in between is missed)
    /// is one `sees` accepts. `sees` reads each record once, in order.
    pub fn watch<'a>(
        &'a self,
        mut sees: impl FnMut(&Record) -> bool + 'a,
    ) -> impl std::future::Future<Output = ()> + 'a {
        let mut next = lock(&self.trace).len();
        // Counted from now, as what it sees is: until the future is dropped.
        let watching = Watching::new(&self.watchers);
        async move {
            let _watching = watching;
            loop {
                // Enabled before the trace is read, so a record written
                // after the read still wakes this future.
                let notified = self.recorded.notified();
                let mut notified = std::pin::pin!(notified);
                notified.as_mut().enable();
                {
                    let trace = lock(&self.trace);
                    let fresh = trace.get(next..).unwrap_or_default();
                    if fresh.iter().any(&mut sees) {
                        return;
                    }
                    next = trace.len();
                }
                notified.await;
            }
        }
    }

    /// Count one strike of `fault`, one of the faults no record shows
    /// ([`STRUCK`]; any other is read from the trace, and ignored here).
    pub fn fire(&self, fault: Fault) {
        // What a cut-off run drops was not a fault of the plan.
        if self.cut.load(Ordering::Relaxed) {
            return;
        }
        if let Some(i) = STRUCK.iter().position(|f| *f == fault) {
            self.struck[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The faults struck so far that no record shows.
    pub fn struck(&self) -> Fired {
        let mut fired = Fired::default();
        for (fault, n) in STRUCK.iter().zip(&self.struck) {
            fired.add(*fault, n.load(Ordering::Relaxed));
        }
        fired
    }

    /// Cut the run off: record nothing more.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::Relaxed);
    }

    /// Take the records written so far.
    pub fn take_trace(&self) -> Vec<Record> {
        std::mem::take(&mut *lock(&self.trace))
    }

    /// Record attempt `attempt` of `client`'s call `call` as started at
    /// `upstream`, sending the request `digest` names (`None`: not
    /// recorded); it ends when the returned record is ended, or as dropped
    /// unanswered if the record is dropped first (the caller timed out, or
    /// hung up).
    pub fn start_attempt(
        &self,
        client: u32,
        call: u64,
        attempt: u32,
        upstream: u32,
        digest: Option<u64>,
    ) -> Attempt<'_> {
        let kind = Kind::AttemptStarted {
            attempt,
            upstream,
            digest,
        };
        self.record(client, call, kind);
        Attempt {
            backend: self,
            client,
            call,
            attempt,
            ended: false,
        }
    }

    /// Answer one attempt of `client`'s call `call` by upstream 0's plan.
    pub async fn attempt(self: &Arc<Self>, client: u32, call: u64) -> Reply {
        self.attempt_at(0, client, call).await
    }

    /// Answer one attempt of `client`'s call `call` by `upstream`'s plan
    /// (upstream 0's, past the last): queue for a slot, wait the latency,
    /// then reply. A hang never returns; dropping the future (a timeout)
    /// frees the slot.
    pub async fn attempt_at(self: &Arc<Self>, upstream: usize, client: u32, call: u64) -> Reply {
        let upstream = self.upstreams.get(upstream).unwrap_or(&self.upstreams[0]);
        let slot = match &upstream.capacity {
            // The semaphore is never closed.
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        let (answer, form, should_retry, shape) = {
            let mut faults = lock(&upstream.faults);
            let answer = faults.answer_for(self.now(), client, call);
            let form = faults.retry_after_form();
            (answer, form, faults.should_retry(), faults.stream_shape())
        };
        match answer {
            Answer::Ok {
                latency,
                stream_end,
            } => {
                self.answer_after(latency).await;
                Reply::Ok(Opened {
                    backend: self.clone(),
                    client,
                    call,
                    stream: self.next_stream.fetch_add(1, Ordering::Relaxed),
                    // Fail or stall halfway, so some items arrive before the fault.
                    items: match stream_end {
                        StreamEnd::Done => shape.count,
                        _ => shape.count / 2,
                    },
                    gap: shape.gap,
                    first: shape.first,
                    keepalive: shape.keepalive,
                    end: stream_end,
                    next: 0,
                    finished: false,
                    _slot: slot,
                })
            }
            Answer::Status {
                status,
                retry_after,
                latency,
            } => {
                self.answer_after(latency).await;
                Reply::Status {
                    status,
                    retry_after,
                    form,
                    should_retry,
                }
            }
            Answer::Network { latency } => {
                self.answer_after(latency).await;
                Reply::Network
            }
            Answer::Decode { latency } => {
                self.answer_after(latency).await;
                Reply::Decode
            }
            Answer::Hang => {
                self.fire(Fault::Hang);
                std::future::pending().await
            }
        }
    }

    /// Wait out an answer's latency; if the wait is dropped first (the
    /// subject stopped waiting), the answer was cut off: [`Fault::Slow`].
    async fn answer_after(&self, latency: Duration) {
        let mut pending = Unanswered {
            backend: self,
            answered: false,
        };
        sleep(latency).await;
        pending.answered = true;
    }
}

/// An answer still within its latency; dropped unanswered, it counts as
/// cut off by a timeout.
struct Unanswered<'a> {
    backend: &'a Backend,
    answered: bool,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.backend.fire(Fault::Slow);
        }
    }
}

/// An attempt the provider has seen start (see [`Backend::start_attempt`]).
#[must_use = "an attempt dropped without `end` is recorded as dropped unanswered"]
pub struct Attempt<'a> {
    backend: &'a Backend,
    client: u32,
    call: u64,
    attempt: u32,
    ended: bool,
}

impl Attempt<'_> {
    /// Record how the attempt ended.
    pub fn end(mut self, outcome: AttemptOutcome) {
        self.ended = true;
        let kind = Kind::AttemptEnded {
            attempt: self.attempt,
            outcome,
        };
        self.backend.record(self.client, self.call, kind);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let kind = Kind::AttemptEnded {
                attempt: self.attempt,
                outcome: AttemptOutcome::Dropped,
            };
            self.backend.record(self.client, self.call, kind);
        }
    }
}

impl Opened {
    /// The identity a whole (unary) response carries.
    pub fn response(&self) -> ChunkId {
        self.chunk(0)
    }

    fn chunk(&self, index: u32) -> ChunkId {
        ChunkId {
            client: self.client,
            call: self.call,
            stream: self.stream,
            index,
        }
    }

    /// How often a server sends a keep-alive during a silence, if at all.
    pub fn keepalive(&self) -> Option<Duration> {
        self.keepalive
    }

    /// The gap before the next thing the stream does: the plan's gap, and
    /// before the first, the plan's first-chunk silence too.
    fn next_gap(&self) -> Duration {
        match self.next {
            0 => self.first.saturating_add(self.gap),
            _ => self.gap,
        }
    }

    /// The next stream item after its gap, recorded as sent; `None` at a
    /// clean end. A stall never returns.
    pub async fn next(&mut self) -> Option<Item> {
        if self.finished {
            return None;
        }
        if self.next == self.items {
            self.finished = true;
            return match self.end {
                StreamEnd::Done => None,
                // The connection breaks when the next item was due: in both
                // worlds alike, and over HTTP after the items sent are flushed.
                StreamEnd::Fail => {
                    sleep(self.next_gap()).await;
                    self.backend.fire(Fault::StreamFail);
                    Some(Item::Fail)
                }
                StreamEnd::Stall => {
                    self.backend.fire(Fault::StreamStall);
                    std::future::pending().await
                }
            };
        }
        sleep(self.next_gap()).await;
        let id = self.chunk(self.next);
        self.backend.record(
            self.client,
            self.call,
            Kind::ChunkSent {
                stream: id.stream,
                index: id.index,
            },
        );
        self.next += 1;
        Some(Item::Chunk(id))
    }

    /// Turn the stream into a `futures` stream of items.
    pub fn into_stream(self) -> impl futures::Stream<Item = Item> + Send + 'static {
        futures::stream::unfold(self, |mut opened| async move {
            let item = opened.next().await?;
            Some((item, opened))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultPlan;

    #[test]
    fn a_run_cut_off_records_and_counts_nothing_more() {
        // The horizon cuts a run off and drops the calls still in flight:
        // their attempts never ended and their faults never struck, so the
        // trace must stop at the cut instead of inventing ends there.
        let backend = Backend::new(Faults::new(FaultPlan::default(), 1), None, Clock::Turmoil);
        drop(backend.start_attempt(1, 0, 0, 0, None));
        backend.fire(Fault::Hang);
        let in_flight = backend.start_attempt(1, 1, 0, 0, None);
        backend.cut();
        drop(in_flight);
        backend.fire(Fault::Hang);
        let kinds: Vec<Kind> = backend.take_trace().into_iter().map(|r| r.kind).collect();
        assert!(
            matches!(
                &kinds[..],
                [
                    Kind::AttemptStarted { .. },
                    Kind::AttemptEnded {
                        outcome: AttemptOutcome::Dropped,
                        ..
                    },
                    Kind::AttemptStarted { .. },
                ]
            ),
            "{kinds:?}"
        );
        assert_eq!(backend.struck().count(Fault::Hang), 1);
    }
}
