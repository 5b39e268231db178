//! The Processes tab (`/ui/apps/{app}/processes`): the app's instances as
//! its supervising worker last saw them, the table `slipway ps` prints.

use super::page::{render, PageError};
use super::session::Viewer;
use super::view::{Nav, When};
use crate::routes::app_path;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use slipway_core::contract;
use slipway_core::domain::{ProcessStatus, Scope};
use slipway_core::store::Process;

/// One instance's line.
struct ProcessLine {
    id: String,
    service: String,
    release: String,
    status: &'static str,
    class: &'static str,
    restarts: u32,
    started: When,
    address: Option<String>,
}

#[derive(Template)]
#[template(path = "processes.html")]
struct ProcessesPage {
    nav: Option<Nav>,
    app: String,
    processes: Vec<ProcessLine>,
}

/// `GET /ui/apps/{app}/processes`.
pub async fn list(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path)?;
    viewer.require(Scope::Read, Some(&app))?;
    let listed = app.clone();
    let processes = state.db(move |s| s.list_processes(&listed)).await?;
    let page = ProcessesPage {
        nav: Some(viewer.nav()),
        app: app.to_string(),
        processes: processes.into_iter().map(line).collect(),
    };
    render(StatusCode::OK, &page)
}

fn line(process: Process) -> ProcessLine {
    // The API's own shape, so the address reads as `slipway ps` shows it.
    let process = contract::Process::from(process);
    ProcessLine {
        id: process.id,
        service: process.service.to_string(),
        release: process.release.to_string(),
        status: process.status.as_str(),
        class: status_class(process.status),
        restarts: process.restarts,
        started: When::of(process.started_at),
        address: process.address,
    }
}

/// The CSS class that marks an instance's status.
fn status_class(status: ProcessStatus) -> &'static str {
    match status {
        ProcessStatus::Running => "status-ok",
        ProcessStatus::Starting | ProcessStatus::Stopping => "status-busy",
        ProcessStatus::Crashed => "status-bad",
    }
}
