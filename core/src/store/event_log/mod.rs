//! The event log: rows written inside the transaction of the change they
//! record, each fanned out to the webhooks that want it (`fanout.rs`; who
//! wants it without reading every webhook each time: `recipients.rs`), and
//! read back in the order they were written. Every aggregate records its
//! events here; nothing else writes `events` or new deliveries of an event.

mod fanout;
mod prune;
mod recipients;

use super::rows::events::{Event, EventRow};
use super::rows::now;
use super::schema::{events, webhook_generation};
use super::{DbConnection, Store, StoreError};
use crate::domain::{AppName, Build, DeploymentId, EnvDiff, EventId, Release};
use crate::events::{BuildCreated, EnvChanged, EventPayload, ReleaseCreated};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamp};
use fanout::{fan_out, NewEvent};
pub use prune::{Pruned, DEFAULT_EVENT_RETENTION, PRUNE_BATCH};
use recipients::Webhooks;

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
    let event = new_event(app, deployment, &payload, actor);
    if let Some(known) = Webhooks::last_read() {
        if write_at(conn, &event, known.generation)? {
            deliver(conn, &event, &known)?;
            return Ok(event.id);
        }
    }
    let webhooks = Webhooks::read(conn)?;
    write(conn, &event)?;
    deliver(conn, &event, &webhooks)?;
    Ok(event.id)
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
    let event = new_event(app, deployment, &payload, actor);
    let kind = payload.kind();
    if let Some(known) = Webhooks::last_read() {
        let written = if known.recipients(kind, app).is_empty() {
            write_at(conn, &event, known.generation)?
        } else {
            conn.transaction(|conn| {
                let written = write_at(conn, &event, known.generation)?;
                if written {
                    deliver(conn, &event, &known)?;
                }
                Ok::<_, StoreError>(written)
            })?
        };
        if written {
            return Ok(());
        }
    }
    let webhooks = Webhooks::read(conn)?;
    if webhooks.recipients(kind, app).is_empty() {
        write(conn, &event)
    } else {
        conn.transaction(|conn| {
            write(conn, &event)?;
            deliver(conn, &event, &webhooks)
        })
    }
}

fn new_event<'a>(
    app: &'a AppName,
    deployment: Option<&'a DeploymentId>,
    payload: &'a EventPayload,
    actor: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        id: EventId::generate(),
        app,
        deployment,
        payload,
        actor,
        at: now(),
    }
}

/// The event's data as stored: through a JSON value, whose keys are sorted,
/// so the text is the same whatever the order of the payload's fields.
fn data(event: &NewEvent<'_>) -> Result<String, StoreError> {
    let value = serde_json::to_value(event.payload).map_err(StoreError::corrupt)?;
    Ok(value.to_string())
}

/// Writes the event's row.
fn write(conn: &mut DbConnection, event: &NewEvent<'_>) -> Result<(), StoreError> {
    diesel::insert_into(events::table)
        .values((
            events::id.eq(event.id.as_str()),
            events::app.eq(event.app.as_str()),
            events::deployment.eq(event.deployment.map(DeploymentId::as_str)),
            events::kind.eq(event.payload.kind().as_str()),
            events::data.eq(data(event)?),
            events::actor.eq(event.actor),
            events::created_at.eq(event.at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes the event's row if the webhooks are still at `generation`
/// (see the recipients module); whether it did.
fn write_at(
    conn: &mut DbConnection,
    event: &NewEvent<'_>,
    generation: i64,
) -> Result<bool, StoreError> {
    let row = webhook_generation::table
        .filter(webhook_generation::generation.eq(generation))
        .select((
            event.id.as_str().into_sql::<Text>(),
            event.app.as_str().into_sql::<Text>(),
            event
                .deployment
                .map(DeploymentId::as_str)
                .into_sql::<Nullable<Text>>(),
            event.payload.kind().as_str().into_sql::<Text>(),
            data(event)?.into_sql::<Text>(),
            event.actor.into_sql::<Text>(),
            event.at.into_sql::<Timestamp>(),
        ));
    let written = diesel::insert_into(events::table)
        .values(row)
        .into_columns((
            events::id,
            events::app,
            events::deployment,
            events::kind,
            events::data,
            events::actor,
            events::created_at,
        ))
        .execute(conn)?;
    Ok(written == 1)
}

/// One delivery of `event` to each of `webhooks` that wants it.
fn deliver(
    conn: &mut DbConnection,
    event: &NewEvent<'_>,
    webhooks: &Webhooks,
) -> Result<(), StoreError> {
    let targets = webhooks.recipients(event.payload.kind(), event.app);
    fan_out(conn, event, &targets)
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
