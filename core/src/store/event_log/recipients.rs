//! Who receives an event, without reading every webhook for every event.
//!
//! `webhook_generation` holds a random number that triggers replace whenever
//! a change to the webhooks can change who receives an event: one created or
//! deleted, its events, apps or `disabled_at` changed (migration 000017).
//! The enabled webhooks last read are kept with the generation they were
//! read at, and an event is written only while its database is still at that
//! generation (`INSERT ... SELECT ... WHERE generation = $1`, see the event
//! log): one statement, and as sure as reading the webhooks in the event's
//! own transaction. When the generation has moved on, the webhooks are read
//! again.
//!
//! A random number rather than a count: it stands for one set of webhooks of
//! one database, so one copy serves every store of the process, whichever
//! database each talks to.

use std::sync::{Arc, Mutex, PoisonError};

use crate::domain::{AppName, WebhookId};
use crate::events::EventKind;
use crate::store::rows::webhooks::{Webhook, WebhookRow};
use crate::store::schema::{webhook_generation, webhooks};
use crate::store::{DbConnection, StoreError};
use diesel::prelude::*;

/// The webhooks read last, by any store of this process.
static LAST_READ: Mutex<Option<Webhooks>> = Mutex::new(None);

/// The enabled webhooks of a database at one generation, oldest first.
#[derive(Clone, Debug)]
pub(super) struct Webhooks {
    pub generation: i64,
    enabled: Arc<[Webhook]>,
}

impl Webhooks {
    /// The webhooks read last; whether they are still the database's, only
    /// writing at their generation tells.
    pub fn last_read() -> Option<Webhooks> {
        LAST_READ
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the generation, then the webhooks, and keeps both for the next
    /// events. In that order: webhooks changed in between are newer than
    /// their generation, so the pair is never used, where the other way
    /// round older webhooks could pass for the newer generation's.
    pub fn read(conn: &mut DbConnection) -> Result<Webhooks, StoreError> {
        let generation = webhook_generation::table
            .select(webhook_generation::generation)
            .first(conn)?;
        let rows: Vec<WebhookRow> = webhooks::table
            .filter(webhooks::disabled_at.is_null())
            .order((webhooks::created_at, webhooks::id))
            .select(WebhookRow::as_select())
            .load(conn)?;
        let enabled = rows
            .into_iter()
            .map(Webhook::try_from)
            .collect::<Result<_, _>>()?;
        let read = Webhooks {
            generation,
            enabled,
        };
        *LAST_READ.lock().unwrap_or_else(PoisonError::into_inner) = Some(read.clone());
        Ok(read)
    }

    /// The webhooks that want an event of `kind` about `app`, oldest first.
    pub fn recipients(&self, kind: EventKind, app: &AppName) -> Vec<WebhookId> {
        self.enabled
            .iter()
            .filter(|webhook| webhook.wants(kind, app))
            .map(|webhook| webhook.id.clone())
            .collect()
    }
}
