//! The Environment tab (`/ui/apps/{app}/env`): the latest release's env as
//! editable rows, values hidden until revealed; **Save** (a release) and
//! **Apply Changes** (a release, promoted), each after a preview of the
//! description it will get; and a warning when the latest release, which
//! a change starts from, is not the active one.

mod form;

use super::page::{render, PageError};
use super::session::Viewer;
use super::view::Nav;
use crate::error::ApiError;
use crate::routes::{app_path, enqueue};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use form::{confirmed_change, edited_change, Fields, Intent};
use serde::Deserialize;
use slipway_core::domain::{AppName, Env, EnvDiff, InvalidInput, ReleaseId, Scope};
use slipway_core::store::{PromoteOptions, Store, StoreError};

/// Empty rows at the end of the editor, for new variables.
const NEW_ROWS: usize = 3;

/// The editor's forms carry whole envs (up to 256 KiB of values), so they
/// get the API's large body limit rather than the console's small one.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(crate::MAX_BODY_BYTES)
        .error_handler(|err, _| {
            PageError::bad_form(format!("The form could not be read: {err}.")).into()
        })
}

/// The latest release is not the active one: where they differ.
struct Drift {
    latest: String,
    active: String,
    /// The env keys added, changed or removed from the active release to
    /// the latest, sorted.
    keys: Vec<String>,
    build_changed: bool,
}

/// The env a change starts from, and how it stands against the active release.
struct Current {
    env: Env,
    latest: Option<ReleaseId>,
    drift: Option<Drift>,
}

fn current(store: &Store, app: &AppName) -> Result<Current, StoreError> {
    let (env, latest) = store.get_env(app)?;
    let active = store.get_app(app)?.active_release;
    let drift = match (&latest, active) {
        (Some(latest_id), Some(active_id)) if *latest_id != active_id => {
            let latest = store.get_release(app, latest_id)?;
            let active = store.get_release(app, &active_id)?;
            let diff = EnvDiff::between(
                &active.env.clone().unwrap_or_default(),
                &latest.env.clone().unwrap_or_default(),
            );
            let mut keys: Vec<String> = [diff.added(), diff.changed(), diff.removed()].concat();
            keys.sort();
            Some(Drift {
                latest: latest.id.to_string(),
                active: active.id.to_string(),
                keys,
                build_changed: latest.build != active.build,
            })
        }
        _ => None,
    };
    Ok(Current { env, latest, drift })
}

/// One row of the editor (or of the read-only list).
struct Row {
    n: usize,
    key: String,
    /// Empty unless revealed.
    value: String,
}

#[derive(Template)]
#[template(path = "env.html")]
struct EnvPage {
    nav: Option<Nav>,
    app: String,
    csrf: String,
    rows: Vec<Row>,
    new_rows: Vec<usize>,
    base: String,
    revealed: bool,
    can_deploy: bool,
    drift: Option<Drift>,
}

#[derive(Deserialize)]
pub struct RevealQuery {
    #[serde(default)]
    reveal: Option<String>,
}

/// Who may read env values: the rule of `GET /apps/{app}/env`, which
/// returns them to any token that may read the app.
fn require_reveal(viewer: &Viewer, app: &AppName) -> Result<(), PageError> {
    viewer.require(Scope::Read, Some(app))
}

/// `GET /ui/apps/{app}/env` (`?reveal=1` shows the values).
pub async fn show(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    query: web::Query<RevealQuery>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path)?;
    viewer.require(Scope::Read, Some(&app))?;
    let revealed = query.reveal.as_deref().is_some_and(|r| r == "1");
    if revealed {
        require_reveal(&viewer, &app)?;
    }
    let loaded = app.clone();
    let Current { env, latest, drift } = state.db(move |s| current(s, &loaded)).await?;
    let rows: Vec<Row> = env
        .iter()
        .enumerate()
        .map(|(n, (key, value))| Row {
            n,
            key: key.to_owned(),
            value: if revealed {
                value.to_owned()
            } else {
                String::new()
            },
        })
        .collect();
    let page = EnvPage {
        nav: Some(viewer.nav()),
        csrf: viewer.csrf.clone(),
        can_deploy: viewer.can_deploy(&app),
        app: app.to_string(),
        new_rows: (rows.len()..rows.len() + NEW_ROWS).collect(),
        rows,
        base: latest.map(|l| l.to_string()).unwrap_or_default(),
        revealed,
        drift,
    };
    render(StatusCode::OK, &page)
}

/// A key set by the change, with the value the confirmation carries.
struct Carried {
    n: usize,
    key: String,
    value: String,
}

#[derive(Template)]
#[template(path = "env_preview.html")]
struct PreviewPage {
    nav: Option<Nav>,
    app: String,
    csrf: String,
    heading: &'static str,
    button: &'static str,
    intent: &'static str,
    base: String,
    /// Empty when nothing changes.
    description: String,
    added: Vec<String>,
    changed: Vec<String>,
    removed: Vec<String>,
    set: Vec<Carried>,
    unset: Vec<String>,
    /// (new key, old key): a rename keeping the value, carried by name.
    renames: Vec<(String, String)>,
    drift: Option<Drift>,
}

fn invalid(err: InvalidInput) -> PageError {
    PageError::from(ApiError::from(err))
}

/// `POST /ui/apps/{app}/env`: the preview of Save or Apply Changes: the
/// description the release will get and its keys, with a confirm button.
pub async fn preview(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path)?;
    viewer.require(Scope::Deploy, Some(&app))?;
    let fields = Fields::new(form.into_inner());
    viewer.check_csrf(fields.get("csrf"))?;
    let intent = Intent::parse(fields.get("intent")).map_err(invalid)?;
    let loaded = app.clone();
    let current = state.db(move |s| current(s, &loaded)).await?;
    check_base(&current, fields.get("base"))?;
    let edit = edited_change(&current.env, &fields).map_err(invalid)?;
    let new = current.env.apply(&edit.change).map_err(invalid)?;
    let diff = EnvDiff::between(&current.env, &new);
    let (heading, button) = match intent {
        Intent::Save => ("Save: a new release", "Save"),
        Intent::Apply => ("Apply Changes: a new release, promoted", "Apply Changes"),
    };
    let page = PreviewPage {
        nav: Some(viewer.nav()),
        app: app.to_string(),
        csrf: viewer.csrf.clone(),
        heading,
        button,
        intent: intent.as_str(),
        base: fields.get("base").to_owned(),
        description: diff.summary(),
        added: diff.added().to_vec(),
        changed: diff.changed().to_vec(),
        removed: diff.removed().to_vec(),
        set: edit
            .set
            .into_iter()
            .enumerate()
            .map(|(n, (key, value))| Carried { n, key, value })
            .collect(),
        unset: edit.unset,
        renames: edit.renames.into_iter().collect(),
        drift: current.drift,
    };
    render(StatusCode::OK, &page)
}

/// A 409 page when the latest release is no longer the one the form was
/// made from: the change would apply to an env the user has not seen.
fn check_base(current: &Current, base: &str) -> Result<(), PageError> {
    let latest = current
        .latest
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    if latest == base {
        return Ok(());
    }
    Err(PageError::new(
        StatusCode::CONFLICT,
        "The env changed since this form was shown (a newer release was created). Open the \
         Environment tab again and redo the change.",
    ))
}

/// `POST /ui/apps/{app}/env/confirm`: creates the release (Save) or
/// creates and promotes it (Apply Changes), as `PATCH /apps/{app}/env`.
pub async fn confirm(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path)?;
    viewer.require(Scope::Deploy, Some(&app))?;
    let fields = Fields::new(form.into_inner());
    viewer.check_csrf(fields.get("csrf"))?;
    let intent = Intent::parse(fields.get("intent")).map_err(invalid)?;
    let base = fields.get("base").to_owned();
    let actor = viewer.caller.actor();
    let changed = app.clone();
    // A release created between the preview and this POST is a conflict,
    // not silently built upon (checked just before the change).
    let location = state
        .write(&viewer.caller, move |s| {
            let (old, latest) = s.get_env(&changed)?;
            if latest.map(|l| l.to_string()).unwrap_or_default() != base {
                return Ok(Err(None));
            }
            let change = match confirmed_change(&fields, &old) {
                Ok(change) => change,
                Err(err) => return Ok(Err(Some(err))),
            };
            Ok(Ok(match intent {
                Intent::Save => s
                    .change_env(&changed, &change, None, &actor)?
                    .map(|r| (r, None)),
                Intent::Apply => s
                    .change_env_and_promote(
                        &changed,
                        &change,
                        None,
                        &PromoteOptions::default(),
                        &actor,
                    )?
                    .map(|(r, d)| (r, Some(d))),
            }))
        })
        .await?;
    let location = match location {
        Err(Some(err)) => return Err(invalid(err)),
        Err(None) => {
            return Err(PageError::new(
                StatusCode::CONFLICT,
                "The env changed since the preview (a newer release was created); nothing \
                 was saved. Open the Environment tab again and redo the change.",
            ))
        }
        Ok(None) => return nothing_changed(&viewer, &app),
        Ok(Some((_, Some(deployment)))) => {
            enqueue(&state, &deployment).await;
            format!("/ui/apps/{app}/deployments/{}", deployment.id)
        }
        Ok(Some((release, None))) => format!("/ui/apps/{app}/releases/{}", release.id),
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish())
}

fn nothing_changed(viewer: &Viewer, app: &AppName) -> Result<HttpResponse, PageError> {
    let page = PreviewPage {
        nav: Some(viewer.nav()),
        app: app.to_string(),
        csrf: viewer.csrf.clone(),
        heading: "Nothing changed",
        button: "",
        intent: "",
        base: String::new(),
        description: String::new(),
        added: Vec::new(),
        changed: Vec::new(),
        removed: Vec::new(),
        set: Vec::new(),
        unset: Vec::new(),
        renames: Vec::new(),
        drift: None,
    };
    render(StatusCode::OK, &page)
}
