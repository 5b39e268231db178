//! Deliveries: the log the API shows, redelivery and test events. Workers
//! claim and finish them in `claims.rs`.

use crate::domain::{DeliveryId, DeliveryStatus, EventId, WebhookId};
use crate::events::{BodyData, BodyKind, TestData, WebhookBody};
use crate::store::rows::deliveries::{insert, Delivery, DeliveryRow};
use crate::store::rows::now;
use crate::store::rows::webhooks::{find as find_webhook, not_found, WebhookRow};
use crate::store::schema::deliveries;
use crate::store::{DbConnection, Store, StoreError};
use diesel::prelude::*;

impl Store {
    /// A webhook's deliveries, newest first.
    pub fn list_deliveries(
        &self,
        webhook: &WebhookId,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
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

    /// Deliveries still to be made (pending, claimed or not), over all
    /// webhooks.
    pub fn count_pending_deliveries(&self) -> Result<i64, StoreError> {
        self.read(|conn| {
            Ok(deliveries::table
                .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                .count()
                .get_result(conn)?)
        })
    }

    /// One delivery of a webhook.
    pub fn get_delivery(
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
            let kind = BodyKind::parse(&original.event_type).map_err(StoreError::corrupt)?;
            let new = insert(conn, webhook, &event, kind, &original.payload)?;
            load(conn, &new)
        })
    }

    /// Queues a `webhook.test` event for this webhook only.
    pub fn test_webhook(&self, webhook: &WebhookId, actor: &str) -> Result<Delivery, StoreError> {
        self.write(|conn| {
            active(conn, webhook)?;
            let event = EventId::generate();
            let body = WebhookBody {
                id: event.clone(),
                kind: BodyKind::Test,
                timestamp: now().and_utc(),
                data: BodyData::Test(TestData {
                    webhook: webhook.clone(),
                    actor: actor.to_owned(),
                }),
            };
            // Through a JSON value, whose keys are sorted, as every body is sent.
            let body = serde_json::to_value(body).map_err(StoreError::corrupt)?;
            let new = insert(conn, webhook, &event, BodyKind::Test, &body.to_string())?;
            load(conn, &new)
        })
    }
}

/// The webhook, unless unknown (404) or disabled (409).
fn active(conn: &mut DbConnection, id: &WebhookId) -> Result<WebhookRow, StoreError> {
    let row = find_webhook(conn, id)?.ok_or_else(|| not_found(id))?;
    if row.disabled_at.is_some() {
        return Err(StoreError::Conflict(format!(
            "webhook {id} is disabled ({}); create a new one",
            row.disabled_reason.as_deref().unwrap_or("disabled")
        )));
    }
    Ok(row)
}

fn load(conn: &mut DbConnection, id: &DeliveryId) -> Result<Delivery, StoreError> {
    deliveries::table
        .filter(deliveries::id.eq(id.as_str()))
        .select(DeliveryRow::as_select())
        .first(conn)?
        .try_into()
}
