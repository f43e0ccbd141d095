//! The scripted provider: answers each attempt as the fault plan says, on the paused clock.

use crate::faults::{Answer, Faults, StreamEnd};
use crate::trace::{Kind, Record};
use crabllm_core::{
    BoxStream, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Error, Provider,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep};

/// What every client's view of the provider shares: the plan, the clock's
/// origin, the trace, and the capacity.
#[derive(Debug)]
pub struct Shared {
    faults: Mutex<Faults>,
    clock: Clock,
    trace: Mutex<Vec<Record>>,
    next_stream: AtomicU64,
    capacity: Option<Semaphore>,
}

impl Shared {
    /// A provider following `faults`, with at most `capacity` attempts in
    /// flight, on the current runtime's clock.
    pub fn new(faults: Faults, capacity: Option<u32>) -> Arc<Self> {
        Self::with_clock(faults, capacity, Clock::Tokio(Instant::now()))
    }

    /// The same, with virtual time read from `clock`.
    pub fn with_clock(faults: Faults, capacity: Option<u32>, clock: Clock) -> Arc<Self> {
        Arc::new(Self {
            faults: Mutex::new(faults),
            clock,
            trace: Mutex::new(Vec::new()),
            next_stream: AtomicU64::new(0),
            capacity: capacity.map(|c| Semaphore::new(c as usize)),
        })
    }

    /// Virtual time since the world began.
    pub fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    /// The fault plan in motion, for a server that answers by it.
    pub fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    /// A number for the next stream opened.
    pub fn next_stream(&self) -> u64 {
        self.next_stream.fetch_add(1, Ordering::Relaxed)
    }

    /// Append a record stamped now.
    pub fn record(&self, client: u32, call: u64, kind: Kind) {
        let t = u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX);
        lock(&self.trace).push(Record {
            t,
            client,
            call,
            kind,
        });
    }

    /// Take the records written so far.
    pub fn take_trace(&self) -> Vec<Record> {
        std::mem::take(&mut *lock(&self.trace))
    }
}

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

/// A poisoned lock only means another task panicked; the data is still ours to read.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One client's handle on the shared provider: it knows which call it is serving.
#[derive(Debug, Clone)]
pub struct SimProvider {
    shared: Arc<Shared>,
    client: u32,
    call: Arc<AtomicU64>,
}

impl SimProvider {
    /// The view of `shared` for `client`.
    pub fn new(shared: Arc<Shared>, client: u32) -> Self {
        Self {
            shared,
            client,
            call: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Mark the start of the client's call `call`.
    pub fn set_call(&self, call: u64) {
        self.call.store(call, Ordering::Relaxed);
    }

    /// The call being served.
    pub fn call(&self) -> u64 {
        self.call.load(Ordering::Relaxed)
    }

    /// Play one attempt up to its answer: on success, the id of the stream it
    /// would open and how that stream ends.
    async fn attempt(&self) -> Result<(u64, StreamEnd), Error> {
        // Queue for a slot; the slot is held while the attempt is in flight,
        // and released when it answers or is dropped (a timeout).
        let _slot = match &self.shared.capacity {
            Some(s) => Some(
                s.acquire()
                    .await
                    .map_err(|_| Error::Internal("capacity closed".into()))?,
            ),
            None => None,
        };
        let answer = lock(&self.shared.faults).answer(self.shared.now());
        match answer {
            Answer::Ok {
                latency,
                stream_end,
            } => {
                sleep(latency).await;
                Ok((self.shared.next_stream(), stream_end))
            }
            Answer::Status {
                status,
                retry_after,
                latency,
            } => {
                sleep(latency).await;
                Err(Error::Provider {
                    status,
                    body: format!("simulated {status}"),
                    retry_after,
                })
            }
            Answer::Network { latency } => {
                sleep(latency).await;
                Err(Error::Network("simulated connection reset".into()))
            }
            Answer::Decode { latency } => {
                sleep(latency).await;
                Err(Error::Decode("simulated garbage".into()))
            }
            Answer::Hang => std::future::pending().await,
        }
    }

    fn chunks(
        &self,
        stream: u64,
        end: StreamEnd,
    ) -> BoxStream<'static, Result<ChatCompletionChunk, Error>> {
        let (count, gap) = lock(&self.shared.faults).stream_shape();
        // Fail or stall halfway, so some items are delivered before the fault.
        let delivered = if end == StreamEnd::Done {
            count
        } else {
            count / 2
        };
        let (shared, client, call) = (self.shared.clone(), self.client, self.call());
        let items = futures::stream::unfold(0u32, move |index| {
            let shared = shared.clone();
            async move {
                if index == delivered {
                    return match end {
                        StreamEnd::Done => None,
                        StreamEnd::Fail => Some((
                            Err(Error::Network("simulated mid-stream reset".into())),
                            u32::MAX,
                        )),
                        StreamEnd::Stall => std::future::pending().await,
                    };
                }
                if index == u32::MAX {
                    return None;
                }
                sleep(gap).await;
                shared.record(client, call, Kind::ChunkSent { stream, index });
                let chunk = ChatCompletionChunk {
                    id: format!("{stream}:{index}"),
                    ..Default::default()
                };
                Some((Ok(chunk), index + 1))
            }
        });
        Box::pin(items)
    }
}

/// Parse a chunk id `"stream:index"` back.
pub fn chunk_id(chunk: &ChatCompletionChunk) -> Option<(u64, u32)> {
    let (s, i) = chunk.id.split_once(':')?;
    Some((s.parse().ok()?, i.parse().ok()?))
}

impl Provider for SimProvider {
    async fn chat_completion(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        self.attempt()
            .await
            .map(|_| ChatCompletionResponse::default())
    }

    async fn chat_completion_stream(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
        let (stream, end) = self.attempt().await?;
        Ok(self.chunks(stream, end))
    }

    crate::chat_only_provider_rest!();
}
