//! The event log: rows written inside the transaction of the change they
//! record, each fanned out to the webhooks that want it (`fanout.rs`), and
//! read back in the order they were written. Every aggregate records its
//! events here; nothing else writes `events` or new deliveries of an event.

mod fanout;
mod prune;

use super::rows::events::{Event, EventRow};
use super::rows::now;
use super::schema::events;
use super::{DbConnection, Store, StoreError};
use crate::domain::{AppName, Build, DeploymentId, EnvDiff, EventId, Release, WebhookId};
use crate::events::{BuildCreated, EnvChanged, EventPayload, ReleaseCreated};
use diesel::prelude::*;
use fanout::{fan_out, subscribers, NewEvent};
pub use prune::{Pruned, DEFAULT_EVENT_RETENTION, PRUNE_BATCH};

/// Appends an event; call inside the transaction that makes the change.
pub(crate) fn record(
    conn: &mut DbConnection,
    app: &AppName,
    payload: EventPayload,
    actor: &str,
) -> Result<EventId, StoreError> {
    record_for(conn, app, None, payload, actor)
}

/// Appends an event about a deployment (found again by its id), and its
/// deliveries to the webhooks that want it.
pub(crate) fn record_for(
    conn: &mut DbConnection,
    app: &AppName,
    deployment: Option<&DeploymentId>,
    payload: EventPayload,
    actor: &str,
) -> Result<EventId, StoreError> {
    let targets = subscribers(conn, payload.kind(), app)?;
    insert(conn, app, deployment, &payload, actor, &targets)
}

/// Appends an event that is the whole of its change (a rollout's progress)
/// outside any transaction: when no webhook wants it, the common case, the
/// event alone is one statement, committed by itself; otherwise the event
/// and its deliveries are one transaction, as [`record_for`] writes them.
pub(crate) fn record_alone(
    conn: &mut DbConnection,
    app: &AppName,
    deployment: Option<&DeploymentId>,
    payload: EventPayload,
    actor: &str,
) -> Result<(), StoreError> {
    let targets = subscribers(conn, payload.kind(), app)?;
    if targets.is_empty() {
        insert(conn, app, deployment, &payload, actor, &[]).map(drop)
    } else {
        conn.transaction(|conn| insert(conn, app, deployment, &payload, actor, &targets).map(drop))
    }
}

/// The event's row and one delivery per webhook of `targets`.
fn insert(
    conn: &mut DbConnection,
    app: &AppName,
    deployment: Option<&DeploymentId>,
    payload: &EventPayload,
    actor: &str,
    targets: &[WebhookId],
) -> Result<EventId, StoreError> {
    let id = EventId::generate();
    let at = now();
    // Through a JSON value, whose keys are sorted: the stored text is
    // the same whatever the order of the payload's fields.
    let data = serde_json::to_value(payload).map_err(StoreError::corrupt)?;
    diesel::insert_into(events::table)
        .values((
            events::id.eq(id.as_str()),
            events::app.eq(app.as_str()),
            events::deployment.eq(deployment.map(DeploymentId::as_str)),
            events::kind.eq(payload.kind().as_str()),
            events::data.eq(data.to_string()),
            events::actor.eq(actor),
            events::created_at.eq(at),
        ))
        .execute(conn)?;
    let event = NewEvent {
        id: &id,
        app,
        deployment,
        payload,
        actor,
        at,
    };
    fan_out(conn, &event, targets)?;
    Ok(id)
}

/// Records a new release: `build.created` first when a build was made with
/// it, then `release.created`, then `env.changed` when it carries env
/// changes (key names only, never values).
pub(crate) fn record_release(
    conn: &mut DbConnection,
    release: &Release,
    build: Option<&Build>,
    changes: Option<&EnvDiff>,
    actor: &str,
) -> Result<(), StoreError> {
    let app = &release.app;
    if let Some(build) = build {
        let build = build.clone();
        record(
            conn,
            app,
            EventPayload::BuildCreated(BuildCreated { build }),
            actor,
        )?;
    }
    let created = ReleaseCreated {
        release: release.clone(),
    };
    record(conn, app, EventPayload::ReleaseCreated(created), actor)?;
    if let Some(diff) = changes {
        let changed = EnvChanged {
            release: release.id.clone(),
            changes: diff.clone(),
        };
        record(conn, app, EventPayload::EnvChanged(changed), actor)?;
    }
    Ok(())
}

impl Store {
    /// The events of one app (or of all apps), oldest first.
    pub fn list_events(&self, app: Option<&AppName>) -> Result<Vec<Event>, StoreError> {
        self.read(|conn| {
            let mut query = events::table
                .order(events::seq)
                .select(EventRow::as_select())
                .into_boxed();
            if let Some(app) = app {
                query = query.filter(events::app.eq(app.as_str().to_owned()));
            }
            query.load(conn)?.into_iter().map(Event::try_from).collect()
        })
    }

    /// The events of one deployment after the event `after` (a sequence
    /// number from [`Event::seq`]), oldest first: what a live stream polls.
    pub fn list_deployment_events(
        &self,
        deployment: &DeploymentId,
        after: i64,
    ) -> Result<Vec<Event>, StoreError> {
        self.read(|conn| {
            events::table
                .filter(events::deployment.eq(deployment.as_str()))
                .filter(events::seq.gt(after))
                .order(events::seq)
                .select(EventRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Event::try_from)
                .collect()
        })
    }
}
