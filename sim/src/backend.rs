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
use crate::trace::{ChunkId, Kind, Record};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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

/// The fault plan in motion, the clock, the trace and the capacity.
#[derive(Debug)]
pub struct Backend {
    faults: Mutex<Faults>,
    clock: Clock,
    trace: Mutex<Vec<Record>>,
    next_stream: AtomicU64,
    capacity: Option<Arc<Semaphore>>,
    /// Set when the run is cut off: what is dropped after is not recorded,
    /// so the trace stops at the horizon instead of inventing ends there.
    cut: AtomicBool,
}

/// What one attempt gets, after its latency (and its wait for capacity).
#[derive(Debug)]
pub enum Reply {
    /// Success: the response (or the stream's items) carry this identity.
    Ok(Opened),
    /// An HTTP status, with the Retry-After the plan attached and the form
    /// the network world writes it in.
    Status {
        status: u16,
        retry_after: Option<Duration>,
        form: RetryAfterForm,
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
    Chunk(ChunkId),
    /// The connection breaks.
    Fail,
}

impl Backend {
    /// A backend following `faults` with at most `capacity` attempts in
    /// flight, its clock read from `clock`.
    pub fn new(faults: Faults, capacity: Option<u32>, clock: Clock) -> Arc<Self> {
        Arc::new(Self {
            faults: Mutex::new(faults),
            clock,
            trace: Mutex::new(Vec::new()),
            next_stream: AtomicU64::new(0),
            capacity: capacity.map(|c| Arc::new(Semaphore::new(c as usize))),
            cut: AtomicBool::new(false),
        })
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
    }

    /// Cut the run off: record nothing more.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::Relaxed);
    }

    /// Take the records written so far.
    pub fn take_trace(&self) -> Vec<Record> {
        std::mem::take(&mut *lock(&self.trace))
    }

    /// Answer one attempt of `client`'s call `call`: queue for a slot, wait
    /// the latency, then reply. A hang never returns; dropping the future
    /// (a timeout) frees the slot.
    pub async fn attempt(self: &Arc<Self>, client: u32, call: u64) -> Reply {
        let slot = match &self.capacity {
            // The semaphore is never closed.
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        let (answer, form, shape) = {
            let mut faults = lock(&self.faults);
            let answer = faults.answer(self.now());
            (answer, faults.retry_after_form(), faults.stream_shape())
        };
        match answer {
            Answer::Ok {
                latency,
                stream_end,
            } => {
                sleep(latency).await;
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
                sleep(latency).await;
                Reply::Status {
                    status,
                    retry_after,
                    form,
                }
            }
            Answer::Network { latency } => {
                sleep(latency).await;
                Reply::Network
            }
            Answer::Decode { latency } => {
                sleep(latency).await;
                Reply::Decode
            }
            Answer::Hang => std::future::pending().await,
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
                    Some(Item::Fail)
                }
                StreamEnd::Stall => std::future::pending().await,
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
