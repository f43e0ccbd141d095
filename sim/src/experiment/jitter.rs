//! The contention experiment: N clients each write once to one resource
//! under optimistic concurrency, retrying conflicts with each backoff kind.
//!
//! After the AWS Architecture Blog's "Exponential Backoff And Jitter" study:
//! a client reads the resource's version (one network hop), then writes with
//! it (another hop); the write lands only if no other write landed since the
//! read, else it is a conflict, answered as a transient error and retried.
//! Hops take N(10 ms, 2 ms), rounded to whole milliseconds (tokio's timer
//! resolution). Backoff base 5 ms, cap 2 s, retries unbounded, no timeout.
//! Measured per run: calls (attempts) until every client has written, and
//! the virtual time when the last one did; averaged over seeds.

use super::{ChatOnly, busy, paused};
use crate::report::charts::{LineChart, Scale, Series, lines};
use crate::seeds::{derive, stream, unit};
use crabllm_core::{ChatCompletionRequest, Provider};
use provider_retry::{Jitter, RetryPolicy, Retrying};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// The backoff strategies compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Retry at once.
    NoBackoff,
    /// `min(cap, base * 2^n)`, no jitter.
    Exponential,
    /// Uniform in `[b/2, b]` around the exponential base `b`.
    Equal,
    /// Uniform in `[0, b]`.
    Full,
    /// `min(cap, uniform[base, 3 x previous delay])`.
    Decorrelated,
}

impl Strategy {
    /// Every strategy, in the order the tables and charts list them.
    pub const ALL: [Strategy; 5] = [
        Strategy::NoBackoff,
        Strategy::Exponential,
        Strategy::Equal,
        Strategy::Full,
        Strategy::Decorrelated,
    ];

    /// The strategy's name in tables and chart legends.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::NoBackoff => "no backoff",
            Strategy::Exponential => "exponential",
            Strategy::Equal => "equal jitter",
            Strategy::Full => "full jitter",
            Strategy::Decorrelated => "decorrelated",
        }
    }

    /// The wrapper policy: base 5 ms, cap 2 s, retry until the write lands.
    pub fn policy(self) -> RetryPolicy {
        let (base, jitter) = match self {
            Strategy::NoBackoff => (Duration::ZERO, Jitter::None),
            Strategy::Exponential => (BASE, Jitter::None),
            Strategy::Equal => (BASE, Jitter::Equal),
            Strategy::Full => (BASE, Jitter::Full),
            Strategy::Decorrelated => (BASE, Jitter::Decorrelated),
        };
        RetryPolicy::new()
            .max_retries(u32::MAX)
            .timeout(Duration::ZERO)
            .initial_backoff(base)
            .max_backoff(CAP)
            .jitter(jitter)
    }
}

const BASE: Duration = Duration::from_millis(5);
const CAP: Duration = Duration::from_secs(2);

/// Which client counts and how many seeds per point.
#[derive(Debug, Clone)]
pub struct Config {
    /// The client counts to run, one point each.
    pub clients: Vec<u32>,
    /// Seeded runs averaged per point.
    pub runs: u64,
    /// The root seed every run's seed derives from.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            clients: vec![10, 25, 50, 75, 100, 150, 200],
            runs: 20,
            seed: crate::DEFAULT_SEED,
        }
    }
}

/// One strategy at one client count, averaged over the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The backoff strategy.
    pub strategy: Strategy,
    /// How many clients raced.
    pub clients: u32,
    /// Calls (attempts) until every client had written, averaged over runs.
    pub mean_calls: f64,
    /// Virtual milliseconds until the last client wrote, averaged over runs.
    pub mean_ms: f64,
    /// Half-widths of 95 % confidence intervals of the two means.
    pub ci_calls: f64,
    /// Half-width of the 95 % confidence interval of `mean_ms`.
    pub ci_ms: f64,
}

/// Calls and milliseconds of one run.
pub fn one_run(strategy: Strategy, clients: u32, seed: u64) -> std::io::Result<(u64, u64)> {
    Ok(paused()?.block_on(race(strategy, clients, seed)))
}

async fn race(strategy: Strategy, clients: u32, seed: u64) -> (u64, u64) {
    let version = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let writers = (0..clients).map(|c| {
        let hops = Arc::new(Mutex::new(stream(seed, "hops", u64::from(c))));
        let (version, calls) = (version.clone(), calls.clone());
        let resource = ChatOnly(move || {
            let (version, calls, hops) = (version.clone(), calls.clone(), hops.clone());
            async move {
                calls.fetch_add(1, Ordering::Relaxed);
                sleep(hop(&hops)).await;
                let seen = version.load(Ordering::Relaxed);
                sleep(hop(&hops)).await;
                version
                    .compare_exchange(seen, seen + 1, Ordering::Relaxed, Ordering::Relaxed)
                    .map(drop)
                    .map_err(|_| busy("write conflict"))
            }
        });
        let client = Retrying::with_policy(resource, strategy.policy()).seed(derive(
            seed,
            "client",
            u64::from(c),
        ));
        async move {
            // Unbounded retries: only a never-ending conflict could fail, and
            // then the run would not end at all.
            let _ = client
                .chat_completion(&ChatCompletionRequest::default())
                .await;
            start.elapsed()
        }
    });
    let done = futures::future::join_all(writers).await;
    let last = done.into_iter().max().unwrap_or_default();
    (calls.load(Ordering::Relaxed), last.as_millis() as u64)
}

/// One network hop: N(10, 2) ms by Box-Muller, at least 1 ms.
fn hop(rng: &Mutex<ChaCha8Rng>) -> Duration {
    let mut rng = rng.lock().unwrap_or_else(|e| e.into_inner());
    let (u1, u2) = (1.0 - unit(&mut *rng), unit(&mut *rng));
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    Duration::from_millis((10.0 + 2.0 * z).round().max(1.0) as u64)
}

/// Every strategy at every client count of `config`.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn run(config: &Config, mut progress: impl FnMut()) -> std::io::Result<Vec<Point>> {
    let mut points = Vec::new();
    for &clients in &config.clients {
        for strategy in Strategy::ALL {
            let mut runs = Vec::with_capacity(config.runs as usize);
            for r in 0..config.runs {
                let (c, t) = one_run(strategy, clients, derive(config.seed, "run", r))?;
                runs.push((c as f64, t as f64));
                progress();
            }
            let (mean_calls, ci_calls) = mean_ci(runs.iter().map(|r| r.0));
            let (mean_ms, ci_ms) = mean_ci(runs.iter().map(|r| r.1));
            points.push(Point {
                strategy,
                clients,
                mean_calls,
                mean_ms,
                ci_calls,
                ci_ms,
            });
        }
    }
    Ok(points)
}

/// The mean of `values` and the half-width of its 95 % confidence interval:
/// 1.96 standard errors (the normal approximation; with 20 runs Student's
/// t would widen it by 7 %). No interval from fewer than two runs.
fn mean_ci(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count() as f64;
    let mean = values.clone().sum::<f64>() / n.max(1.0);
    if n < 2.0 {
        return (mean, 0.0);
    }
    let variance = values.map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, 1.96 * (variance / n).sqrt())
}

/// The mean for `strategy` at `clients`, if measured.
pub fn at(points: &[Point], strategy: Strategy, clients: u32) -> Option<&Point> {
    points
        .iter()
        .find(|p| p.strategy == strategy && p.clients == clients)
}

/// A table: one row per client count, calls and time per strategy.
pub fn table(points: &[Point]) -> String {
    let mut out = String::from("clients");
    for s in Strategy::ALL {
        let _ = write!(out, " | {} calls | {} ms", s.name(), s.name());
    }
    out.push('\n');
    let mut clients: Vec<u32> = points.iter().map(|p| p.clients).collect();
    clients.dedup();
    for c in clients {
        let _ = write!(out, "{c}");
        for s in Strategy::ALL {
            match at(points, s, c) {
                Some(p) => {
                    let _ = write!(out, " | {:.0} | {:.0}", p.mean_calls, p.mean_ms);
                }
                None => out.push_str(" | - | -"),
            }
        }
        out.push('\n');
    }
    out
}

/// Two charts, calls and completion time against clients, one line per
/// strategy with its 95 % confidence band, on log scales: exponential's
/// times are two orders of magnitude above the others'.
pub fn svg(points: &[Point]) -> (String, String) {
    let series = |mean: fn(&Point) -> f64, ci: fn(&Point) -> f64| -> Vec<Series> {
        Strategy::ALL
            .iter()
            .map(|&s| {
                let mine = points.iter().filter(|p| p.strategy == s);
                Series {
                    name: s.name().into(),
                    points: mine
                        .clone()
                        .map(|p| (f64::from(p.clients), mean(p)))
                        .collect(),
                    band: mine
                        .map(|p| (f64::from(p.clients), mean(p) - ci(p), mean(p) + ci(p)))
                        .collect(),
                }
            })
            .collect()
    };
    let chart = |title: &str, y_label: &str, series: Vec<Series>| {
        lines(&LineChart {
            title: title.into(),
            x_label: "clients".into(),
            y_label: y_label.into(),
            y_scale: Scale::Log,
            note: Some(
                "Means over seeded runs; shaded: 95 % confidence interval of the mean. Log scale."
                    .into(),
            ),
            series,
            spans: Vec::new(),
        })
    };
    (
        chart(
            "Calls until every client has written",
            "calls (log scale)",
            series(|p| p.mean_calls, |p| p.ci_calls),
        ),
        chart(
            "Time until every client has written",
            "virtual time, ms (log scale)",
            series(|p| p.mean_ms, |p| p.ci_ms),
        ),
    )
}
