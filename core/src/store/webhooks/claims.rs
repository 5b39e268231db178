//! The claim / finish cycle workers run on deliveries. A claim locks a due
//! row for one worker until `locked_until`; a worker that dies leaves the
//! lock to expire and another picks it up.

use crate::domain::{DeliveryId, DeliveryStatus, EventId, WebhookId, WebhookKind};
use crate::events::BodyKind;
use crate::secret::Secret;
use crate::store::rows::deliveries::DeliveryRow;
use crate::store::rows::now;
use crate::store::rows::webhooks::WebhookRow;
use crate::store::schema::{deliveries, webhooks};
use crate::store::{Store, StoreError};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use std::collections::HashMap;

/// A claimed delivery with everything needed to send it.
#[derive(Debug)]
pub struct DueDelivery {
    pub id: DeliveryId,
    pub webhook: WebhookId,
    pub url: String,
    pub kind: WebhookKind,
    /// The current secret first, then the previous one during a rotation.
    pub secrets: Vec<Secret<String>>,
    /// The `webhook-id` header: stable across attempts and redeliveries.
    pub event: EventId,
    pub event_type: BodyKind,
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// W3C trace context of what caused the event (a deployment's trace),
    /// continued by each attempt's client span and sent as `traceparent`.
    pub traceparent: Option<String>,
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered { status: u16 },
    /// Try again at `at`.
    Retry {
        status: Option<u16>,
        error: String,
        at: DateTime<Utc>,
    },
    /// No attempts left (or the URL is refused): give up.
    Failed { status: Option<u16>, error: String },
    /// The receiver answered 410 Gone: disable the webhook.
    Gone,
}

/// The outcome of one claimed delivery.
#[derive(Clone, Debug)]
pub struct Finished {
    pub id: DeliveryId,
    pub webhook: WebhookId,
    pub outcome: Outcome,
}

fn to_i32(status: Option<u16>) -> Option<i32> {
    status.map(i32::from)
}

/// Longest error text kept per delivery.
const ERROR_LIMIT: usize = 500;

fn clip(error: &str) -> String {
    match error.char_indices().nth(ERROR_LIMIT) {
        Some((end, _)) => format!("{}…", &error[..end]),
        None => error.to_owned(),
    }
}

impl Store {
    /// Locks up to `limit` due deliveries for `owner` until `now + lock`
    /// and counts the attempt; concurrent claimers never get the same row.
    /// A webhook that has `per_webhook` deliveries claimed (by any worker)
    /// gets no more until some finish, so a receiver that hangs holds only
    /// that many slots and the other webhooks keep flowing.
    pub fn claim_deliveries(
        &self,
        owner: &str,
        limit: usize,
        per_webhook: usize,
        lock: TimeDelta,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let now = now();
        let per_webhook = i64::try_from(per_webhook).unwrap_or(i64::MAX);
        let most = i64::try_from(limit).unwrap_or(i64::MAX);
        let keys = self.keyring()?;
        self.write(|conn| {
            let free = deliveries::locked_until
                .is_null()
                .or(deliveries::locked_until.lt(now));
            let pending_due = deliveries::status
                .eq(DeliveryStatus::Pending.as_str())
                .and(deliveries::next_attempt_at.le(now));
            let busy: HashMap<String, i64> = deliveries::table
                .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                .filter(deliveries::locked_until.ge(now))
                .group_by(deliveries::webhook)
                .select((deliveries::webhook, diesel::dsl::count_star()))
                .load(conn)?
                .into_iter()
                .collect();
            let hooks: Vec<String> = webhooks::table
                .filter(webhooks::disabled_at.is_null())
                .select(webhooks::id)
                .load(conn)?;
            let mut due: Vec<(Option<NaiveDateTime>, i64, String)> = Vec::new();
            for hook in hooks {
                let room = per_webhook - busy.get(&hook).copied().unwrap_or(0);
                if room <= 0 {
                    continue;
                }
                due.extend(
                    deliveries::table
                        .filter(deliveries::webhook.eq(&hook))
                        .filter(pending_due)
                        .filter(free)
                        .order((deliveries::next_attempt_at, deliveries::seq))
                        .limit(room.min(most))
                        .select((deliveries::next_attempt_at, deliveries::seq, deliveries::id))
                        .load::<(Option<NaiveDateTime>, i64, String)>(conn)?,
                );
            }
            // Oldest first across webhooks.
            due.sort();
            due.truncate(limit);
            let due: Vec<String> = due.into_iter().map(|(.., id)| id).collect();
            if due.is_empty() {
                return Ok(Vec::new());
            }
            // Re-checks `free`: on PostgreSQL a concurrent claimer's update
            // blocks this one, which then sees the row locked and skips it.
            diesel::update(
                deliveries::table
                    .filter(deliveries::id.eq_any(&due))
                    .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                    .filter(free),
            )
            .set((
                deliveries::lock_owner.eq(owner),
                deliveries::locked_until.eq(now + lock),
                deliveries::attempts.eq(deliveries::attempts + 1),
            ))
            .execute(conn)?;
            let claimed: Vec<(DeliveryRow, WebhookRow)> = deliveries::table
                .inner_join(webhooks::table)
                .filter(deliveries::id.eq_any(&due))
                .filter(deliveries::lock_owner.eq(owner))
                .filter(deliveries::locked_until.eq(now + lock))
                .order((deliveries::next_attempt_at, deliveries::seq))
                .select((DeliveryRow::as_select(), WebhookRow::as_select()))
                .load(conn)?;
            claimed
                .into_iter()
                .map(|(delivery, webhook)| {
                    let corrupt = StoreError::corrupt;
                    Ok(DueDelivery {
                        id: DeliveryId::parse(&delivery.id).map_err(corrupt)?,
                        webhook: WebhookId::parse(&webhook.id).map_err(corrupt)?,
                        kind: WebhookKind::parse(&webhook.kind).map_err(corrupt)?,
                        secrets: webhook.signing_secrets(keys, now)?,
                        url: webhook.url,
                        event: EventId::parse(&delivery.event).map_err(corrupt)?,
                        event_type: BodyKind::parse(&delivery.event_type)
                            .map_err(StoreError::corrupt)?,
                        payload: delivery.payload,
                        attempts: u32::try_from(delivery.attempts).unwrap_or(0),
                        traceparent: delivery.traceparent,
                    })
                })
                .collect()
        })
    }

    /// Records outcomes of `owner`'s claims in one transaction. Rows whose
    /// lock another worker has taken meanwhile are left to that worker.
    pub fn finish_deliveries(&self, owner: &str, finished: &[Finished]) -> Result<(), StoreError> {
        let now = now();
        self.write(|conn| {
            for done in finished {
                let mine = deliveries::table
                    .filter(deliveries::id.eq(done.id.as_str()))
                    .filter(deliveries::lock_owner.eq(owner));
                let unlock = (
                    deliveries::lock_owner.eq(None::<String>),
                    deliveries::locked_until.eq(None::<NaiveDateTime>),
                );
                match &done.outcome {
                    Outcome::Delivered { status } => diesel::update(mine)
                        .set((
                            unlock,
                            deliveries::status.eq(DeliveryStatus::Delivered.as_str()),
                            deliveries::last_status_code.eq(Some(i32::from(*status))),
                            deliveries::last_error.eq(None::<String>),
                            deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                            deliveries::delivered_at.eq(Some(now)),
                        ))
                        .execute(conn)?,
                    Outcome::Retry { status, error, at } => diesel::update(mine)
                        .set((
                            unlock,
                            deliveries::last_status_code.eq(to_i32(*status)),
                            deliveries::last_error.eq(Some(clip(error))),
                            deliveries::next_attempt_at.eq(Some(at.naive_utc())),
                        ))
                        .execute(conn)?,
                    Outcome::Failed { status, error } => diesel::update(mine)
                        .set((
                            unlock,
                            deliveries::status.eq(DeliveryStatus::Failed.as_str()),
                            deliveries::last_status_code.eq(to_i32(*status)),
                            deliveries::last_error.eq(Some(clip(error))),
                            deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                        ))
                        .execute(conn)?,
                    Outcome::Gone => {
                        let reason = "the receiver answered 410 Gone";
                        diesel::update(webhooks::table.find(done.webhook.as_str()))
                            .filter(webhooks::disabled_at.is_null())
                            .set((
                                webhooks::disabled_at.eq(Some(now)),
                                webhooks::disabled_reason.eq(Some(reason)),
                            ))
                            .execute(conn)?;
                        diesel::update(mine)
                            .set((
                                deliveries::last_status_code.eq(Some(410)),
                                deliveries::last_error.eq(Some(reason)),
                            ))
                            .execute(conn)?;
                        diesel::update(
                            deliveries::table
                                .filter(deliveries::webhook.eq(done.webhook.as_str()))
                                .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str())),
                        )
                        .set((
                            unlock,
                            deliveries::status.eq(DeliveryStatus::Failed.as_str()),
                            deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                            deliveries::last_error.eq(Some("webhook disabled: 410 Gone")),
                        ))
                        .execute(conn)?
                    }
                };
            }
            Ok(())
        })
    }
}
