//! Where a request belongs: the upstream that answers it, and the client
//! and call it is an attempt of.
//!
//! A client of the simulator's own says who it is in headers
//! ([`CLIENT_HEADER`], [`CALL_HEADER`]). A gateway between a client and the
//! server forwards bodies but not such headers, so a client may instead put
//! a [`tag`] anywhere in its request body (a message's text, say): the
//! server reads it when the headers are absent.
//!
//! A gateway's deployments are told apart by path: a request under
//! `/upstream/<i>/` is answered by upstream `i` (the scenario's
//! `[[fallback]]` plan `i`, counting `[faults]` as 0), with the rest of the
//! path as its endpoint; any other path is upstream 0.

use super::{CALL_HEADER, CLIENT_HEADER};
use hyper::HeaderMap;
use memchr::memmem;
use std::sync::LazyLock;

/// The path prefix that names an upstream: `/upstream/<i>/...`.
pub const UPSTREAM_PREFIX: &str = "/upstream/";

/// What a body tag begins with: `sim-call:<client>:<call>`.
pub const TAG_PREFIX: &str = "sim-call:";

/// One logical call: a client and the call's number within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct CallId {
    /// The client that made the call.
    pub client: u32,
    /// The call's number within its client.
    pub call: u64,
}

impl CallId {
    /// `client`'s call `call`.
    pub const fn new(client: u32, call: u64) -> Self {
        Self { client, call }
    }

    /// The tag naming this call in a request's content ([`tag`]).
    pub fn tag(self) -> String {
        tag(self.client, self.call)
    }
}

/// Which upstream answers a request, and which call it is an attempt of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Address {
    /// The upstream that answers (0: the first).
    pub upstream: u32,
    /// The client that made the call.
    pub client: u32,
    /// The call's number within its client.
    pub call: u64,
}

/// The tag naming `client`'s call `call` in a request body.
pub fn tag(client: u32, call: u64) -> String {
    let mut out = String::new();
    push_tag(&mut out, CallId::new(client, call));
    out
}

/// [`tag`], written at the end of `out`: a request's text is built with
/// one format, not a tag formatted into another (every call builds one).
pub fn push_tag(out: &mut String, id: CallId) {
    use std::fmt::Write as _;
    let _ = write!(out, "{TAG_PREFIX}{}:{}", id.client, id.call);
}

/// The upstream a path names, and the endpoint path under it.
pub fn upstream_of(path: &str) -> (u32, &str) {
    let Some(rest) = path.strip_prefix(UPSTREAM_PREFIX) else {
        return (0, path);
    };
    let (index, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match index.parse() {
        Ok(upstream) => (upstream, tail),
        Err(_) => (0, path),
    }
}

/// The address of a request to `path` with `headers` and `body`: the
/// headers' client and call, else the body's tag, else client 0, call 0.
pub fn of(path: &str, headers: &HeaderMap, body: &[u8]) -> Address {
    let id = named(headers, body).unwrap_or_default();
    Address {
        upstream: upstream_of(path).0,
        client: id.client,
        call: id.call,
    }
}

/// The call a request names, if it names one: its headers' client and
/// call (either alone counts, the other 0), else its body's tag.
pub fn named(headers: &HeaderMap, body: &[u8]) -> Option<CallId> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    match (header(CLIENT_HEADER), header(CALL_HEADER)) {
        (None, None) => find_tag_in(body),
        (client, call) => Some(CallId::new(
            client.map_or(0, |c| u32::try_from(c).unwrap_or(u32::MAX)),
            call.unwrap_or(0),
        )),
    }
}

/// The call the first tag in `text` names, if any.
///
/// Read from bytes, as they were sent: the probe reads every attempt's.
pub fn find_tag_in(text: impl AsRef<[u8]>) -> Option<CallId> {
    let text = text.as_ref();
    // Built once: a searcher's setup costs more than a request's search.
    static FINDER: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(TAG_PREFIX));
    let at = FINDER.find(text)? + TAG_PREFIX.len();
    let (client, rest) = digits(&text[at..])?;
    let (call, _) = digits(rest.strip_prefix(b":")?)?;
    Some(CallId::new(client.try_into().ok()?, call))
}

/// The decimal number `text` begins with, and what follows it.
fn digits(text: &[u8]) -> Option<(u64, &[u8])> {
    let end = text
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    let number = std::str::from_utf8(&text[..end]).ok()?.parse().ok()?;
    Some((number, &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_names_its_upstream() {
        assert_eq!(
            upstream_of("/v1/chat/completions"),
            (0, "/v1/chat/completions")
        );
        assert_eq!(upstream_of("/upstream/2/v1/messages"), (2, "/v1/messages"));
        assert_eq!(upstream_of("/upstream/x/v1"), (0, "/upstream/x/v1"));
        assert_eq!(upstream_of("/upstream/1"), (1, ""));
    }

    #[test]
    fn headers_win_and_a_body_tag_stands_in_for_them() {
        let body = format!(r#"{{"messages":[{{"content":"{}"}}]}}"#, tag(3, 41));
        let none = HeaderMap::new();
        let at = of("/upstream/1/v1/embeddings", &none, body.as_bytes());
        assert_eq!(
            at,
            Address {
                upstream: 1,
                client: 3,
                call: 41
            }
        );
        let mut headers = HeaderMap::new();
        headers.insert(CALL_HEADER, "7".parse().unwrap());
        let at = of("/v1/chat/completions", &headers, body.as_bytes());
        assert_eq!((at.client, at.call), (0, 7));
        assert_eq!(of("/", &none, b"no tag").call, 0);
    }

    #[test]
    fn a_tag_is_read_from_bytes_wherever_it_stands() {
        assert_eq!(
            find_tag_in("x sim-call:12:345abc"),
            Some(CallId::new(12, 345))
        );
        assert_eq!(
            find_tag_in(b"\xff\xfe sim-call:0:7\xff"),
            Some(CallId::new(0, 7))
        );
        assert_eq!(find_tag_in(tag(3, 41)), Some(CallId::new(3, 41)));
        for no in [
            "",
            "sim-call:",
            "sim-call:1:",
            "sim-call:a:1",
            "sim-call:1-2",
            "sim-call:4294967296:1",
        ] {
            assert_eq!(find_tag_in(no), None, "{no:?}");
        }
    }
}
