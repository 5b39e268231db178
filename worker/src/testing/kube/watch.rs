//! Watches: a chunked stream of newline-separated JSON events, replaying
//! the store's history after the asked resourceVersion, then following it
//! until `timeoutSeconds`. With `resourceVersion` absent or `0` (or with
//! `sendInitialEvents=true`) the stream starts with an ADDED event per
//! current object. A watch with selectors sees an object that stops
//! matching as DELETED and one that starts matching as ADDED, as the real
//! API server shows it. Bookmarks, when allowed, come after a second
//! without events.

use super::resources::{ApiError, Resource};
use super::selector::{FieldSelector, LabelSelector};
use super::store::{Change, EventType};
use super::{lock, Shared};
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The body of every answer of the stand-in: a whole JSON or text, or a
/// watch stream.
pub type Body = UnsyncBoxBody<Bytes, std::convert::Infallible>;

/// How long a watch without `timeoutSeconds` stays open.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// How long a watch stays quiet before a bookmark, when bookmarks are allowed.
const BOOKMARK_AFTER: Duration = Duration::from_secs(1);

/// What a watch asks for, read from its query string.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    resource: Resource,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    /// `None` starts with the current objects as ADDED events.
    from: Option<u64>,
    initial_events_end: bool,
    bookmarks: bool,
    timeout: Duration,
}

impl WatchRequest {
    /// Reads the watch's parameters, or says which one is wrong.
    pub fn from_query(
        resource: Resource,
        namespace: Option<String>,
        query: &HashMap<String, String>,
    ) -> Result<Self, ApiError> {
        let text = |k: &str| query.get(k).map_or("", String::as_str);
        let send_initial = text("sendInitialEvents") == "true";
        let from =
            match text("resourceVersion") {
                "" | "0" => None,
                _ if send_initial => None,
                rv => Some(rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))
                })?),
            };
        let timeout = match text("timeoutSeconds") {
            "" => DEFAULT_WATCH_TIMEOUT,
            t => Duration::from_secs(
                t.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
            ),
        };
        Ok(WatchRequest {
            resource,
            namespace,
            labels: LabelSelector::parse(text("labelSelector")).map_err(ApiError::bad_request)?,
            fields: FieldSelector::parse(text("fieldSelector")).map_err(ApiError::bad_request)?,
            from,
            initial_events_end: send_initial,
            bookmarks: text("allowWatchBookmarks") == "true",
            timeout,
        })
    }

    fn matches(&self, object: &Value) -> bool {
        object["kind"] == self.resource.kind
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| object["metadata"]["namespace"] == ns)
            && self.labels.matches(object)
            && self.fields.matches(object)
    }

    /// The event this watch sees for `change`, if any.
    fn event_for(&self, change: &Change) -> Option<Value> {
        let now = self.matches(&change.object);
        let before = change.previous.as_ref().is_some_and(|p| self.matches(p));
        let event = match (change.event, before, now) {
            (EventType::Added, _, true) => EventType::Added,
            (EventType::Deleted, _, true) => EventType::Deleted,
            (EventType::Modified, true, true) => EventType::Modified,
            (EventType::Modified, true, false) => EventType::Deleted,
            (EventType::Modified, false, true) => EventType::Added,
            _ => return None,
        };
        Some(json!({"type": event.as_str(), "object": change.object}))
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Value {
        let mut object = json!({
            "kind": self.resource.kind,
            "apiVersion": self.resource.api_version,
            "metadata": {"resourceVersion": rv.to_string()},
        });
        if initial_events_end {
            object["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({"type": "BOOKMARK", "object": object})
    }
}

/// Where a watch stream is.
struct Cursor {
    shared: Arc<Shared>,
    request: WatchRequest,
    changed: tokio::sync::watch::Receiver<u64>,
    rv: u64,
    pending: VecDeque<Value>,
    deadline: Instant,
}

/// The body of a watch answer.
pub fn watch_stream(shared: Arc<Shared>, request: WatchRequest) -> Body {
    let (changed, rv, pending) = {
        let store = lock(&shared.store);
        let changed = store.subscribe();
        match request.from {
            Some(rv) => (changed, rv, VecDeque::new()),
            None => {
                let rv = store.resource_version();
                let items = store.list(
                    request.resource.kind,
                    request.namespace.as_deref(),
                    &request.labels,
                    &request.fields,
                );
                let mut pending: VecDeque<Value> = items
                    .into_iter()
                    .map(|o| json!({"type": "ADDED", "object": o}))
                    .collect();
                if request.initial_events_end {
                    pending.push_back(request.bookmark(rv, true));
                }
                (changed, rv, pending)
            }
        }
    };
    let deadline = Instant::now() + request.timeout;
    let cursor = Cursor {
        shared,
        request,
        changed,
        rv,
        pending,
        deadline,
    };
    let stream = futures_util::stream::unfold(cursor, next_event)
        .map(|event| Ok(Frame::data(Bytes::from(format!("{event}\n")))));
    StreamBody::new(stream).boxed_unsync()
}

async fn next_event(mut cursor: Cursor) -> Option<(Value, Cursor)> {
    loop {
        if let Some(event) = cursor.pending.pop_front() {
            return Some((event, cursor));
        }
        {
            let store = lock(&cursor.shared.store);
            for change in store.changes_after(cursor.rv) {
                cursor.rv = change.rv;
                if let Some(event) = cursor.request.event_for(change) {
                    cursor.pending.push_back(event);
                }
            }
            cursor.changed.mark_unchanged();
        }
        if !cursor.pending.is_empty() {
            continue;
        }
        let quiet = Instant::now() + BOOKMARK_AFTER;
        tokio::select! {
            changed = cursor.changed.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
            () = tokio::time::sleep_until(cursor.deadline) => return None,
            () = tokio::time::sleep_until(quiet), if cursor.request.bookmarks => {
                let event = cursor.request.bookmark(cursor.rv, false);
                return Some((event, cursor));
            }
        }
    }
}
