//! What the store hands out: apps, builds, releases and events, shaped as the
//! API shows them, and their rows as stored.

use super::schema::{apps, builds, events, releases};
use super::StoreError;
use crate::domain::{AppName, BuildId, Deadline, Env, EventId, Manifest, ReleaseId};
use crate::seal::Keyring;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct App {
    pub name: AppName,
    pub active_release: Option<ReleaseId>,
    pub deadline_seconds: Deadline,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Build {
    pub id: BuildId,
    pub app: AppName,
    /// The release this build created.
    pub release: ReleaseId,
    pub description: String,
    pub git_sha: Option<String>,
    pub git_message: Option<String>,
    pub manifest: Manifest,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// A release's standing in its app, as listings show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ReleaseStatus {
    #[serde(rename = "")]
    Inactive,
    #[serde(rename = "active")]
    Active,
    /// Its deployment is under way.
    #[serde(rename = "promoting")]
    Promoting,
    /// Its latest deployment ended without making it active.
    #[serde(rename = "failed")]
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Release {
    pub id: ReleaseId,
    pub app: AppName,
    pub build: Option<BuildId>,
    pub description: String,
    pub status: ReleaseStatus,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    /// Only when one release is fetched: listings leave values out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Orders events; streams resume after it.
    #[serde(skip)]
    pub seq: i64,
    pub id: EventId,
    pub app: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: serde_json::Value,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// Now, at the precision both databases keep (microseconds), so what a write
/// returns equals what a later read returns.
pub(crate) fn now() -> NaiveDateTime {
    use chrono::SubsecRound;
    Utc::now().naive_utc().trunc_subsecs(6)
}

fn parse<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(StoreError::corrupt)
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = apps)]
pub(crate) struct AppRow {
    pub name: String,
    pub active_release: Option<String>,
    pub deadline_seconds: i32,
    pub seq: i64,
    pub created_at: NaiveDateTime,
    /// Set by `delete_app`: the app is gone for readers, its rows wait for
    /// a worker to stop its instances (see `teardown.rs`).
    pub deleted_at: Option<NaiveDateTime>,
}

impl TryFrom<AppRow> for App {
    type Error = StoreError;
    fn try_from(row: AppRow) -> Result<Self, StoreError> {
        Ok(App {
            name: parse(AppName::parse(&row.name))?,
            active_release: row
                .active_release
                .map(|r| parse(ReleaseId::parse(&r)))
                .transpose()?,
            deadline_seconds: parse(Deadline::parse(row.deadline_seconds.into(), "deadline"))?,
            created_at: row.created_at.and_utc(),
        })
    }
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = builds)]
pub(crate) struct BuildRow {
    pub id: String,
    pub app: String,
    pub seq: i64,
    pub release: String,
    pub description: String,
    pub git_sha: Option<String>,
    pub git_message: Option<String>,
    pub manifest: String,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

/// A manifest as stored (its canonical JSON text).
pub(crate) fn parse_manifest(stored: &str) -> Result<Manifest, StoreError> {
    let manifest: serde_json::Value = parse(serde_json::from_str(stored))?;
    parse(Manifest::from_json(&manifest))
}

impl TryFrom<BuildRow> for Build {
    type Error = StoreError;
    fn try_from(row: BuildRow) -> Result<Self, StoreError> {
        Ok(Build {
            id: parse(BuildId::parse(&row.id))?,
            app: parse(AppName::parse(&row.app))?,
            release: parse(ReleaseId::parse(&row.release))?,
            description: row.description,
            git_sha: row.git_sha,
            git_message: row.git_message,
            manifest: parse_manifest(&row.manifest)?,
            actor: row.actor,
            created_at: row.created_at.and_utc(),
        })
    }
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = releases)]
pub(crate) struct ReleaseRow {
    pub id: String,
    pub app: String,
    pub seq: i64,
    pub build: Option<String>,
    /// Sealed (see `sealed.rs`); plaintext JSON in rows older than sealing.
    pub env: String,
    pub description: String,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

impl ReleaseRow {
    /// The env, opened with `keys` (it is stored sealed).
    /// A key that does not open it is [`StoreError::UnreadableRelease`],
    /// naming this release.
    pub fn env(&self, keys: &Keyring) -> Result<Env, StoreError> {
        super::sealed::open_env(keys, &self.env).map_err(|err| match err {
            StoreError::Seal(source) => StoreError::UnreadableRelease {
                app: self.app.clone(),
                release: self.id.clone(),
                source,
            },
            other => other,
        })
    }

    /// The release as shown, with its status in the app; with its env when
    /// `keys` are given to open it.
    pub fn into_release(
        self,
        status: ReleaseStatus,
        keys: Option<&Keyring>,
    ) -> Result<Release, StoreError> {
        let env = keys.map(|keys| self.env(keys)).transpose()?;
        Ok(Release {
            id: parse(ReleaseId::parse(&self.id))?,
            app: parse(AppName::parse(&self.app))?,
            build: self.build.map(|b| parse(BuildId::parse(&b))).transpose()?,
            description: self.description,
            status,
            actor: self.actor,
            created_at: self.created_at.and_utc(),
            env,
        })
    }
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = events)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub id: String,
    pub app: String,
    pub kind: String,
    pub data: String,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;
    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(Event {
            seq: row.seq,
            id: parse(EventId::parse(&row.id))?,
            app: row.app,
            kind: row.kind,
            data: parse(serde_json::from_str(&row.data))?,
            actor: row.actor,
            created_at: row.created_at.and_utc(),
        })
    }
}
