//! The observer sees every step, in order, with virtual times.

use crate::support::{Scripted, Step, ms, recorder, request};
use crabllm_core::Provider;
use provider_retry::{Jitter, RetryBudget, Retrying};
use std::time::Duration;
use tokio::time::Instant;

async fn log_of(
    inner: Scripted,
    configure: impl FnOnce(Retrying<Scripted>) -> Retrying<Scripted>,
) -> Vec<String> {
    let start = Instant::now();
    let (log, observer) = recorder(start);
    let w = configure(Retrying::new(inner).jitter(Jitter::None).observer(observer));
    let _ = w.chat_completion(&request()).await;
    log.lock().unwrap().clone()
}

type Configure = fn(Retrying<Scripted>) -> Retrying<Scripted>;

#[tokio::test(start_paused = true)]
async fn events_of_a_retried_call_in_order() {
    let inner = Scripted::new([
        Step::Status(503, None),
        Step::Status(429, Some(ms(1500))),
        Step::Ok(ms(20)),
    ]);
    let log = log_of(inner, |w| w).await;
    assert_eq!(
        log,
        [
            "0 start 0",
            "0 end 0 error 503",
            "0 delay 0 100ms Backoff",
            "100 start 1",
            "100 end 1 error 429",
            "100 delay 1 1500ms RetryAfter",
            "1600 start 2",
            "1620 end 2 ok",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn each_give_up_reason_is_reported() {
    let cases: [(Scripted, Configure, &str); 5] = [
        (
            Scripted::new([Step::Decode]),
            |w| w,
            "0 gave up 0 not_transient",
        ),
        (
            Scripted::new([Step::Network]),
            |w| w.max_retries(0),
            "0 gave up 0 exhausted",
        ),
        (
            Scripted::new([Step::Status(429, Some(Duration::from_secs(120)))]),
            |w| w,
            "0 gave up 0 retry_after_too_long",
        ),
        (
            Scripted::new([Step::Network]),
            |w| w.retry_deadline(Some(ms(50))),
            "0 gave up 0 deadline",
        ),
        (
            Scripted::new([Step::Network]),
            |w| w.budget(RetryBudget::new().capacity(4)),
            "0 gave up 0 budget",
        ),
    ];
    for (inner, configure, last) in cases {
        let log = log_of(inner, configure).await;
        assert_eq!(log.last().map(String::as_str), Some(last), "{log:?}");
        assert!(!log.iter().any(|l| l.contains("delay")), "{log:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_reported_as_timed_out() {
    let inner = Scripted::new([Step::Hang, Step::Ok(Duration::ZERO)]);
    let log = log_of(inner, |w| w.timeout(Duration::from_secs(1))).await;
    assert_eq!(log[1], "1000 end 0 timed out");
    assert_eq!(log.last().unwrap(), "1100 end 1 ok");
}

#[tokio::test(start_paused = true)]
async fn observed_calls_are_numbered_per_wrapper_family() {
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = calls.clone();
    let w = Retrying::new(Scripted::new([]).then_always(Step::Ok(Duration::ZERO))).observer(
        move |e: &provider_retry::Event<'_>| {
            if let provider_retry::Event::AttemptStarted { call, .. } = e {
                sink.lock().unwrap().push(*call);
            }
        },
    );
    let clone = w.clone();
    w.chat_completion(&request()).await.unwrap();
    clone.chat_completion(&request()).await.unwrap();
    w.chat_completion(&request()).await.unwrap();
    assert_eq!(*calls.lock().unwrap(), [0, 1, 2]);
}
