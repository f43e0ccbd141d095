//! Each defect the guide lists for a peer (`docs/wrapper.md`), shown with
//! the library alone: no simulator code, the library's own API, a paused
//! tokio clock. A failure here means the library no longer behaves as the
//! guide says.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

/// When each attempt of a retried operation started, from the first.
#[derive(Default)]
struct Starts {
    at: Mutex<Vec<Instant>>,
}

impl Starts {
    /// Record an attempt's start; return how many came before it.
    fn record(&self) -> usize {
        let mut at = self.at.lock().unwrap();
        at.push(Instant::now());
        at.len() - 1
    }

    /// The waits between consecutive attempts.
    fn gaps(&self) -> Vec<Duration> {
        let at = self.at.lock().unwrap();
        at.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

fn replay(test: &str) -> String {
    format!("replay: cargo test -p provider-retry-sim --test suite peers::{test}")
}

/// backon 1.6: `with_max_delay` does not bound the first delay. With a
/// minimum above the maximum the first wait is the minimum, the later
/// ones the maximum (`ExponentialBackoff::next` clamps only a grown
/// delay).
#[tokio::test(start_paused = true)]
async fn backon_max_delay_does_not_bound_the_first_delay() {
    use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
    let builder = ExponentialBuilder::new()
        .with_min_delay(2 * S)
        .with_max_delay(S)
        .with_max_times(2);
    let delays: Vec<Duration> = builder.build().collect();
    assert_eq!(
        delays,
        [2 * S, S],
        "{}",
        replay("backon_max_delay_does_not_bound_the_first_delay")
    );
    let starts = Starts::default();
    let result = (|| async {
        starts.record();
        Err::<(), _>("unavailable")
    })
    .retry(builder)
    .await;
    assert_eq!(result, Err("unavailable"));
    assert_eq!(
        starts.gaps(),
        [2 * S, S],
        "{}",
        replay("backon_max_delay_does_not_bound_the_first_delay")
    );
}

/// A failure that asks to be retried after a while, as an HTTP 429 does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RateLimited {
    retry_after: Option<Duration>,
}

/// backon 1.6: `Retry::adjust`'s documented example for Retry-After
/// (`Some(retry_after)` when the error carries one, else the proposed
/// `dur`) replaces the `None` that means the backoff is exhausted, so
/// `with_max_times(2)` does not stop an operation whose failures all
/// carry a Retry-After: here it makes 11 attempts.
#[tokio::test(start_paused = true)]
async fn backon_adjust_example_retries_past_max_times() {
    use backon::{ExponentialBuilder, Retryable};
    let starts = Starts::default();
    let result = (|| async {
        match starts.record() {
            n if n < 10 => Err(RateLimited {
                retry_after: Some(50 * MS),
            }),
            n => Ok(n),
        }
    })
    .retry(ExponentialBuilder::new().with_max_times(2))
    .adjust(|e: &RateLimited, dur| match e.retry_after {
        Some(retry_after) => Some(retry_after),
        None => dur,
    })
    .await;
    assert_eq!(
        result,
        Ok(10),
        "{}",
        replay("backon_adjust_example_retries_past_max_times")
    );
    assert_eq!(starts.gaps(), [50 * MS; 10]);
}

/// tokio-retry2 0.9: `RetryError::retry_after(err, d)` does not wait `d`.
/// `RetryIf::poll` hands `d` to the notifier only, and `retry` sleeps the
/// strategy's next delay (100 ms here, not the 10 s asked for).
#[tokio::test(start_paused = true)]
async fn tokio_retry2_sleeps_the_strategy_not_the_retry_after() {
    use tokio_retry2::strategy::FixedInterval;
    use tokio_retry2::{Retry, RetryError};
    let starts = Starts::default();
    let result = Retry::spawn(FixedInterval::from_millis(100).take(3), || async {
        match starts.record() {
            0 => Err(RetryError::retry_after("429 Too Many Requests", 10 * S)),
            _ => Ok(()),
        }
    })
    .await;
    assert_eq!(result, Ok(()));
    assert_eq!(
        starts.gaps(),
        [100 * MS],
        "{}",
        replay("tokio_retry2_sleeps_the_strategy_not_the_retry_after")
    );
}

/// tower 0.5: `ExponentialBackoff`'s jitter (documented "uniform ... on
/// `[0, base*self.jitter]`") multiplies the whole seconds and the
/// nanoseconds of the base separately and truncates each: a 1 s base gets
/// no jitter at all and a 2 s base only 0 s or 1 s, whatever the RNG.
#[tokio::test(start_paused = true)]
async fn tower_jitter_drops_fractions_of_whole_seconds() {
    use tower::retry::backoff::{Backoff, ExponentialBackoffMaker, MakeBackoff};
    use tower::util::rng::HasherRng;
    let mut firsts = std::collections::BTreeSet::new();
    let mut seconds = std::collections::BTreeSet::new();
    for _ in 0..64 {
        // A fresh RandomState-keyed RNG each time: 64 independent draws.
        let mut maker = ExponentialBackoffMaker::new(S, 60 * S, 1.0, HasherRng::default()).unwrap();
        let mut backoff = maker.make_backoff();
        for waits in [&mut firsts, &mut seconds] {
            let start = Instant::now();
            backoff.next_backoff().await;
            waits.insert(start.elapsed());
        }
    }
    let test = "tower_jitter_drops_fractions_of_whole_seconds";
    assert_eq!(firsts, [S].into(), "{}", replay(test));
    assert!(
        seconds.iter().all(|w| [2 * S, 3 * S].contains(w)),
        "{seconds:?}\n{}",
        replay(test)
    );
}

/// tower 0.5: `ExponentialBackoffMaker::make_backoff` clones its RNG, and
/// `Retry` clones its policy (with the backoff in it) for every request:
/// every request retried through one service draws the same jitter, so
/// clients sharing it back off in lockstep.
#[tokio::test(start_paused = true)]
async fn tower_backoffs_from_one_maker_draw_the_same_jitter() {
    use tower::retry::backoff::{Backoff, ExponentialBackoffMaker, MakeBackoff};
    use tower::util::rng::HasherRng;
    let mut maker =
        ExponentialBackoffMaker::new(100 * MS, 60 * S, 1.0, HasherRng::default()).unwrap();
    let mut sessions = Vec::new();
    for _ in 0..8 {
        let mut backoff = maker.make_backoff();
        let mut waits = Vec::new();
        for _ in 0..4 {
            let start = Instant::now();
            backoff.next_backoff().await;
            waits.push(start.elapsed());
        }
        sessions.push(waits);
    }
    let test = "tower_backoffs_from_one_maker_draw_the_same_jitter";
    // The waits do vary within a session (so the RNG does draw)...
    assert!(
        sessions[0]
            .iter()
            .enumerate()
            .any(|(n, w)| *w != 100 * MS * (1 << n)),
        "{sessions:?}\n{}",
        replay(test)
    );
    // ...but every session draws the same ones.
    assert!(
        sessions.iter().all(|s| *s == sessions[0]),
        "{sessions:?}\n{}",
        replay(test)
    );
}

/// backon 1.6: `with_total_delay` bounds the sum of the sleeps, not the
/// time since the first attempt: with attempts of 10 s each a 1 s total
/// still allows every retry (so it is no retry deadline).
#[tokio::test(start_paused = true)]
async fn backon_total_delay_counts_sleeps_only() {
    use backon::{ExponentialBuilder, Retryable};
    let starts = Starts::default();
    let first = Instant::now();
    let _ = (|| async {
        starts.record();
        tokio::time::sleep(10 * S).await;
        Err::<(), _>("unavailable")
    })
    .retry(
        ExponentialBuilder::new()
            .with_min_delay(100 * MS)
            .with_max_times(3)
            .with_total_delay(Some(S)),
    )
    .await;
    assert_eq!(
        starts.gaps().len(),
        3,
        "{}",
        replay("backon_total_delay_counts_sleeps_only")
    );
    assert!(first.elapsed() > 30 * S);
}

/// tokio-retry2 0.9: `MaxInterval::max_duration` measures
/// `std::time::Instant`, not tokio's clock: under a paused clock advanced
/// a minute past a 50 ms limit, the strategy still yields delays.
#[tokio::test(start_paused = true)]
async fn tokio_retry2_max_duration_reads_the_wall_clock() {
    use tokio_retry2::strategy::{FixedInterval, MaxInterval};
    let mut strategy = FixedInterval::from_millis(10).max_duration(50 * MS);
    tokio::time::advance(60 * S).await;
    assert_eq!(
        strategy.next(),
        Some(10 * MS),
        "{}",
        replay("tokio_retry2_max_duration_reads_the_wall_clock")
    );
}
