//! From events to deliveries: inside the transaction that records an event,
//! one delivery row per matching webhook, carrying the body that will be
//! signed and sent (built now, so every attempt sends the same snapshot).

use crate::domain::{AppName, BuildId, Deployment, DeploymentId, EventId, WebhookId};
use crate::events::{
    BodyData, BodyKind, EventData, EventPayload, Progress, ProgressStep, WebhookBody,
};
use crate::store::rows::deliveries::insert_each;
use crate::store::rows::deployments::find;
use crate::store::schema::{deployments, releases};
use crate::store::{DbConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// An event as it is recorded.
pub(super) struct NewEvent<'a> {
    pub id: EventId,
    pub app: &'a AppName,
    /// The deployment it belongs to (`deployment.*` events).
    pub deployment: Option<&'a DeploymentId>,
    pub payload: &'a EventPayload,
    pub actor: &'a str,
    pub at: NaiveDateTime,
}

/// Writes one pending delivery of `event` per webhook of `targets` (its
/// recipients).
pub(super) fn fan_out(
    conn: &mut DbConnection,
    event: &NewEvent<'_>,
    targets: &[WebhookId],
) -> Result<(), StoreError> {
    let kind = event.payload.kind();
    if targets.is_empty() {
        return Ok(());
    }
    // Through a JSON value, whose keys are sorted, as every body is sent.
    let body = serde_json::to_value(body(conn, event)?).map_err(StoreError::corrupt)?;
    let body = body.to_string();
    let traceparent = traceparent(conn, event)?;
    // One statement for all of them: an event to 50 webhooks is one
    // round trip, not 50, inside the transaction of the change.
    insert_each(
        conn,
        targets,
        &event.id,
        BodyKind::Event(kind),
        &body,
        traceparent.as_deref(),
    )
}

/// The trace context a deployment event's deliveries continue: the
/// deployment's own (the request that promoted it).
fn traceparent(
    conn: &mut DbConnection,
    event: &NewEvent<'_>,
) -> Result<Option<String>, StoreError> {
    let Some(id) = event.deployment else {
        return Ok(None);
    };
    let found: Option<Option<String>> = deployments::table
        .find(id.as_str())
        .select(deployments::traceparent)
        .first(conn)
        .optional()?;
    Ok(found.flatten())
}

/// The webhook body of an event. Env values are never in event data (env
/// events carry key names only), so none can reach a receiver.
fn body(conn: &mut DbConnection, event: &NewEvent<'_>) -> Result<WebhookBody, StoreError> {
    let payload = event.payload;
    // Progress events carry only their step: the deployment as it is now.
    let current = match (payload, event.deployment) {
        (EventPayload::DeploymentProgress(_), Some(id)) => {
            find(conn, id)?.map(Deployment::try_from).transpose()?
        }
        _ => None,
    };
    let deployment = payload.deployment_snapshot().or(current.as_ref());
    let (release, mut build, mut description) = match payload {
        EventPayload::BuildCreated(created) => {
            let build = &created.build;
            let description = Some(build.description.clone());
            (
                Some(build.release.clone()),
                Some(build.id.clone()),
                description,
            )
        }
        EventPayload::ReleaseCreated(created) => {
            let release = &created.release;
            let description = Some(release.description.clone());
            (Some(release.id.clone()), release.build.clone(), description)
        }
        EventPayload::EnvChanged(changed) => (Some(changed.release.clone()), None, None),
        EventPayload::AppCrashed(crash) => (Some(crash.release.clone()), None, None),
        EventPayload::DeploymentProgress(
            Progress::Healthy { release, .. } | Progress::Wave { release, .. },
        ) => (Some(release.clone()), None, None),
        _ => (None, None, None),
    };
    let release = release.or_else(|| deployment.map(|d| d.release.clone()));
    if let (Some(id), None) = (&release, &description) {
        // Releases never change, so reading one later gives the same answer.
        let found: Option<(Option<String>, String)> = releases::table
            .find(id.as_str())
            .select((releases::build, releases::description))
            .first(conn)
            .optional()?;
        if let Some((found_build, text)) = found {
            if build.is_none() {
                build = found_build
                    .map(|b| BuildId::parse(&b).map_err(StoreError::corrupt))
                    .transpose()?;
            }
            description = Some(text);
        }
    }
    let mut data = EventData {
        app: Some(event.app.clone()),
        release,
        build,
        description,
        deployment: deployment.map(|d| d.id.clone()),
        status: deployment.map(|d| d.status),
        reason: deployment.and_then(|d| d.reason.clone()),
        previous_release: deployment.and_then(|d| d.previous_release.clone()),
        duration_ms: deployment.and_then(|d| d.duration_ms),
        trace_id: deployment.and_then(|d| d.trace_id.clone()),
        actor: Some(event.actor.to_owned()),
        ..EventData::default()
    };
    match payload {
        EventPayload::EnvChanged(changed) => data.changes = Some(changed.changes.clone()),
        EventPayload::DeploymentProgress(progress) => {
            data.progress = Some(ProgressStep::Known(progress.clone()));
        }
        EventPayload::AppCrashed(crash) => {
            // Which instance crashed, why, and when it comes back.
            data.service = Some(crash.service.clone());
            data.instance = Some(crash.instance.clone());
            data.reason = Some(crash.reason.clone());
            data.restarts = Some(crash.restarts);
            data.restart_in_ms = Some(crash.restart_in_ms);
        }
        _ => {}
    }
    Ok(WebhookBody {
        id: event.id.clone(),
        kind: BodyKind::Event(payload.kind()),
        timestamp: event.at.and_utc(),
        data: BodyData::Event(Box::new(data)),
    })
}
