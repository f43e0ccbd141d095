//! The requests a simulated caller sends: the smallest valid one of each
//! kind, each naming its call in its content (a [`tag`](super::address::tag)
//! in a message's text, a prompt or an input), so whatever carries it, a
//! shared wrapper included, the probe below and the server know whose
//! attempt it is. The backend answers by the fault plan, not by the
//! request, so only their shape matters (and that they carry no payload).
//! `models` is the one method without a request.

use super::address::{CallId, push_tag};
use super::digest::Sent;
use super::items::MODEL;
use crate::method::Method;
use bytes::Bytes;
use crabllm_core::{
    AudioSpeechRequest, ByteStream, ChatCompletionRequest, EmbeddingInput, EmbeddingRequest,
    ImageRequest, MultipartField, anthropic, gemini, ir,
};
use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What `method`'s request for call `id` sends (`None` for `models`,
/// which sends none): the digest the caller records, read as the probe
/// reads each attempt's.
pub fn sent(method: Method, id: CallId) -> Option<Sent> {
    // A pure function of (method, id), asked anew for every call of every
    // seed's run (twice where determinism is checked), and the same calls
    // recur in every seed: remembered per thread. Bounded, not to grow
    // without end over an open workload's arrivals.
    thread_local! {
        static SEEN: RefCell<BTreeMap<(Method, CallId), Option<Sent>>> = RefCell::default();
    }
    SEEN.with_borrow_mut(|seen| {
        if seen.len() >= REMEMBERED {
            seen.clear();
        }
        *seen
            .entry((method, id))
            .or_insert_with(|| digest_of(method, id))
    })
}

/// How many calls' requests, and their digests, a thread remembers.
const REMEMBERED: usize = 1 << 16;

/// Call `id`'s request for `method` as `make` builds it, built once per
/// thread and shared by every call with that id after: a request is a
/// pure function of its call, and building and dropping one cost a sweep
/// about as much as the judge's whole reading of the trace. A caller only
/// lends it (`&T`), so no call can change what another sends.
pub fn shared<T: Send + Sync + 'static>(
    method: Method,
    id: CallId,
    make: fn(CallId) -> T,
) -> Arc<T> {
    type Made = Arc<dyn Any + Send + Sync>;
    thread_local! {
        static MADE: RefCell<BTreeMap<(Method, CallId), Made>> = RefCell::default();
    }
    MADE.with_borrow_mut(|made| {
        if let Some(request) = made.get(&(method, id)).cloned() {
            // One method's requests are of one type; a key made by
            // another type is made anew.
            if let Ok(request) = request.downcast::<T>() {
                return request;
            }
        }
        if made.len() >= REMEMBERED {
            made.clear();
        }
        let request = Arc::new(make(id));
        made.insert((method, id), request.clone());
        request
    })
}

fn digest_of(method: Method, id: CallId) -> Option<Sent> {
    let model = Some(MODEL);
    Some(match method {
        Method::Chat | Method::ChatStream => Sent::typed(&chat(id), None),
        Method::ChatRaw | Method::ChatStreamRaw | Method::Passthrough => {
            Sent::body::<ChatCompletionRequest>(&chat_body(id), None)
        }
        Method::Anthropic | Method::AnthropicStream => Sent::typed(&anthropic(id), None),
        Method::AnthropicRaw | Method::AnthropicStreamRaw => {
            Sent::body::<anthropic::Request>(&anthropic_body(id), None)
        }
        Method::Gemini | Method::GeminiStream => Sent::typed(&gemini(id), model),
        Method::GeminiRaw | Method::GeminiStreamRaw => {
            Sent::body::<gemini::Request>(&gemini_body(id), model)
        }
        Method::Complete | Method::CompleteStream => ir_sent(&ir(id)),
        Method::Embedding => Sent::typed(&embedding(id), None),
        Method::Image => Sent::typed(&image(id), None),
        Method::AudioSpeech => Sent::typed(&speech(id), None),
        Method::AudioTranscription => Sent::fields(MODEL, &transcription(id)),
        // No caller here sends these: nothing is lent, nothing is read again.
        Method::Models | Method::Responses | Method::ResponsesStream => return None,
    })
}

/// What a canonical (IR) request sends: it travels as Anthropic Messages
/// (crabllm's own conversion), having no wire form of its own.
pub fn ir_sent(request: &ir::Request) -> Sent {
    super::lent::find(super::lent::Place::converted(request), None)
        .unwrap_or_else(|| Sent::typed(&anthropic::Request::from(request), None))
}

/// The text of the one user turn of call `id`'s requests.
fn text(id: CallId) -> String {
    let mut text = String::from("hi ");
    push_tag(&mut text, id);
    text
}

/// A chat request with one user turn.
pub fn chat(id: CallId) -> ChatCompletionRequest {
    ChatCompletionRequest {
        model: MODEL.into(),
        messages: vec![crabllm_core::Message::user(text(id))],
        ..Default::default()
    }
}

/// A chat request as raw JSON, for the raw and passthrough methods.
pub fn chat_body(id: CallId) -> Bytes {
    Bytes::from(serde_json::to_vec(&chat(id)).unwrap_or_default())
}

/// A chat request as a one-piece byte stream, for passthrough.
pub fn chat_body_stream(id: CallId) -> ByteStream {
    Box::pin(futures::stream::iter([Ok(chat_body(id))]))
}

/// An Anthropic Messages request with one user turn.
pub fn anthropic(id: CallId) -> anthropic::Request {
    anthropic::Request {
        model: MODEL.into(),
        messages: vec![anthropic::Message {
            role: "user".into(),
            content: anthropic::Content::Text(text(id)),
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
pub fn anthropic_body(id: CallId) -> Bytes {
    Bytes::from(serde_json::to_vec(&anthropic(id)).unwrap_or_default())
}

/// A Gemini request with one user turn.
pub fn gemini(id: CallId) -> gemini::Request {
    gemini::Request {
        contents: vec![gemini::Content {
            role: Some(gemini::Role::User),
            parts: vec![gemini::Part {
                text: Some(text(id)),
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
pub fn gemini_body(id: CallId) -> Bytes {
    Bytes::from(serde_json::to_vec(&gemini(id)).unwrap_or_default())
}

/// A canonical (IR) request with one user turn.
pub fn ir(id: CallId) -> ir::Request {
    ir::Request {
        model: MODEL.into(),
        system: None,
        messages: vec![ir::Message::user(text(id))],
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
pub fn embedding(id: CallId) -> EmbeddingRequest {
    EmbeddingRequest {
        model: MODEL.into(),
        input: EmbeddingInput::Single(text(id)),
    }
}

/// An image request.
pub fn image(id: CallId) -> ImageRequest {
    ImageRequest {
        model: MODEL.into(),
        prompt: format!("a cat {}", id.tag()),
        n: None,
        size: None,
        response_format: None,
        quality: None,
        style: None,
        user: None,
    }
}

/// A speech request.
pub fn speech(id: CallId) -> AudioSpeechRequest {
    AudioSpeechRequest {
        model: MODEL.into(),
        input: text(id),
        voice: "alloy".into(),
        response_format: None,
        speed: None,
    }
}

/// The multipart fields of a transcription: one short audio file, and
/// a prompt (the API's own field) naming the call.
pub fn transcription(id: CallId) -> Vec<MultipartField> {
    vec![
        MultipartField {
            name: "file".into(),
            filename: Some("hi.wav".into()),
            content_type: Some("audio/wav".into()),
            bytes: Bytes::from_static(b"RIFF"),
        },
        MultipartField {
            name: "prompt".into(),
            filename: None,
            content_type: None,
            bytes: Bytes::from(id.tag()),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_request_names_the_model_and_its_call() {
        let id = CallId::new(4, 9);
        let body: serde_json::Value = serde_json::from_slice(&chat_body(id)).unwrap();
        assert_eq!(body["model"], MODEL);
        let said = body["messages"][0]["content"].as_str().unwrap();
        assert_eq!(super::super::address::find_tag_in(said), Some(id), "{said}");
    }

    #[test]
    fn a_calls_request_is_built_once_and_lent_to_every_call_after() {
        let (one, two) = (CallId::new(7, 1), CallId::new(7, 2));
        let first = shared(Method::Chat, one, chat);
        let other = shared(Method::Chat, two, chat);
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(Arc::ptr_eq(&first, &shared(Method::Chat, one, chat)));
    }
}
