//! The finish side of the claim cycle: a batch of outcomes recorded in one
//! transaction. Successes, nearly all of a batch, are one statement per
//! status code; retries, failures and 410s one at a time.

use super::claims::{Finished, Outcome};
use crate::domain::DeliveryStatus;
use crate::store::rows::now;
use crate::store::schema::{deliveries, webhooks};
use crate::store::{Store, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::BTreeMap;

/// Ids per statement: well under SQLite's limit on bound parameters.
const IDS_PER_STATEMENT: usize = 500;

/// Longest error text kept per delivery.
const ERROR_LIMIT: usize = 500;

fn clip(error: &str) -> String {
    match error.char_indices().nth(ERROR_LIMIT) {
        Some((end, _)) => format!("{}…", &error[..end]),
        None => error.to_owned(),
    }
}

fn to_i32(status: Option<u16>) -> Option<i32> {
    status.map(i32::from)
}

impl Store {
    /// Records outcomes of `owner`'s claims in one transaction. Rows whose
    /// lock another worker has taken meanwhile are left to that worker.
    /// Successes are written first: a delivery the receiver accepted stays
    /// delivered even when a 410 in the same batch disables its webhook.
    pub fn finish_deliveries(&self, owner: &str, finished: &[Finished]) -> Result<(), StoreError> {
        let now = now();
        let mut delivered: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
        let mut others = Vec::new();
        for done in finished {
            match &done.outcome {
                Outcome::Delivered { status } => {
                    delivered.entry(*status).or_default().push(done.id.as_str());
                }
                _ => others.push(done),
            }
        }
        self.write(|conn| {
            let unlock = || {
                (
                    deliveries::lock_owner.eq(None::<String>),
                    deliveries::locked_until.eq(None::<NaiveDateTime>),
                )
            };
            for (status, ids) in &delivered {
                for ids in ids.chunks(IDS_PER_STATEMENT) {
                    diesel::update(
                        deliveries::table
                            .filter(deliveries::id.eq_any(ids.to_vec()))
                            .filter(deliveries::lock_owner.eq(owner)),
                    )
                    .set((
                        unlock(),
                        deliveries::status.eq(DeliveryStatus::Delivered.as_str()),
                        deliveries::last_status_code.eq(Some(i32::from(*status))),
                        deliveries::last_error.eq(None::<String>),
                        deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                        deliveries::delivered_at.eq(Some(now)),
                    ))
                    .execute(conn)?;
                }
            }
            for done in &others {
                let mine = deliveries::table
                    .filter(deliveries::id.eq(done.id.as_str()))
                    .filter(deliveries::lock_owner.eq(owner));
                match &done.outcome {
                    Outcome::Delivered { .. } => 0,
                    Outcome::Retry { status, error, at } => diesel::update(mine)
                        .set((
                            unlock(),
                            deliveries::last_status_code.eq(to_i32(*status)),
                            deliveries::last_error.eq(Some(clip(error))),
                            deliveries::next_attempt_at.eq(Some(at.naive_utc())),
                        ))
                        .execute(conn)?,
                    Outcome::Failed { status, error } => diesel::update(mine)
                        .set((
                            unlock(),
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
                            unlock(),
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
