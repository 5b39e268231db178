//! The claim side of the cycle workers run on deliveries. A claim locks due
//! rows for one worker until `locked_until`; a worker that dies leaves the
//! lock to expire and another picks them up. Outcomes are recorded in
//! `finish.rs`.
//!
//! On PostgreSQL a claim is one statement (`claim_sql.rs`) under a lock that
//! serialises claimers; on SQLite, which has one writer anyway, the same
//! choice is made with a few portable queries. Either way each webhook the
//! claimed rows belong to is read, and its secrets opened, once per claim.

use super::claim_sql::{self, Claimed};
use crate::domain::{DeliveryId, DeliveryStatus, EventId, WebhookId, WebhookKind};
use crate::events::BodyKind;
use crate::secret::Secret;
use crate::store::rows::now;
use crate::store::rows::webhooks::WebhookRow;
use crate::store::schema::{deliveries, webhooks};
use crate::store::{DbConnection, Store, StoreError};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use std::collections::{BTreeSet, HashMap};

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

/// What a claim needs to know of a webhook to send to it.
struct Target {
    url: String,
    kind: WebhookKind,
    secrets: Vec<Secret<String>>,
}

impl Store {
    /// Locks up to `limit` due deliveries for `owner` until `now + lock`
    /// and counts the attempt; concurrent claimers never get the same row.
    /// Oldest first across webhooks. A webhook that has `per_webhook`
    /// deliveries claimed (by any worker) gets no more until some finish,
    /// so a receiver that hangs holds only that many slots and the other
    /// webhooks keep flowing.
    pub fn claim_deliveries(
        &self,
        owner: &str,
        limit: usize,
        per_webhook: usize,
        lock: TimeDelta,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let now = now();
        let until = now + lock;
        let per_webhook = i64::try_from(per_webhook).unwrap_or(i64::MAX);
        let most = i64::try_from(limit).unwrap_or(i64::MAX);
        let keys = self.keyring()?;
        if most == 0 {
            return Ok(Vec::new());
        }
        self.write(|conn| {
            let mut claimed = match &mut *conn {
                DbConnection::Postgresql(pg) => {
                    claim_sql::claim(pg, owner, now, until, per_webhook, most)?
                }
                other => claim_portable(other, owner, now, until, per_webhook, most)?,
            };
            if claimed.is_empty() {
                return Ok(Vec::new());
            }
            claimed.sort_by_key(|c| (c.next_attempt_at, c.seq));
            // Each webhook once, however many of its deliveries were claimed.
            let ids: BTreeSet<&str> = claimed.iter().map(|c| c.webhook.as_str()).collect();
            let ids: Vec<&str> = ids.into_iter().collect();
            let mut targets = HashMap::new();
            for row in webhooks::table
                .filter(webhooks::id.eq_any(ids))
                .select(WebhookRow::as_select())
                .load(conn)?
            {
                let target = Target {
                    kind: WebhookKind::parse(&row.kind).map_err(StoreError::corrupt)?,
                    secrets: row.signing_secrets(keys, now)?,
                    url: row.url,
                };
                targets.insert(row.id, target);
            }
            claimed.into_iter().map(|row| due(row, &targets)).collect()
        })
    }
}

fn due(row: Claimed, targets: &HashMap<String, Target>) -> Result<DueDelivery, StoreError> {
    let corrupt = StoreError::corrupt;
    let target = targets
        .get(&row.webhook)
        .ok_or_else(|| StoreError::corrupt(format!("delivery {} of a missing webhook", row.id)))?;
    Ok(DueDelivery {
        id: DeliveryId::parse(&row.id).map_err(corrupt)?,
        webhook: WebhookId::parse(&row.webhook).map_err(corrupt)?,
        url: target.url.clone(),
        kind: target.kind,
        secrets: target.secrets.clone(),
        event: EventId::parse(&row.event).map_err(corrupt)?,
        event_type: BodyKind::parse(&row.event_type).map_err(StoreError::corrupt)?,
        payload: row.payload,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        traceparent: row.traceparent,
    })
}

/// The claim in queries both backends run: each enabled webhook's oldest
/// due rows up to its room, the oldest of those overall, then the update.
/// Used where writers are serialised anyway (SQLite).
fn claim_portable(
    conn: &mut DbConnection,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
    per_webhook: i64,
    most: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let pending = DeliveryStatus::Pending.as_str();
    let free = deliveries::locked_until
        .is_null()
        .or(deliveries::locked_until.lt(now));
    let busy: HashMap<String, i64> = deliveries::table
        .filter(deliveries::status.eq(pending))
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
    let mut due: Vec<(Option<NaiveDateTime>, i64)> = Vec::new();
    for hook in hooks {
        let room = per_webhook - busy.get(&hook).copied().unwrap_or(0);
        if room <= 0 {
            continue;
        }
        due.extend(
            deliveries::table
                .filter(deliveries::webhook.eq(&hook))
                .filter(deliveries::status.eq(pending))
                .filter(deliveries::next_attempt_at.le(now))
                .filter(free)
                .order((deliveries::next_attempt_at, deliveries::seq))
                .limit(room.min(most))
                .select((deliveries::next_attempt_at, deliveries::seq))
                .load::<(Option<NaiveDateTime>, i64)>(conn)?,
        );
    }
    due.sort();
    due.truncate(usize::try_from(most).unwrap_or(usize::MAX));
    let due: Vec<i64> = due.into_iter().map(|(_, seq)| seq).collect();
    if due.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(
        deliveries::table
            .filter(deliveries::seq.eq_any(&due))
            .filter(deliveries::status.eq(pending))
            .filter(free),
    )
    .set((
        deliveries::lock_owner.eq(owner),
        deliveries::locked_until.eq(until),
        deliveries::attempts.eq(deliveries::attempts + 1),
    ))
    .execute(conn)?;
    Ok(deliveries::table
        .filter(deliveries::seq.eq_any(&due))
        .filter(deliveries::lock_owner.eq(owner))
        .filter(deliveries::locked_until.eq(until))
        .select(Claimed::as_select())
        .load(conn)?)
}
