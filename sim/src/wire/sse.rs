//! Server-sent events put back together from bytes cut anywhere.
//!
//! Bytes arrive in whatever pieces the transport made; an event ends at a
//! blank line (`"\n\n"`). Both the HTTP provider (reading typed streams)
//! and the caller of a raw byte stream read events through here.

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

/// The data that ends a stream cleanly, OpenAI style.
pub const DONE: &str = "[DONE]";

/// The events in `bytes`, each without its closing blank line. An error
/// from `bytes` is passed on and ends the events; bytes after the last
/// blank line, at a clean end, are an unfinished event and are dropped.
pub fn events<S, E>(bytes: S) -> impl Stream<Item = Result<Bytes, E>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: Send,
{
    futures::stream::unfold(
        (bytes, BytesMut::new(), false),
        |(mut bytes, mut buf, done)| async move {
            if done {
                return None;
            }
            loop {
                if let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                    let event = buf.split_to(end + 2).freeze().slice(..end);
                    return Some((Ok(event), (bytes, buf, false)));
                }
                match bytes.next().await {
                    Some(Ok(piece)) => buf.extend_from_slice(&piece),
                    Some(Err(e)) => return Some((Err(e), (bytes, buf, true))),
                    None => return None,
                }
            }
        },
    )
}

/// The value of an event's `data:` line, if it has one (a comment or a
/// bare `event:` line has none).
pub fn data(event: &[u8]) -> Option<&str> {
    std::str::from_utf8(event)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .map(str::trim_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` delivered in pieces cut at `cuts`.
    fn pieces(text: &str, cuts: &[usize]) -> Vec<Result<Bytes, ()>> {
        let mut out = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain([text.len()].iter()) {
            out.push(Ok(Bytes::copy_from_slice(&text.as_bytes()[from..cut])));
            from = cut;
        }
        out
    }

    async fn datas(items: Vec<Result<Bytes, ()>>) -> Vec<Result<String, ()>> {
        events(futures::stream::iter(items))
            .map(|e| e.map(|e| data(&e).unwrap_or("-").to_string()))
            .collect()
            .await
    }

    #[tokio::test]
    async fn events_cut_at_every_byte_pair_come_back_whole() {
        let text = "data: {\"a\":1}\n\n: comment\n\nevent: x\ndata: b\n\ndata: [DONE]\n\n";
        let want = ["{\"a\":1}", "-", "b", DONE];
        for i in 0..=text.len() {
            for j in i..=text.len() {
                let got = datas(pieces(text, &[i, j])).await;
                let got: Vec<_> = got.into_iter().map(Result::unwrap).collect();
                assert_eq!(got, want, "cuts at {i} and {j}");
            }
        }
    }

    #[tokio::test]
    async fn an_error_ends_the_events_after_those_complete() {
        let mut items = pieces("data: a\n\ndata: b", &[4]);
        items.push(Err(()));
        items.push(Ok(Bytes::from_static(b"\n\ndata: c\n\n")));
        let got = datas(items).await;
        assert_eq!(got, [Ok("a".to_string()), Err(())]);
    }

    #[tokio::test]
    async fn an_unfinished_event_at_a_clean_end_is_dropped() {
        let got = datas(pieces("data: a\n\ndata: b\n", &[])).await;
        assert_eq!(got, [Ok("a".to_string())]);
    }
}
