//! Configuration shared by the commands, from flags or `SLIPWAY_*` variables.
//! Secrets (the admin token, the database URL) are read from the environment
//! and never echoed.

use anyhow::Context;
use clap::Args;
use slipway_core::secret::Secret;
use slipway_core::store::Store;

/// Shortest admin token accepted: anything shorter is guessable.
const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// postgres://USER:PASSWORD@HOST/DB, or sqlite://PATH
    #[arg(long, env = "SLIPWAY_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Connections kept open to PostgreSQL
    #[arg(long, env = "SLIPWAY_DATABASE_POOL_SIZE", default_value_t = 10)]
    pub pool_size: u32,
}

impl DatabaseArgs {
    /// Connects (on a blocking thread: connecting is blocking I/O).
    pub async fn open(&self) -> anyhow::Result<Store> {
        let (url, size) = (self.database_url.clone(), self.pool_size);
        let store = tokio::task::spawn_blocking(move || Store::connect(&url, size)).await??;
        Ok(store)
    }
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Address the HTTP API listens on (port 0 picks a free port)
    #[arg(long, env = "SLIPWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
}

/// `SLIPWAY_ADMIN_TOKEN`, when set; refused when too short to be safe.
pub fn admin_token_from_env() -> anyhow::Result<Option<Secret<String>>> {
    let Some(token) = std::env::var_os("SLIPWAY_ADMIN_TOKEN") else {
        return Ok(None);
    };
    let token = token
        .into_string()
        .ok()
        .context("SLIPWAY_ADMIN_TOKEN is not valid UTF-8")?;
    check_token(&token).context("SLIPWAY_ADMIN_TOKEN is unusable")?;
    Ok(Some(Secret::new(token)))
}

pub fn check_token(token: &str) -> anyhow::Result<()> {
    if token.len() < MIN_TOKEN_LEN {
        anyhow::bail!("a token needs at least {MIN_TOKEN_LEN} characters");
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        anyhow::bail!("a token may only contain printable ASCII without spaces");
    }
    Ok(())
}
