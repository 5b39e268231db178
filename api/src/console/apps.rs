//! The apps page (`/ui`): each app the token reaches, with its active
//! release and its last deployment's status and time.

use super::page::{render, PageError};
use super::session::Viewer;
use super::view::{deployment_class, Nav, When};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use slipway_core::domain::{App, Deployment};

/// One app's line on the page.
struct AppLine {
    name: String,
    active: Option<String>,
    last: Option<LastDeployment>,
}

struct LastDeployment {
    id: String,
    status: &'static str,
    class: &'static str,
    when: When,
}

#[derive(Template)]
#[template(path = "apps.html")]
struct AppsPage {
    nav: Option<Nav>,
    apps: Vec<AppLine>,
}

/// `GET /ui`.
pub async fn list(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    let grant = viewer.caller.grant().clone();
    let apps: Vec<(App, Option<Deployment>)> = state
        .db(move |store| {
            let mut apps = store.list_apps()?;
            apps.retain(|app| grant.covers(&app.name));
            apps.into_iter()
                .map(|app| {
                    let last = store.list_deployments(&app.name, 1, None)?.pop();
                    Ok((app, last))
                })
                .collect()
        })
        .await?;
    let apps = apps
        .into_iter()
        .map(|(app, last)| AppLine {
            name: app.name.to_string(),
            active: app.active_release.map(|r| r.to_string()),
            last: last.map(|d| LastDeployment {
                id: d.id.to_string(),
                status: d.status.as_str(),
                class: deployment_class(d.status),
                when: When::of(d.created_at),
            }),
        })
        .collect();
    let page = AppsPage {
        nav: Some(viewer.nav()),
        apps,
    };
    render(StatusCode::OK, &page)
}
