//! Sending requests and checking each answer against the document, keeping
//! which documented answers were seen.

use super::document::{Answer, Document};
use reqwest::{Method, RequestBuilder};
use std::collections::BTreeSet;

pub struct Probe {
    pub doc: Document,
    seen: BTreeSet<Answer>,
}

impl Probe {
    pub fn new(doc: Document) -> Probe {
        Probe {
            doc,
            seen: BTreeSet::new(),
        }
    }

    /// Sends `request` for the route `method path` (a pattern such as
    /// `/apps/{app}`), expects `status`, checks the answer against the
    /// document and returns its body (empty for a stream: it is not read).
    pub async fn expect(&mut self, route: (&Method, &str, u16), request: RequestBuilder) -> String {
        let answer = answer(route);
        let got = receive(request).await;
        self.check(answer, got)
    }

    /// [`Probe::expect`] for many requests sent at once.
    pub async fn expect_all(&mut self, requests: Vec<((&Method, &str, u16), RequestBuilder)>) {
        let (answers, sent): (Vec<_>, Vec<_>) = requests
            .into_iter()
            .map(|(route, request)| (answer(route), receive(request)))
            .unzip();
        let received = futures_util::future::join_all(sent).await;
        for (answer, got) in answers.into_iter().zip(received) {
            self.check(answer, got);
        }
    }

    fn check(&mut self, answer: Answer, (status, content_type, body): Received) -> String {
        assert_eq!(status, answer.2, "{answer:?}: {body}");
        self.doc.check(&answer, &content_type, &body);
        self.seen.insert(answer);
        body
    }

    /// The documented answers no request got.
    pub fn unseen(&self) -> Vec<Answer> {
        self.doc.answers().difference(&self.seen).cloned().collect()
    }
}

/// What came back: status, content type and body.
type Received = (u16, String, String);

fn answer((method, path, status): (&Method, &str, u16)) -> Answer {
    (
        method.as_str().to_ascii_lowercase(),
        path.to_owned(),
        status,
    )
}

/// Sends `request`; a stream's body is not read (it may never end).
async fn receive(request: RequestBuilder) -> Received {
    let response = request.send().await.expect("send the request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = if content_type.starts_with("text/event-stream") {
        String::new()
    } else {
        response.text().await.expect("read the body")
    };
    (status, content_type, body)
}
