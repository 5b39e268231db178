//! Deliveries: the log the API shows, redelivery and test events. Workers
//! claim and finish them in `claims.rs`.

use super::fanout::{insert, timestamp};
use super::records::now;
use super::schema::deliveries;
use super::webhooks::{find as find_webhook, not_found, WebhookRow};
use super::{Store, StoreError};
use crate::domain::{DeliveryId, DeliveryStatus, EventId, WebhookId};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

/// One event on its way to one webhook, as the delivery log shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook: WebhookId,
    pub event: EventId,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = deliveries)]
pub(super) struct DeliveryRow {
    pub(super) id: String,
    pub(super) webhook: String,
    pub(super) event: String,
    pub(super) event_type: String,
    pub(super) payload: String,
    pub(super) status: String,
    pub(super) attempts: i32,
    pub(super) last_status_code: Option<i32>,
    pub(super) last_error: Option<String>,
    pub(super) next_attempt_at: Option<NaiveDateTime>,
    pub(super) delivered_at: Option<NaiveDateTime>,
    pub(super) created_at: NaiveDateTime,
    pub(super) traceparent: Option<String>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;
    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        let corrupt = StoreError::corrupt;
        Ok(Delivery {
            id: DeliveryId::parse(&row.id).map_err(corrupt)?,
            webhook: WebhookId::parse(&row.webhook).map_err(corrupt)?,
            event: EventId::parse(&row.event).map_err(corrupt)?,
            event_type: row.event_type,
            status: DeliveryStatus::parse(&row.status).map_err(corrupt)?,
            attempts: row.attempts,
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            next_attempt_at: row.next_attempt_at.map(|t| t.and_utc()),
            delivered_at: row.delivered_at.map(|t| t.and_utc()),
            created_at: row.created_at.and_utc(),
        })
    }
}

impl Store {
    /// A webhook's deliveries, newest first.
    pub fn deliveries(&self, webhook: &WebhookId, limit: i64) -> Result<Vec<Delivery>, StoreError> {
        self.read(|conn| {
            find_webhook(conn, webhook)?.ok_or_else(|| not_found(webhook))?;
            deliveries::table
                .filter(deliveries::webhook.eq(webhook.as_str()))
                .order(deliveries::seq.desc())
                .limit(limit)
                .select(DeliveryRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Delivery::try_from)
                .collect()
        })
    }

    /// One delivery of a webhook.
    pub fn delivery(
        &self,
        webhook: &WebhookId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.read(|conn| {
            deliveries::table
                .filter(deliveries::id.eq(id.as_str()))
                .filter(deliveries::webhook.eq(webhook.as_str()))
                .select(DeliveryRow::as_select())
                .first(conn)
                .optional()?
                .map(Delivery::try_from)
                .transpose()
        })
    }

    /// Sends a delivery's event again, as a new delivery (same event id and
    /// body, so receivers can tell it is the same event).
    pub fn redeliver(&self, webhook: &WebhookId, id: &DeliveryId) -> Result<Delivery, StoreError> {
        self.write(|conn| {
            let hook = active(conn, webhook)?;
            let original: DeliveryRow = deliveries::table
                .filter(deliveries::id.eq(id.as_str()))
                .filter(deliveries::webhook.eq(&hook.id))
                .select(DeliveryRow::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(|| {
                    StoreError::NotFound(format!("delivery {id} of webhook {webhook} not found"))
                })?;
            let event = EventId::parse(&original.event).map_err(StoreError::corrupt)?;
            let new = insert(
                conn,
                webhook,
                &event,
                &original.event_type,
                &original.payload,
            )?;
            load(conn, &new)
        })
    }

    /// Queues a `webhook.test` event for this webhook only.
    pub fn test_webhook(&self, webhook: &WebhookId, actor: &str) -> Result<Delivery, StoreError> {
        self.write(|conn| {
            active(conn, webhook)?;
            let event = EventId::generate();
            let payload = json!({
                "id": event,
                "type": "webhook.test",
                "timestamp": timestamp(now()),
                "data": { "webhook": webhook, "actor": actor },
            });
            let new = insert(conn, webhook, &event, "webhook.test", &payload.to_string())?;
            load(conn, &new)
        })
    }
}

/// The webhook, unless unknown (404) or disabled (409).
fn active(conn: &mut super::DbConnection, id: &WebhookId) -> Result<WebhookRow, StoreError> {
    let row = find_webhook(conn, id)?.ok_or_else(|| not_found(id))?;
    if row.disabled_at.is_some() {
        return Err(StoreError::Conflict(format!(
            "webhook {id} is disabled ({}); create a new one",
            row.disabled_reason.as_deref().unwrap_or("disabled")
        )));
    }
    Ok(row)
}

fn load(conn: &mut super::DbConnection, id: &DeliveryId) -> Result<Delivery, StoreError> {
    deliveries::table
        .filter(deliveries::id.eq(id.as_str()))
        .select(DeliveryRow::as_select())
        .first(conn)?
        .try_into()
}
