//! `retry-sim serve`: the fault backend as a real HTTP server, in real
//! time, for clients nobody here wrote.
//!
//! Every request but `/sim/*` goes to the network world's
//! [`Server`], which answers by the
//! scenario's fault plan (its milliseconds are real ones). This module
//! records each of those requests as an attempt of a call, numbered per
//! call in arrival order across upstreams: started when it arrives, ended
//! when its answer (a stream's headers) is ready, or dropped if the client
//! hangs up first. The call is the one the request names ([`address`]), or
//! else the one [`grouping`](crate::wire::grouping) infers from what an
//! unchanged client already sends (the official SDKs' retry-count header,
//! or the same body again); a call's first attempt is recorded as seen
//! (`call_seen`), with its method and how it was grouped.
//! A path under `/upstream/<i>/` is answered by the scenario's
//! `[[fallback]]` plan `i` (`[faults]` is upstream 0), so a gateway's
//! deployments can each have their own. A client may tell the rest on
//! [`CALL_PATH`] (a [`Report`] per POST): when each call started and
//! ended, and each item it received, stamped on the server's clock. These
//! reports are optional: without them the judge says `not exercised` for
//! what only they show (a call's end, what it received).
//!
//! [`READY_PATH`] answers 200, for a client to wait on.
//!
//! The server listens on loopback only. It stops at the horizon, when a
//! client POSTs [`DONE_PATH`], or (`retry-sim serve`) on SIGINT or
//! SIGTERM, and hands back the record (a [`Trace`]). The record is
//! written as it happens, one JSON line per record, appended and flushed
//! (as [`Trace::to_json_lines`] writes them, in the order they were
//! stamped on the server's clock), and finished with a line saying when
//! it stopped, `{"end_ns":N}` (as [`Trace::to_json_lines_with_end`]): a
//! record without it was cut short, and `retry-sim judge` refuses it.

use crate::backend::{Backend, Clock, Upstream};
use crate::faults::Faults;
use crate::method::Method;
use crate::trace::{AttemptOutcome, CallOutcome, ChunkId, Failure, Kind, Record, Trace};
use crate::wire::address::{self, Address, CallId};
use crate::wire::grouping::Calls;
use crate::wire::{retry_after, should_retry};
use crate::world::net::server::{Body, Server, method_of};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::future::Future;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;

/// Where a client reports its calls' starts, items and ends.
pub const CALL_PATH: &str = "/sim/call";
/// Answers 200 once the server listens, so a client can wait for it.
pub const READY_PATH: &str = "/sim/ready";
/// Where a client says it has finished: the server stops and writes its record.
pub const DONE_PATH: &str = "/sim/done";

/// What a client reports of one call (the JSON body of a POST to
/// [`CALL_PATH`], tagged by `event`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Report {
    /// The caller began a call of `method`.
    Started {
        /// The client that made the call.
        client: u32,
        /// The call's number within its client.
        call: u64,
        /// The method called.
        method: Method,
    },
    /// The caller received an item (a unary response is one) whose text
    /// holds `payload` (`sim:<client>:<call>:<stream>:<index>`), if any.
    Item {
        /// The client that made the call.
        client: u32,
        /// The call's number within its client.
        call: u64,
        /// The item's identity text, if it carried one.
        payload: Option<String>,
    },
    /// The caller's handed-over stream failed after its items.
    StreamFailed {
        /// The client that made the call.
        client: u32,
        /// The call's number within its client.
        call: u64,
        /// Whether a timeout ended it (else an error).
        timeout: bool,
    },
    /// The call ended: `{"result": "ok"}`, or `{"result": "failed",
    /// "error": "status", "status": 400}` (or `network`, `timeout`,
    /// `decode`, `other`), as the trace writes a [`CallOutcome`].
    Ended {
        /// The client that made the call.
        client: u32,
        /// The call's number within its client.
        call: u64,
        /// How it ended.
        outcome: CallOutcome,
    },
}

impl Report {
    /// The record this report becomes: its call, and what happened.
    fn record(self) -> (u32, u64, Kind) {
        match self {
            Report::Started {
                client,
                call,
                method,
            } => {
                // A client outside the wrapper has no compat flags to answer.
                let kind = Kind::CallStarted {
                    method,
                    compat: 0,
                    inner_compat: 0,
                    digest: None,
                };
                (client, call, kind)
            }
            Report::Item {
                client,
                call,
                payload,
            } => {
                let chunk = payload.as_deref().and_then(ChunkId::find);
                (client, call, Kind::ChunkReceived { chunk })
            }
            Report::StreamFailed {
                client,
                call,
                timeout,
            } => (client, call, Kind::StreamFailed { timeout }),
            Report::Ended {
                client,
                call,
                outcome,
            } => (client, call, Kind::CallEnded { outcome }),
        }
    }
}

/// How a served run goes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Must be a loopback address (port 0: any free port).
    pub addr: SocketAddr,
    /// Stop after this long even if no client said it was done.
    pub horizon: Duration,
    /// Seeds the fault plan's dice (for [`command`]).
    pub seed: u64,
}

/// The default horizon: long enough for three calls through the SDKs'
/// longest default schedule (0.5 + 1 s of backoff, or a 2 s Retry-After,
/// per call), short enough that a forgotten server goes away.
pub const DEFAULT_HORIZON: Duration = Duration::from_secs(60);

/// Refuse any address but loopback: the server answers anyone who asks.
///
/// # Errors
///
/// A message naming the address, for exit code 2.
pub fn loopback_only(addr: SocketAddr) -> Result<SocketAddr, String> {
    match addr.ip().is_loopback() {
        true => Ok(addr),
        false => Err(format!(
            "{addr}: `serve` listens on loopback only (127.0.0.1 or ::1), \
             as it answers anyone who asks"
        )),
    }
}

/// Serve `backend` (on the current runtime's clock, in real time) at
/// `options.addr` until the horizon or a client's done; `ready` gets the
/// address actually bound (its port, if 0 was asked) before the first
/// request is accepted. Returns the record. A client in the same process
/// may record its calls on `backend` directly instead of on [`CALL_PATH`].
///
/// # Errors
///
/// A non-loopback address, or one that cannot be bound.
pub async fn serve(
    backend: Arc<Backend>,
    options: Options,
    ready: impl FnOnce(SocketAddr),
) -> Result<Trace, String> {
    serve_recording(backend, options, ready, None, std::future::pending()).await
}

/// [`serve`], writing each record to `out` (if any) as it happens (one
/// JSON line, flushed) and stopping also when `stop` completes; the record
/// ends with its end line `{"end_ns":N}` however the server stopped.
/// Without `out`, the records stay on `backend` until the server stops (a
/// caller that stops it early may take them there).
///
/// # Errors
///
/// A non-loopback address, one that cannot be bound, or a record that
/// could not be written (the first write error).
pub async fn serve_recording(
    backend: Arc<Backend>,
    options: Options,
    ready: impl FnOnce(SocketAddr),
    out: Option<Box<dyn io::Write + Send>>,
    stop: impl Future<Output = ()>,
) -> Result<Trace, String> {
    let addr = loopback_only(options.addr)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{addr}: cannot listen: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let recorder = Arc::new(Recorder::new(backend.clone(), out));
    let wire = Wire {
        server: Server::new(backend.clone(), SystemTime::now).real_shapes(),
        backend: backend.clone(),
        recorder: recorder.clone(),
        calls: Arc::default(),
        done: Arc::new(Notify::new()),
    };
    ready(bound);
    let done = wire.done.clone();
    let accept = async {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(wire.clone().connection(stream));
        }
    };
    // What no request handler writes (a stream's items, sent as its body
    // is read) is written within this long.
    let tick = async {
        loop {
            tokio::time::sleep(FLUSH_EVERY).await;
            recorder.write();
        }
    };
    tokio::select! {
        () = accept => {}
        () = tick => {}
        () = done.notified() => {}
        () = tokio::time::sleep(options.horizon) => {}
        () = stop => {}
    }
    let end_ns = u64::try_from(backend.now().as_nanos()).unwrap_or(u64::MAX);
    backend.cut();
    recorder.finish(end_ns)
}

/// How often records not yet written are written, at most: a stream's
/// items are recorded as its body is sent, after its handler returned.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The record as it is written: records are taken from the backend in the
/// order they were stamped, written one JSON line each and flushed, and
/// kept for the [`Trace`] handed back.
struct Recorder {
    backend: Arc<Backend>,
    state: Mutex<Written>,
}

struct Written {
    out: Option<Box<dyn io::Write + Send>>,
    records: Vec<Record>,
    /// The first write that failed: nothing more is written after it.
    error: Option<String>,
}

impl Recorder {
    fn new(backend: Arc<Backend>, out: Option<Box<dyn io::Write + Send>>) -> Self {
        Self {
            backend,
            state: Mutex::new(Written {
                out,
                records: Vec::new(),
                error: None,
            }),
        }
    }

    /// Write every record stamped since the last write (if there is
    /// somewhere to write).
    fn write(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.out.is_some() {
            self.take(&mut state);
        }
    }

    /// Take every record stamped since the last take, write them, keep them.
    fn take(&self, state: &mut Written) {
        // Taken under the state's lock, so two writers cannot swap batches.
        let fresh = Trace::new(self.backend.take_trace());
        if !fresh.records.is_empty() {
            state.append(&fresh.to_json_lines());
            state.records.extend(fresh.records);
        }
    }

    /// Write what is left and the end line; hand back the whole record.
    fn finish(&self, end_ns: u64) -> Result<Trace, String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.take(&mut state);
        let end = Trace {
            end_ns,
            ..Trace::default()
        };
        state.append(&end.to_json_lines_with_end());
        match state.error.take() {
            Some(e) => Err(format!("cannot write the record: {e}")),
            None => Ok(Trace {
                records: std::mem::take(&mut state.records),
                end_ns,
                ..Trace::default()
            }),
        }
    }
}

impl Written {
    /// Append `lines` and flush, unless a write already failed.
    fn append(&mut self, lines: &str) {
        let Some(out) = self.out.as_mut().filter(|_| self.error.is_none()) else {
            return;
        };
        let written = out.write_all(lines.as_bytes()).and_then(|()| out.flush());
        if let Err(e) = written {
            self.error = Some(e.to_string());
        }
    }
}

/// `retry-sim serve`: serve `scenario`'s plan with `options` in real time,
/// writing the record to `record` (stdout if `None`) as it happens, until
/// the horizon, a client's done, SIGINT or SIGTERM; then finish it with
/// its end line. Where it listens and where it writes are announced on
/// stderr once bound (`listening on ADDR`, `recording to PATH`).
///
/// # Errors
///
/// A non-loopback or unbindable address, or an unwritable record (exit 2).
pub fn command(
    scenario: &crate::scenario::Scenario,
    options: Options,
    record: Option<&std::path::Path>,
) -> Result<bool, String> {
    loopback_only(options.addr)?;
    let (out, to): (Box<dyn io::Write + Send>, String) = match record {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("{}: cannot write the record: {e}", path.display()))?;
            (Box::new(file), path.display().to_string())
        }
        None => (Box::new(std::io::stdout()), "stdout".into()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let trace = runtime.block_on(async {
        let stop = signalled()?;
        let announce = |addr| {
            let _ = writeln!(std::io::stderr(), "listening on {addr}\nrecording to {to}");
        };
        let backend = backend(scenario, options.seed);
        serve_recording(backend, options, announce, Some(out), stop).await
    })?;
    // A caller that stopped reading stderr after the address is no error.
    let _ = writeln!(
        std::io::stderr(),
        "served {} records over {:.3} s",
        trace.records.len(),
        trace.end_ns as f64 / 1e9
    );
    Ok(true)
}

/// Completes on the first SIGINT (Ctrl-C) or SIGTERM.
///
/// # Errors
///
/// The signal handlers cannot be installed.
#[cfg(unix)]
fn signalled() -> Result<impl Future<Output = ()>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let handler = |kind: SignalKind| signal(kind).map_err(|e| format!("cannot catch signals: {e}"));
    let (mut interrupt, mut terminate) = (
        handler(SignalKind::interrupt())?,
        handler(SignalKind::terminate())?,
    );
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Completes on the first Ctrl-C (the only signal there is off unix).
///
/// # Errors
///
/// Never; the handler is installed when first polled.
#[cfg(not(unix))]
fn signalled() -> Result<impl Future<Output = ()>, String> {
    Ok(async {
        // No handler: serve until the horizon or a client's done.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

/// A backend on the current runtime's clock answering `scenario`'s
/// upstreams: `[faults]` as upstream 0, then each `[[fallback]]` plan, each
/// with its own dice drawn from `seed` (upstream 0's are `seed`'s own, as
/// in the simulator's worlds).
pub fn backend(scenario: &crate::scenario::Scenario, seed: u64) -> Arc<Backend> {
    let plans = std::iter::once(&scenario.faults).chain(&scenario.fallback);
    let upstreams = plans
        .zip(0u64..)
        .map(|(plan, i)| {
            let seed = upstream_seed(seed, i);
            Upstream::new(Faults::new(plan.clone(), seed), plan.capacity)
        })
        .collect();
    Backend::with_upstreams(upstreams, Clock::Tokio(tokio::time::Instant::now()))
}

/// The seed of upstream `i`'s dice under the run's `seed`: `seed` itself
/// for upstream 0, else `seed` XORed with `i` times [`UPSTREAM_SPREAD`].
/// XOR keeps each upstream's seeds one-to-one with the run's: two runs
/// never share an upstream's dice.
fn upstream_seed(seed: u64, i: u64) -> u64 {
    seed ^ i.wrapping_mul(UPSTREAM_SPREAD)
}

/// A fixed odd multiplier that spreads the upstreams' seeds apart.
const UPSTREAM_SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// The server's state: the plan's server, the backend it records on, the
/// calls seen (which call each attempt belongs to), and the done signal.
#[derive(Clone)]
struct Wire {
    server: Server,
    backend: Arc<Backend>,
    recorder: Arc<Recorder>,
    calls: Arc<Mutex<Calls>>,
    done: Arc<Notify>,
}

impl Wire {
    async fn connection(self, stream: tokio::net::TcpStream) {
        // Nagle would hold small SSE events back; the plan's gaps are the point.
        let _ = stream.set_nodelay(true);
        let recorder = self.recorder.clone();
        let service = hyper::service::service_fn(move |req| {
            let wire = self.clone();
            async move { wire.handle(req).await }
        });
        // A connection ends with an error whenever the plan drops it: expected.
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
        // An attempt whose client hung up is recorded as its handler drops.
        recorder.write();
    }

    async fn handle(&self, req: Request<Incoming>) -> Result<Response<Body>, io::Error> {
        let answer = self.route(req).await;
        self.recorder.write();
        answer
    }

    async fn route(&self, req: Request<Incoming>) -> Result<Response<Body>, io::Error> {
        match req.uri().path() {
            CALL_PATH => Ok(self.report(req).await),
            READY_PATH => Ok(text(StatusCode::OK, "ready")),
            DONE_PATH => {
                self.done.notify_one();
                Ok(text(StatusCode::OK, "done"))
            }
            // The server's own paths are never attempts.
            path if path.starts_with("/sim/") => Ok(text(StatusCode::NOT_FOUND, "no such path")),
            _ => self.attempt(req).await,
        }
    }

    /// One attempt, recorded around the plan's answer; a call's first is
    /// recorded as seen, with its method and how it was grouped.
    async fn attempt(&self, req: Request<Incoming>) -> Result<Response<Body>, io::Error> {
        let (head, body) = req.into_parts();
        let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
        let arrival = lock(&self.calls).arrive(&head.headers, &body);
        let CallId { client, call } = arrival.id;
        let upstream = address::upstream_of(head.uri.path()).0;
        if let (Some(by), Ok(method)) = (arrival.first, method_of(&head, &body)) {
            self.backend
                .record(client, call, Kind::CallSeen { method, by });
        }
        let record = self
            .backend
            .start_attempt(client, call, arrival.attempt, upstream, None);
        // Answered or not (the client may hang up first), the call is
        // open to its next attempt once this one is over.
        let mut in_flight = InFlight {
            calls: &self.calls,
            id: arrival.id,
            ok: false,
        };
        self.recorder.write();
        let at = Address {
            upstream,
            client,
            call,
        };
        let answer = self.server.answer(&head, &body, at).await;
        in_flight.ok = matches!(&answer, Ok(r) if r.status().is_success());
        record.end(match &answer {
            Ok(r) if r.status().is_success() => AttemptOutcome::Ok,
            Ok(r) => AttemptOutcome::Failed(Failure::Status {
                status: r.status().as_u16(),
                // What the client will read from the header, in any form.
                retry_after_ns: retry_after::parse(r.headers(), SystemTime::now())
                    .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
                should_retry: should_retry::parse(r.headers()),
            }),
            Err(_) => AttemptOutcome::Failed(Failure::Network),
        });
        answer
    }

    /// A client's report of one of its calls.
    async fn report(&self, req: Request<Incoming>) -> Response<Body> {
        let body = match req.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(e) => return text(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        match serde_json::from_slice::<Report>(&body) {
            Ok(report) => {
                let (client, call, kind) = report.record();
                self.backend.record(client, call, kind);
                text(StatusCode::OK, "recorded")
            }
            Err(e) => text(StatusCode::BAD_REQUEST, &format!("bad report: {e}")),
        }
    }
}

/// An attempt in flight; over (answered, or dropped with its handler),
/// it tells the calls whether it succeeded.
struct InFlight<'a> {
    calls: &'a Mutex<Calls>,
    id: CallId,
    ok: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(self.calls).answered(self.id, self.ok);
    }
}

/// A poisoned lock only means a handler panicked mid-update: the calls
/// are still whole enough to group the next attempt.
fn lock(calls: &Mutex<Calls>) -> std::sync::MutexGuard<'_, Calls> {
    calls.lock().unwrap_or_else(|e| e.into_inner())
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let body = Full::new(Bytes::from(body.to_string()))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_are_served() {
        assert!(loopback_only("127.0.0.1:0".parse().unwrap()).is_ok());
        assert!(loopback_only("[::1]:8080".parse().unwrap()).is_ok());
        let refused = loopback_only("0.0.0.0:8080".parse().unwrap()).unwrap_err();
        assert!(refused.contains("loopback only"), "{refused}");
    }

    #[test]
    fn upstream_zero_draws_the_runs_own_dice_and_no_two_runs_share_an_upstreams() {
        for seed in [0, 1, 7, u64::MAX] {
            assert_eq!(upstream_seed(seed, 0), seed);
        }
        for i in 1..4 {
            let seeds: Vec<u64> = (0..64u64)
                .flat_map(|s| [s, s ^ UPSTREAM_SPREAD, s.wrapping_mul(i)])
                .collect();
            let mut drawn: Vec<u64> = seeds.iter().map(|&s| upstream_seed(s, i)).collect();
            let mut unique = seeds.clone();
            unique.sort_unstable();
            unique.dedup();
            drawn.sort_unstable();
            drawn.dedup();
            assert_eq!(drawn.len(), unique.len(), "upstream {i}");
            assert_ne!(upstream_seed(5, i), 5, "upstream {i}");
        }
    }

    /// A writer whose bytes a test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Loopback, any free port; a horizon no test should reach.
    const OPTIONS: Options = Options {
        addr: SocketAddr::V4(std::net::SocketAddrV4::new(
            std::net::Ipv4Addr::LOCALHOST,
            0,
        )),
        horizon: Duration::from_secs(10),
        seed: 1,
    };

    const CHAT_PATH: &str = "/v1/chat/completions";
    const CHAT: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    const CHAT_STREAM: &str =
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#;

    /// Each attempt's call, number and status (`None`: it succeeded).
    fn attempts(trace: &Trace) -> Vec<(u64, u32, Option<u16>)> {
        trace
            .records
            .iter()
            .filter_map(|r| match &r.kind {
                Kind::AttemptEnded { attempt, outcome } => Some((
                    r.call,
                    *attempt,
                    match outcome {
                        AttemptOutcome::Failed(Failure::Status { status, .. }) => Some(*status),
                        _ => None,
                    },
                )),
                _ => None,
            })
            .collect()
    }

    /// One HTTP/1.1 request to `addr` on a connection of its own: the
    /// answer's status and body.
    async fn request(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: sim\r\nuser-agent: test\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let status = answer[9..12].parse().unwrap();
        let body = answer.split_once("\r\n\r\n").unwrap().1.to_string();
        (status, body)
    }

    /// On loopback in real time (a few milliseconds): the same chat body
    /// four times against a plan of a 503, then a 429 asking 2 s, then
    /// success. The first three are one call's attempts (the same body
    /// while it has not succeeded), the fourth a new call, and a stream
    /// another, answered as an event stream; each answer is in the
    /// provider's own shape (the 503's error body shows it); the server's
    /// own paths answer and are never attempts; `done` stops the server,
    /// whose record, written and handed back, ends when it stopped.
    #[tokio::test]
    async fn a_served_run_records_each_attempt_and_stops_when_told() {
        use crate::faults::FaultPlan;
        let plan = FaultPlan {
            script: vec!["503".parse().unwrap(), "429:ra=2000".parse().unwrap()],
            ..FaultPlan::default()
        };
        let backend = Backend::with_upstreams(
            vec![Upstream::new(Faults::new(plan, 1), None)],
            Clock::Tokio(tokio::time::Instant::now()),
        );
        let written = Shared::default();
        let (bound, at) = tokio::sync::oneshot::channel();
        let served = serve_recording(
            backend,
            OPTIONS,
            |addr| bound.send(addr).unwrap(),
            Some(Box::new(written.clone())),
            std::future::pending(),
        );
        let client = async {
            let addr = at.await.unwrap();
            let mut answers = Vec::new();
            for _ in 0..4 {
                answers.push(request(addr, CHAT_PATH, CHAT).await);
            }
            let streamed = request(addr, CHAT_PATH, CHAT_STREAM).await;
            let ready = request(addr, READY_PATH, "").await;
            let other = request(addr, "/sim/other", "").await;
            let done = request(addr, DONE_PATH, "").await;
            (answers, streamed, ready, other, done)
        };
        let (trace, (answers, streamed, ready, other, done)) = tokio::join!(served, client);
        let trace = trace.unwrap();
        let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
        assert_eq!(statuses, [503, 429, 200, 200]);
        // In the provider's own shape, as a validating client expects.
        let shaped = crate::wire::shapes::error(crate::method::Method::Chat, 503);
        assert_eq!(answers[0].1.as_bytes(), &shaped[..]);
        assert_eq!(streamed.0, 200);
        assert!(
            streamed.1.contains("data: {") && streamed.1.contains("data: [DONE]"),
            "{}",
            streamed.1
        );
        assert_eq!(ready, (200, "ready".to_string()));
        assert_eq!(other.0, 404);
        assert_eq!(done, (200, "done".to_string()));
        assert_eq!(
            attempts(&trace),
            [
                (0, 0, Some(503)),
                (0, 1, Some(429)),
                (0, 2, None),
                (1, 0, None),
                (2, 0, None)
            ]
        );
        let asked = trace.records.iter().find_map(|r| match &r.kind {
            Kind::AttemptEnded {
                outcome: AttemptOutcome::Failed(Failure::Status { retry_after_ns, .. }),
                ..
            } => *retry_after_ns,
            _ => None,
        });
        assert_eq!(asked, Some(2_000_000_000));
        let seen = trace
            .records
            .iter()
            .filter(|r| matches!(r.kind, Kind::CallSeen { .. }))
            .count();
        assert_eq!(seen, 3);
        assert!(trace.end_ns > 0);
        let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        let read = Trace::from_json_lines(&text).unwrap();
        assert_eq!(read.records, trace.records);
        assert_eq!(read.end_ns, trace.end_ns);
        let end = format!("{{\"end_ns\":{}}}", trace.end_ns);
        assert_eq!(text.lines().last(), Some(end.as_str()));
    }

    /// [`serve`], recording nowhere, hands back the record when told done.
    #[tokio::test]
    async fn serve_hands_back_its_record_when_told_done() {
        let plan = crate::faults::FaultPlan::default();
        let backend = Backend::with_upstreams(
            vec![Upstream::new(Faults::new(plan, 1), None)],
            Clock::Tokio(tokio::time::Instant::now()),
        );
        let (bound, at) = tokio::sync::oneshot::channel();
        let served = serve(backend, OPTIONS, |addr| bound.send(addr).unwrap());
        let client = async {
            let addr = at.await.unwrap();
            request(addr, CHAT_PATH, CHAT).await;
            request(addr, DONE_PATH, "").await;
        };
        let (trace, ()) = tokio::join!(served, client);
        assert_eq!(attempts(&trace.unwrap()), [(0, 0, None)]);
    }

    #[test]
    fn reports_read_as_the_trace_writes_outcomes() {
        let ended: Report = serde_json::from_str(
            r#"{"event":"ended","client":1,"call":2,
                "outcome":{"result":"failed","error":"status","status":400}}"#,
        )
        .unwrap();
        let (client, call, kind) = ended.record();
        assert_eq!((client, call), (1, 2));
        let outcome = CallOutcome::Failed(Failure::Status {
            status: 400,
            retry_after_ns: None,
            should_retry: None,
        });
        assert_eq!(kind, Kind::CallEnded { outcome });
        let item: Report = serde_json::from_str(
            r#"{"event":"item","client":1,"call":2,"payload":"{\"id\":\"sim:1:2:0:3\"}"}"#,
        )
        .unwrap();
        let (_, _, kind) = item.record();
        let chunk = ChunkId::find("sim:1:2:0:3");
        assert_eq!(kind, Kind::ChunkReceived { chunk });
    }
}
