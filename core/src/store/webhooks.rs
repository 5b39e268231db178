//! Webhook subscriptions: create, list, delete, rotate the signing secret.
//! Secrets leave the store only at creation and rotation (shown once) and to
//! the workers that sign deliveries; they are stored sealed (`sealed.rs`).

use super::records::now;
use super::schema::webhooks;
use super::sealed::{open_webhook_secret, seal_webhook_secret};
use super::{Store, StoreError};
use crate::domain::{AppName, EventPattern, WebhookId, WebhookKind};
use crate::seal::Keyring;
use crate::secret::{generate_webhook_secret, Secret};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde::Serialize;

/// How long a rotated-out secret keeps signing next to the new one, so
/// receivers can switch without dropping deliveries.
pub const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);

/// A subscription as the API shows it (never with its secret).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub kind: WebhookKind,
    pub events: Vec<EventPattern>,
    /// Apps whose events it receives; empty means all.
    pub apps: Vec<AppName>,
    pub description: String,
    /// Set when a receiver answered 410 Gone: nothing more is sent.
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Until then the previous secret signs too (after a rotation).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// A subscription to create; the URL was checked by the caller.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub url: String,
    pub kind: WebhookKind,
    pub events: Vec<EventPattern>,
    pub apps: Vec<AppName>,
    pub description: String,
}

impl Webhook {
    /// Whether an event of `kind` about `app` goes to this webhook.
    pub fn wants(&self, kind: &str, app: &str) -> bool {
        self.disabled_at.is_none()
            && (self.apps.is_empty() || self.apps.iter().any(|a| a.as_str() == app))
            && self.events.iter().any(|p| p.matches(kind))
    }
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = webhooks)]
pub(super) struct WebhookRow {
    pub id: String,
    pub url: String,
    pub kind: String,
    pub events: String,
    pub apps: String,
    pub description: String,
    /// Sealed, as is `previous_secret`; `whsec_...` in rows older than sealing.
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    pub disabled_at: Option<NaiveDateTime>,
    pub disabled_reason: Option<String>,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

impl WebhookRow {
    /// The secrets that sign now: the current one, and the previous one
    /// while its overlap lasts.
    pub fn signing_secrets(
        &self,
        keys: &Keyring,
        now: NaiveDateTime,
    ) -> Result<Vec<Secret<String>>, StoreError> {
        let mut secrets = vec![open_webhook_secret(keys, &self.secret)?];
        if let (Some(previous), Some(until)) =
            (&self.previous_secret, self.previous_secret_expires_at)
        {
            if until > now {
                secrets.push(open_webhook_secret(keys, previous)?);
            }
        }
        Ok(secrets)
    }
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;
    fn try_from(row: WebhookRow) -> Result<Self, StoreError> {
        let corrupt = StoreError::corrupt;
        let events: Vec<String> = serde_json::from_str(&row.events).map_err(StoreError::corrupt)?;
        let apps: Vec<String> = serde_json::from_str(&row.apps).map_err(StoreError::corrupt)?;
        Ok(Webhook {
            id: WebhookId::parse(&row.id).map_err(corrupt)?,
            url: row.url,
            kind: WebhookKind::parse(&row.kind).map_err(corrupt)?,
            events: events
                .iter()
                .map(|e| EventPattern::parse(e).map_err(corrupt))
                .collect::<Result<_, _>>()?,
            apps: apps
                .iter()
                .map(|a| AppName::parse(a).map_err(corrupt))
                .collect::<Result<_, _>>()?,
            description: row.description,
            disabled_at: row.disabled_at.map(|t| t.and_utc()),
            disabled_reason: row.disabled_reason,
            previous_secret_expires_at: row
                .previous_secret_expires_at
                .filter(|t| *t > now())
                .map(|t| t.and_utc()),
            actor: row.actor,
            created_at: row.created_at.and_utc(),
        })
    }
}

fn to_json<T: Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

pub(super) fn find(
    conn: &mut super::DbConnection,
    id: &WebhookId,
) -> Result<Option<WebhookRow>, StoreError> {
    Ok(webhooks::table
        .find(id.as_str())
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?)
}

pub(super) fn not_found(id: &WebhookId) -> StoreError {
    StoreError::NotFound(format!("webhook {id} not found"))
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
    pub fn webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
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

    pub fn webhook(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
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
