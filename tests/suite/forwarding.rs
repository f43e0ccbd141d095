//! Every `Provider` method reaches the inner provider; the table says which are retried.

use crate::support::{Scripted, Step};
use bytes::Bytes;
use crabllm_core::{Error, Provider, anthropic, gemini, ir};
use provider_retry::Retrying;

fn anthropic_req() -> anthropic::Request {
    serde_json::from_str(r#"{"model":"m","messages":[],"max_tokens":1}"#).unwrap()
}
fn gemini_req() -> gemini::Request {
    serde_json::from_str(r#"{"contents":[]}"#).unwrap()
}
fn ir_req() -> ir::Request {
    ir::Request {
        model: "m".into(),
        system: None,
        messages: vec![],
        max_tokens: 1,
        temperature: None,
        top_p: None,
        stop: None,
        tools: None,
        tool_choice: None,
        thinking: None,
        stream: false,
    }
}

/// Call `method` on `w` and return whether it failed with `Error::Invalid(method)`
/// or another error (ignoring successful values).
async fn call(w: &Retrying<Scripted>, method: &str) -> Result<(), Error> {
    let chat = crate::support::request();
    let embed = serde_json::from_str(r#"{"model":"m","input":"x"}"#).unwrap();
    let image = serde_json::from_str(r#"{"model":"m","prompt":"x"}"#).unwrap();
    let speech = serde_json::from_str(r#"{"model":"m","input":"x","voice":"v"}"#).unwrap();
    let body = || Bytes::from_static(b"{}");
    let empty: crabllm_core::ByteStream = Box::pin(futures::stream::empty());
    match method {
        "chat_completion" => w.chat_completion(&chat).await.map(drop),
        "chat_completion_stream" => w.chat_completion_stream(&chat).await.map(drop),
        "anthropic_messages" => w.anthropic_messages(&anthropic_req()).await.map(drop),
        "anthropic_messages_stream" => w
            .anthropic_messages_stream(&anthropic_req())
            .await
            .map(drop),
        "gemini_generate_content" => w
            .gemini_generate_content("m", &gemini_req())
            .await
            .map(drop),
        "gemini_generate_content_stream" => w
            .gemini_generate_content_stream("m", &gemini_req())
            .await
            .map(drop),
        "complete" => w.complete(&ir_req()).await.map(drop),
        "complete_stream" => w.complete_stream(&ir_req()).await.map(drop),
        "embedding" => w.embedding(&embed).await.map(drop),
        "image_generation" => w.image_generation(&image).await.map(drop),
        "audio_speech" => w.audio_speech(&speech).await.map(drop),
        "audio_transcription" => w.audio_transcription("m", &[]).await.map(drop),
        "models" => w.models().await.map(drop),
        "chat_completion_stream_passthrough" => w
            .chat_completion_stream_passthrough("m", empty)
            .await
            .map(drop),
        "chat_completion_stream_raw" => w.chat_completion_stream_raw("m", body()).await.map(drop),
        "chat_completion_raw" => w.chat_completion_raw("m", body()).await.map(drop),
        "anthropic_messages_raw" => w.anthropic_messages_raw(body()).await.map(drop),
        "anthropic_messages_stream_raw" => w.anthropic_messages_stream_raw(body()).await.map(drop),
        "gemini_generate_content_raw" => w.gemini_generate_content_raw("m", body()).await.map(drop),
        "gemini_generate_content_stream_raw" => w
            .gemini_generate_content_stream_raw("m", body())
            .await
            .map(drop),
        other => panic!("unknown method {other}"),
    }
}

/// Method, and whether the wrapper retries it (the crate docs' table).
const METHODS: [(&str, bool); 20] = [
    ("chat_completion", true),
    ("chat_completion_stream", true),
    ("anthropic_messages", true),
    ("anthropic_messages_stream", true),
    ("gemini_generate_content", true),
    ("gemini_generate_content_stream", true),
    ("complete", true),
    ("complete_stream", true),
    ("embedding", true),
    ("image_generation", false),
    ("audio_speech", false),
    ("audio_transcription", false),
    ("models", true),
    ("chat_completion_stream_passthrough", false),
    ("chat_completion_stream_raw", true),
    ("chat_completion_raw", true),
    ("anthropic_messages_raw", true),
    ("anthropic_messages_stream_raw", true),
    ("gemini_generate_content_raw", true),
    ("gemini_generate_content_stream_raw", true),
];

#[tokio::test(start_paused = true)]
async fn every_method_reaches_the_same_inner_method() {
    for (method, _) in METHODS {
        let inner = Scripted::new([Step::Decode]);
        let w = Retrying::new(inner.clone());
        let err = call(&w, method).await.unwrap_err();
        assert!(matches!(err, Error::Decode(_)), "{method}: {err:?}");
        assert_eq!(inner.methods(), [method]);
    }
}

#[tokio::test(start_paused = true)]
async fn retried_methods_retry_and_pass_through_methods_do_not() {
    for (method, retried) in METHODS {
        let inner = Scripted::new([]).then_always(Step::Status(503, None));
        let w = Retrying::new(inner.clone()).max_retries(1);
        call(&w, method).await.unwrap_err();
        let expected = if retried { 2 } else { 1 };
        assert_eq!(inner.count(), expected, "{method}");
    }
}

#[tokio::test(start_paused = true)]
async fn compat_flags_are_forwarded_both_ways() {
    let w = Retrying::new(Scripted::default());
    assert!(w.is_openai_compat() && w.is_anthropic_compat() && w.is_gemini_compat());
    let bare = Retrying::new(Bare);
    assert!(!bare.is_openai_compat() && !bare.is_anthropic_compat() && !bare.is_gemini_compat());
}

/// A provider with only the required methods, to see the defaults forwarded.
struct Bare;
impl Provider for Bare {
    async fn chat_completion(
        &self,
        _: &crabllm_core::ChatCompletionRequest,
    ) -> Result<crabllm_core::ChatCompletionResponse, Error> {
        Err(Error::Timeout)
    }
    async fn chat_completion_stream(
        &self,
        _: &crabllm_core::ChatCompletionRequest,
    ) -> Result<
        crabllm_core::BoxStream<'static, Result<crabllm_core::ChatCompletionChunk, Error>>,
        Error,
    > {
        Err(Error::Timeout)
    }
    async fn anthropic_messages(
        &self,
        _: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        Err(Error::Timeout)
    }
    async fn anthropic_messages_stream(
        &self,
        _: &anthropic::Request,
    ) -> Result<crabllm_core::BoxStream<'static, Result<anthropic::StreamEvent, Error>>, Error>
    {
        Err(Error::Timeout)
    }
    async fn gemini_generate_content_stream(
        &self,
        _: &str,
        _: &gemini::Request,
    ) -> Result<crabllm_core::BoxStream<'static, Result<gemini::Response, Error>>, Error> {
        Err(Error::Timeout)
    }
}

#[tokio::test(start_paused = true)]
async fn trait_defaults_of_the_inner_provider_are_kept() {
    // `models` defaults to Unsupported: not transient, one attempt, unchanged.
    let err = Retrying::new(Bare).models().await.unwrap_err();
    assert!(
        matches!(err, Error::Unsupported(ref m) if m.contains("models")),
        "{err:?}"
    );
}
