//! The secret key that seals env values and webhook secrets at rest:
//! `SLIPWAY_SECRET_KEY` (and, while rotating, `SLIPWAY_SECRET_KEY_PREVIOUS`)
//! for the servers and `slipway rekey`; `slipway dev` keeps a generated one
//! in its data dir. Neither the keys nor anything they seal is ever printed.

use crate::config::{secret_keys_from_env, DatabaseArgs, KEY_VAR, PREVIOUS_VAR};
use crate::startup::{prepare, wrong_key, QueueChoice};
use anyhow::Context;
use slipway_core::seal::{generate_key, Keyring};
use slipway_core::secret::Secret;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Rows `rekey` re-seals per transaction.
const REKEY_BATCH: usize = 500;
const MAKE_ONE: &str = "make one with `openssl rand -base64 32`";

/// The keyring from the environment; `None` when SLIPWAY_SECRET_KEY is unset.
fn keyring_from_env() -> anyhow::Result<Option<Keyring>> {
    let Some((current, previous)) = secret_keys_from_env()? else {
        return Ok(None);
    };
    // Parsed one at a time so the error names the variable at fault.
    Keyring::from_base64(&current, None)
        .with_context(|| format!("{KEY_VAR} is unusable ({MAKE_ONE})"))?;
    if let Some(previous) = &previous {
        Keyring::from_base64(previous, None)
            .with_context(|| format!("{PREVIOUS_VAR} is unusable ({MAKE_ONE})"))?;
    }
    let keyring = Keyring::from_base64(&current, previous.as_deref())?;
    Ok(Some(keyring))
}

/// The keyring a server or `rekey` needs: SLIPWAY_SECRET_KEY must be set.
pub fn required_keyring(command: &str) -> anyhow::Result<Keyring> {
    keyring_from_env()?.with_context(|| {
        format!(
            "{KEY_VAR} must be set for `slipway {command}`: 32 random bytes, base64 ({MAKE_ONE})"
        )
    })
}

/// `dev`'s keyring: SLIPWAY_SECRET_KEY when set, else the key kept in
/// `path` (generated on the first start, mode 0600).
pub fn dev_keyring(path: &Path) -> anyhow::Result<Keyring> {
    if let Some(keyring) = keyring_from_env()? {
        return Ok(keyring);
    }
    let key = kept_or_new(path, || Ok(generate_key()?))?;
    Keyring::from_base64(key.expose(), None)
        .with_context(|| format!("{} is unusable", path.display()))
}

/// `slipway rekey`: every sealed value re-sealed under the current key.
pub async fn rekey(database: &DatabaseArgs) -> anyhow::Result<()> {
    let keyring = required_keyring("rekey")?;
    let opened = prepare(database, None, QueueChoice::None).await?;
    let store = opened.store.with_keyring(keyring);
    let done = tokio::task::spawn_blocking(move || store.rekey(REKEY_BATCH))
        .await?
        .map_err(wrong_key)?;
    println!(
        "Re-sealed {} row(s) under the current key: {} release env(s), {} webhook(s), \
         {} idempotent response(s), {} key check.",
        done.rows(),
        done.releases,
        done.webhooks,
        done.responses,
        u8::from(done.key_check)
    );
    Ok(())
}

/// The secret kept in `path`, or `make`'s, written there first, readable by
/// its owner only (never over a file that appeared meanwhile).
pub fn kept_or_new(
    path: &Path,
    make: impl FnOnce() -> anyhow::Result<Secret<String>>,
) -> anyhow::Result<Secret<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Secret::new(text.trim().to_owned())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let secret = make()?;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(file, "{}", secret.expose())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(secret)
        }
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}
