//! What each client of the ecosystem table promises, read from its
//! installed source (the pinned versions of `install.rs`), never from
//! running it. Each claim cites the files and lines it was read from;
//! `sim/claims/<client>.json` holds the same claim for `retry-sim judge
//! --claim FILE` (the test keeps the two equal).
//!
//! The official Python SDKs' claims are `check::sdks`' own.

use provider_retry_sim::check::claim::{
    Backoff, Claim, JitterShape, RetryAfterRule, Retryable, ShouldRetryHeader, UpstreamOrder,
};
use provider_retry_sim::check::gateways::{self, Deployment};
use provider_retry_sim::check::sdks;
use provider_retry_sim::method::Method;
use provider_retry_sim::scenario::PolicySpec;
use std::collections::BTreeSet;

const MS: u64 = 1_000_000;
/// The methods LangChain's chat model calls: chat completions, plain and
/// streamed. Named here, so the claim does not follow the openai SDK
/// claim's other methods.
const CHAT: [Method; 2] = [Method::Chat, Method::ChatStream];
const S: u64 = 1_000 * MS;

/// `langchain-openai` 1.8.1's `ChatOpenAI` with its defaults: the openai
/// SDK's own loop, with no request timeout.
///
/// `langchain_openai/chat_models/base.py`: `max_retries: int | None =
/// None` (line 913) is passed on only when set (lines 1474-1475), so the
/// SDK's 2 retries hold; `request_timeout` defaults to `None` (lines
/// 888-889) and is passed as `"timeout": self.request_timeout` (line
/// 1470). `openai/_base_client.py` replaces the timeout by its 600 s
/// default only when it is not given (line 1017, `if not
/// is_given(timeout)`): an explicit `None` is given, so no attempt is
/// ever timed out.
///
/// The SDK's `_should_retry` decides each status, `x-should-retry` first
/// (`openai/_base_client.py` lines 933-941), so the header is honoured.
pub fn langchain_openai() -> Claim {
    Claim {
        retried: CHAT.into(),
        timed: CHAT.into(),
        timeout_ns: None,
        first_chunk_ns: None,
        stream_idle_ns: None,
        ..sdks::openai_python()
    }
}

/// The openai Node SDK 6.49.0 with its defaults (`openai/client.js`).
///
/// - `maxRetries = options.maxRetries ?? 2` (line 173); `DEFAULT_TIMEOUT =
///   600000` ms (line 747).
/// - `shouldRetry` (lines 558-579): `x-should-retry` first (`'true'`
///   retries, `'false'` does not, lines 560-565), then 408, 409, 429 and
///   every status >= 500; asked only `if (retriesRemaining && shouldRetry
///   ...)` (lines 463-464), so the header never adds an attempt.
/// - `calculateDefaultRetryTimeoutMillis` (lines 610-619): `min(0.5 *
///   2^n, 8)` s times `1 - Math.random() * 0.25`.
/// - `retryRequest` (lines 580-608): `retry-after-ms`, else `retry-after`
///   as seconds or a date, and "just do what it says": any value is
///   waited exactly, 0 included (a 0 is a wait of 0, not the backoff), and
///   no value is refused or capped.
pub fn openai_node() -> Claim {
    stainless_node(Method::Chat, RetryAfterRule::Exact { max_ns: u64::MAX })
}

/// The Anthropic Node SDK 1.17.0 with its defaults
/// (`@anthropic-ai/sdk/client.js`): the same loop as openai's (lines 170,
/// 913-922, 957-966, `DEFAULT_TIMEOUT` 600000 ms at line 1094), but a
/// Retry-After is waited only when `timeoutMillis > 0 && timeoutMillis <=
/// 2 ** 31 - 1` (lines 947-952): zero or negative falls back to the
/// backoff, as in the Python SDKs; the value above is the backoff too,
/// which no row of the table reaches. `shouldRetry` (lines 890-930) reads
/// `x-should-retry` first (lines 906-911), asked only while retries remain
/// (lines 727-728): the header is honoured.
pub fn anthropic_node() -> Claim {
    stainless_node(
        Method::Anthropic,
        RetryAfterRule::Positive {
            max_ns: (2u64.pow(31) - 1) * MS,
            refuse_above: false,
        },
    )
}

/// The loop both Node SDKs share, for `method`.
fn stainless_node(method: Method, retry_after: RetryAfterRule) -> Claim {
    Claim {
        retry_after,
        retried: [method].into(),
        timed: [method].into(),
        ..sdks::openai_python()
    }
}

/// The Vercel AI SDK (`ai` 6.0.333, `@ai-sdk/openai` 3.0.141):
/// `generateText` with `maxRetries: 2`, over the OpenAI provider's chat
/// model.
///
/// - `ai/dist/index.js`, `retryWithExponentialBackoffRespectingRetryHeaders`
///   (lines 2923-2927): `maxRetries = 2`, `initialDelayInMs = 2e3`,
///   `backoffFactor = 2`; no jitter, no cap.
///   `@ai-sdk/provider-utils/dist/index.js` lines 3035-3080: the delay is
///   doubled after every retry, a Retry-After wait included.
/// - `getRetryDelayInMs` (lines 2894-2921): `retry-after-ms`, else
///   `retry-after` in seconds or a date, waited when `0 <= ms && (ms <
///   60 * 1e3 || ms < exponentialBackoffDelay)`, a 0 as a wait of 0; else
///   the backoff.
/// - `@ai-sdk/provider/dist/index.js` lines 95-98: 408, 409, 429 and >=
///   500 are retryable; `@ai-sdk/provider-utils` lines 965-1003: a failed
///   connection is too.
/// - No timeout unless the caller passes an abort signal.
/// - No file of `ai`, `@ai-sdk/provider`, `@ai-sdk/provider-utils` or
///   `@ai-sdk/openai` names `x-should-retry`: the header is ignored.
pub fn ai_sdk() -> Claim {
    Claim {
        retried: [Method::Chat].into(),
        timed: [Method::Chat].into(),
        timeout_ns: None,
        backoff: Backoff {
            initial_ns: 2 * S,
            factor: 2.0,
            cap_ns: None,
            jitter: JitterShape::Scale { lo: 1.0, hi: 1.0 },
            cap_after_jitter: false,
            advances_on_retry_after: true,
            floor_ns: 0,
        },
        // `0 <= ms && ms < 60 s` waited (a wait above 60 s but under the
        // backoff is too, which needs a backoff past 60 s: retry 5 on, past
        // `maxRetries = 2`); else the backoff.
        retry_after: RetryAfterRule::Within {
            max_ns: 60 * S,
            zero_waited: true,
        },
        first_chunk_ns: None,
        stream_idle_ns: None,
        should_retry_header: ShouldRetryHeader::Ignored,
        ..sdks::openai_python()
    }
}

/// The Portkey gateway (`@portkey-ai/gateway` 1.15.2, run locally) with
/// the config `sim/clients/plain_portkey.py` sends: `retry: {attempts: 2,
/// use_retry_after_header: true}`, default statuses.
///
/// `build/start-server.js` is minified onto its line 2; in it:
/// - `S=[429,500,502,503,504]`, the default `on_status_codes`;
/// - the retry loop (`const va=async(e,t,a,r,n,o,s)=>`) runs `async-retry`
///   with `{retries:a,randomize:!1}`, whose `retry` 0.13.1 defaults
///   (`retry/lib/retry.js` lines 19-22, 54) give `1000 * 2^n` ms, no
///   jitter, no cap; a failed connection throws and is retried alike;
/// - a 429's `retry-after-ms` or `retry-after` (parsed as whole seconds)
///   is waited inside the attempt when positive and below 60 s (`n>=6e4`
///   throws with `u._timeouts=[]`: no more retries); a 0 is no value and
///   leaves the backoff.
/// - No per-request timeout unless the config sets `request_timeout`.
/// - `x-should-retry` appears nowhere in it: the header is ignored.
///
/// What the claim does not say: after a Retry-After wait the same code
/// sets every later backoff to 0 (`u._timeouts=Array.from(...).map(()=>0)`);
/// the claim holds it to the documented exponential backoff instead, and
/// the table's `retry-after-then-5xx` row shows the difference.
pub fn portkey() -> Claim {
    Claim {
        retried: [Method::Chat].into(),
        timed: [Method::Chat].into(),
        timeout_ns: None,
        backoff: Backoff {
            initial_ns: S,
            factor: 2.0,
            cap_ns: None,
            jitter: JitterShape::Scale { lo: 1.0, hi: 1.0 },
            cap_after_jitter: false,
            advances_on_retry_after: true,
            floor_ns: 0,
        },
        retry_after: RetryAfterRule::Positive {
            max_ns: 60 * S - 1,
            refuse_above: true,
        },
        retryable: Retryable {
            statuses: BTreeSet::from([429, 500, 502, 503, 504]),
            network: true,
            timeout: true,
        },
        first_chunk_ns: None,
        stream_idle_ns: None,
        should_retry_header: ShouldRetryHeader::Ignored,
        ..sdks::openai_python()
    }
}

/// LiteLLM's Router (`litellm` 1.110.2) as `sim/clients/plain_litellm.py`
/// sets it up: one model group of two deployments at the same server (two
/// keys: identical parameters would make one deployment),
/// `num_retries=2`, a retry policy of 2 for rate limits, server errors
/// and timeouts and 0 for bad requests.
///
/// - The retry loop is in the compiled core; its Python side says what it
///   waits: `router_rust/core.py` lines 3944-3947, a retry sleeps 0 "when
///   another deployment is healthy, else a backoff", which
///   `litellm/utils.py` `calculate_retry_after` (lines 8594-8617) draws:
///   a Retry-After in `(0, 60]` s plus `JITTER * random()` (0.75 s,
///   `constants.py` line 596), else `min(0.5 * 2^n, 8)` s plus the same.
/// - `utils.py` `should_retry` (lines 8528-8554): 408, 409, 429, >= 500,
///   from the status alone: it copies the SDK's comment "If the server
///   explicitly says whether or not to retry, obey" (line 8537) but not
///   the header check, and the compiled core (`rust_bridge/_native.abi3.so`)
///   holds no `x-should-retry` string; the inner SDK's own loop, which
///   would honour it, has 0 retries. The header is ignored.
/// - The inner openai client's own retries are 0 (every attempt sends
///   `x-stainless-retry-count: 0`); its timeout is LiteLLM's
///   `request_timeout`, 6000 s (sent as `x-stainless-read-timeout`).
///
/// With two healthy deployments every retry goes at once to the other:
/// a server error leaves both healthy, and a 429 cools its deployment
/// down for its Retry-After (`router_rust/core.py` lines 517-528, the
/// "header cooldown"), so the other is the healthy one. The claim is that
/// Router's: each retry waits 0 plus up to 0.75 s, and a Retry-After is
/// never waited by the call (it cools the deployment that sent it).
pub fn litellm_router() -> Claim {
    Claim {
        retried: [Method::Chat].into(),
        timed: [Method::Chat].into(),
        timeout_ns: Some(6_000 * S),
        backoff: Backoff {
            initial_ns: 0,
            factor: 2.0,
            cap_ns: Some(8 * S),
            jitter: JitterShape::Add {
                lo_ns: 0,
                hi_ns: 750 * MS,
            },
            cap_after_jitter: false,
            advances_on_retry_after: true,
            floor_ns: 0,
        },
        retry_after: RetryAfterRule::Ignored,
        first_chunk_ns: None,
        stream_idle_ns: None,
        should_retry_header: ShouldRetryHeader::Ignored,
        ..sdks::openai_python()
    }
}

/// [`litellm_router`] as `sim/clients/plain_litellm.py` sets it up with
/// its two deployments at two upstreams (`/upstream/0/` and
/// `/upstream/1/`), so the server tells them apart.
///
/// - The group: `num_retries` counts the call's attempts across both
///   deployments, picked in any order (`upstream_order = any`).
/// - A 429 cools its deployment for its Retry-After
///   (`router_rust/core.py` lines 517-528, the header cooldown, passed to
///   the core as the failure's `retry_after`, line 544); the row's
///   Retry-After is 2 s, so is the cooldown (the knob is one duration).
/// - A retry sleeps 0 while another deployment is healthy
///   (`router_rust/core.py` lines 3944-3947), so a retry sent at once to
///   the deployment that is not cooling is no short wait; with both
///   cooling the core waits the Retry-After plus up to 0.75 s of jitter
///   (`litellm/utils.py` lines 8594-8617, `constants.py` line 596), a
///   Retry-After in `(0, 60]` s, else the backoff.
/// - What this setup adds to the claim: nothing reaches a server before
///   its Retry-After has passed (`server_waits`), which two deployments
///   at one server cannot promise (a retry goes at once to the other
///   deployment, the same server).
pub fn litellm_router_deployments() -> Claim {
    Claim {
        retry_after: RetryAfterRule::Within {
            max_ns: 60 * S,
            zero_waited: false,
        },
        retry_after_jitter_ns: 750 * MS,
        upstreams: 2,
        upstream_order: UpstreamOrder::Any,
        cooldown_ns: Some(2 * S),
        server_waits: Some(true),
        ..litellm_router()
    }
}

/// The one deployment of the gateway columns, as the test's crabllm
/// configuration gives it: nothing but its kind, key, base URL and model,
/// so crabllm's defaults (`crabllm-core` 0.0.25 `config.rs` lines 117-130:
/// 2 retries "on transient errors before fallback", a 30 s "per-request
/// timeout", a 15 s "wall-clock deadline for the entire retry loop").
pub const GATEWAY_DEPLOYMENT: Deployment = Deployment {
    max_retries: 2,
    timeout: std::time::Duration::from_secs(30),
    retry_deadline: std::time::Duration::from_secs(15),
};

/// crabllm's gateway as the `crabllm` 0.0.25 binary serves it, one
/// deployment: `check::gateways::crabllm`, read from its documentation
/// (`crabllm-core` `config.rs` lines 117-130; `crabllm-proxy`
/// `handlers.rs` lines 957-970: 100 ms doubling, jitter in
/// `[backoff/2, backoff]`, a Retry-After floored at the backoff).
///
/// What its code does instead for a chat completion: `handle_raw_proxy`
/// (`handlers.rs` lines 256-294) makes one attempt per deployment, under
/// `with_timeout`, and moves to the next after a transient failure; with
/// one deployment a 429 or a 5xx goes back to the caller, never retried
/// (the retry loops, `try_anthropic_stream_with_retries` and
/// `try_embedding_with_retries` at lines 974-1063, serve streamed
/// Anthropic messages and embeddings only).
///
/// The gateway's `chat_completion_raw` forwards the caller's body to
/// `/chat/completions`, which the server sees as a chat completion: the
/// claim's methods are that one.
pub fn crabllm_gateway() -> Claim {
    Claim {
        retried: [Method::Chat].into(),
        timed: [Method::Chat].into(),
        ..gateways::crabllm(&GATEWAY_DEPLOYMENT, 1)
    }
}

/// The same gateway with provider-retry around its deployment
/// (`provider_retry_gateway::retrying`): provider-retry's documented
/// semantics under `Retrying::from_config` of the deployment's settings,
/// for the chat completion the server sees (as [`crabllm_gateway`]).
pub fn provider_retry_gateway() -> Claim {
    let spec = PolicySpec {
        max_retries: GATEWAY_DEPLOYMENT.max_retries,
        timeout: GATEWAY_DEPLOYMENT.timeout,
        retry_deadline: Some(GATEWAY_DEPLOYMENT.retry_deadline),
        ..PolicySpec::default()
    };
    Claim {
        retried: [Method::Chat].into(),
        timed: [Method::Chat].into(),
        ..Claim::provider_retry(&spec)
    }
}

#[test]
fn only_the_stainless_clients_honour_x_should_retry() {
    let honours = |claim: Claim| claim.should_retry_header == ShouldRetryHeader::Honoured;
    for claim in [openai_node(), anthropic_node(), langchain_openai()] {
        assert!(honours(claim));
    }
    for claim in [ai_sdk(), portkey(), litellm_router()] {
        assert!(!honours(claim));
    }
}
