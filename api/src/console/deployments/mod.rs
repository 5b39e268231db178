//! The Deployments tab (`/ui/apps/{app}/deployments`): the app's history,
//! newest first, paged with `before=` as the API is; one deployment's page,
//! which follows a running deployment live (`live.rs`); and Cancel, which
//! asks the worker to stop and roll back as `POST .../cancel` does.

mod live;

pub use live::events;

use super::page::{render, PageError};
use super::session::{CsrfForm, Viewer};
use super::view::{deployment_class, duration, Nav, When};
use crate::routes::app_path;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use live::LiveView;
use slipway_core::contract::PageQuery;
use slipway_core::domain::{AppName, DeploymentId, Scope};
use slipway_core::store::Deployment;

/// The deployment `raw` names, or a 404 page.
fn deployment_id(app: &AppName, raw: &str) -> Result<DeploymentId, PageError> {
    DeploymentId::parse(raw).map_err(|_| {
        PageError::new(
            StatusCode::NOT_FOUND,
            format!(
                "deployment `{}` not found in app `{app}`",
                crate::routes::clip(raw)
            ),
        )
    })
}

/// One line of the history.
struct DeploymentLine {
    id: String,
    status: &'static str,
    class: &'static str,
    cancel_requested: bool,
    actor: String,
    release: String,
    previous: Option<String>,
    reason: Option<String>,
    started: Option<When>,
    duration: Option<String>,
}

impl DeploymentLine {
    fn of(d: Deployment) -> DeploymentLine {
        DeploymentLine {
            id: d.id.to_string(),
            status: d.status.as_str(),
            class: deployment_class(d.status),
            cancel_requested: d.cancel_requested,
            actor: d.actor,
            release: d.release.to_string(),
            previous: d.previous_release.map(|r| r.to_string()),
            reason: d.reason,
            started: d.started_at.map(When::of),
            duration: d.duration_ms.map(duration),
        }
    }
}

#[derive(Template)]
#[template(path = "deployments.html")]
struct DeploymentsPage {
    nav: Option<Nav>,
    app: String,
    deployments: Vec<DeploymentLine>,
    /// Whether this is a page back in time (`before=`).
    paged: bool,
    /// The `before=` of the next page back, when there may be one.
    older: Option<String>,
}

/// `GET /ui/apps/{app}/deployments`.
pub async fn list(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path)?;
    viewer.require(Scope::Read, Some(&app))?;
    let limit = query
        .limit()
        .map_err(|e| PageError::bad_form(e.to_string()))?;
    let before = query
        .before(DeploymentId::parse)
        .map_err(|e| PageError::bad_form(e.to_string()))?;
    let paged = before.is_some();
    let listed = app.clone();
    let deployments = state
        .db(move |s| s.list_deployments(&listed, limit, before.as_ref()))
        .await?;
    let older = (deployments.len() == limit as usize)
        .then(|| deployments.last().map(|d| d.id.to_string()))
        .flatten();
    let page = DeploymentsPage {
        nav: Some(viewer.nav()),
        app: app.to_string(),
        deployments: deployments.into_iter().map(DeploymentLine::of).collect(),
        paged,
        older,
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "deployment.html")]
struct DeploymentPage {
    nav: Option<Nav>,
    app: String,
    id: String,
    actor: String,
    release: String,
    previous: Option<String>,
    created: When,
    live: LiveView,
}

/// `GET /ui/apps/{app}/deployments/{id}`: the deployment as it is now;
/// while it runs, the page follows it through [`events`].
pub async fn show(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path.0)?;
    viewer.require(Scope::Read, Some(&app))?;
    let id = deployment_id(&app, &path.1)?;
    let loaded_app = app.clone();
    let (d, events) = state
        .db(move |s| {
            let d = s.get_deployment(&loaded_app, &id)?;
            let events = s.list_deployment_events(&d.id, 0)?;
            Ok((d, events))
        })
        .await?;
    let csrf = viewer.can_deploy(&app).then(|| viewer.csrf.clone());
    let page = DeploymentPage {
        nav: Some(viewer.nav()),
        app: app.to_string(),
        id: d.id.to_string(),
        live: LiveView::of(&d, &events, csrf),
        actor: d.actor,
        release: d.release.to_string(),
        previous: d.previous_release.map(|r| r.to_string()),
        created: When::of(d.created_at),
    };
    render(StatusCode::OK, &page)
}

/// `POST /ui/apps/{app}/deployments/{id}/cancel`: asks the worker to stop
/// and roll back (the store call `POST .../cancel` makes), then shows the
/// deployment (303 to its page). A final deployment is a 409 page.
pub async fn cancel(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path.0)?;
    viewer.require(Scope::Deploy, Some(&app))?;
    viewer.check_csrf(&form.csrf)?;
    let id = deployment_id(&app, &path.1)?;
    let actor = viewer.caller.actor();
    let (cancelled_app, cancelled) = (app.clone(), id.clone());
    state
        .write(&viewer.caller, move |s| {
            // A deleted app's deployments are not found, like the app.
            s.get_app(&cancelled_app)?;
            s.cancel_deployment(&cancelled_app, &cancelled, &actor)
        })
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/ui/apps/{app}/deployments/{id}")))
        .finish())
}
