//! What a retry wrapper costs per call, next to the bare provider and its peers.
//!
//! Every group measures the same provider four ways, in one run: `bare` (no
//! wrapper), `ours` ([`provider_retry::Retrying`], defaults), `crabllm`
//! (`crabllm_core::Retrying` 0.0.25, defaults) and `backon` (backon 1.6's
//! exponential retry with jitter, each attempt under `tokio::time::timeout`,
//! the nearest a user gets to our defaults with it). `ready` and
//! `pending_once` add a fifth, `ours_throttle`: `ours` holding a
//! [`provider_retry::Throttle`] that nothing has limited, the cost of the
//! throttle's gate on the success path.
//!
//! `ready` and `pending_once` poll the call by hand with a no-op waker inside
//! a (real-clock) runtime context, so the figure is the wrapper's work and not
//! an executor's. `fail_once` and `stream` run on a paused-clock runtime:
//! the backoff sleep costs no wall time, only the timer work.

mod support;

use backon::{ExponentialBuilder, Retryable};
use crabllm_core::{
    BoxStream, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Error, Provider,
};
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use futures::StreamExt;
use std::future::Future;
use std::hint::black_box;
use std::time::Duration;
use support::{Bench, Mode, drive, paused_clock, real_clock, request};

/// The subjects, each a way to make one chat call or one stream through `inner`.
struct Subjects {
    bare: Bench,
    ours: provider_retry::Retrying<Bench>,
    ours_throttle: provider_retry::Retrying<Bench>,
    crabllm: crabllm_core::Retrying<Bench>,
    backon: Backon,
}

impl Subjects {
    fn new(mode: Mode) -> Self {
        let inner = Bench::new(mode);
        Self {
            bare: inner.clone(),
            ours: provider_retry::Retrying::new(inner.clone()).seed(7),
            ours_throttle: provider_retry::Retrying::new(inner.clone())
                .seed(7)
                .throttle(provider_retry::Throttle::new()),
            crabllm: crabllm_core::Retrying::new(inner.clone()),
            backon: Backon { inner },
        }
    }
}

/// backon's retry around each attempt under a timeout, with our defaults'
/// numbers: 2 retries, 100 ms doubling to 20 s, jitter, 30 s per attempt.
struct Backon {
    inner: Bench,
}

impl Backon {
    fn builder() -> ExponentialBuilder {
        ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(20))
            .with_max_times(2)
            .with_jitter()
    }

    async fn chat(&self, request: &ChatCompletionRequest) -> Result<ChatCompletionResponse, Error> {
        (|| async {
            tokio::time::timeout(Duration::from_secs(30), self.inner.chat_completion(request))
                .await
                .unwrap_or(Err(Error::Timeout))
        })
        .retry(Self::builder())
        .when(Error::is_transient)
        .await
    }

    async fn stream(
        &self,
        request: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
        (|| async {
            tokio::time::timeout(
                Duration::from_secs(30),
                self.inner.chat_completion_stream(request),
            )
            .await
            .unwrap_or(Err(Error::Timeout))
        })
        .retry(Self::builder())
        .when(Error::is_transient)
        .await
    }
}

/// One group, five subjects, each driving one chat call per iteration.
fn chat_group(group: &mut BenchmarkGroup<'_, WallTime>, mode: Mode) {
    let s = Subjects::new(mode);
    let req = request();
    group.bench_function("bare", |b| {
        b.iter(|| drive(s.bare.chat_completion(black_box(&req))).is_ok())
    });
    group.bench_function("ours", |b| {
        b.iter(|| drive(s.ours.chat_completion(black_box(&req))).is_ok())
    });
    group.bench_function("ours_throttle", |b| {
        b.iter(|| drive(s.ours_throttle.chat_completion(black_box(&req))).is_ok())
    });
    group.bench_function("crabllm", |b| {
        b.iter(|| drive(s.crabllm.chat_completion(black_box(&req))).is_ok())
    });
    group.bench_function("backon", |b| {
        b.iter(|| drive(s.backon.chat(black_box(&req))).is_ok())
    });
}

fn ready(c: &mut Criterion) {
    let rt = real_clock();
    let _context = rt.enter();
    let mut group = c.benchmark_group("ready");
    chat_group(&mut group, Mode::Ready);
    group.finish();
}

fn pending_once(c: &mut Criterion) {
    let rt = real_clock();
    let _context = rt.enter();
    let mut group = c.benchmark_group("pending_once");
    chat_group(&mut group, Mode::PendingOnce);
    group.finish();
}

fn fail_once(c: &mut Criterion) {
    let rt = paused_clock();
    let mut group = c.benchmark_group("fail_once");
    let s = Subjects::new(Mode::FailOnce);
    let req = request();
    group.bench_function("bare_twice", |b| {
        // The bare provider has no retry: two calls are the work a retry must do.
        b.iter(|| {
            rt.block_on(async {
                let first = s.bare.chat_completion(black_box(&req)).await.is_ok();
                let second = s.bare.chat_completion(black_box(&req)).await.is_ok();
                first || second
            })
        })
    });
    group.bench_function("ours", |b| {
        b.iter(|| rt.block_on(s.ours.chat_completion(black_box(&req))).is_ok())
    });
    group.bench_function("crabllm", |b| {
        b.iter(|| {
            rt.block_on(s.crabllm.chat_completion(black_box(&req)))
                .is_ok()
        })
    });
    group.bench_function("backon", |b| {
        b.iter(|| rt.block_on(s.backon.chat(black_box(&req))).is_ok())
    });
    group.finish();
}

async fn count<S>(open: impl Future<Output = Result<S, Error>>) -> usize
where
    S: futures::Stream<Item = Result<ChatCompletionChunk, Error>> + Unpin,
{
    match open.await {
        Ok(stream) => {
            stream
                .filter(|c| futures::future::ready(c.is_ok()))
                .count()
                .await
        }
        Err(_) => 0,
    }
}

fn stream(c: &mut Criterion) {
    let rt = real_clock();
    let _context = rt.enter();
    let mut group = c.benchmark_group("stream_64_chunks");
    let s = Subjects::new(Mode::Ready);
    let req = request();
    group.bench_function("bare", |b| {
        b.iter(|| drive(count(s.bare.chat_completion_stream(black_box(&req)))))
    });
    group.bench_function("ours", |b| {
        b.iter(|| drive(count(s.ours.chat_completion_stream(black_box(&req)))))
    });
    group.bench_function("crabllm", |b| {
        b.iter(|| drive(count(s.crabllm.chat_completion_stream(black_box(&req)))))
    });
    group.bench_function("backon", |b| {
        b.iter(|| drive(count(s.backon.stream(black_box(&req)))))
    });
    group.finish();
}

criterion_group! {
    name = overhead;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = ready, pending_once, fail_once, stream
}
criterion_main!(overhead);
