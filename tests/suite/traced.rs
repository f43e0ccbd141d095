//! The same steps the observer sees go to `tracing` at debug level, under
//! the target `provider_retry`, with the call's fields.
//!
//! A small subscriber written here records each event as one line,
//! `message field=value ...`. It is the process's global subscriber, so
//! no callsite's interest can be decided without it (a thread-local
//! default raced other test threads' callsites and sometimes heard
//! nothing); it writes each event into the sink of the thread that emits
//! it, and each test runs on tokio's current-thread runtime, so a test
//! sees only its own events.

use crate::support::{End, Scripted, Step, ms, request};
use crabllm_core::Provider;
use futures::StreamExt;
use provider_retry::Retrying;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// Records provider-retry's debug events as lines, into the emitting
/// thread's sink, if it has one.
struct Lines;

thread_local! {
    static SINK: std::cell::RefCell<Option<Arc<Mutex<Vec<String>>>>> = const { std::cell::RefCell::new(None) };
}

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.0.insert_str(0, &format!("{value:?}")),
            name => self.0.push_str(&format!(" {name}={value:?}")),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
}

impl Subscriber for Lines {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Decided per event: only a capturing thread has a sink.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "provider_retry" && *metadata.level() == Level::DEBUG
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line(String::new());
        event.record(&mut line);
        SINK.with(|sink| {
            if let Some(lines) = sink.borrow().as_ref() {
                lines.lock().unwrap().push(line.0);
            }
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Capture this thread's provider-retry events until the guard drops.
fn capture() -> (Arc<Mutex<Vec<String>>>, Capturing) {
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        tracing::subscriber::set_global_default(Lines).expect("no other global subscriber");
    });
    let lines = Arc::new(Mutex::new(Vec::new()));
    SINK.with(|sink| *sink.borrow_mut() = Some(lines.clone()));
    (lines, Capturing)
}

/// Ends this thread's capture when dropped.
struct Capturing;

impl Drop for Capturing {
    fn drop(&mut self) {
        SINK.with(|sink| *sink.borrow_mut() = None);
    }
}

#[tokio::test(start_paused = true)]
async fn a_retried_call_is_traced_step_by_step() {
    let (lines, _guard) = capture();
    let inner = Scripted::new([
        Step::Status(503, None),
        Step::Status(429, Some(ms(1500))),
        Step::Ok(Duration::ZERO),
    ]);
    let w = Retrying::new(inner).jitter(provider_retry::Jitter::None);
    w.chat_completion(&request()).await.unwrap();
    let at = |attempt: u32| format!("method=chat_completion call=0 attempt={attempt}");
    assert_eq!(
        *lines.lock().unwrap(),
        [
            format!("attempt started {}", at(0)),
            format!(
                "attempt failed {} error=provider error (HTTP 503): scripted 503 transient=true",
                at(0)
            ),
            format!("backing off {} delay_ms=100 reason=Backoff", at(0)),
            format!("attempt started {}", at(1)),
            format!(
                "attempt failed {} error=provider error (HTTP 429): scripted 429 transient=true",
                at(1)
            ),
            format!("backing off {} delay_ms=1500 reason=RetryAfter", at(1)),
            format!("attempt started {}", at(2)),
            format!("attempt ok {}", at(2)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn give_ups_and_timeouts_are_traced_with_their_reason() {
    let (lines, _guard) = capture();
    let inner = Scripted::new([Step::Hang, Step::Decode]);
    let w = Retrying::new(inner).timeout(Duration::from_secs(1));
    w.chat_completion(&request()).await.unwrap_err();
    let lines = lines.lock().unwrap();
    assert_eq!(
        lines[1],
        "attempt timed out method=chat_completion call=0 attempt=0"
    );
    assert!(
        lines[4].contains("transient=false"),
        "a decode error is not transient: {lines:?}"
    );
    assert_eq!(
        lines.last().unwrap(),
        "gave up method=chat_completion call=0 attempt=1 reason=not_transient"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stream_ended_by_its_bound_is_traced_with_the_bound() {
    let (lines, _guard) = capture();
    let inner = Scripted::new([Step::Stream(vec![ms(10)], End::Stall)]);
    let w = Retrying::new(inner).stream_idle(Duration::from_secs(2));
    let stream = w.chat_completion_stream(&request()).await.unwrap();
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 2, "one item, then the timeout");
    assert_eq!(
        lines.lock().unwrap().last().unwrap(),
        "stream timed out method=chat_completion_stream call=0 bound=stream_idle limit_ms=2000"
    );
}
