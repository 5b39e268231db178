//! Promote and Rollback from the Releases tab: a confirmation page naming
//! what changes (the env keys and the build, against the active release),
//! then a POST (with the session's CSRF value) that starts the deployment
//! through the same store calls as the API, and shows the deployment.

use super::page::{render, PageError};
use super::releases::{load, DiffView, Loaded};
use super::session::{CsrfForm, Viewer};
use super::view::Nav;
use crate::routes::{app_path, enqueue, release_path};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use slipway_core::domain::Scope;
use slipway_core::store::PromoteOptions;

/// What the confirmed form does.
#[derive(Clone, Copy)]
pub enum Action {
    /// Rolls the app out to this release.
    Promote,
    /// Convox's rollback: a new release with this one's build and env, promoted.
    Rollback,
}

impl Action {
    fn path(self) -> &'static str {
        match self {
            Action::Promote => "promote",
            Action::Rollback => "rollback",
        }
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    nav: Option<Nav>,
    app: String,
    id: String,
    action: &'static str,
    heading: String,
    explanation: String,
    button: &'static str,
    csrf: String,
    env_keys: Vec<String>,
    diff: Option<DiffView>,
}

/// `GET .../releases/{id}/promote` and `.../rollback`: the confirmation.
pub async fn confirm(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
    action: Action,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path.0)?;
    viewer.require(Scope::Deploy, Some(&app))?;
    let id = release_path(&app, &path.1)?;
    let loaded_app = app.clone();
    let Loaded {
        release,
        env_keys,
        diff,
        ..
    } = state.db(move |s| load(s, &loaded_app, &id)).await?;
    let (heading, explanation, button) = match action {
        Action::Promote => (
            format!("Promote {}", release.id),
            format!(
                "A rolling update to {} (\"{}\"); it rolls back by itself if the new \
                 release fails.",
                release.id, release.description
            ),
            "Promote",
        ),
        Action::Rollback => (
            format!("Roll back to {}", release.id),
            format!(
                "A new release with the build and env of {} (\"{}\"), described \
                 \"rollback to {}\", promoted by a rolling update.",
                release.id, release.description, release.id
            ),
            "Roll back",
        ),
    };
    let page = ConfirmPage {
        nav: Some(viewer.nav()),
        app: app.to_string(),
        id: release.id.to_string(),
        action: action.path(),
        heading,
        explanation,
        button,
        csrf: viewer.csrf.clone(),
        env_keys,
        diff,
    };
    render(StatusCode::OK, &page)
}

/// `POST .../releases/{id}/promote` and `.../rollback`: starts the
/// deployment and shows it (303 to its page).
pub async fn start(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    action: Action,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path.0)?;
    viewer.require(Scope::Deploy, Some(&app))?;
    viewer.check_csrf(&form.csrf)?;
    let release = release_path(&app, &path.1)?;
    let actor = viewer.caller.actor();
    let started_app = app.clone();
    let (_, deployment) = state
        .write(&viewer.caller, move |s| {
            let options = PromoteOptions::default();
            match action {
                Action::Promote => s.promote(&started_app, &release, &options, &actor),
                Action::Rollback => s.rollback(&started_app, &release, &options, &actor),
            }
        })
        .await?;
    enqueue(&state, &deployment).await;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/ui/apps/{app}/deployments/{}", deployment.id),
        ))
        .finish())
}
