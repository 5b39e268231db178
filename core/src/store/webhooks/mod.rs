//! Webhook subscriptions: create, list, delete, rotate the signing secret.
//! Secrets leave the store only at creation and rotation (shown once) and to
//! the workers that sign deliveries; they are stored sealed (`sealed.rs`).
//! Their delivery log is in `deliveries.rs`, the workers' claims in
//! `claims.rs` (the PostgreSQL statement in `claim_sql.rs`) and their
//! outcomes in `finish.rs`.

mod claim_sql;
mod claims;
mod deliveries;
mod finish;

pub use claims::{DueDelivery, Finished, Outcome};

use super::rows::now;
use super::rows::webhooks::{find, not_found, Webhook, WebhookRow};
use super::schema::webhooks;
use super::sealed::{open_webhook_secret, seal_webhook_secret};
use super::{Store, StoreError};
use crate::domain::{AppName, EventPattern, WebhookId, WebhookKind};
use crate::secret::{generate_webhook_secret, Secret};
use chrono::TimeDelta;
use diesel::prelude::*;
use serde::Serialize;

/// How long a rotated-out secret keeps signing next to the new one, so
/// receivers can switch without dropping deliveries.
pub const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);

/// A subscription to create; the URL was checked by the caller.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub url: String,
    pub kind: WebhookKind,
    pub events: Vec<EventPattern>,
    pub apps: Vec<AppName>,
    pub description: String,
}

fn to_json<T: Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

impl Store {
    /// Creates a subscription; the secret is returned only here.
    pub fn create_webhook(
        &self,
        new: &NewWebhook,
        actor: &str,
    ) -> Result<(Webhook, Secret<String>), StoreError> {
        let keys = self.keyring()?;
        self.write(|conn| {
            let id = WebhookId::generate();
            let secret = generate_webhook_secret();
            let sealed = seal_webhook_secret(keys, &secret)?;
            diesel::insert_into(webhooks::table)
                .values((
                    webhooks::id.eq(id.as_str()),
                    webhooks::url.eq(&new.url),
                    webhooks::kind.eq(new.kind.as_str()),
                    webhooks::events.eq(to_json(&new.events)),
                    webhooks::apps.eq(to_json(&new.apps)),
                    webhooks::description.eq(&new.description),
                    webhooks::secret.eq(&sealed),
                    webhooks::actor.eq(actor),
                    webhooks::created_at.eq(now()),
                ))
                .execute(conn)?;
            let row = find(conn, &id)?.ok_or_else(|| not_found(&id))?;
            Ok((Webhook::try_from(row)?, secret))
        })
    }

    /// All subscriptions, oldest first.
    pub fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        self.read(|conn| {
            webhooks::table
                .order((webhooks::created_at, webhooks::id))
                .select(WebhookRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Webhook::try_from)
                .collect()
        })
    }

    pub fn get_webhook(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        self.read(|conn| find(conn, id)?.map(Webhook::try_from).transpose())
    }

    /// Deletes a subscription and its delivery log; `false` when unknown.
    pub fn delete_webhook(&self, id: &WebhookId) -> Result<bool, StoreError> {
        self.write(|conn| {
            use super::schema::deliveries;
            diesel::delete(deliveries::table.filter(deliveries::webhook.eq(id.as_str())))
                .execute(conn)?;
            Ok(diesel::delete(webhooks::table.find(id.as_str())).execute(conn)? > 0)
        })
    }

    /// Replaces the signing secret; the old one keeps signing alongside for
    /// [`ROTATION_OVERLAP`]. The new secret is returned only here.
    pub fn rotate_webhook_secret(
        &self,
        id: &WebhookId,
    ) -> Result<(Webhook, Secret<String>), StoreError> {
        let keys = self.keyring()?;
        self.write(|conn| {
            let row = find(conn, id)?.ok_or_else(|| not_found(id))?;
            let secret = generate_webhook_secret();
            // Re-sealed, so a rotation also moves the old secret to the current key.
            let previous = seal_webhook_secret(keys, &open_webhook_secret(keys, &row.secret)?)?;
            diesel::update(webhooks::table.find(id.as_str()))
                .set((
                    webhooks::secret.eq(seal_webhook_secret(keys, &secret)?),
                    webhooks::previous_secret.eq(Some(previous)),
                    webhooks::previous_secret_expires_at.eq(Some(now() + ROTATION_OVERLAP)),
                ))
                .execute(conn)?;
            let row = find(conn, id)?.ok_or_else(|| not_found(id))?;
            Ok((Webhook::try_from(row)?, secret))
        })
    }
}
