//! One deployment's page (`/ui/apps/{app}/deployments/{id}`): status,
//! reason, who, release, previous, started and duration, as loaded.

use super::page::{render, PageError};
use super::session::Viewer;
use super::view::{deployment_class, duration, Nav, When};
use crate::routes::app_path;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use slipway_core::domain::{DeploymentId, Scope};

#[derive(Template)]
#[template(path = "deployment.html")]
struct DeploymentPage {
    nav: Option<Nav>,
    app: String,
    id: String,
    status: &'static str,
    class: &'static str,
    cancel_requested: bool,
    reason: Option<String>,
    actor: String,
    release: String,
    previous: Option<String>,
    created: When,
    started: Option<When>,
    duration: Option<String>,
}

/// `GET /ui/apps/{app}/deployments/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path.0)?;
    viewer.require(Scope::Read, Some(&app))?;
    let id = DeploymentId::parse(&path.1).map_err(|_| {
        PageError::new(
            StatusCode::NOT_FOUND,
            format!(
                "deployment `{}` not found in app `{app}`",
                crate::routes::clip(&path.1)
            ),
        )
    })?;
    let loaded_app = app.clone();
    let d = state
        .db(move |s| s.get_deployment(&loaded_app, &id))
        .await?;
    let page = DeploymentPage {
        nav: Some(viewer.nav()),
        app: app.to_string(),
        id: d.id.to_string(),
        status: d.status.as_str(),
        class: deployment_class(d.status),
        cancel_requested: d.cancel_requested,
        reason: d.reason,
        actor: d.actor,
        release: d.release.to_string(),
        previous: d.previous_release.map(|r| r.to_string()),
        created: When::of(d.created_at),
        started: d.started_at.map(When::of),
        duration: d.duration_ms.map(duration),
    };
    render(StatusCode::OK, &page)
}
