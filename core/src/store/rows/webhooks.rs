//! The `webhooks` table: a subscription as the API shows it (never with
//! its secret), its row with the sealed secrets, and finding one.

use super::now;
use crate::domain::{AppName, EventPattern, WebhookId, WebhookKind};
use crate::events::EventKind;
use crate::seal::Keyring;
use crate::secret::Secret;
use crate::store::connection::DbConnection;
use crate::store::error::StoreError;
use crate::store::schema::webhooks;
use crate::store::sealed::open_webhook_secret;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A subscription as the API shows it (never with its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub kind: WebhookKind,
    pub events: Vec<EventPattern>,
    /// Apps whose events it receives; empty: every app.
    pub apps: Vec<AppName>,
    pub description: String,
    /// Set when a receiver answered 410 Gone: nothing more is sent.
    #[schema(required = true)]
    pub disabled_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// Until then the previous secret signs too (after a rotation).
    #[schema(required = true)]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether an event of `kind` about `app` goes to this webhook.
    pub fn wants(&self, kind: EventKind, app: &AppName) -> bool {
        self.disabled_at.is_none()
            && (self.apps.is_empty() || self.apps.contains(app))
            && self.events.iter().any(|p| p.matches(kind))
    }
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = webhooks)]
pub(crate) struct WebhookRow {
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

pub(crate) fn find(
    conn: &mut DbConnection,
    id: &WebhookId,
) -> Result<Option<WebhookRow>, StoreError> {
    Ok(webhooks::table
        .find(id.as_str())
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?)
}

pub(crate) fn not_found(id: &WebhookId) -> StoreError {
    StoreError::NotFound(format!("webhook {id} not found"))
}
