//! Custom domains: each belongs to one app. A build claims the domains its
//! manifest lists, in the build's own transaction, so a build listing a
//! domain another app holds is refused and writes nothing. Claims stay with
//! the app (later builds may drop the domain) until the app is purged.

use super::now;
use crate::domain::{AppName, InvalidInput, Manifest};
use crate::store::connection::DbConnection;
use crate::store::error::StoreError;
use crate::store::schema::domains;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::Connection;
use std::collections::HashMap;

/// Claims every domain of `manifest` for `app`; one another app holds (a
/// deleted app not yet purged too) is [`StoreError::Invalid`] on its field,
/// `manifest.services.<service>.domains[<i>]`. Call after the app's lock.
pub(crate) fn claim_in(
    conn: &mut DbConnection,
    app: &AppName,
    manifest: &Manifest,
) -> Result<(), StoreError> {
    let listed: Vec<(String, &str)> = manifest
        .services()
        .iter()
        .flat_map(|(name, service)| {
            service
                .domains()
                .iter()
                .enumerate()
                .map(move |(i, domain)| {
                    let field = format!("manifest.services.{name}.domains[{i}]");
                    (field, domain.as_str())
                })
        })
        .collect();
    if listed.is_empty() {
        return Ok(());
    }
    let owners: HashMap<String, String> = domains::table
        .filter(domains::domain.eq_any(listed.iter().map(|(_, domain)| *domain)))
        .select((domains::domain, domains::app))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    for (field, domain) in &listed {
        match owners.get(*domain) {
            Some(owner) if owner == app.as_str() => {}
            Some(_) => return Err(taken(field, domain)),
            None => insert(conn, app, field, domain)?,
        }
    }
    Ok(())
}

fn insert(
    conn: &mut DbConnection,
    app: &AppName,
    field: &str,
    domain: &str,
) -> Result<(), StoreError> {
    let row = (
        domains::domain.eq(domain),
        domains::app.eq(app.as_str()),
        domains::created_at.eq(now()),
    );
    // In a savepoint: on PostgreSQL a failed statement would spoil the
    // whole transaction, and the error below must reach the caller intact.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(domains::table)
            .values(row)
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(()),
        // Another app's build claimed it after we looked, and committed
        // first (this app's own builds wait for its lock).
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Err(taken(field, domain))
        }
        Err(err) => Err(err.into()),
    }
}

/// Never names the other app: that is none of this caller's business.
fn taken(field: &str, domain: &str) -> StoreError {
    StoreError::Invalid(InvalidInput::new(
        field,
        format!("{domain} is already used by another app"),
    ))
}
