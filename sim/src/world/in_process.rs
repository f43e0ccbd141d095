//! The in-process world: every client's subject around one backend, on a paused clock.

use super::clients::{Plan, drive};
use super::{Cursor, Link};
use crate::backend::{Backend, Item, Opened, Reply};
use crate::faults::Faults;
use crate::scenario::{Scenario, Shape};
use crate::seeds::{stream, unit};
use crate::subject::Subject;
use crate::trace::Trace;
use crabllm_core::Error;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// Virtual time after which a run is cut off: far beyond any built-in
/// scenario, near enough that a hung run ends at once in real time.
pub const HORIZON: Duration = Duration::from_secs(24 * 3600);

/// Run `scenario` under `seed` against `subject` on a paused clock.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn run<S: Subject>(subject: &S, scenario: &Scenario, seed: u64) -> std::io::Result<Trace> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    Ok(runtime.block_on(world(subject, scenario, seed)))
}

async fn world<S: Subject>(subject: &S, scenario: &Scenario, seed: u64) -> Trace {
    let backend = Backend::on_tokio(
        Faults::new(scenario.faults.clone(), seed),
        scenario.faults.capacity,
    );
    let plans: Vec<Plan> = match scenario.workload.shape {
        Shape::Closed {
            clients,
            calls,
            think_ms,
        } => (0..clients)
            .map(|c| Plan::closed(c, calls, Duration::from_millis(think_ms)))
            .collect(),
        Shape::Open {
            rate_per_s,
            duration_ms,
        } => arrivals(seed, rate_per_s, duration_ms)
            .into_iter()
            .enumerate()
            .map(|(i, at)| Plan::arrival(i as u32, at))
            .collect(),
    };
    // Every client is one future, all joined in one task, so the order of
    // events depends only on the paused clock and the seed.
    let clients = plans.into_iter().map(|plan| {
        let cursor = Cursor::default();
        let link = Link::Local(SimProvider {
            backend: backend.clone(),
            client: plan.client,
            cursor: cursor.clone(),
        });
        drive(subject, scenario, seed, plan, link, cursor, backend.clone())
    });
    // A subject that never gives up would leave the paused clock with
    // nothing to advance to: the horizon ends the run, and the `calls_end`
    // oracle reports the calls it cut off.
    let _ = tokio::time::timeout(HORIZON, futures::future::join_all(clients)).await;
    Trace {
        records: backend.take_trace(),
    }
}

/// Poisson arrival times over `[0, duration)`.
fn arrivals(seed: u64, rate_per_s: f64, duration_ms: u64) -> Vec<Duration> {
    let mut rng = stream(seed, "arrivals", 0);
    let end = duration_ms as f64 / 1000.0;
    let mut t = 0.0;
    let mut out = Vec::new();
    loop {
        t += -(1.0 - unit(&mut rng)).ln() / rate_per_s;
        if t >= end {
            return out;
        }
        out.push(Duration::from_nanos((t * 1e9) as u64));
    }
}

/// One client's handle on the backend, called directly.
#[derive(Debug, Clone)]
pub struct SimProvider {
    pub(crate) backend: Arc<Backend>,
    pub(crate) client: u32,
    pub(crate) cursor: Cursor,
}

impl SimProvider {
    /// One attempt, up to a success's [`Opened`] answer.
    pub async fn open(&self) -> Result<Opened, Error> {
        match self.backend.attempt(self.client, self.cursor.get()).await {
            Reply::Ok(opened) => Ok(opened),
            other => Err(error_of(other)),
        }
    }

    /// One attempt of a unary method: the response's value from its identity.
    pub async fn unary<T>(
        &self,
        value: impl FnOnce(crate::trace::ChunkId) -> T,
    ) -> Result<T, Error> {
        Ok(value(self.open().await?.response()))
    }

    /// One attempt of a stream method: items built by `item`, a broken
    /// connection as `fail`.
    pub async fn stream<T: Send + 'static, E: Send + 'static>(
        &self,
        item: impl Fn(crate::trace::ChunkId) -> T + Send + 'static,
        fail: impl Fn() -> E + Send + 'static,
    ) -> Result<futures::stream::BoxStream<'static, Result<T, E>>, Error> {
        let opened = self.open().await?;
        Ok(opened
            .into_stream()
            .map(move |i| match i {
                Item::Chunk(id) => Ok(item(id)),
                Item::Fail => Err(fail()),
            })
            .boxed())
    }
}

/// The error an answer other than success becomes.
pub fn error_of(reply: Reply) -> Error {
    match reply {
        Reply::Ok(_) => Error::Internal("a success is not an error".into()),
        Reply::Status {
            status,
            retry_after,
            ..
        } => Error::Provider {
            status,
            body: format!("simulated {status}"),
            retry_after,
        },
        Reply::Network => Error::Network("simulated connection reset".into()),
        Reply::Decode => Error::Decode("simulated garbage".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_sorted_inside_the_window_and_near_the_rate() {
        let a = arrivals(5, 100.0, 10_000);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert!(a.iter().all(|t| *t < Duration::from_secs(10)));
        // Poisson(1000): sd about 32; five of them either side.
        assert!((840..=1160).contains(&a.len()), "{}", a.len());
    }
}

mod provider {
    //! Every `Provider` method, answered by the backend: typed values from
    //! [`crate::wire::items`], raw bodies and SSE bytes as the network
    //! world's server would send them.
    use super::SimProvider;
    use crate::method::Method;
    use crate::wire::items;
    use bytes::Bytes;
    use crabllm_core::{
        AudioSpeechRequest, BoxStream, ByteStream, ChatCompletionChunk, ChatCompletionRequest,
        ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ImageRequest,
        ModelList, MultipartField, Provider, anthropic, gemini, ir,
    };
    use futures::StreamExt;

    /// A typed stream's broken connection.
    fn reset() -> Error {
        Error::Network("simulated mid-stream reset".into())
    }

    impl SimProvider {
        /// One attempt of a raw stream method: `method`'s SSE events as
        /// bytes, a broken connection as an io error.
        async fn raw_stream(&self, method: Method) -> Result<ByteStream, Error> {
            self.stream(
                move |id| items::event(method, id),
                || {
                    std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "simulated mid-stream reset",
                    )
                },
            )
            .await
        }

        /// One attempt of a raw unary method: `method`'s JSON body.
        async fn raw(&self, method: Method) -> Result<Bytes, Error> {
            self.unary(|id| items::body(method, id)).await
        }
    }

    impl Provider for SimProvider {
        async fn chat_completion(
            &self,
            _: &ChatCompletionRequest,
        ) -> Result<ChatCompletionResponse, Error> {
            self.unary(items::chat_response).await
        }

        async fn chat_completion_stream(
            &self,
            _: &ChatCompletionRequest,
        ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
            self.stream(items::chat_chunk, reset).await
        }

        async fn anthropic_messages(
            &self,
            _: &anthropic::Request,
        ) -> Result<anthropic::Response, Error> {
            self.unary(items::anthropic_response).await
        }

        async fn anthropic_messages_stream(
            &self,
            _: &anthropic::Request,
        ) -> Result<BoxStream<'static, Result<anthropic::StreamEvent, Error>>, Error> {
            self.stream(items::anthropic_event, reset).await
        }

        async fn gemini_generate_content(
            &self,
            _: &str,
            _: &gemini::Request,
        ) -> Result<gemini::Response, Error> {
            self.unary(items::gemini_response).await
        }

        async fn gemini_generate_content_stream(
            &self,
            _: &str,
            _: &gemini::Request,
        ) -> Result<BoxStream<'static, Result<gemini::Response, Error>>, Error> {
            self.stream(items::gemini_response, reset).await
        }

        async fn complete(&self, _: &ir::Request) -> Result<ir::Response, Error> {
            self.unary(items::ir_response).await
        }

        async fn complete_stream(
            &self,
            _: &ir::Request,
        ) -> Result<BoxStream<'static, Result<ir::StreamEvent, Error>>, Error> {
            self.stream(items::ir_event, reset).await
        }

        async fn embedding(&self, _: &EmbeddingRequest) -> Result<EmbeddingResponse, Error> {
            self.unary(items::embedding_response).await
        }

        async fn image_generation(&self, _: &ImageRequest) -> Result<(Bytes, String), Error> {
            self.unary(items::media).await
        }

        async fn audio_speech(&self, _: &AudioSpeechRequest) -> Result<(Bytes, String), Error> {
            self.unary(items::media).await
        }

        async fn audio_transcription(
            &self,
            _: &str,
            _: &[MultipartField],
        ) -> Result<(Bytes, String), Error> {
            self.unary(items::media).await
        }

        async fn models(&self) -> Result<ModelList, Error> {
            self.unary(items::model_list).await
        }

        async fn chat_completion_stream_passthrough(
            &self,
            _: &str,
            body: ByteStream,
        ) -> Result<ByteStream, Error> {
            // The body is sent (read to its end) before the answer comes.
            body.for_each(|_| async {}).await;
            self.raw_stream(Method::Passthrough).await
        }

        async fn chat_completion_stream_raw(&self, _: &str, _: Bytes) -> Result<ByteStream, Error> {
            self.raw_stream(Method::ChatStreamRaw).await
        }

        async fn chat_completion_raw(&self, _: &str, _: Bytes) -> Result<Bytes, Error> {
            self.raw(Method::ChatRaw).await
        }

        async fn anthropic_messages_raw(&self, _: Bytes) -> Result<Bytes, Error> {
            self.raw(Method::AnthropicRaw).await
        }

        async fn anthropic_messages_stream_raw(&self, _: Bytes) -> Result<ByteStream, Error> {
            self.raw_stream(Method::AnthropicStreamRaw).await
        }

        async fn gemini_generate_content_raw(&self, _: &str, _: Bytes) -> Result<Bytes, Error> {
            self.raw(Method::GeminiRaw).await
        }

        async fn gemini_generate_content_stream_raw(
            &self,
            _: &str,
            _: Bytes,
        ) -> Result<ByteStream, Error> {
            self.raw_stream(Method::GeminiStreamRaw).await
        }
    }
}
