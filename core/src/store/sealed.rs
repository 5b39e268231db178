//! The sealed columns: `releases.env`, `webhooks.secret` and
//! `webhooks.previous_secret` are written sealed and opened when read.
//!
//! Rows written before sealing existed hold plaintext (env as JSON, secrets
//! as `whsec_...`); they are still read, and `rekey` seals them. Either way
//! a store without a keyring refuses: it never reads or writes plaintext.

use super::StoreError;
use crate::domain::Env;
use crate::seal::{Keyring, Purpose};
use crate::secret::{Secret, WEBHOOK_SECRET_PREFIX};
use std::collections::BTreeMap;

/// The purpose recorded responses of idempotent requests are sealed under:
/// they may hold a new token or webhook secret.
pub(super) const RESPONSE: Purpose = Purpose::new("idempotent-response");

/// `releases.env` as stored: the env's JSON, sealed.
pub(super) fn seal_env(keys: &Keyring, env: &Env) -> Result<String, StoreError> {
    let json = Secret::new(serde_json::to_string(env.as_map()).map_err(StoreError::corrupt)?);
    Ok(keys.seal(Purpose::RELEASE_ENV, json.expose().as_bytes())?)
}

/// A stored `releases.env` back as an env.
pub(super) fn open_env(keys: &Keyring, stored: &str) -> Result<Env, StoreError> {
    let json = if Keyring::is_sealed(stored) {
        Secret::new(keys.open(Purpose::RELEASE_ENV, stored)?)
    } else {
        Secret::new(stored.as_bytes().to_vec())
    };
    // serde's messages can quote the input: keep them out of the error.
    let map: BTreeMap<String, String> = serde_json::from_slice(json.expose())
        .map_err(|_| StoreError::corrupt("a release's env is not a JSON object of strings"))?;
    Env::parse(map).map_err(StoreError::corrupt)
}

/// A webhook secret as stored.
pub(super) fn seal_webhook_secret(
    keys: &Keyring,
    secret: &Secret<String>,
) -> Result<String, StoreError> {
    Ok(keys.seal(Purpose::WEBHOOK_SECRET, secret.expose().as_bytes())?)
}

/// A stored webhook secret back as the secret that signs.
pub(super) fn open_webhook_secret(
    keys: &Keyring,
    stored: &str,
) -> Result<Secret<String>, StoreError> {
    if Keyring::is_sealed(stored) {
        return Ok(Secret::new(
            keys.open_text(Purpose::WEBHOOK_SECRET, stored)?,
        ));
    }
    if stored.starts_with(WEBHOOK_SECRET_PREFIX) {
        return Ok(Secret::new(stored.to_owned()));
    }
    Err(StoreError::corrupt(
        "a webhook secret is neither sealed nor a whsec_ secret",
    ))
}

/// `stored` re-sealed under the current key, or `None` when it already is
/// (what `rekey` writes back).
pub(super) fn reseal(
    keys: &Keyring,
    purpose: Purpose,
    stored: &str,
) -> Result<Option<String>, StoreError> {
    if keys.is_current(stored) {
        return Ok(None);
    }
    let plaintext = match purpose {
        p if p == Purpose::RELEASE_ENV => {
            let env = open_env(keys, stored)?;
            Secret::new(serde_json::to_vec(env.as_map()).map_err(StoreError::corrupt)?)
        }
        p if p == Purpose::WEBHOOK_SECRET => {
            Secret::new(open_webhook_secret(keys, stored)?.into_inner().into_bytes())
        }
        p => Secret::new(keys.open(p, stored)?),
    };
    Ok(Some(keys.seal(purpose, plaintext.expose())?))
}
