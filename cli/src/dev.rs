//! `slipway dev`: one process on embedded defaults, for a first try. State
//! is a SQLite file in the data dir; the admin token is generated once and
//! kept there (mode 0600) unless SLIPWAY_ADMIN_TOKEN is set.

use crate::config::{admin_token_from_env, check_token, ListenArgs};
use anyhow::Context;
use clap::Args;
use slipway_api::{ApiConfig, Application};
use slipway_core::secret::{generate_token, Secret};
use slipway_core::store::Store;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const TOKEN_FILE: &str = "admin-token";
const DATABASE_FILE: &str = "slipway.db";

#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(flatten)]
    listen: ListenArgs,
    /// Where the SQLite database and the generated admin token are kept
    #[arg(long, env = "SLIPWAY_DATA_DIR", default_value = ".slipway")]
    data_dir: PathBuf,
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    let admin_token = match admin_token_from_env()? {
        Some(token) => token,
        None => load_or_create_token(&dir.join(TOKEN_FILE))?,
    };
    let db_path = dir.join(DATABASE_FILE);
    let db_url = format!(
        "sqlite://{}",
        db_path
            .to_str()
            .context("the data dir path must be valid UTF-8")?
    );
    let store = tokio::task::spawn_blocking(move || Store::connect(&db_url, 1)).await??;
    crate::migrate(&store).await?;

    let token_shown = admin_token.expose().clone();
    let config = ApiConfig {
        listen: args.listen.listen,
        admin_token,
    };
    let app = Application::build(config, store).await?;
    let url = format!("http://{}", app.local_addr());
    println!("Slipway is running (dev mode).");
    println!("  API:   {url}");
    println!("  Token: {token_shown}");
    println!("  Data:  {}", db_path.display());
    println!("Try:    curl -u :{token_shown} {url}/apps");
    app.run_until_stopped().await?;
    Ok(())
}

/// Reads the kept token, or makes one and keeps it readable by its owner only.
fn load_or_create_token(path: &Path) -> anyhow::Result<Secret<String>> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let token = text.trim().to_owned();
            check_token(&token).with_context(|| format!("{} is unusable", path.display()))?;
            Ok(Secret::new(token))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let token = generate_token();
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(file, "{}", token.expose())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(token)
        }
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}
