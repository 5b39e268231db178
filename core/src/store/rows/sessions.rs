//! The `sessions` table: a console session as stored (its id only as a
//! hash), and its row.

use crate::store::schema::sessions;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub(crate) struct SessionRow {
    /// SHA-256 (hex) of the id the cookie carries.
    pub(crate) id: String,
    pub(crate) token: String,
    pub(crate) csrf_secret: String,
    pub(crate) expires_at: NaiveDateTime,
    pub(crate) last_seen: NaiveDateTime,
}
