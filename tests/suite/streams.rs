//! Stream opens are retried; open streams are never retried, only idle-bounded.

use crate::support::{End, Scripted, Step, ms, recorder, request};
use crabllm_core::{Error, Provider};
use futures::StreamExt;
use provider_retry::policy::{DEFAULT_FIRST_CHUNK, DEFAULT_STREAM_IDLE};
use provider_retry::{Jitter, Retrying};
use std::time::Duration;
use tokio::time::Instant;

fn ids(items: &[Result<crabllm_core::ChatCompletionChunk, Error>]) -> Vec<String> {
    items
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|c| c.id.clone()))
        .collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

async fn collect<P: Provider>(
    w: &Retrying<P>,
) -> Vec<Result<crabllm_core::ChatCompletionChunk, Error>> {
    let s = w.chat_completion_stream(&request()).await;
    s.unwrap().collect().await
}

#[tokio::test(start_paused = true)]
async fn a_failed_open_is_retried_then_every_chunk_arrives_once() {
    let inner = Scripted::new([
        Step::Status(503, None),
        Step::Stream(vec![ms(10); 4], End::Done),
    ]);
    let start = Instant::now();
    let w = Retrying::new(inner.clone()).jitter(Jitter::None);
    let items: Vec<_> = w
        .chat_completion_stream(&request())
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(ids(&items), ["0", "1", "2", "3"]);
    assert_eq!(items.len(), 4);
    assert_eq!(inner.call_times(start), [0, 100]);
}

#[tokio::test(start_paused = true)]
async fn a_mid_stream_error_ends_the_stream_and_is_not_retried() {
    let inner = Scripted::new([Step::Stream(vec![ms(1), ms(1)], End::Fail)])
        .then_always(Step::Stream(vec![ms(1)], End::Done));
    let w = Retrying::new(inner.clone());
    let items: Vec<_> = w
        .chat_completion_stream(&request())
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(ids(&items), ["0", "1"]);
    assert!(matches!(items.last(), Some(Err(Error::Network(_)))));
    assert_eq!(
        inner.count(),
        1,
        "nothing re-opened after chunks were delivered"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_stream_ends_with_timeout_after_the_idle_bound() {
    let inner = Scripted::new([Step::Stream(vec![ms(5), ms(5)], End::Stall)]);
    let start = Instant::now();
    let w = Retrying::new(inner.clone()).stream_idle(Duration::from_secs(2));
    let items: Vec<_> = w
        .chat_completion_stream(&request())
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(ids(&items), ["0", "1"]);
    assert!(matches!(items.last(), Some(Err(Error::Timeout))));
    assert_eq!(start.elapsed(), ms(10) + Duration::from_secs(2));
    assert_eq!(inner.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn zero_idle_bound_lets_long_gaps_after_the_first_item_through() {
    let inner = Scripted::new([Step::Stream(vec![ms(1), secs(600)], End::Done)]);
    let w = Retrying::new(inner).stream_idle(Duration::ZERO);
    let items = collect(&w).await;
    assert_eq!(ids(&items), ["0", "1"]);
}

#[tokio::test(start_paused = true)]
async fn zero_first_chunk_bound_lets_a_long_first_silence_through() {
    let inner = Scripted::new([Step::Stream(vec![secs(3600), ms(1)], End::Done)]);
    let w = Retrying::new(inner).first_chunk(Duration::ZERO);
    let items = collect(&w).await;
    assert_eq!(ids(&items), ["0", "1"]);
}

#[tokio::test(start_paused = true)]
async fn a_silent_reasoning_model_succeeds_under_the_defaults() {
    // 120 s before the first token (the long end of what reasoning models
    // are reported to take), then a fast stream: past the 90 s idle bound,
    // within the 300 s first-chunk bound.
    let inner = Scripted::new([Step::Stream(
        vec![secs(120), ms(10), ms(10), ms(10)],
        End::Done,
    )]);
    let start = Instant::now();
    let w = Retrying::new(inner.clone());
    let items = collect(&w).await;
    assert_eq!(ids(&items), ["0", "1", "2", "3"]);
    assert_eq!(items.len(), 4);
    assert_eq!(start.elapsed(), secs(120) + ms(30));
    assert_eq!(inner.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stall_after_the_first_item_ends_exactly_at_stream_idle() {
    let inner = Scripted::new([Step::Stream(vec![secs(120)], End::Stall)]);
    let start = Instant::now();
    let (log, observer) = recorder(start);
    let w = Retrying::new(inner.clone()).observer(observer);
    let items = collect(&w).await;
    assert_eq!(ids(&items), ["0"]);
    assert!(matches!(items.last(), Some(Err(Error::Timeout))));
    assert_eq!(start.elapsed(), secs(120) + DEFAULT_STREAM_IDLE);
    assert_eq!(inner.count(), 1);
    assert_eq!(
        log.lock().unwrap().last().unwrap(),
        "210000 stream timed out stream_idle 90000ms"
    );
}

#[tokio::test(start_paused = true)]
async fn a_first_item_later_than_first_chunk_ends_exactly_at_first_chunk() {
    let inner = Scripted::new([Step::Stream(vec![secs(400), ms(1)], End::Done)]);
    let start = Instant::now();
    let (log, observer) = recorder(start);
    let w = Retrying::new(inner.clone()).observer(observer);
    let items = collect(&w).await;
    assert_eq!(items.len(), 1);
    assert!(matches!(items[0], Err(Error::Timeout)));
    assert_eq!(start.elapsed(), DEFAULT_FIRST_CHUNK);
    assert_eq!(inner.count(), 1, "an open stream is never retried");
    assert_eq!(
        *log.lock().unwrap(),
        [
            "0 start 0",
            "0 end 0 ok",
            "300000 stream timed out first_chunk 300000ms"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn raw_byte_streams_get_both_bounds() {
    let raw = |inner: &Scripted| {
        let w = Retrying::new(inner.clone());
        async move {
            let s = w.anthropic_messages_stream_raw(bytes::Bytes::new()).await;
            s.unwrap().collect::<Vec<_>>().await
        }
    };
    // Silent reasoning then a stall: the first bytes at 120 s pass, the
    // stall ends at 120 s + stream_idle.
    let start = Instant::now();
    let inner = Scripted::new([Step::Stream(vec![secs(120)], End::Stall)]);
    let items = raw(&inner).await;
    assert_eq!(items[0].as_ref().unwrap().as_ref(), b"0");
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(err.to_string(), "stream idle timeout");
    assert_eq!(start.elapsed(), secs(120) + DEFAULT_STREAM_IDLE);
    // No first bytes within first_chunk.
    let start = Instant::now();
    let inner = Scripted::new([Step::Stream(vec![secs(400)], End::Done)]);
    let items = raw(&inner).await;
    let err = items[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(err.to_string(), "stream first chunk timeout");
    assert_eq!(items.len(), 1);
    assert_eq!(start.elapsed(), DEFAULT_FIRST_CHUNK);
}

#[tokio::test(start_paused = true)]
async fn passthrough_streams_get_both_bounds() {
    let inner = Scripted::new([Step::Stream(vec![secs(400)], End::Done)]);
    let start = Instant::now();
    let w = Retrying::new(inner).first_chunk(secs(10));
    let body: crabllm_core::ByteStream = Box::pin(futures::stream::empty());
    let s = w.chat_completion_stream_passthrough("m", body).await;
    let items: Vec<_> = s.unwrap().collect().await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_ref().unwrap_err().kind(),
        std::io::ErrorKind::TimedOut
    );
    assert_eq!(start.elapsed(), secs(10));
}

#[tokio::test(start_paused = true)]
async fn the_attempt_timeout_covers_only_the_open() {
    // Five 20 s gaps: the stream lives 100 s, past the 30 s attempt timeout,
    // but no gap reaches the 90 s idle bound.
    let inner = Scripted::new([Step::Stream(vec![Duration::from_secs(20); 5], End::Done)]);
    let w = Retrying::new(inner);
    let items: Vec<_> = w
        .chat_completion_stream(&request())
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(Result::is_ok));
}

#[tokio::test(start_paused = true)]
async fn raw_stream_opens_are_retried_and_idle_bounded() {
    let inner = Scripted::new([Step::Network, Step::Stream(vec![ms(1)], End::Stall)]);
    let w = Retrying::new(inner.clone()).stream_idle(Duration::from_secs(1));
    let items: Vec<_> = w
        .chat_completion_stream_raw("m", bytes::Bytes::new())
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap().as_ref(), b"0");
    assert_eq!(
        items[1].as_ref().unwrap_err().kind(),
        std::io::ErrorKind::TimedOut
    );
    assert_eq!(inner.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn passthrough_open_is_timed_but_never_retried() {
    let inner = Scripted::new([Step::Hang, Step::Stream(vec![], End::Done)]);
    let w = Retrying::new(inner.clone()).timeout(Duration::from_secs(1));
    let body: crabllm_core::ByteStream = Box::pin(futures::stream::empty());
    let err = w
        .chat_completion_stream_passthrough("m", body)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::Timeout));
    assert_eq!(inner.count(), 1);
}
