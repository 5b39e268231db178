//! The Logs tab (`/ui/apps/{app}/logs?service=&limit=`): the newest lines
//! the app's instances wrote, oldest first, as `slipway logs` prints them.
//! A plain page: a "Newer" link reloads it; there is no live follow.

use super::page::{render, PageError};
use super::session::Viewer;
use super::view::Nav;
use crate::routes::app_path;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use slipway_core::domain::{Scope, ServiceName};
use slipway_core::store::{LogLine, LogQuery};

/// As the API: the newest 100 lines unless asked, at most 1000.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// The page's address parameters.
#[derive(Deserialize)]
pub struct LogsParams {
    service: Option<String>,
    limit: Option<i64>,
}

/// One line as shown.
struct Line {
    utc: String,
    service: String,
    instance: String,
    text: String,
}

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage {
    nav: Option<Nav>,
    app: String,
    /// The service filter, as given (empty for all).
    service: String,
    limit: i64,
    lines: Vec<Line>,
}

/// `GET /ui/apps/{app}/logs`.
pub async fn list(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    params: web::Query<LogsParams>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path)?;
    viewer.require(Scope::Read, Some(&app))?;
    let query = parse(&params)?;
    let (listed, wanted) = (app.clone(), query.clone());
    let lines = state.db(move |s| s.list_logs(&listed, &wanted)).await?;
    let page = LogsPage {
        nav: Some(viewer.nav()),
        app: app.to_string(),
        service: query.service.map(|s| s.to_string()).unwrap_or_default(),
        limit: query.limit,
        lines: lines.into_iter().map(line).collect(),
    };
    render(StatusCode::OK, &page)
}

/// The store query the parameters ask for; a bad one is a 400 page saying
/// which. An empty `service` (the form's "all") means every service.
fn parse(params: &LogsParams) -> Result<LogQuery, PageError> {
    let service = params
        .service
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            ServiceName::parse(s)
                .map_err(|e| PageError::bad_form(format!("The service: {}.", e.message)))
        })
        .transpose()?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(PageError::bad_form(format!(
            "The limit must be between 1 and {MAX_LIMIT}."
        )));
    }
    Ok(LogQuery {
        service,
        since: None,
        after: 0,
        limit,
    })
}

fn line(line: LogLine) -> Line {
    Line {
        utc: line.at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
        service: line.service.to_string(),
        instance: line.instance,
        text: line.line,
    }
}
