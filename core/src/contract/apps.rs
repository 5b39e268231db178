//! `/apps` and `/apps/{app}`.

use crate::domain::{AppName, Deadline, InvalidInput, ReleaseId, ServiceUrls};
use crate::store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The field a deadline is read from, named in errors.
const DEADLINE_FIELD: &str = "deadline_seconds";

/// `POST /apps`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    #[schema(value_type = AppName)]
    pub name: String,
    /// Defaults to 600.
    #[schema(value_type = Option<Deadline>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_seconds: Option<i64>,
}

impl CreateApp {
    /// The name and deadline, checked.
    pub fn parse(&self) -> Result<(AppName, Option<Deadline>), InvalidInput> {
        let name = AppName::parse(&self.name)?;
        let deadline = self
            .deadline_seconds
            .map(|s| Deadline::parse(s, DEADLINE_FIELD))
            .transpose()?;
        Ok((name, deadline))
    }
}

/// `PATCH /apps/{app}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApp {
    #[schema(value_type = Deadline)]
    pub deadline_seconds: i64,
}

impl UpdateApp {
    pub fn parse(&self) -> Result<Deadline, InvalidInput> {
        Deadline::parse(self.deadline_seconds, DEADLINE_FIELD)
    }
}

/// An app, with where its services answer through the router.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct App {
    pub name: AppName,
    /// The release the app runs (promoted), or null before the first promotion.
    #[schema(required = true)]
    pub active_release: Option<ReleaseId>,
    pub deadline_seconds: Deadline,
    pub created_at: DateTime<Utc>,
    /// Each service of the active release's manifest that has a port, by
    /// name, with the URLs it answers at through the router; empty before
    /// the first promotion.
    pub services: Vec<ServiceUrls>,
}

impl App {
    /// The stored app with its services' URLs.
    pub fn new(app: store::App, services: Vec<ServiceUrls>) -> App {
        App {
            name: app.name,
            active_release: app.active_release,
            deadline_seconds: app.deadline_seconds,
            created_at: app.created_at,
            services,
        }
    }
}

/// `GET /apps`: every app the token reaches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppList {
    pub apps: Vec<App>,
}
