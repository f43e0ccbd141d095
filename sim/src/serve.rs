//! `retry-sim serve`: the fault backend as a real HTTP server, in real
//! time, for clients nobody here wrote.
//!
//! Every request but `/sim/*` goes to the network world's
//! [`Server`](crate::world::net::server::Server), which answers by the
//! scenario's fault plan (its milliseconds are real ones). This module
//! records each of those requests as an attempt of the call its headers
//! or its body's tag name ([`address`]), numbered per call in arrival
//! order across upstreams: started when it arrives, ended when its answer
//! (a stream's headers) is ready, or dropped if the client hangs up first.
//! A path under `/upstream/<i>/` is answered by the scenario's
//! `[[fallback]]` plan `i` (`[faults]` is upstream 0), so a gateway's
//! deployments can each have their own. The client
//! tells the rest on [`CALL_PATH`] (a [`Report`] per POST): when each call
//! started and ended, and each item it received. So every record is stamped
//! on one clock, the server's.
//!
//! [`READY_PATH`] answers 200, for a client to wait on.
//!
//! The server listens on loopback only. It stops at the horizon or when a
//! client POSTs [`DONE_PATH`], and hands back the record (a [`Trace`]),
//! written as JSON lines ending with when it stopped
//! ([`Trace::to_json_lines_with_end`]).

use crate::backend::{Backend, Clock, Upstream};
use crate::faults::Faults;
use crate::method::Method;
use crate::trace::{AttemptOutcome, CallOutcome, ChunkId, Failure, Kind, Trace};
use crate::wire::{address, retry_after};
use crate::world::net::server::{Body, Server};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::collections::BTreeMap;
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
        client: u32,
        call: u64,
        method: Method,
    },
    /// The caller received an item (a unary response is one) whose text
    /// holds `payload` (`sim:<client>:<call>:<stream>:<index>`), if any.
    Item {
        client: u32,
        call: u64,
        payload: Option<String>,
    },
    /// The caller's handed-over stream failed after its items.
    StreamFailed {
        client: u32,
        call: u64,
        timeout: bool,
    },
    /// The call ended: `{"result": "ok"}`, or `{"result": "failed",
    /// "error": "status", "status": 400}` (or `network`, `timeout`,
    /// `decode`, `other`), as the trace writes a [`CallOutcome`].
    Ended {
        client: u32,
        call: u64,
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
    let addr = loopback_only(options.addr)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{addr}: cannot listen: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let wire = Wire {
        server: Server::new(backend.clone(), SystemTime::now),
        backend: backend.clone(),
        attempts: Arc::default(),
        done: Arc::new(Notify::new()),
    };
    ready(bound);
    let done = wire.done.clone();
    let accept = async {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(wire.clone().connection(stream));
        }
    };
    tokio::select! {
        () = accept => {}
        () = done.notified() => {}
        () = tokio::time::sleep(options.horizon) => {}
    }
    let end_ns = u64::try_from(backend.now().as_nanos()).unwrap_or(u64::MAX);
    backend.cut();
    let records = backend.take_trace();
    Ok(Trace { records, end_ns })
}

/// `retry-sim serve`: serve `scenario`'s plan with `options` in real time,
/// then write the record to `record` (stdout if `None`). The address is
/// announced on stderr as `listening on ADDR` once bound.
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let trace = runtime.block_on(async {
        serve(backend(scenario, options.seed), options, |addr| {
            let _ = writeln!(std::io::stderr(), "listening on {addr}");
        })
        .await
    })?;
    let lines = trace.to_json_lines_with_end();
    match record {
        Some(path) => std::fs::write(path, lines)
            .map_err(|e| format!("{}: cannot write the record: {e}", path.display()))?,
        None => std::io::stdout()
            .write_all(lines.as_bytes())
            .map_err(|e| format!("cannot write the record to stdout: {e}"))?,
    }
    // A caller that stopped reading stderr after the address is no error.
    let _ = writeln!(
        std::io::stderr(),
        "served {} records over {:.3} s",
        trace.records.len(),
        trace.end_ns as f64 / 1e9
    );
    Ok(true)
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
            // A fixed odd multiplier spreads the upstreams' seeds apart.
            let seed = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            Upstream::new(Faults::new(plan.clone(), seed), plan.capacity)
        })
        .collect();
    Backend::with_upstreams(upstreams, Clock::Tokio(tokio::time::Instant::now()))
}

/// The server's state: the plan's server, the backend it records on, each
/// call's next attempt number, and the done signal.
#[derive(Clone)]
struct Wire {
    server: Server,
    backend: Arc<Backend>,
    attempts: Arc<Mutex<BTreeMap<(u32, u64), u32>>>,
    done: Arc<Notify>,
}

impl Wire {
    async fn connection(self, stream: tokio::net::TcpStream) {
        // Nagle would hold small SSE events back; the plan's gaps are the point.
        let _ = stream.set_nodelay(true);
        let service = hyper::service::service_fn(move |req| {
            let wire = self.clone();
            async move { wire.handle(req).await }
        });
        // A connection ends with an error whenever the plan drops it: expected.
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    }

    async fn handle(&self, req: Request<Incoming>) -> Result<Response<Body>, io::Error> {
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

    /// One attempt, recorded around the plan's answer.
    async fn attempt(&self, req: Request<Incoming>) -> Result<Response<Body>, io::Error> {
        let (head, body) = req.into_parts();
        let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
        let at = address::of(head.uri.path(), &head.headers, &body);
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
            let next = attempts.entry((at.client, at.call)).or_insert(0);
            *next = next.saturating_add(1);
            *next - 1
        };
        let record = self
            .backend
            .start_attempt(at.client, at.call, attempt, at.upstream, None);
        let answer = self.server.answer(&head, &body, at).await;
        record.end(match &answer {
            Ok(r) if r.status().is_success() => AttemptOutcome::Ok,
            Ok(r) => AttemptOutcome::Failed(Failure::Status {
                status: r.status().as_u16(),
                // What the client will read from the header, in any form.
                retry_after_ns: retry_after::parse(r.headers(), SystemTime::now())
                    .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
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
