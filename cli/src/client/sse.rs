//! Server-sent events from a streaming answer (a deployment's
//! `events/stream`, `logs --follow`), parsed by `eventsource-stream` from
//! the answer's chunks.

use eventsource_stream::Eventsource;
use futures_util::{stream, Stream, StreamExt};
use serde_json::Value;
use std::future::ready;

/// One server-sent event.
pub struct Sse {
    /// The last event id the stream gave, to resume from (`Last-Event-ID`).
    pub id: Option<String>,
    pub kind: String,
    /// The data as JSON; `null` when it is not JSON.
    pub data: Value,
}

/// The events of `response`, keep-alive comments skipped; ends with the
/// stream, or at the first read or parse error.
pub fn events(response: reqwest::Response) -> impl Stream<Item = Sse> {
    // reqwest's `bytes_stream` is this, behind a feature that rebuilds it.
    let chunks = stream::try_unfold(response, |mut response| async move {
        Ok::<_, reqwest::Error>(response.chunk().await?.map(|chunk| (chunk, response)))
    });
    parse(chunks)
}

fn parse<S, B, E>(bytes: S) -> impl Stream<Item = Sse>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    bytes
        .eventsource()
        .take_while(|event| ready(event.is_ok()))
        .filter_map(|event| ready(event.ok()))
        .map(|event| Sse {
            id: Some(event.id).filter(|id| !id.is_empty()),
            kind: event.event,
            data: serde_json::from_str(&event.data).unwrap_or(Value::Null),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// The events read from a stream cut into `chunks`.
    async fn parsed(chunks: &[&'static str]) -> Vec<Sse> {
        let chunks = chunks.iter().map(|c| Ok::<_, Infallible>(c.as_bytes()));
        parse(stream::iter(chunks)).collect().await
    }

    #[tokio::test]
    async fn events_parse_and_keep_alives_are_skipped() {
        let events = parsed(&["id: 7\nevent: deployment.started\ndata: {\"a\":1}\n\n"]).await;
        let [event] = events.as_slice() else {
            panic!("one event expected");
        };
        assert_eq!(event.id.as_deref(), Some("7"));
        assert_eq!(event.kind, "deployment.started");
        assert_eq!(event.data, serde_json::json!({ "a": 1 }));
        assert!(parsed(&[": keep-alive\n\n"]).await.is_empty());
        let events = parsed(&["data: not json\n\n"]).await;
        assert!(matches!(events.as_slice(), [e] if e.data.is_null()));
        // A blank line ends an event, with or without carriage returns, in
        // one chunk or across two; an unfinished event is not one.
        for chunks in [
            &["data: 1\n\ndata: 2"][..],
            &["data: 1\r\n\r\ndata: 2"],
            &["data: 1\n", "\ndata: 2"],
        ] {
            let events = parsed(chunks).await;
            assert!(
                matches!(events.as_slice(), [e] if e.data == 1),
                "{chunks:?}"
            );
        }
        assert!(parsed(&["data: 1\n"]).await.is_empty());
    }
}
