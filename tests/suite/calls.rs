//! Attempt counts, exact virtual timings, timeouts, deadlines, cancellation.

use crate::support::{Scripted, Step, ms, recorder, request};
use crabllm_core::{Error, Provider};
use provider_retry::{Jitter, RetryPolicy, Retrying};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// Exact timings: no jitter, so the schedule is 100, 200, 400 ms.
fn exact(inner: Scripted) -> Retrying<Scripted> {
    Retrying::new(inner).jitter(Jitter::None)
}

#[tokio::test(start_paused = true)]
async fn success_is_one_attempt_and_no_time() {
    let inner = Scripted::new([Step::Ok(Duration::ZERO)]);
    let start = Instant::now();
    exact(inner.clone())
        .chat_completion(&request())
        .await
        .unwrap();
    assert_eq!(inner.count(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn transient_errors_then_success_follow_the_schedule() {
    let inner = Scripted::new([Step::Status(503, None), Step::Network, Step::Ok(ms(5))]);
    let start = Instant::now();
    exact(inner.clone())
        .chat_completion(&request())
        .await
        .unwrap();
    assert_eq!(inner.call_times(start), [0, 100, 300]);
    assert_eq!(start.elapsed(), ms(305));
}

#[tokio::test(start_paused = true)]
async fn no_sleep_after_final_attempt() {
    let inner = Scripted::new([]).then_always(Step::Status(500, None));
    let start = Instant::now();
    let err = exact(inner.clone())
        .chat_completion(&request())
        .await
        .unwrap_err();
    assert_eq!(inner.count(), 3, "max_retries 2 means 3 attempts");
    assert_eq!(
        start.elapsed(),
        ms(300),
        "100 + 200, and no 400 after the last"
    );
    assert!(matches!(err, Error::Provider { status: 500, .. }));
}

#[tokio::test(start_paused = true)]
async fn non_transient_errors_get_one_attempt_and_pass_through() {
    for step in [
        Step::Status(400, None),
        Step::Status(422, None),
        Step::Decode,
    ] {
        let inner = Scripted::new([step.clone(), Step::Ok(Duration::ZERO)]);
        let err = exact(inner.clone())
            .chat_completion(&request())
            .await
            .unwrap_err();
        assert_eq!(inner.count(), 1, "{step:?}");
        assert!(!err.is_transient());
    }
    let inner = Scripted::new([Step::Status(401, None)]);
    match exact(inner).chat_completion(&request()).await {
        Err(Error::Provider {
            status,
            body,
            retry_after,
        }) => {
            assert_eq!(
                (status, body.as_str(), retry_after),
                (401, "scripted 401", None)
            );
        }
        other => panic!("error was re-wrapped: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn zero_retries_is_a_single_attempt() {
    let inner = Scripted::new([Step::Status(503, None), Step::Ok(Duration::ZERO)]);
    let start = Instant::now();
    exact(inner.clone())
        .max_retries(0)
        .chat_completion(&request())
        .await
        .unwrap_err();
    assert_eq!((inner.count(), start.elapsed()), (1, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn hung_attempt_times_out_and_is_retried() {
    let inner = Scripted::new([Step::Hang, Step::Ok(ms(1))]);
    let start = Instant::now();
    exact(inner.clone())
        .timeout(Duration::from_secs(2))
        .chat_completion(&request())
        .await
        .unwrap();
    assert_eq!(inner.call_times(start), [0, 2100]);
    assert!(
        inner.dropped.load(Ordering::SeqCst),
        "the hung attempt is dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn every_attempt_timing_out_returns_timeout() {
    let inner = Scripted::new([]).then_always(Step::Hang);
    let start = Instant::now();
    let err = exact(inner.clone())
        .chat_completion(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout));
    assert_eq!(start.elapsed(), Duration::from_secs(90) + ms(300));
}

#[tokio::test(start_paused = true)]
async fn zero_timeout_disables_it() {
    let inner = Scripted::new([Step::Ok(Duration::from_secs(3600))]);
    exact(inner.clone())
        .timeout(Duration::ZERO)
        .chat_completion(&request())
        .await
        .unwrap();
    assert_eq!(inner.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_exactly_without_jitter() {
    let inner = Scripted::new([Step::Status(429, Some(ms(7_250))), Step::Ok(Duration::ZERO)]);
    let start = Instant::now();
    Retrying::new(inner.clone())
        .jitter(Jitter::Full)
        .seed(3)
        .chat_completion(&request())
        .await
        .unwrap();
    assert_eq!(inner.call_times(start), [0, 7_250]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_above_the_cap_returns_at_once() {
    let inner = Scripted::new([
        Step::Status(429, Some(Duration::from_secs(61))),
        Step::Ok(Duration::ZERO),
    ]);
    let start = Instant::now();
    let err = exact(inner.clone())
        .chat_completion(&request())
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(61)));
    assert_eq!((inner.count(), start.elapsed()), (1, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn retry_deadline_refuses_a_wait_that_would_pass_it() {
    // Attempt 0 at 0 ms, wait 100 (ends at 100 <= 250), attempt 1 at 100,
    // next wait 200 would end at 300 > 250: give up at 100 ms.
    let inner = Scripted::new([]).then_always(Step::Status(503, None));
    let start = Instant::now();
    exact(inner.clone())
        .max_retries(10)
        .retry_deadline(Some(ms(250)))
        .chat_completion(&request())
        .await
        .unwrap_err();
    assert_eq!(inner.call_times(start), [0, 100]);
    assert_eq!(start.elapsed(), ms(100));
}

#[tokio::test(start_paused = true)]
async fn retry_deadline_allows_a_wait_ending_exactly_on_it() {
    let inner = Scripted::new([]).then_always(Step::Status(503, None));
    let start = Instant::now();
    exact(inner.clone())
        .max_retries(10)
        .retry_deadline(Some(ms(300)))
        .chat_completion(&request())
        .await
        .unwrap_err();
    assert_eq!(inner.call_times(start), [0, 100, 300]);
}

#[tokio::test(start_paused = true)]
async fn seeded_delays_are_the_policy_schedule() {
    let policy = RetryPolicy::new().jitter(Jitter::Full).max_retries(4);
    let inner = Scripted::new([]).then_always(Step::Status(502, None));
    let start = Instant::now();
    let (log, observer) = recorder(start);
    let wrapper = Retrying::with_policy(inner, policy)
        .seed(77)
        .observer(observer);
    wrapper.chat_completion(&request()).await.unwrap_err();
    let expected: Vec<String> = policy
        .schedule(77, 0)
        .take(4)
        .enumerate()
        .map(|(i, d)| format!("delay {i} {}ms Backoff", d.as_millis()))
        .collect();
    let delays: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest.to_string()))
        .filter(|l| l.starts_with("delay"))
        .collect();
    assert_eq!(delays, expected);
}

#[tokio::test(start_paused = true)]
async fn same_seed_same_timings_other_seed_other_timings() {
    async fn times(seed: u64) -> Vec<u128> {
        let inner = Scripted::new([]).then_always(Step::Status(503, None));
        let start = Instant::now();
        let w = Retrying::new(inner.clone())
            .jitter(Jitter::Full)
            .max_retries(5)
            .seed(seed);
        w.chat_completion(&request()).await.unwrap_err();
        inner.call_times(start)
    }
    assert_eq!(times(1).await, times(1).await);
    assert_ne!(times(1).await, times(2).await);
}

#[tokio::test(start_paused = true)]
async fn clones_draw_distinct_streams_from_one_seed() {
    let policy = RetryPolicy::new().jitter(Jitter::Full).max_retries(1);
    let start = Instant::now();
    let (log, observer) = recorder(start);
    let a = Retrying::with_policy(Scripted::new([]).then_always(Step::Network), policy)
        .seed(5)
        .observer(observer);
    let b = a.clone();
    a.chat_completion(&request()).await.unwrap_err();
    b.chat_completion(&request()).await.unwrap_err();
    let delays: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("delay"))
        .cloned()
        .collect();
    let first = policy.schedule(5, 0).next().unwrap().as_millis();
    let second = policy.schedule(5, 1).next().unwrap().as_millis();
    assert!(
        delays[0].ends_with(&format!("delay 0 {first}ms Backoff")),
        "{delays:?}"
    );
    assert!(
        delays[1].ends_with(&format!("delay 0 {second}ms Backoff")),
        "{delays:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn unseeded_wrappers_get_different_seeds() {
    let a = Retrying::new(Scripted::default());
    let b = Retrying::new(Scripted::default());
    // Two 64-bit draws from the OS collide with probability 2^-64.
    assert_ne!(a.get_seed(), b.get_seed());
}

#[tokio::test(start_paused = true)]
async fn dropping_mid_attempt_stops_the_attempt() {
    let inner = Scripted::new([Step::Hang]).then_always(Step::Ok(Duration::ZERO));
    let w = exact(inner.clone());
    let r = tokio::time::timeout(Duration::from_secs(1), w.chat_completion(&request())).await;
    assert!(r.is_err());
    assert!(inner.dropped.load(Ordering::SeqCst));
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(inner.count(), 1, "no attempt after the call was dropped");
}

#[tokio::test(start_paused = true)]
async fn dropping_mid_backoff_makes_no_further_attempt() {
    let inner = Scripted::new([]).then_always(Step::Status(503, None));
    let w = exact(inner.clone());
    // The first backoff runs from 0 to 100 ms; drop the call at 50 ms.
    let r = tokio::time::timeout(ms(50), w.chat_completion(&request())).await;
    assert!(r.is_err());
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(inner.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn absurd_settings_saturate_instead_of_panicking() {
    // Every duration at its maximum: the first backoff is u64::MAX ns, far
    // past anything this test waits for, and nothing panics on the way.
    let inner = Scripted::new([]).then_always(Step::Status(503, None));
    let w = Retrying::new(inner.clone())
        .max_retries(u32::MAX)
        .timeout(Duration::MAX)
        .initial_backoff(Duration::MAX)
        .max_backoff(Duration::MAX)
        .max_retry_after(Duration::MAX)
        .stream_idle(Duration::MAX)
        .retry_deadline(Some(Duration::MAX));
    let r = tokio::time::timeout(
        Duration::from_secs(365 * 24 * 3600),
        w.chat_completion(&request()),
    )
    .await;
    assert!(r.is_err(), "still backing off after a year");
    assert_eq!(inner.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn u32_max_retries_keeps_retrying() {
    // 1 ns backoffs (each a 1 ms tick on the paused clock) through 1,000 failures.
    let inner =
        Scripted::new((0..1000).map(|_| Step::Network)).then_always(Step::Ok(Duration::ZERO));
    Retrying::new(inner.clone())
        .max_retries(u32::MAX)
        .initial_backoff(Duration::from_nanos(1))
        .max_backoff(Duration::from_nanos(1))
        .chat_completion(&request())
        .await
        .unwrap();
    assert_eq!(inner.count(), 1001);
}

#[tokio::test(start_paused = true)]
async fn from_config_takes_retries_timeout_and_deadline() {
    let config = crabllm_core::ProviderConfig {
        max_retries: Some(1),
        timeout: Some(1),
        retry_deadline: Some(60),
        ..Default::default()
    };
    let inner = Scripted::new([]).then_always(Step::Hang);
    let start = Instant::now();
    let w = Retrying::from_config(inner.clone(), &config).jitter(Jitter::None);
    assert!(matches!(
        w.chat_completion(&request()).await,
        Err(Error::Timeout)
    ));
    assert_eq!(inner.call_times(start), [0, 1100]);
}

#[tokio::test(start_paused = true)]
async fn retry_deadline_none_lifts_the_config_deadline() {
    // Waits 100, 200, ... 12800 ms: attempt 7 starts at 12.7 s, and the
    // 12.8 s wait after it would pass from_config's 15 s deadline.
    let run = |lift: bool| async move {
        let inner = Scripted::new([]).then_always(Step::Status(503, None));
        let start = Instant::now();
        let w = Retrying::from_config(inner.clone(), &Default::default())
            .jitter(Jitter::None)
            .max_retries(8);
        let w = if lift { w.retry_deadline(None) } else { w };
        w.chat_completion(&request()).await.unwrap_err();
        inner.call_times(start)
    };
    let kept = run(false).await;
    assert_eq!(kept, [0, 100, 300, 700, 1500, 3100, 6300, 12700]);
    let lifted = run(true).await;
    assert_eq!(lifted, [0, 100, 300, 700, 1500, 3100, 6300, 12700, 25500]);
}

#[test]
fn retrying_is_clone_debug_send_sync() {
    fn check<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
    check::<Retrying<Scripted>>();
    let w = Retrying::new(Scripted::default()).seed(9);
    let text = format!("{w:?}");
    assert!(
        text.contains("seed: 9") && text.contains("max_retries: 2"),
        "{text}"
    );
}
