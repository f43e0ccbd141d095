//! The limit experiment: N callers share one provider's rate limit, and
//! what each retry configuration does to it while the limit holds and
//! after it lifts.
//!
//! The provider accepts at most `rate` attempts in each fixed one-second
//! window of virtual time (windows start at 0 s, 1 s, ...); an accepted
//! attempt is answered after `service_ms`, an attempt over the limit at
//! once with a 429 whose Retry-After is the time to the window's end
//! rounded up to whole seconds, as providers state it (so always 1 s).
//! Rejected attempts do not count against the window. The limit holds for
//! `limit_ms`, then lifts: every attempt is accepted after that.
//!
//! Each of N callers makes calls back to back for `limit_ms + after_ms`,
//! thinking between calls for a time drawn uniformly from `[0, 2 think_ms]`
//! after a success or a failure alike, so the offered load is
//! `N / (service_ms + think_ms)` calls per second. Every arm runs on the
//! same seeded world (start offsets, think times); each caller has its own
//! wrapper, seeded from the world's seed, and the arms with a budget or a
//! throttle share one among all callers.
//!
//! Per run: the 429s sent during the limit per call that succeeded during
//! it; goodput, the calls that succeeded during the limit per second of
//! it; the 50th and 99th percentile latency of the successful calls begun
//! during the limit; the share of calls that failed; and the recovery
//! time: the smallest `t`, on a 100 ms grid from the lift, such that the
//! calls succeeding in `[lift + t, lift + t + 1 s)` reach 90 % of the
//! offered load, or none if no such window fits before the run ends.
//! Points average those over the seeds (recovery over the seeds that
//! recovered, with the count that did not).

use super::{ChatOnly, paused};
use crate::report::bars::{BarChart, Group, bars};
use crate::report::charts::Scale;
use crate::report::html::{escape, image, page};
use crate::run::summary::percentile;
use crate::scenario::PolicySpec;
use crate::seeds::{derive, stream, unit};
use crate::subject::peers::RetryLib;
use crate::subject::peers::reference::{ReferenceLib, Shape};
use crabllm_core::{ChatCompletionRequest, Error, Provider};
use provider_retry::{RetryBudget, RetryPolicy, Retrying, Throttle};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{Instant, sleep, sleep_until};

/// The grid, in ms, on which the recovery window is slid.
const RECOVERY_STEP_MS: u64 = 100;

/// The retry configurations compared, by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Arm {
    /// The bare provider: every call makes one attempt.
    NoRetries,
    /// provider-retry's default `Retrying`.
    Retries,
    /// The default `Retrying`, paying for retries from one shared default `RetryBudget`.
    RetriesBudget,
    /// The default `Retrying`, every caller's wrapper sharing one `Throttle`
    /// that answers held attempts in the provider's stead.
    RetriesThrottle,
    /// The default `Retrying` sharing one default `Throttle`: the pauses
    /// alone, held attempts waiting for free.
    RetriesPause,
    /// The default `Retrying` sharing one `Throttle` with the adaptive send
    /// rate on and held attempts waiting (the throttle's first defaults).
    RetriesAdaptive,
    /// The default `Retrying` with both the shared budget and the shared
    /// answering throttle.
    RetriesBoth,
    /// `crabllm_core::Retrying` 0.0.25 with its defaults (its jitter is not seedable).
    Crabllm,
    /// An SDK-like loop: openai-python's defaults (2 retries, backoff from
    /// 0.5 s doubling to 8 s, jitter `[0.75 b, b]`, Retry-After up to 60 s
    /// honoured per call).
    Sdk,
}

impl Arm {
    /// Every arm, in the order the tables and charts list them.
    pub const ALL: [Arm; 9] = [
        Arm::NoRetries,
        Arm::Retries,
        Arm::RetriesBudget,
        Arm::RetriesThrottle,
        Arm::RetriesPause,
        Arm::RetriesAdaptive,
        Arm::RetriesBoth,
        Arm::Crabllm,
        Arm::Sdk,
    ];

    /// The arms whose every random choice the seed fixes (all but crabllm's).
    pub const SEEDED: [Arm; 8] = [
        Arm::NoRetries,
        Arm::Retries,
        Arm::RetriesBudget,
        Arm::RetriesThrottle,
        Arm::RetriesPause,
        Arm::RetriesAdaptive,
        Arm::RetriesBoth,
        Arm::Sdk,
    ];

    /// The arm's name in tables and chart legends.
    pub fn name(self) -> &'static str {
        match self {
            Arm::NoRetries => "no retries",
            Arm::Retries => "provider-retry",
            Arm::RetriesBudget => "provider-retry + budget",
            Arm::RetriesThrottle => "provider-retry + throttle (answered)",
            Arm::RetriesPause => "provider-retry + throttle (pause only)",
            Arm::RetriesAdaptive => "provider-retry + throttle (adaptive rate)",
            Arm::RetriesBoth => "provider-retry + budget + throttle (answered)",
            Arm::Crabllm => "crabllm-core 0.0.25",
            Arm::Sdk => "SDK-like (openai-python)",
        }
    }
}

/// The world's sizes and what to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Attempts the provider accepts per one-second window while limited.
    pub rate: u32,
    /// How long an accepted attempt takes.
    pub service_ms: u64,
    /// Mean think time between a caller's calls.
    pub think_ms: u64,
    /// How long the limit holds, from the start.
    pub limit_ms: u64,
    /// How long the run goes on after the limit lifts.
    pub after_ms: u64,
    /// Caller counts.
    pub callers: Vec<u32>,
    /// The arms to run.
    pub arms: Vec<Arm>,
    /// Seeded worlds per point.
    pub seeds: u64,
    /// The root seed every world derives its seed from.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rate: 20,
            service_ms: 200,
            think_ms: 50,
            limit_ms: 10_000,
            after_ms: 10_000,
            callers: vec![10, 100, 1000],
            arms: Arm::ALL.to_vec(),
            seeds: 20,
            seed: crate::DEFAULT_SEED,
        }
    }
}

impl Config {
    /// Calls per second `callers` offer when no call waits.
    pub fn offered_per_s(&self, callers: u32) -> f64 {
        f64::from(callers) * 1000.0 / (self.service_ms + self.think_ms).max(1) as f64
    }
}

/// One arm with one caller count in one seeded world.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// 429s the provider sent during the limit.
    pub rejected: u64,
    /// Calls that succeeded during the limit.
    pub succeeded: u64,
    /// Calls made in the whole run.
    pub calls: u64,
    /// Of those, calls that failed.
    pub failed: u64,
    /// Median latency, ms, of the successful calls begun during the limit.
    pub p50_ms: f64,
    /// 99th percentile of the same.
    pub p99_ms: f64,
    /// Ms from the lift until goodput reaches 90 % of the offered load.
    pub recovery_ms: Option<u64>,
}

/// One arm with one caller count, averaged over the seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The retry configuration.
    pub arm: Arm,
    /// How many callers shared the limit.
    pub callers: u32,
    /// 429s sent during the limit per call that succeeded during it.
    pub rejected_per_success: f64,
    /// Successful calls per second during the limit.
    pub goodput: f64,
    /// Mean over seeds of the median latency, ms.
    pub p50_ms: f64,
    /// Mean over seeds of the 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Failed calls per call.
    pub failed_share: f64,
    /// Mean recovery over the seeds that recovered, ms.
    pub recovery_ms: Option<f64>,
    /// Seeds that did not recover before the run ended.
    pub never_recovered: u64,
}

/// One seeded world with `callers` callers under `arm`.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn one_run(config: &Config, arm: Arm, callers: u32, seed: u64) -> std::io::Result<Run> {
    Ok(paused()?.block_on(world(config, arm, callers, seed)))
}

/// The rate-limited provider's state, shared by every caller.
#[derive(Debug, Default)]
struct Limiter {
    window: u64,
    accepted: u32,
    rejected: u64,
}

impl Limiter {
    /// Admit an attempt at `now_ms`, or say how long until the window ends.
    fn admit(&mut self, now_ms: u64, config: &Config) -> Result<(), Duration> {
        if now_ms >= config.limit_ms {
            return Ok(());
        }
        let window = now_ms / 1000;
        if window != self.window {
            (self.window, self.accepted) = (window, 0);
        }
        if self.accepted < config.rate {
            self.accepted += 1;
            return Ok(());
        }
        self.rejected += 1;
        let to_end_ms = (window + 1) * 1000 - now_ms;
        Err(Duration::from_secs(to_end_ms.div_ceil(1000)))
    }
}

/// A call through one caller's wrapper, whatever the arm.
enum Client<P: Provider> {
    Bare(P),
    Ours(Retrying<P>),
    Crabllm(crabllm_core::Retrying<P>),
    Sdk(ReferenceLib, P),
}

impl<P: Provider + Clone> Client<P> {
    fn new(arm: Arm, provider: P, seed: u64, budget: &RetryBudget, throttle: &Throttle) -> Self {
        let ours = || Retrying::with_policy(provider.clone(), RetryPolicy::new()).seed(seed);
        match arm {
            Arm::NoRetries => Client::Bare(provider),
            Arm::Retries => Client::Ours(ours()),
            Arm::RetriesBudget => Client::Ours(ours().budget(budget.clone())),
            Arm::RetriesThrottle => Client::Ours(ours().throttle(throttle.clone())),
            Arm::RetriesPause | Arm::RetriesAdaptive => {
                Client::Ours(ours().throttle(throttle.clone()))
            }
            Arm::RetriesBoth => {
                Client::Ours(ours().budget(budget.clone()).throttle(throttle.clone()))
            }
            Arm::Crabllm => Client::Crabllm(crabllm_core::Retrying::new(provider)),
            Arm::Sdk => Client::Sdk(
                ReferenceLib::new(Shape::OpenAi, &sdk_policy(), seed),
                provider,
            ),
        }
    }

    async fn call(&self) -> bool {
        let request = ChatCompletionRequest::default();
        match self {
            Client::Bare(p) => p.chat_completion(&request).await.is_ok(),
            Client::Ours(p) => p.chat_completion(&request).await.is_ok(),
            Client::Crabllm(p) => p.chat_completion(&request).await.is_ok(),
            Client::Sdk(lib, p) => lib.retry(|| p.chat_completion(&request)).await.is_ok(),
        }
    }
}

/// openai-python's retry defaults: 2 retries, 0.5 s doubling to 8 s, a
/// 600 s timeout, Retry-After honoured up to 60 s.
fn sdk_policy() -> PolicySpec {
    PolicySpec {
        max_retries: 2,
        timeout: Duration::from_secs(600),
        initial_backoff: Duration::from_millis(500),
        max_backoff: Duration::from_secs(8),
        max_retry_after: Duration::from_secs(60),
        ..PolicySpec::default()
    }
}

/// A finished call: when it began and ended, in ms from the start.
struct Call {
    began: u64,
    ended: u64,
    ok: bool,
}

async fn world(config: &Config, arm: Arm, callers: u32, seed: u64) -> Run {
    let start = Instant::now();
    let end_ms = config.limit_ms.saturating_add(config.after_ms);
    let limiter = Arc::new(Mutex::new(Limiter::default()));
    let throttle = match arm {
        Arm::RetriesPause => Throttle::new(),
        Arm::RetriesAdaptive => Throttle::new().adaptive(true),
        _ => Throttle::new().answer_held(true),
    };
    let budget = RetryBudget::new();
    let service = Duration::from_millis(config.service_ms);
    let ms = move || start.elapsed().as_millis() as u64;
    let loops = (0..callers).map(|i| {
        let shared = limiter.clone();
        let cfg = config.clone();
        let provider = ChatOnly(move || {
            let verdict = shared.lock().map_or(Ok(()), |mut l| l.admit(ms(), &cfg));
            async move {
                match verdict {
                    Ok(()) => {
                        sleep(service).await;
                        Ok(())
                    }
                    Err(wait) => Err(Error::Provider {
                        status: 429,
                        body: "rate limit reached".into(),
                        retry_after: Some(wait),
                    }),
                }
            }
        });
        let client = Client::new(
            arm,
            provider,
            derive(seed, "client", u64::from(i)),
            &budget,
            &throttle,
        );
        let mut think = stream(seed, "think", u64::from(i));
        let think_ms = config.think_ms as f64;
        async move {
            let mut calls = Vec::new();
            sleep_until(
                start + Duration::from_secs_f64(unit(&mut think) * 2.0 * think_ms / 1000.0),
            )
            .await;
            while ms() < end_ms {
                let began = ms();
                let ok = client.call().await;
                calls.push(Call {
                    began,
                    ended: ms(),
                    ok,
                });
                sleep(Duration::from_secs_f64(
                    unit(&mut think) * 2.0 * think_ms / 1000.0,
                ))
                .await;
            }
            calls
        }
    });
    let calls: Vec<Call> = futures::future::join_all(loops)
        .await
        .into_iter()
        .flatten()
        .collect();
    let rejected = limiter.lock().map_or(0, |l| l.rejected);
    summarise(config, callers, rejected, &calls)
}

fn summarise(config: &Config, callers: u32, rejected: u64, calls: &[Call]) -> Run {
    let limit = config.limit_ms;
    let mut latencies: Vec<u64> = calls
        .iter()
        .filter(|c| c.ok && c.began < limit)
        .map(|c| c.ended - c.began)
        .collect();
    latencies.sort_unstable();
    let mut ends: Vec<u64> = calls.iter().filter(|c| c.ok).map(|c| c.ended).collect();
    ends.sort_unstable();
    Run {
        rejected,
        succeeded: ends.partition_point(|&e| e < limit) as u64,
        calls: calls.len() as u64,
        failed: calls.iter().filter(|c| !c.ok).count() as u64,
        p50_ms: percentile(&latencies, 0.50) as f64,
        p99_ms: percentile(&latencies, 0.99) as f64,
        recovery_ms: recovery(config, callers, &ends),
    }
}

/// The recovery time the module doc defines, from the sorted success times.
fn recovery(config: &Config, callers: u32, ends: &[u64]) -> Option<u64> {
    let lift = config.limit_ms;
    let floor = 0.9 * config.offered_per_s(callers);
    let in_window = |from: u64| {
        (ends.partition_point(|&e| e < from + 1000) - ends.partition_point(|&e| e < from)) as f64
    };
    (0..)
        .map(|k| k * RECOVERY_STEP_MS)
        .take_while(|t| lift + t + 1000 <= lift + config.after_ms)
        .find(|&t| in_window(lift + t) >= floor)
}

/// Every arm of `config` with every caller count, over its seeds.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn run(config: &Config, mut progress: impl FnMut()) -> std::io::Result<Vec<Point>> {
    let mut out = Vec::new();
    for &callers in &config.callers {
        for &arm in &config.arms {
            let mut runs = Vec::new();
            for s in 0..config.seeds {
                runs.push(one_run(
                    config,
                    arm,
                    callers,
                    derive(config.seed, "world", s),
                )?);
                progress();
            }
            out.push(average(config, arm, callers, &runs));
        }
    }
    Ok(out)
}

fn average(config: &Config, arm: Arm, callers: u32, runs: &[Run]) -> Point {
    let n = runs.len().max(1) as f64;
    let sum = |f: fn(&Run) -> f64| runs.iter().map(f).sum::<f64>();
    let rejected = sum(|r| r.rejected as f64);
    let succeeded = sum(|r| r.succeeded as f64);
    let recovered: Vec<u64> = runs.iter().filter_map(|r| r.recovery_ms).collect();
    Point {
        arm,
        callers,
        rejected_per_success: rejected / succeeded.max(1.0),
        goodput: succeeded / n / (config.limit_ms.max(1) as f64 / 1000.0),
        p50_ms: sum(|r| r.p50_ms) / n,
        p99_ms: sum(|r| r.p99_ms) / n,
        failed_share: sum(|r| r.failed as f64) / sum(|r| r.calls as f64).max(1.0),
        recovery_ms: (!recovered.is_empty())
            .then(|| recovered.iter().sum::<u64>() as f64 / recovered.len() as f64),
        never_recovered: (runs.len() - recovered.len()) as u64,
    }
}

/// The point for `arm` with `callers`, if measured.
pub fn at(points: &[Point], arm: Arm, callers: u32) -> Option<&Point> {
    points.iter().find(|p| p.arm == arm && p.callers == callers)
}

/// The columns of the experiment's table.
const HEAD: [&str; 8] = [
    "callers",
    "arm",
    "429s per success",
    "goodput /s",
    "p50 ms",
    "p99 ms",
    "failed %",
    "recovery ms",
];

/// A point's cells, in [`HEAD`]'s order.
fn row(p: &Point) -> [String; 8] {
    let recovery = match (p.recovery_ms, p.never_recovered) {
        (Some(ms), 0) => format!("{ms:.0}"),
        (Some(ms), never) => format!("{ms:.0} ({never} never)"),
        (None, _) => "never".into(),
    };
    [
        p.callers.to_string(),
        p.arm.name().to_string(),
        format!("{:.2}", p.rejected_per_success),
        format!("{:.1}", p.goodput),
        format!("{:.0}", p.p50_ms),
        format!("{:.0}", p.p99_ms),
        format!("{:.1}", 100.0 * p.failed_share),
        recovery,
    ]
}

/// A markdown table: one row per caller count and arm.
pub fn table(config: &Config, points: &[Point]) -> String {
    let mut out = format!(
        "limit {}/s for {} ms, service {} ms, think {} ms, {} seeds per point (means)\n\n",
        config.rate, config.limit_ms, config.service_ms, config.think_ms, config.seeds
    );
    let _ = writeln!(out, "| {} |", HEAD.join(" | "));
    out.push_str("|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for p in points {
        let _ = writeln!(out, "| {} |", row(p).join(" | "));
    }
    out
}

/// A chart's file name, title, value label and scale, and its value of a point.
type Metric = (
    &'static str,
    &'static str,
    &'static str,
    Scale,
    fn(&Point) -> Option<f64>,
);

/// The charts `--out` writes: file name and SVG, one per metric, a row per
/// arm and a bar per caller count.
pub fn svgs(config: &Config, points: &[Point]) -> Vec<(&'static str, String)> {
    let note = format!(
        "A limit of {}/s for {} s, then lifted; means over {} seeds.",
        config.rate,
        config.limit_ms / 1000,
        config.seeds
    );
    METRICS
        .into_iter()
        .map(|(file, title, value_label, scale, value)| {
            let groups = config
                .callers
                .iter()
                .map(|&callers| Group {
                    name: format!("{callers} callers"),
                    values: config
                        .arms
                        .iter()
                        .map(|&arm| at(points, arm, callers).and_then(value))
                        .collect(),
                })
                .collect();
            let svg = bars(&BarChart {
                title: title.into(),
                note: Some(note.clone()),
                value_label: value_label.into(),
                scale,
                categories: config.arms.iter().map(|a| a.name().to_string()).collect(),
                groups,
                missing: "never".into(),
            });
            (file, svg)
        })
        .collect()
}

/// The charts: one per metric.
const METRICS: [Metric; 4] = [
    (
        "limit-rejected.svg",
        "429s the provider sent per successful call, during the limit",
        "429s per success (log scale)",
        Scale::Log,
        |p| Some(p.rejected_per_success),
    ),
    (
        "limit-goodput.svg",
        "Goodput during the limit",
        "successful calls per second",
        Scale::Linear,
        |p| Some(p.goodput),
    ),
    (
        "limit-p99.svg",
        "p99 latency of the successful calls begun during the limit",
        "ms (log scale)",
        Scale::Log,
        |p| Some(p.p99_ms),
    ),
    (
        "limit-recovery.svg",
        "Time to recover after the limit lifts",
        "ms to 90 % of the offered load",
        Scale::Linear,
        |p| p.recovery_ms,
    ),
];

/// The experiment's page: what ran, the table, and the charts (the files
/// [`svgs`] names, beside it).
pub fn html(config: &Config, points: &[Point]) -> String {
    let mut body = String::from("<h1>A shared rate limit</h1>\n");
    let _ = writeln!(
        body,
        "<p>A provider accepts {} attempts per second for {} s and answers the rest with a 429 \
         (Retry-After: the time to the next second, rounded up), then lifts the limit for {} s. \
         Each caller makes calls back to back; every arm runs on the same seeded worlds, \
         {} per point.</p>",
        config.rate,
        config.limit_ms / 1000,
        config.after_ms / 1000,
        config.seeds
    );
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|p| row(p).map(|c| escape(&c)).into())
        .collect();
    body.push_str(&crate::report::html::table(&HEAD, &rows));
    for (file, title, ..) in METRICS {
        body.push_str(&image(file, title));
    }
    page("provider-retry: a shared rate limit", &body)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::style::has_text;

    #[test]
    fn the_limiter_admits_rate_per_window_and_names_the_window_end() {
        let config = Config {
            rate: 2,
            ..Config::default()
        };
        let mut l = Limiter::default();
        assert_eq!(l.admit(0, &config), Ok(()));
        assert_eq!(l.admit(10, &config), Ok(()));
        assert_eq!(l.admit(999, &config), Err(Duration::from_secs(1)));
        assert_eq!(l.admit(1000, &config), Ok(()));
        assert_eq!(l.rejected, 1);
        // Lifted: everything is accepted.
        for _ in 0..10 {
            assert_eq!(l.admit(config.limit_ms, &config), Ok(()));
        }
    }

    fn point(arm: Arm, callers: u32, rejected: f64, recovery_ms: Option<f64>) -> Point {
        Point {
            arm,
            callers,
            rejected_per_success: rejected,
            goodput: 20.0,
            p50_ms: 200.0,
            p99_ms: 2200.0,
            failed_share: 0.0,
            recovery_ms,
            never_recovered: u64::from(recovery_ms.is_none()),
        }
    }

    #[test]
    fn the_page_and_the_charts_show_every_point_by_arm_and_caller_count() {
        let config = Config {
            callers: vec![10, 100],
            arms: vec![Arm::Retries, Arm::RetriesThrottle],
            seeds: 7,
            ..Config::default()
        };
        let points = vec![
            point(Arm::Retries, 10, 0.29, Some(100.0)),
            point(Arm::RetriesThrottle, 10, 0.05, Some(600.0)),
            point(Arm::Retries, 100, 6.41, Some(700.0)),
            point(Arm::RetriesThrottle, 100, 0.06, None),
        ];
        let page = html(&config, &points);
        for text in [
            "6.41",
            "0.06",
            "never",
            Arm::RetriesThrottle.name(),
            "7 per point",
        ] {
            assert!(page.contains(&escape(text)), "{text} missing from the page");
        }
        let charts = svgs(&config, &points);
        assert_eq!(charts.len(), METRICS.len());
        for (file, ..) in METRICS {
            assert!(
                page.contains(&format!("src=\"{file}\"")),
                "{file} not shown"
            );
        }
        let (_, rejected) = &charts[0];
        for text in [
            "6.4",
            "0.29",
            "10 callers",
            "100 callers",
            Arm::Retries.name(),
        ] {
            assert!(has_text(rejected, text), "{text} missing from the chart");
        }
        let (_, recovery) = &charts[3];
        assert!(
            has_text(recovery, "never"),
            "a point that never recovered says so"
        );
    }
}
