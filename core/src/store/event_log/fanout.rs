//! From events to deliveries: inside the transaction that records an event,
//! one delivery row per matching webhook, carrying the payload that will be
//! signed and sent (built now, so every attempt sends the same snapshot).

use crate::domain::{DeploymentId, EventId};
use crate::store::rows::deliveries::insert_traced;
use crate::store::rows::deployments::{find, Deployment};
use crate::store::rows::webhooks::{Webhook, WebhookRow};
use crate::store::schema::{deployments, releases, webhooks};
use crate::store::{DbConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{json, Map, Value};

/// An event as just recorded.
pub(super) struct NewEvent<'a> {
    pub id: &'a EventId,
    pub app: &'a str,
    pub kind: &'a str,
    /// The deployment it belongs to (`deployment.*` events).
    pub deployment: Option<&'a str>,
    pub data: &'a Value,
    pub actor: &'a str,
    pub at: NaiveDateTime,
}

/// Writes one pending delivery per webhook that wants `event`.
pub(super) fn fan_out(conn: &mut DbConnection, event: &NewEvent<'_>) -> Result<(), StoreError> {
    let rows: Vec<WebhookRow> = webhooks::table
        .filter(webhooks::disabled_at.is_null())
        .select(WebhookRow::as_select())
        .load(conn)?;
    let mut targets = Vec::new();
    for row in rows {
        let webhook = Webhook::try_from(row)?;
        if webhook.wants(event.kind, event.app) {
            targets.push(webhook.id);
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    let payload = payload(conn, event)?.to_string();
    let traceparent = traceparent(conn, event)?;
    for webhook in &targets {
        insert_traced(
            conn,
            webhook,
            event.id,
            event.kind,
            &payload,
            traceparent.as_deref(),
        )?;
    }
    Ok(())
}

/// The trace context a deployment event's deliveries continue: the
/// deployment's own (the request that promoted it).
fn traceparent(
    conn: &mut DbConnection,
    event: &NewEvent<'_>,
) -> Result<Option<String>, StoreError> {
    let id = event
        .data
        .get("deployment")
        .and_then(|d| d.get("id"))
        .and_then(Value::as_str)
        .or(event.deployment);
    let Some(id) = id else {
        return Ok(None);
    };
    let found: Option<Option<String>> = deployments::table
        .find(id)
        .select(deployments::traceparent)
        .first(conn)
        .optional()?;
    Ok(found.flatten())
}

/// The webhook body: `{id, type, timestamp, data}` with a flat `data` a
/// receiver can use without calling back. Env values are never in event data
/// (env events carry key names only), so none can reach a receiver.
fn payload(conn: &mut DbConnection, event: &NewEvent<'_>) -> Result<Value, StoreError> {
    let data = event.data;
    // Progress events carry only their step: the deployment as it is now.
    let current = match (data.get("deployment"), event.deployment) {
        (None, Some(id)) => find(conn, &DeploymentId::parse(id).map_err(StoreError::corrupt)?)?
            .map(|row| Deployment::try_from(row).map(|d| json!(d)))
            .transpose()?,
        _ => None,
    };
    let deployment = data
        .get("deployment")
        .or(current.as_ref())
        .filter(|d| d.is_object());
    let build = data.get("build").filter(|b| b.is_object());
    let release = data.get("release");
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let field = |obj: Option<&Value>, key: &str| obj.and_then(|o| o.get(key)).cloned();

    let release_id = text(release.and_then(|r| r.get("id")))
        .or_else(|| text(release))
        .or_else(|| text(build.and_then(|b| b.get("release"))))
        .or_else(|| text(deployment.and_then(|d| d.get("release"))));
    let mut build_id = text(build.and_then(|b| b.get("id")))
        .or_else(|| text(release.and_then(|r| r.get("build"))));
    let mut description = text(build.and_then(|b| b.get("description")))
        .or_else(|| text(release.and_then(|r| r.get("description"))));
    if let (Some(id), None) = (&release_id, &description) {
        // Releases never change, so reading one later gives the same answer.
        let found: Option<(Option<String>, String)> = releases::table
            .find(id)
            .select((releases::build, releases::description))
            .first(conn)
            .optional()?;
        if let Some((build, text)) = found {
            build_id = build_id.or(build);
            description = Some(text);
        }
    }

    let mut out = Map::new();
    out.insert("app".into(), json!(event.app));
    out.insert("release".into(), json!(release_id));
    out.insert("build".into(), json!(build_id));
    out.insert("description".into(), json!(description));
    out.insert("deployment".into(), json!(field(deployment, "id")));
    for key in [
        "status",
        "reason",
        "previous_release",
        "duration_ms",
        "trace_id",
    ] {
        out.insert(key.into(), field(deployment, key).unwrap_or(Value::Null));
    }
    out.insert("actor".into(), json!(event.actor));
    if let Some(changes) = data.get("changes") {
        out.insert("changes".into(), changes.clone());
    }
    if event.kind == "deployment.progress" {
        out.insert("progress".into(), data.clone());
    }
    if event.kind == "app.crashed" {
        // Which instance crashed, why, and when it comes back.
        for key in ["service", "instance", "reason", "restarts", "restart_in_ms"] {
            if let Some(value) = data.get(key) {
                out.insert(key.into(), value.clone());
            }
        }
    }
    Ok(json!({
        "id": event.id,
        "type": event.kind,
        "timestamp": timestamp(event.at),
        "data": out,
    }))
}

/// RFC 3339 in UTC with microseconds, as every payload shows time.
pub(crate) fn timestamp(at: NaiveDateTime) -> String {
    at.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
