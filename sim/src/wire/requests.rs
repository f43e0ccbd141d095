//! The requests a simulated caller sends: the smallest valid one of each
//! kind. The backend answers by the fault plan, not by the request, so
//! only their shape matters (and that they carry no payload).

use super::items::MODEL;
use bytes::Bytes;
use crabllm_core::{
    AudioSpeechRequest, ByteStream, ChatCompletionRequest, EmbeddingInput, EmbeddingRequest,
    ImageRequest, MultipartField, anthropic, gemini, ir,
};

/// A chat request.
pub fn chat() -> ChatCompletionRequest {
    ChatCompletionRequest {
        model: MODEL.into(),
        ..Default::default()
    }
}

/// A chat request as raw JSON, for the raw and passthrough methods.
pub fn chat_body() -> Bytes {
    Bytes::from(serde_json::to_vec(&chat()).unwrap_or_default())
}

/// A chat request as a one-piece byte stream, for passthrough.
pub fn chat_body_stream() -> ByteStream {
    Box::pin(futures::stream::iter([Ok(chat_body())]))
}

/// An Anthropic Messages request with one user turn.
pub fn anthropic() -> anthropic::Request {
    anthropic::Request {
        model: MODEL.into(),
        messages: vec![anthropic::Message {
            role: "user".into(),
            content: anthropic::Content::Text("hi".into()),
        }],
        max_tokens: 16,
        system: None,
        temperature: None,
        top_p: None,
        stream: None,
        tools: None,
        tool_choice: None,
        stop_sequences: None,
        thinking: None,
        output_config: None,
    }
}

/// The Anthropic request as raw JSON.
pub fn anthropic_body() -> Bytes {
    Bytes::from(serde_json::to_vec(&anthropic()).unwrap_or_default())
}

/// A Gemini request with one user turn.
pub fn gemini() -> gemini::Request {
    gemini::Request {
        contents: vec![gemini::Content {
            role: Some(gemini::Role::User),
            parts: vec![gemini::Part {
                text: Some("hi".into()),
                function_call: None,
                function_response: None,
                thought_signature: None,
            }],
        }],
        system_instruction: None,
        generation_config: None,
        tools: None,
    }
}

/// The Gemini request as raw JSON.
pub fn gemini_body() -> Bytes {
    Bytes::from(serde_json::to_vec(&gemini()).unwrap_or_default())
}

/// A canonical (IR) request with one user turn.
pub fn ir() -> ir::Request {
    ir::Request {
        model: MODEL.into(),
        system: None,
        messages: vec![ir::Message::user("hi")],
        max_tokens: 16,
        temperature: None,
        top_p: None,
        stop: None,
        tools: None,
        tool_choice: None,
        thinking: None,
        stream: false,
    }
}

/// An embedding request for one input.
pub fn embedding() -> EmbeddingRequest {
    EmbeddingRequest {
        model: MODEL.into(),
        input: EmbeddingInput::Single("hi".into()),
    }
}

/// An image request.
pub fn image() -> ImageRequest {
    ImageRequest {
        model: MODEL.into(),
        prompt: "a cat".into(),
        n: None,
        size: None,
        response_format: None,
        quality: None,
        style: None,
        user: None,
    }
}

/// A speech request.
pub fn speech() -> AudioSpeechRequest {
    AudioSpeechRequest {
        model: MODEL.into(),
        input: "hi".into(),
        voice: "alloy".into(),
        response_format: None,
        speed: None,
    }
}

/// The multipart fields of a transcription: one short audio file.
pub fn transcription() -> Vec<MultipartField> {
    vec![MultipartField {
        name: "file".into(),
        filename: Some("hi.wav".into()),
        content_type: Some("audio/wav".into()),
        bytes: Bytes::from_static(b"RIFF"),
    }]
}
