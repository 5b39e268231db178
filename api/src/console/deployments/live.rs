//! What a deployment's page shows that moves while it runs (status, reason,
//! waves, instances healthy, where a rollback returns to, the steps so far,
//! the Cancel form), and the console's own event stream
//! (`/ui/apps/{app}/deployments/{id}/events`) that sends it again as an
//! HTML fragment after each new event, for htmx's SSE extension to swap in.
//! The browser's session cookie authorises the stream: an `EventSource`
//! cannot send the API token.

use super::deployment_id;
use crate::console::page::PageError;
use crate::console::session::Viewer;
use crate::console::view::{deployment_class, duration, When};
use crate::error::ApiError;
use crate::routes::{app_path, next_events, Waited};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use askama::Template;
use slipway_core::domain::{AppName, DeploymentId, DeploymentStatus, Scope};
use slipway_core::events::{EventPayload, Progress};
use slipway_core::store::{Deployment, Event};

/// One line of the deployment's steps: when, and what happened.
pub struct Step {
    /// `HH:MM:SS` (UTC).
    pub at: String,
    pub utc: String,
    pub text: String,
    pub class: &'static str,
}

/// The part of a deployment's page that changes while it runs.
pub struct LiveView {
    pub app: String,
    pub id: String,
    pub status: &'static str,
    pub class: &'static str,
    /// Not final yet: the page follows it.
    pub open: bool,
    pub cancel_requested: bool,
    pub reason: Option<String>,
    /// The release a rollback returns to, once one is under way.
    pub returns_to: Option<String>,
    /// Per service, its latest count of healthy instances.
    pub healthy: Vec<String>,
    /// How many waves of new instances have started.
    pub waves: usize,
    pub steps: Vec<Step>,
    pub started: Option<When>,
    pub duration: Option<String>,
    /// The Cancel form's CSRF value; `None` when no Cancel is offered (a
    /// token without `deploy`, a final deployment, a cancel already asked).
    pub cancel_csrf: Option<String>,
}

impl LiveView {
    /// The view of `deployment` after `events` (its events, oldest first),
    /// for a viewer whose Cancel form would carry `csrf` (`None` when the
    /// viewer may not cancel).
    pub fn of(deployment: &Deployment, events: &[Event], csrf: Option<String>) -> LiveView {
        let open = !deployment.status.is_final();
        let mut healthy: Vec<(String, String)> = Vec::new();
        let mut waves = 0;
        let mut returns_to = None;
        let mut steps = Vec::with_capacity(events.len());
        for event in events {
            let payload = EventPayload::parse(event.kind, event.data.clone()).ok();
            match &payload {
                Some(EventPayload::DeploymentProgress(Progress::Wave { .. })) => waves += 1,
                Some(EventPayload::DeploymentProgress(Progress::Rollback { to })) => {
                    returns_to = Some(to.to_string());
                }
                Some(EventPayload::DeploymentProgress(Progress::Healthy {
                    service,
                    release,
                    healthy: up,
                    count,
                    ..
                })) => {
                    let line = format!("{service}: {up} of {count} instances of {release} healthy");
                    match healthy
                        .iter_mut()
                        .find(|(name, _)| name == service.as_str())
                    {
                        Some(entry) => entry.1 = line,
                        None => healthy.push((service.to_string(), line)),
                    }
                }
                _ => {}
            }
            steps.push(step(event, payload.as_ref()));
        }
        let rolling_back = matches!(
            deployment.status,
            DeploymentStatus::RollingBack | DeploymentStatus::RolledBack
        );
        if returns_to.is_none() && rolling_back {
            returns_to = deployment.previous_release.as_ref().map(|r| r.to_string());
        }
        LiveView {
            app: deployment.app.to_string(),
            id: deployment.id.to_string(),
            status: deployment.status.as_str(),
            class: deployment_class(deployment.status),
            open,
            cancel_requested: deployment.cancel_requested,
            reason: deployment.reason.clone(),
            returns_to,
            healthy: healthy.into_iter().map(|(_, line)| line).collect(),
            waves,
            steps,
            started: deployment.started_at.map(When::of),
            duration: deployment.duration_ms.map(duration),
            cancel_csrf: csrf.filter(|_| open && !deployment.cancel_requested),
        }
    }
}

/// One event in words.
fn step(event: &Event, payload: Option<&EventPayload>) -> Step {
    let reason = |d: &Deployment| match &d.reason {
        Some(reason) => format!(": {reason}"),
        None => String::new(),
    };
    let (text, class) = match payload {
        Some(EventPayload::DeploymentCreated(c)) => {
            (format!("created by {}", event.actor), c.deployment.status)
        }
        Some(EventPayload::DeploymentStarted(c)) => (
            format!("started rolling out {}", c.deployment.release),
            c.deployment.status,
        ),
        Some(EventPayload::DeploymentSucceeded(c)) => ("succeeded".into(), c.deployment.status),
        Some(EventPayload::DeploymentRollingBack(c)) => (
            format!("rolling back{}", reason(&c.deployment)),
            c.deployment.status,
        ),
        Some(EventPayload::DeploymentRolledBack(c)) => (
            format!("rolled back{}", reason(&c.deployment)),
            c.deployment.status,
        ),
        Some(EventPayload::DeploymentFailed(c)) => (
            format!("failed{}", reason(&c.deployment)),
            c.deployment.status,
        ),
        Some(EventPayload::DeploymentProgress(progress)) => {
            return plain(event, progress_text(progress));
        }
        _ => return plain(event, event.kind.to_string()),
    };
    Step {
        class: deployment_class(class),
        ..plain(event, text)
    }
}

fn progress_text(progress: &Progress) -> String {
    match progress {
        Progress::Cancel { by } => format!("cancel asked by {by}"),
        Progress::Rollback { to } => format!("rolling back to {to}"),
        Progress::Healthy {
            service,
            release,
            healthy,
            count,
            ..
        } => format!("{service}: {healthy} of {count} instances of {release} healthy"),
        Progress::Wave {
            service,
            release,
            instances,
            count,
        } => format!("{service}: a wave starts {instances} more of {count} instances of {release}"),
    }
}

fn plain(event: &Event, text: String) -> Step {
    Step {
        at: event.created_at.format("%H:%M:%S").to_string(),
        utc: event.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        text,
        class: "",
    }
}

/// The fragment alone, as the stream sends it.
#[derive(Template)]
#[template(path = "deployment_live.html")]
struct Fragment<'a> {
    live: &'a LiveView,
}

/// Where the console's stream of one deployment stands.
struct Cursor {
    state: web::Data<AppState>,
    app: AppName,
    deployment: DeploymentId,
    /// The `seq` of the last event seen.
    after: i64,
    /// Every event so far, oldest first.
    events: Vec<Event>,
    csrf: Option<String>,
    done: bool,
}

/// `GET /ui/apps/{app}/deployments/{id}/events`: server-sent events, each
/// an `event: deployment` whose data is the page's live fragment as it is
/// after the events so far; after the final status, an `event: done`, and
/// the stream ends. Without a session it is 401 (an `EventSource` cannot
/// follow a redirect to sign in).
pub async fn events(
    state: web::Data<AppState>,
    viewer: Result<Viewer, PageError>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let viewer = viewer.map_err(|err| match err {
        PageError::SignIn { .. } => PageError::new(
            StatusCode::UNAUTHORIZED,
            "Sign in to follow this deployment.",
        ),
        err => err,
    })?;
    let app = app_path(&path.0)?;
    viewer.require(Scope::Read, Some(&app))?;
    let id = deployment_id(&app, &path.1)?;
    let (found_app, found) = (app.clone(), id.clone());
    state
        .db(move |s| s.get_deployment(&found_app, &found))
        .await?;
    let cursor = Cursor {
        state,
        csrf: viewer.can_deploy(&app).then(|| viewer.csrf.clone()),
        app,
        deployment: id,
        after: 0,
        events: Vec::new(),
        done: false,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(futures_util::stream::unfold(cursor, next_frame)))
}

/// Waits for the next events and sends the fragment as it is after them
/// (or a keep-alive); `None` ends the stream.
async fn next_frame(mut cursor: Cursor) -> Option<(Result<Bytes, ApiError>, Cursor)> {
    if cursor.done {
        return None;
    }
    let events = match next_events(&cursor.state.store, &cursor.deployment, cursor.after).await {
        Ok(Waited::Events(events)) => events,
        Ok(Waited::Idle) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), cursor)),
        Err(err) => return Some((Err(err), finish(cursor))),
    };
    cursor.after = events.last().map_or(cursor.after, |e| e.seq);
    cursor.events.extend(events);
    let (app, id) = (cursor.app.clone(), cursor.deployment.clone());
    let deployment = match cursor.state.db(move |s| s.get_deployment(&app, &id)).await {
        Ok(deployment) => deployment,
        Err(err) => return Some((Err(err), finish(cursor))),
    };
    let live = LiveView::of(&deployment, &cursor.events, cursor.csrf.clone());
    let html = match (Fragment { live: &live }).render() {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(error = %err, "the live deployment fragment failed to render");
            // The headers are sent: the error can only end the stream.
            return Some((Err(ApiError::internal(err)), finish(cursor)));
        }
    };
    let mut chunk = frame(cursor.after, "deployment", &html);
    if !live.open {
        chunk.push_str(&frame(cursor.after, "done", live.status));
        cursor.done = true;
    }
    Some((Ok(Bytes::from(chunk)), cursor))
}

fn finish(mut cursor: Cursor) -> Cursor {
    cursor.done = true;
    cursor
}

/// One server-sent event named `event` carrying `data`, one `data:` line
/// per line of it (a lone CR ends a line in this format too).
fn frame(id: i64, event: &str, data: &str) -> String {
    let mut out = format!("id: {id}\nevent: {event}\n");
    for line in data.split(['\r', '\n']) {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::frame;

    #[test]
    fn every_line_of_the_data_is_a_data_line() {
        assert_eq!(
            frame(7, "deployment", "<p>a</p>\n<p>b\r</p>"),
            "id: 7\nevent: deployment\ndata: <p>a</p>\ndata: <p>b\ndata: </p>\n\n"
        );
        assert_eq!(
            frame(8, "done", "failed"),
            "id: 8\nevent: done\ndata: failed\n\n"
        );
    }
}
