//! The storm experiment: open-loop load at 80 % of a provider's capacity, a
//! trigger that cuts its capacity for a while, and what retries do after.
//!
//! The provider serves `slots` attempts at a time, each for `service_ms`,
//! from a FIFO queue; a client that gives up on an attempt (its timeout)
//! leaves the queue or frees its slot at once, so no work is wasted on
//! abandoned attempts. Calls arrive as a Poisson process at `load` times
//! the capacity. From `trigger_at_ms`, for the trigger's length, service is
//! `slowdown` times slower. Three arms share each seeded world: no retries,
//! the default retries, and the default retries with a default
//! [`RetryBudget`]; every arm uses a 1 s per-attempt timeout.
//!
//! Per run: goodput (calls that succeed, per second) before the trigger and
//! at the end, amplification (attempts per call) after the trigger, and the
//! recovery time: from the trigger's end until the goodput of every later
//! 5 s window averages at least 90 % of the offered load, or none if it never
//! does before the run ends (a metastable overload).

use super::{ChatOnly, busy, paused};
use crate::report::charts::{LineChart, Scale, Series, Span, lines};
use crate::seeds::{derive, stream, unit};
use crabllm_core::{ChatCompletionRequest, Provider};
use provider_retry::{RetryBudget, RetryPolicy, Retrying};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep, sleep_until};

/// Seconds over which goodput is averaged when judging recovery.
const WINDOW_S: usize = 5;

/// The retry configurations compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    /// Every call makes one attempt.
    NoRetries,
    /// The default retry policy.
    Retries,
    /// The default retry policy, paying for retries from a default `RetryBudget`.
    RetriesWithBudget,
}

impl Arm {
    /// Every arm, in the order the tables and charts list them.
    pub const ALL: [Arm; 3] = [Arm::NoRetries, Arm::Retries, Arm::RetriesWithBudget];

    /// The arm's name in tables and chart legends.
    pub fn name(self) -> &'static str {
        match self {
            Arm::NoRetries => "no retries",
            Arm::Retries => "retries",
            Arm::RetriesWithBudget => "retries + budget",
        }
    }
}

/// The world's sizes.
#[derive(Debug, Clone)]
pub struct Config {
    /// Attempts the provider serves at once.
    pub slots: u32,
    /// How long one attempt is served, when healthy.
    pub service_ms: u64,
    /// Offered load as a share of capacity.
    pub load: f64,
    /// Every arm's per-attempt timeout.
    pub timeout_ms: u64,
    /// When the trigger begins, in virtual milliseconds.
    pub trigger_at_ms: u64,
    /// Trigger lengths to try.
    pub triggers_ms: Vec<u64>,
    /// How many times slower service is during the trigger.
    pub slowdown: u32,
    /// How long each run goes on after its trigger ends.
    pub after_ms: u64,
    /// The root seed every run derives its seed from.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            slots: 10,
            service_ms: 50,
            load: 0.8,
            timeout_ms: 1000,
            trigger_at_ms: 10_000,
            triggers_ms: vec![500, 1000, 2000, 5000, 10_000],
            slowdown: 10,
            after_ms: 30_000,
            seed: crate::DEFAULT_SEED,
        }
    }
}

impl Config {
    /// Calls per second the provider serves when healthy.
    pub fn capacity_per_s(&self) -> f64 {
        f64::from(self.slots) * 1000.0 / self.service_ms.max(1) as f64
    }

    fn offered_per_s(&self) -> f64 {
        self.load * self.capacity_per_s()
    }
}

/// One arm under one trigger length.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The retry configuration.
    pub arm: Arm,
    /// How long the trigger lasted.
    pub trigger_ms: u64,
    /// Calls that arrived in the run.
    pub calls: u64,
    /// Attempts those calls made.
    pub attempts: u64,
    /// Successes per second in each whole second of the run.
    pub goodput: Vec<u64>,
    /// Goodput (successes per second) over the five seconds before the trigger.
    pub goodput_before: f64,
    /// Goodput over the run's last five whole seconds.
    pub goodput_end: f64,
    /// Attempts per call among calls arriving after the trigger ended.
    pub amplification_after: f64,
    /// Milliseconds from the trigger's end to lasting recovery; `None` if never.
    pub recovery_ms: Option<u64>,
}

/// Run one arm with one trigger length.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn one_run(config: &Config, arm: Arm, trigger_ms: u64) -> std::io::Result<Outcome> {
    Ok(paused()?.block_on(storm(config, arm, trigger_ms)))
}

struct Call {
    arrived: Duration,
    ended: Duration,
    ok: bool,
    attempts: u64,
}

async fn storm(config: &Config, arm: Arm, trigger_ms: u64) -> Outcome {
    let start = Instant::now();
    let end_ms = config
        .trigger_at_ms
        .saturating_add(trigger_ms)
        .saturating_add(config.after_ms);
    let slots = Arc::new(Semaphore::new(config.slots as usize));
    let trigger = Duration::from_millis(config.trigger_at_ms)
        ..Duration::from_millis(config.trigger_at_ms.saturating_add(trigger_ms));
    let policy = match arm {
        Arm::NoRetries => RetryPolicy::new().max_retries(0),
        _ => RetryPolicy::new(),
    }
    .timeout(Duration::from_millis(config.timeout_ms));
    let budget = RetryBudget::new();
    let (service, slowdown) = (Duration::from_millis(config.service_ms), config.slowdown);
    let calls = arrivals(config, end_ms)
        .into_iter()
        .enumerate()
        .map(|(i, at)| {
            let attempts = Arc::new(AtomicU64::new(0));
            let (slots, trigger, counter) = (slots.clone(), trigger.clone(), attempts.clone());
            let provider = ChatOnly(move || {
                let (slots, trigger, counter) = (slots.clone(), trigger.clone(), counter.clone());
                async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let _slot = slots.acquire().await.map_err(|_| busy("closed"))?;
                    let slow = trigger.contains(&start.elapsed());
                    sleep(if slow { service * slowdown } else { service }).await;
                    Ok(())
                }
            });
            let mut client = Retrying::with_policy(provider, policy).seed(derive(
                config.seed,
                "client",
                i as u64,
            ));
            if arm == Arm::RetriesWithBudget {
                client = client.budget(budget.clone());
            }
            async move {
                sleep_until(start + at).await;
                let ok = client
                    .chat_completion(&ChatCompletionRequest::default())
                    .await
                    .is_ok();
                Call {
                    arrived: at,
                    ended: start.elapsed(),
                    ok,
                    attempts: attempts.load(Ordering::Relaxed),
                }
            }
        });
    let calls = futures::future::join_all(calls).await;
    summarise(config, arm, trigger_ms, end_ms, &calls)
}

/// Poisson arrival times over `[0, end_ms)`, from the experiment's seed
/// alone, so every arm sees the same arrivals.
fn arrivals(config: &Config, end_ms: u64) -> Vec<Duration> {
    let mut rng = stream(config.seed, "arrivals", 0);
    let rate_per_ms = config.offered_per_s() / 1000.0;
    let mut t = 0.0;
    let mut out = Vec::new();
    loop {
        t += -(1.0 - unit(&mut rng)).ln() / rate_per_ms;
        if t >= end_ms as f64 || !t.is_finite() {
            return out;
        }
        out.push(Duration::from_secs_f64(t / 1000.0));
    }
}

fn summarise(config: &Config, arm: Arm, trigger_ms: u64, end_ms: u64, calls: &[Call]) -> Outcome {
    let seconds = end_ms.div_ceil(1000) as usize;
    let mut goodput = vec![0u64; seconds];
    for c in calls.iter().filter(|c| c.ok) {
        if let Some(slot) = goodput.get_mut(c.ended.as_secs() as usize) {
            *slot += 1;
        }
    }
    let second = |ms: u64| (ms / 1000) as usize;
    let mean = |range: std::ops::Range<usize>| {
        let n = range.len().max(1) as f64;
        goodput[range].iter().sum::<u64>() as f64 / n
    };
    let trigger_end = config.trigger_at_ms.saturating_add(trigger_ms);
    let after: Vec<&Call> = calls
        .iter()
        .filter(|c| c.arrived >= Duration::from_millis(trigger_end))
        .collect();
    // Lasting recovery: the first whole second after the trigger from which
    // every later 5 s window averages at least 90 % of the offered load
    // (windows, not single seconds, so Poisson noise is not a relapse).
    let floor = 0.9 * config.offered_per_s();
    let first_after = second(trigger_end.div_ceil(1000) * 1000);
    let last_full = second(end_ms).saturating_sub(1);
    let window_ok = |s: usize| mean(s..(s + WINDOW_S).min(last_full + 1)) >= floor;
    let recovered_from = (first_after..=last_full.saturating_sub(WINDOW_S))
        .find(|&s| (s..=last_full.saturating_sub(WINDOW_S)).all(window_ok));
    Outcome {
        arm,
        trigger_ms,
        calls: calls.len() as u64,
        attempts: calls.iter().map(|c| c.attempts).sum(),
        goodput_before: mean(
            second(config.trigger_at_ms).saturating_sub(5)..second(config.trigger_at_ms),
        ),
        goodput_end: mean(last_full.saturating_sub(4)..last_full + 1),
        amplification_after: after.iter().map(|c| c.attempts).sum::<u64>() as f64
            / after.len().max(1) as f64,
        recovery_ms: recovered_from.map(|s| (s as u64 * 1000).saturating_sub(trigger_end)),
        goodput,
    }
}

/// Every arm under every trigger length of `config`.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn run(config: &Config, mut progress: impl FnMut()) -> std::io::Result<Vec<Outcome>> {
    let mut out = Vec::new();
    for &trigger in &config.triggers_ms {
        for arm in Arm::ALL {
            out.push(one_run(config, arm, trigger)?);
            progress();
        }
    }
    Ok(out)
}

/// A table: one row per trigger length and arm.
pub fn table(config: &Config, outcomes: &[Outcome]) -> String {
    let mut out = format!(
        "capacity {:.0}/s, offered {:.0}/s, trigger at {} ms slows service {}x\n",
        config.capacity_per_s(),
        config.offered_per_s(),
        config.trigger_at_ms,
        config.slowdown
    );
    out.push_str(
        "trigger ms | arm | goodput before /s | goodput at end /s | attempts per call after | recovered after\n",
    );
    for o in outcomes {
        let recovery = match o.recovery_ms {
            Some(ms) => format!("{ms} ms"),
            None => "never (metastable)".into(),
        };
        let _ = writeln!(
            out,
            "{} | {} | {:.0} | {:.0} | {:.2} | {}",
            o.trigger_ms,
            o.arm.name(),
            o.goodput_before,
            o.goodput_end,
            o.amplification_after,
            recovery
        );
    }
    out
}

/// Goodput over time for each arm under the longest trigger, the trigger
/// shaded; arms whose curves coincide are dashed and named in the note.
pub fn svg(config: &Config, outcomes: &[Outcome]) -> String {
    let longest = outcomes.iter().map(|o| o.trigger_ms).max().unwrap_or(0);
    let series: Vec<Series> = outcomes
        .iter()
        .filter(|o| o.trigger_ms == longest)
        .map(|o| Series {
            name: o.arm.name().into(),
            points: o
                .goodput
                .iter()
                .enumerate()
                .map(|(s, &g)| (s as f64, g as f64))
                .collect(),
            band: Vec::new(),
        })
        .collect();
    let from = config.trigger_at_ms as f64 / 1000.0;
    let note = format!(
        "One seeded run per arm; offered load {:.0}/s.",
        config.offered_per_s()
    );
    lines(&LineChart {
        title: format!("Goodput per second, trigger of {longest} ms"),
        x_label: "virtual time, s".into(),
        y_label: "successful calls per second".into(),
        y_scale: Scale::Linear,
        note: Some(note),
        series,
        spans: vec![Span {
            from,
            to: from + longest as f64 / 1000.0,
            label: format!(" trigger: service {}x slower", config.slowdown),
        }],
    })
}
