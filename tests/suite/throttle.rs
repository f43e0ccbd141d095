//! A shared throttle: pauses from another call's Retry-After, spread
//! wake-ups, the retry deadline, and the learned send rate.

use crate::support::{Scripted, Step, ms, recorder, request};
use crabllm_core::{Error, Provider};
use futures::future::join_all;
use provider_retry::throttle::HELD_BACK;
use provider_retry::{Jitter, RetryBudget, Retrying, Throttle};
use std::time::Duration;
use tokio::time::{Instant, sleep};

fn ok() -> Scripted {
    Scripted::new([]).then_always(Step::Ok(Duration::ZERO))
}

/// One wrapper of a provider that shares `throttle`, jitter off.
fn wrap(inner: &Scripted, throttle: &Throttle, seed: u64) -> Retrying<Scripted> {
    Retrying::new(inner.clone())
        .jitter(Jitter::None)
        .seed(seed)
        .throttle(throttle.clone())
}

/// Pauses only, held attempts waiting for free: times are the pause's alone.
fn pauses_only() -> Throttle {
    Throttle::new().adaptive(false).answer_held(false)
}

/// The adaptive send rate on, held attempts waiting for their turn.
fn rate_on() -> Throttle {
    Throttle::new().adaptive(true).answer_held(false)
}

/// A call that is told to wait 2 s at once, then succeeds.
fn told_to_wait(secs: u64) -> Scripted {
    Scripted::new([Step::Status(429, Some(Duration::from_secs(secs)))])
        .then_always(Step::Ok(Duration::ZERO))
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_from_one_call_pauses_the_others() {
    let req = &request();
    let throttle = pauses_only();
    let (a, b) = (told_to_wait(2), ok());
    let start = Instant::now();
    let first = wrap(&a, &throttle, 1);
    let second = wrap(&b, &throttle, 1);
    let (ra, rb) = tokio::join!(first.chat_completion(req), async {
        sleep(ms(500)).await;
        second.chat_completion(req).await
    });
    assert!(ra.is_ok() && rb.is_ok());
    assert_eq!(
        a.call_times(start),
        [0, 2_000],
        "the told call waits exactly"
    );
    let b_at = b.call_times(start);
    assert_eq!(
        b_at.len(),
        1,
        "the paused call spent no attempt to learn it"
    );
    assert!(
        (2_000..=3_000).contains(&b_at[0]),
        "the other call waited out the pause (plus at most the 1 s spread): {b_at:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn paused_calls_wake_spread_over_the_spread_not_at_once() {
    let req = &request();
    let throttle = pauses_only();
    let start = Instant::now();
    let told = told_to_wait(2);
    let others: Vec<Scripted> = (0..20).map(|_| ok()).collect();
    let first = wrap(&told, &throttle, 3);
    let calls = others.iter().map(|inner| {
        let w = wrap(inner, &throttle, 3);
        async move {
            sleep(ms(100)).await;
            w.chat_completion(req).await.is_ok()
        }
    });
    let (_, oks) = tokio::join!(first.chat_completion(req), join_all(calls));
    assert!(oks.iter().all(|ok| *ok));
    let mut at: Vec<u128> = others.iter().map(|s| s.call_times(start)[0]).collect();
    at.sort_unstable();
    // 20 offsets uniform over 1,000 ms: a wrapper that wakes them together
    // puts them in one instant. Under this seed they fall in at least 15
    // distinct milliseconds over more than half the spread; any uniform
    // draw misses that with a probability far below one in a thousand.
    assert!(at.iter().all(|t| (2_000..=3_000).contains(t)), "{at:?}");
    let mut distinct = at.clone();
    distinct.dedup();
    assert!(distinct.len() >= 15, "wake-ups bunched: {at:?}");
    assert!(at[19] - at[0] >= 500, "wake-ups not spread: {at:?}");
}

#[tokio::test(start_paused = true)]
async fn wake_ups_are_the_same_under_the_same_seed() {
    async fn run(seed: u64) -> Vec<u128> {
        let req = &request();
        let throttle = pauses_only();
        let start = Instant::now();
        let told = told_to_wait(1);
        let others: Vec<Scripted> = (0..5).map(|_| ok()).collect();
        let first = wrap(&told, &throttle, seed);
        let calls = others.iter().map(|inner| {
            let w = wrap(inner, &throttle, seed);
            async move { w.chat_completion(req).await.is_ok() }
        });
        let _ = tokio::join!(first.chat_completion(req), async {
            sleep(ms(10)).await;
            join_all(calls).await
        });
        others.iter().map(|s| s.call_times(start)[0]).collect()
    }
    let once = run(9).await;
    assert_eq!(once, run(9).await);
    assert_ne!(once, run(10).await, "another seed draws other offsets");
}

#[tokio::test(start_paused = true)]
async fn a_pause_past_the_deadline_is_refused_before_the_first_attempt() {
    let req = &request();
    let throttle = pauses_only();
    let (a, b) = (told_to_wait(5), ok());
    let deadline = Some(Duration::from_secs(3));
    let first = wrap(&a, &throttle, 1).retry_deadline(deadline);
    let second = wrap(&b, &throttle, 1).retry_deadline(deadline);
    let start = Instant::now();
    let told = first.chat_completion(req).await;
    assert!(told.is_err(), "5 s would pass the 3 s deadline");
    sleep(ms(100)).await;
    let (log, observer) = recorder(Instant::now());
    let held = second.observer(observer).chat_completion(req).await;
    assert_eq!(start.elapsed(), ms(100), "refused at once, no wait begun");
    assert_eq!(b.count(), 0, "no attempt made");
    match held {
        Err(Error::Provider {
            status: 429,
            body,
            retry_after: Some(wait),
        }) => {
            assert_eq!(body, HELD_BACK);
            assert!(wait >= ms(4_900), "the refused wait: {wait:?}");
        }
        other => panic!("expected the held-back 429, got {other:?}"),
    }
    assert_eq!(*log.lock().unwrap(), ["0 gave up 0 deadline"]);
}

#[tokio::test(start_paused = true)]
async fn a_retry_held_past_the_deadline_returns_its_error_and_refunds_its_tokens() {
    let req = &request();
    let throttle = pauses_only();
    let budget = RetryBudget::new().capacity(50);
    let told = told_to_wait(5);
    let failing = Scripted::new([Step::Status(500, None)]).then_always(Step::Ok(Duration::ZERO));
    let second = wrap(&failing, &throttle, 1)
        .retry_deadline(Some(Duration::from_secs(3)))
        .initial_backoff(ms(100))
        .budget(budget.clone());
    let first = wrap(&told, &throttle, 1).max_retries(0);
    let start = Instant::now();
    // The 500 comes at 0 ms and its retry waits 100 ms; the 429 asking
    // for 5 s comes at 50 ms, so the retry finds 4.95 s of pause left.
    let (result, _) = tokio::join!(second.chat_completion(req), async {
        sleep(ms(50)).await;
        first.chat_completion(req).await
    });
    assert!(
        matches!(result, Err(Error::Provider { status: 500, .. })),
        "the last real error: {result:?}"
    );
    assert_eq!(
        start.elapsed(),
        ms(100),
        "after the backoff, no pause begun"
    );
    assert_eq!(failing.count(), 1);
    assert_eq!(
        budget.get_tokens(),
        50,
        "the held-back retry's tokens came back"
    );
}

#[tokio::test(start_paused = true)]
async fn no_throttle_wait_ends_past_the_deadline_and_some_fit() {
    let req = &request();
    // The pause has 2.5 s left when each call arrives; with a 1 s spread
    // and a 3 s deadline, a wait fits exactly when its offset is at most
    // 0.5 s: about half the seeds wait, half are refused. Whichever, no
    // attempt may start past the deadline.
    let (mut waited, mut refused) = (0, 0);
    for seed in 0..40 {
        let throttle = pauses_only();
        let _ = wrap(&told_to_wait(3), &throttle, seed)
            .max_retries(0)
            .chat_completion(req)
            .await;
        sleep(ms(500)).await;
        let inner = ok();
        let start = Instant::now();
        let result = wrap(&inner, &throttle, seed)
            .retry_deadline(Some(Duration::from_secs(3)))
            .chat_completion(req)
            .await;
        match inner.call_times(start).as_slice() {
            [at] => {
                assert!(*at <= 3_000, "seed {seed}: attempt at {at} ms");
                assert!(result.is_ok());
                waited += 1;
            }
            [] => {
                assert_eq!(start.elapsed(), Duration::ZERO, "seed {seed}");
                refused += 1;
            }
            more => panic!("seed {seed}: {more:?}"),
        }
    }
    assert!(
        waited >= 5 && refused >= 5,
        "{waited} waited, {refused} refused"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pause_longer_than_max_retry_after_is_refused_like_one() {
    let req = &request();
    let throttle = pauses_only();
    let _ = wrap(&told_to_wait(30), &throttle, 1)
        .max_retries(0)
        .chat_completion(req)
        .await;
    let inner = ok();
    let (log, observer) = recorder(Instant::now());
    let held = wrap(&inner, &throttle, 1)
        .max_retry_after(Duration::from_secs(10))
        .observer(observer)
        .chat_completion(req)
        .await;
    assert!(held.is_err());
    assert_eq!(inner.count(), 0);
    assert_eq!(*log.lock().unwrap(), ["0 gave up 0 retry_after_too_long"]);
}

#[tokio::test(start_paused = true)]
async fn a_throttle_wait_is_outside_the_attempt_timeout_and_is_observed() {
    let req = &request();
    let throttle = pauses_only().spread(Duration::ZERO);
    let _ = wrap(&told_to_wait(2), &throttle, 1)
        .max_retries(0)
        .chat_completion(req)
        .await;
    let slow = Scripted::new([Step::Ok(ms(500))]);
    let (log, observer) = recorder(Instant::now());
    let result = wrap(&slow, &throttle, 1)
        .timeout(Duration::from_secs(1))
        .observer(observer)
        .chat_completion(req)
        .await;
    assert!(
        result.is_ok(),
        "2 s paused + 0.5 s answer within a 1 s timeout"
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "0 throttled 0 2000ms paused",
            "2000 start 0",
            "2500 end 0 ok"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_responses_set_a_rate_that_spaces_attempts_and_recovers() {
    let req = &request();
    let throttle = rate_on();
    let inner = Scripted::new([Step::Status(429, None)]).then_always(Step::Ok(Duration::ZERO));
    // A rate wait is no Retry-After: max_retry_after does not bound it.
    let w = wrap(&inner, &throttle, 1)
        .max_retries(0)
        .max_retry_after(Duration::from_secs(1));
    let start = Instant::now();
    assert!(w.chat_completion(req).await.is_err());
    // One attempt in the first second: measured 1/s, cut to 0.7/s.
    assert_eq!(throttle.get_rate(), Some(0.7));
    let calls = (0..3).map(|_| w.chat_completion(req));
    assert!(join_all(calls).await.iter().all(Result::is_ok));
    // An empty bucket at 0.7/s: tokens at 1/0.7 s, 2/0.7 s, 3/0.7 s.
    assert_eq!(inner.call_times(start), [0, 1_429, 2_858, 4_286]);
    // The curve passed twice the cut rate (1/s) at about 2.27 s after the
    // cut: the success at 2.86 s turned the rate off.
    assert_eq!(throttle.get_rate(), None);
    let later = Instant::now();
    w.chat_completion(req).await.unwrap();
    assert_eq!(later.elapsed(), Duration::ZERO, "no limit left");
}

#[tokio::test(start_paused = true)]
async fn a_rate_wait_past_the_deadline_is_refused() {
    let req = &request();
    let throttle = rate_on();
    let told = Scripted::new([Step::Status(429, None)]);
    let _ = wrap(&told, &throttle, 1)
        .max_retries(0)
        .chat_completion(req)
        .await;
    let inner = ok();
    let start = Instant::now();
    let held = wrap(&inner, &throttle, 1)
        .retry_deadline(Some(Duration::from_secs(1)))
        .chat_completion(req)
        .await;
    // The first token comes 1/0.7 s = 1.43 s after the cut: past 1 s.
    assert!(
        matches!(held, Err(Error::Provider { status: 429, .. })),
        "{held:?}"
    );
    assert_eq!((inner.count(), start.elapsed()), (0, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn a_pause_of_exactly_max_retry_after_is_waited() {
    let req = &request();
    let throttle = pauses_only().spread(Duration::ZERO);
    let _ = wrap(&told_to_wait(10), &throttle, 1)
        .max_retries(0)
        .chat_completion(req)
        .await;
    let inner = ok();
    let start = Instant::now();
    let result = wrap(&inner, &throttle, 1)
        .max_retry_after(Duration::from_secs(10))
        .chat_completion(req)
        .await;
    assert!(result.is_ok());
    assert_eq!(inner.call_times(start), [10_000]);
}

#[tokio::test(start_paused = true)]
async fn one_cut_answers_every_attempt_in_flight() {
    let req = &request();
    let throttle = rate_on();
    let inners: Vec<Scripted> = (0..5)
        .map(|_| Scripted::new([]).then_always(Step::StatusAfter(ms(100), 429)))
        .collect();
    let calls = inners
        .iter()
        .map(|inner| wrap(inner, &throttle, 1).max_retries(0));
    let calls: Vec<_> = calls.collect();
    join_all(calls.iter().map(|w| w.chat_completion(req))).await;
    // Five attempts in flight when the first 429 arrives, in the first
    // second: 5/s, cut once to 3.5/s (five cuts would leave 0.84/s).
    assert_eq!(throttle.get_rate(), Some(3.5));
}

#[tokio::test(start_paused = true)]
async fn an_outage_503_without_retry_after_sets_no_rate() {
    let req = &request();
    let throttle = rate_on();
    let inner = Scripted::new([]).then_always(Step::Status(503, None));
    let _ = wrap(&inner, &throttle, 1).chat_completion(req).await;
    assert_eq!(throttle.get_rate(), None);
    assert_eq!(throttle.get_paused_until(), None);
    let told = Scripted::new([]).then_always(Step::Status(503, Some(ms(300))));
    let _ = wrap(&told, &throttle, 1)
        .max_retries(0)
        .chat_completion(req)
        .await;
    assert!(
        throttle.get_rate().is_some(),
        "503 with Retry-After throttles"
    );
    assert_eq!(throttle.get_paused_until(), Some(Instant::now() + ms(300)));
}

#[tokio::test(start_paused = true)]
async fn clones_and_wrappers_share_one_throttle() {
    let throttle = pauses_only();
    let w = wrap(&ok(), &throttle, 1);
    let clone = w.clone();
    assert!(
        clone
            .get_throttle()
            .is_some_and(|t| t.shares_with(&throttle))
    );
    assert!(!throttle.shares_with(&throttle.spread(ms(5))));
    assert!(Retrying::new(ok()).get_throttle().is_none());
}

/// Pauses only, held attempts answered in the provider's stead, no spread:
/// times are the pause's alone.
fn answering() -> Throttle {
    Throttle::new().answer_held(true).spread(Duration::ZERO)
}

#[tokio::test(start_paused = true)]
async fn an_answered_hold_spends_an_attempt_and_sends_nothing() {
    let req = &request();
    let throttle = answering();
    let _ = wrap(&told_to_wait(2), &throttle, 1)
        .max_retries(0)
        .chat_completion(req)
        .await;
    sleep(ms(500)).await;
    let inner = ok();
    let start = Instant::now();
    let (log, observer) = recorder(start);
    let result = wrap(&inner, &throttle, 1)
        .observer(observer)
        .chat_completion(req)
        .await;
    assert!(result.is_ok());
    // Held at once, answered with the 1.5 s left: retry 1 reaches the provider.
    assert_eq!(inner.call_times(start), [1_500]);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "0 throttled 0 1500ms paused",
            "1500 start 1",
            "1500 end 1 ok"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_every_attempt_is_held_fails_with_the_held_answer_at_once() {
    let req = &request();
    let throttle = answering();
    let _ = wrap(&told_to_wait(2), &throttle, 1)
        .max_retries(0)
        .chat_completion(req)
        .await;
    let inner = ok();
    let start = Instant::now();
    let held = wrap(&inner, &throttle, 1)
        .max_retries(0)
        .chat_completion(req)
        .await;
    assert_eq!((inner.count(), start.elapsed()), (0, Duration::ZERO));
    match held {
        Err(Error::Provider {
            status: 429,
            body,
            retry_after,
        }) => assert_eq!((body.as_str(), retry_after), (HELD_BACK, Some(ms(2_000)))),
        other => panic!("expected the held-back 429, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_held_last_retry_returns_the_last_real_error_and_its_tokens() {
    let req = &request();
    let throttle = answering();
    let budget = RetryBudget::new().capacity(50);
    // This call's 500 comes at 0 ms; its retry, 100 ms later, finds the
    // pause another call's 429 set at 50 ms and is answered: its last.
    let failing = Scripted::new([Step::Status(500, None)]).then_always(Step::Ok(Duration::ZERO));
    let second = wrap(&failing, &throttle, 1)
        .max_retries(1)
        .initial_backoff(ms(100))
        .budget(budget.clone());
    let first = wrap(&told_to_wait(5), &throttle, 1).max_retries(0);
    let start = Instant::now();
    let (result, _) = tokio::join!(second.chat_completion(req), async {
        sleep(ms(50)).await;
        first.chat_completion(req).await
    });
    assert!(
        matches!(result, Err(Error::Provider { status: 500, .. })),
        "the last real error: {result:?}"
    );
    assert_eq!((failing.count(), start.elapsed()), (1, ms(100)));
    assert_eq!(
        budget.get_tokens(),
        50,
        "the unsent retry's tokens came back"
    );
}

#[tokio::test(start_paused = true)]
async fn an_answered_hold_costs_no_budget_and_its_wait_counts_against_the_deadline() {
    let req = &request();
    let throttle = answering();
    // An empty budget refuses every retry it is asked to pay for.
    let budget = RetryBudget::new().capacity(0);
    let _ = wrap(&told_to_wait(2), &throttle, 1)
        .max_retries(0)
        .chat_completion(req)
        .await;
    let inner = ok();
    let result = wrap(&inner, &throttle, 1)
        .budget(budget)
        .chat_completion(req)
        .await;
    assert!(result.is_ok(), "the retry after a hold is not asked to pay");
    assert_eq!(inner.count(), 1);
    let _ = wrap(&told_to_wait(2), &throttle, 1)
        .max_retries(0)
        .chat_completion(req)
        .await;
    let late = ok();
    let start = Instant::now();
    let refused = wrap(&late, &throttle, 1)
        .retry_deadline(Some(Duration::from_secs(1)))
        .chat_completion(req)
        .await;
    assert!(refused.is_err(), "a 2 s wait passes the 1 s deadline");
    assert_eq!((late.count(), start.elapsed()), (0, Duration::ZERO));
}
