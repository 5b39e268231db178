//! `slipway login HOST`: checks the token against the API and keeps host and
//! token in the user's config dir (`$XDG_CONFIG_HOME/slipway/config.json`,
//! else `~/.config/slipway/config.json`), readable by its owner only.

use super::http::Api;
use super::{output, Exit};
use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The Slipway API, e.g. https://slipway.example.com
    host: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Saved {
    pub host: String,
    pub token: String,
}

fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("slipway").join("config.json"))
}

/// What `slipway login` kept, if anything.
pub fn load() -> anyhow::Result<Option<Saved>> {
    let Some(path) = path() else { return Ok(None) };
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).with_context(|| {
            format!(
                "{} is unreadable: run `slipway login` again",
                path.display()
            )
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Whether two host spellings name the same API.
pub fn same_host(a: &str, b: &str) -> bool {
    match (super::http::parse_host(a), super::http::parse_host(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

pub async fn run(token: Option<String>, json: bool, args: LoginArgs) -> anyhow::Result<()> {
    let token = match token {
        Some(token) => token,
        None => read_token()?,
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(Exit::error("no token given: pass --token, SLIPWAY_TOKEN, or type it").into());
    }
    let api = Api::new(&args.host, Some(token.clone()))?;
    api.get(&["apps"]).await?;
    let path = path().context("cannot find a config dir: set HOME or XDG_CONFIG_HOME")?;
    save(
        &path,
        &Saved {
            host: api.host().to_owned(),
            token,
        },
    )?;
    if json {
        let shown = serde_json::json!({ "host": api.host(), "config": path.display().to_string() });
        output::json(&shown);
    } else {
        output::line(format!(
            "Logged in to {} (saved in {})",
            api.host(),
            path.display()
        ));
    }
    Ok(())
}

fn read_token() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Token: ");
        let _ = std::io::stderr().flush();
    }
    let mut token = String::new();
    stdin
        .lock()
        .read_line(&mut token)
        .context("cannot read the token")?;
    Ok(token)
}

fn save(path: &std::path::Path, saved: &Saved) -> anyhow::Result<()> {
    let dir = path.parent().context("config path has no parent")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // An older file may have been created with looser permissions.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    let text = serde_json::to_string_pretty(saved)?;
    writeln!(file, "{text}").with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
