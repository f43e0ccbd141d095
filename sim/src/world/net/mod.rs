//! The network world: a fault-injecting HTTP server and an HTTP provider,
//! talking over turmoil's simulated network. Every `Provider` method
//! travels: each request names its method in [`METHOD_HEADER`], and the
//! server answers in that method's dialect ([`crate::wire::items`]).
//!
//! | module | role |
//! |---|---|
//! | [`retry_after`] | the three Retry-After forms, written and parsed |
//! | [`server`] | the server: answers each request, of any method, as the fault plan says |
//! | [`http`] | the provider: every method over HTTP/1.1, typed, raw or SSE |
//! | [`world`] | the turmoil world: server host, client hosts, timed network faults |

pub mod http;
pub mod retry_after;
pub mod server;
pub mod world;

/// Headers that tell the server which client and call a request belongs
/// to, so that what it sends lands in the right place of the trace.
pub const CLIENT_HEADER: &str = "x-sim-client";
pub const CALL_HEADER: &str = "x-sim-call";

/// The header naming the `Provider` method a request is a call of
/// ([`Method::name`](crate::method::Method::name)). A request without it is
/// a plain OpenAI chat call (streamed if its body says `"stream": true`),
/// so real OpenAI clients can call the server too.
pub const METHOD_HEADER: &str = "x-sim-method";
