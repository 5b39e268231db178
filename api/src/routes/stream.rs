//! `GET /apps/{app}/deployments/{id}/events`: the deployment's events as
//! server-sent events, from the first, live, ending with the final one.
//! `Last-Event-ID` resumes after the given event.

use super::app_path;
use super::deployments::deployment_path;
use super::openapi::answers::*;
use super::openapi::params::{DeploymentPath, LastEventId};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use slipway_core::contract;
use slipway_core::domain::DeploymentId;
use slipway_core::domain::Scope;
use slipway_core::store::{Event, Store};
use std::time::Duration;

const POLL: Duration = Duration::from_millis(200);
const KEEP_ALIVE: Duration = Duration::from_secs(15);
const FINAL: [&str; 3] = [
    "deployment.succeeded",
    "deployment.rolled_back",
    "deployment.failed",
];

struct Cursor {
    store: Store,
    deployment: DeploymentId,
    after: i64,
    done: bool,
}

#[utoipa::path(get, path = "/apps/{app}/deployments/{id}/events",
    operation_id = "streamDeploymentEvents", tag = "deployments",
    description = "Streams the deployment's events as server-sent events: every event so far, \
        then new ones live, with keep-alive comments while idle. Each event is `id: <seq>`, \
        `event: <type>` and `data: <the event as JSON>` (an `Event`). The stream ends after \
        `deployment.succeeded`, `deployment.rolled_back` or `deployment.failed`. A \
        `Last-Event-ID` header resumes after that event.",
    params(DeploymentPath, LastEventId),
    responses(
        (status = 200, description = "A `text/event-stream`; each event's `data` is an \
            `Event` as JSON.", body = ref("#/components/schemas/EventStreamFrame"),
            content_type = "text/event-stream"),
        Unauthorized, Forbidden, NotFound, UriTooLong, HeaderTooLarge, Unavailable))]
pub async fn events(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path.0)?;
    caller.require(Scope::Read, Some(&app))?;
    let id = deployment_path(&app, &path.1)?;
    let (app_, id_) = (app.clone(), id.clone());
    state.db(move |s| s.get_deployment(&app_, &id_)).await?;
    let after = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cursor = Cursor {
        store: state.store.clone(),
        deployment: id,
        after,
        done: false,
    };
    let stream = futures_util::stream::unfold(cursor, next_chunk);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .streaming(stream))
}

/// Waits for the next events (or a keep-alive); `None` ends the stream.
async fn next_chunk(mut cursor: Cursor) -> Option<(Result<Bytes, ApiError>, Cursor)> {
    if cursor.done {
        return None;
    }
    match next_events(&cursor.store, &cursor.deployment, cursor.after).await {
        Err(err) => Some((Err(err), finish(cursor))),
        Ok(Waited::Idle) => Some((Ok(Bytes::from_static(b": keep-alive\n\n")), cursor)),
        Ok(Waited::Events(events)) => {
            let chunk: String = events.iter().map(format_event).collect();
            cursor.after = events.last().map_or(cursor.after, |e| e.seq);
            cursor.done = events.iter().any(is_final);
            Some((Ok(Bytes::from(chunk)), cursor))
        }
    }
}

/// What waiting for a deployment's next events found.
pub(crate) enum Waited {
    /// Events after the one waited from, oldest first (never empty).
    Events(Vec<Event>),
    /// Nothing new for the keep-alive interval: time for a keep-alive.
    Idle,
}

/// Polls the store for `deployment`'s events after `after` (an event's
/// `seq`) until there are some or the keep-alive interval has passed. Both
/// the API's stream and the console's live deployment page follow a
/// deployment with it.
pub(crate) async fn next_events(
    store: &Store,
    deployment: &DeploymentId,
    after: i64,
) -> Result<Waited, ApiError> {
    let mut waited = Duration::ZERO;
    loop {
        let (store, id) = (store.clone(), deployment.clone());
        let found =
            tokio::task::spawn_blocking(move || store.list_deployment_events(&id, after)).await;
        let events = match found {
            Ok(Ok(events)) => events,
            Ok(Err(err)) => return Err(ApiError::from(err)),
            Err(err) => return Err(ApiError::internal(err)),
        };
        if !events.is_empty() {
            return Ok(Waited::Events(events));
        }
        tokio::time::sleep(POLL).await;
        waited += POLL;
        if waited >= KEEP_ALIVE {
            return Ok(Waited::Idle);
        }
    }
}

/// Whether `event` is the last a deployment has (it reached a final status).
fn is_final(event: &Event) -> bool {
    FINAL.contains(&event.kind.as_str())
}

fn finish(mut cursor: Cursor) -> Cursor {
    cursor.done = true;
    cursor
}

fn format_event(event: &Event) -> String {
    let data = serde_json::to_string(&contract::Event::from(event.clone()))
        .unwrap_or_else(|_| "{}".into());
    format!("id: {}\nevent: {}\ndata: {data}\n\n", event.seq, event.kind)
}
