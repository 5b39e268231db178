//! The `deliveries` table: one event on its way to one webhook, as the
//! delivery log shows it, its row (with the body every attempt sends), and
//! writing a new pending one (fan-out, redelivery, test events).

use super::now;
use crate::domain::{DeliveryId, DeliveryStatus, EventId, WebhookId};
use crate::events::BodyKind;
use crate::store::connection::DbConnection;
use crate::store::error::StoreError;
use crate::store::schema::deliveries;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One event on its way to one webhook, as the delivery log shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook: WebhookId,
    /// The event, sent as `webhook-id` on every attempt.
    pub event: EventId,
    /// The event's type (`deployment.succeeded`, or `webhook.test`).
    #[schema(value_type = String)]
    pub event_type: BodyKind,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[schema(required = true)]
    pub last_status_code: Option<i32>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[schema(required = true)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = deliveries)]
pub(crate) struct DeliveryRow {
    pub(crate) id: String,
    pub(crate) webhook: String,
    pub(crate) event: String,
    pub(crate) event_type: String,
    pub(crate) payload: String,
    pub(crate) status: String,
    pub(crate) attempts: i32,
    pub(crate) last_status_code: Option<i32>,
    pub(crate) last_error: Option<String>,
    pub(crate) next_attempt_at: Option<NaiveDateTime>,
    pub(crate) delivered_at: Option<NaiveDateTime>,
    pub(crate) created_at: NaiveDateTime,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;
    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        let corrupt = StoreError::corrupt;
        Ok(Delivery {
            id: DeliveryId::parse(&row.id).map_err(corrupt)?,
            webhook: WebhookId::parse(&row.webhook).map_err(corrupt)?,
            event: EventId::parse(&row.event).map_err(corrupt)?,
            event_type: BodyKind::parse(&row.event_type).map_err(StoreError::corrupt)?,
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

/// A pending delivery due now, outside any trace.
pub(crate) fn insert(
    conn: &mut DbConnection,
    webhook: &WebhookId,
    event: &EventId,
    event_type: BodyKind,
    payload: &str,
) -> Result<DeliveryId, StoreError> {
    insert_traced(conn, webhook, event, event_type, payload, None)
}

/// A pending delivery due now, continuing `traceparent`.
pub(crate) fn insert_traced(
    conn: &mut DbConnection,
    webhook: &WebhookId,
    event: &EventId,
    event_type: BodyKind,
    payload: &str,
    traceparent: Option<&str>,
) -> Result<DeliveryId, StoreError> {
    let id = DeliveryId::generate();
    let now = now();
    diesel::insert_into(deliveries::table)
        .values((
            deliveries::id.eq(id.as_str()),
            deliveries::webhook.eq(webhook.as_str()),
            deliveries::event.eq(event.as_str()),
            deliveries::event_type.eq(event_type.as_str()),
            deliveries::payload.eq(payload),
            deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            deliveries::attempts.eq(0),
            deliveries::next_attempt_at.eq(Some(now)),
            deliveries::created_at.eq(now),
            deliveries::traceparent.eq(traceparent),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Pending deliveries due now of one event to each of `webhooks`,
/// continuing `traceparent`: one statement on PostgreSQL (SQLite, one
/// writer and no network, takes them one by one).
pub(crate) fn insert_each(
    conn: &mut DbConnection,
    webhooks: &[WebhookId],
    event: &EventId,
    event_type: BodyKind,
    payload: &str,
    traceparent: Option<&str>,
) -> Result<(), StoreError> {
    let DbConnection::Postgresql(pg) = conn else {
        for webhook in webhooks {
            insert_traced(conn, webhook, event, event_type, payload, traceparent)?;
        }
        return Ok(());
    };
    let now = now();
    let ids: Vec<DeliveryId> = webhooks.iter().map(|_| DeliveryId::generate()).collect();
    let rows: Vec<_> = webhooks
        .iter()
        .zip(&ids)
        .map(|(webhook, id)| {
            (
                deliveries::id.eq(id.as_str()),
                deliveries::webhook.eq(webhook.as_str()),
                deliveries::event.eq(event.as_str()),
                deliveries::event_type.eq(event_type.as_str()),
                deliveries::payload.eq(payload),
                deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                deliveries::attempts.eq(0),
                deliveries::next_attempt_at.eq(Some(now)),
                deliveries::created_at.eq(now),
                deliveries::traceparent.eq(traceparent),
            )
        })
        .collect();
    diesel::insert_into(deliveries::table)
        .values(rows)
        .execute(pg)?;
    Ok(())
}
