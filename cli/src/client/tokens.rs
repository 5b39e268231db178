//! `slipway tokens`, `tokens create NAME --scope S [--apps A,B] [--expires-in 90d]`,
//! `tokens remove ID`. The token is shown once, at `create`.

use super::output::{self, ago, text, Cell};
use super::webhooks::items;
use super::Ctx;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    command: Option<TokensCommand>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scope {
    /// Reads on its apps
    Read,
    /// Also builds, env, promote, rollback and cancel on its apps
    Deploy,
    /// Everything, including apps, tokens and webhooks
    Admin,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Create a token (shown once)
    Create {
        /// Recorded as the actor of what the token changes
        name: String,
        #[arg(long, value_enum)]
        scope: Scope,
        /// Only these apps (comma-separated) [default: every app]
        #[arg(long, value_delimiter = ',')]
        apps: Vec<String>,
        /// Lifetime, e.g. 90d or 12h [default: no expiry]
        #[arg(long, value_name = "DURATION", value_parser = output::parse_duration)]
        expires_in: Option<i64>,
    },
    /// Revoke a token at once
    Remove { id: String },
}

pub async fn run(ctx: &Ctx, args: TokensArgs) -> anyhow::Result<()> {
    match args.command {
        None => list(ctx).await,
        Some(TokensCommand::Create {
            name,
            scope,
            apps,
            expires_in,
        }) => {
            let scope = match scope {
                Scope::Read => "read",
                Scope::Deploy => "deploy",
                Scope::Admin => "admin",
            };
            let mut body = json!({ "name": name, "scope": scope, "apps": apps });
            if let Some(seconds) = expires_in {
                body["expires_in"] = json!(seconds);
            }
            let created = ctx
                .api
                .call(Method::POST, &["tokens"], &[], Some(&body))
                .await?;
            if ctx.json {
                output::json(&created);
                return Ok(());
            }
            output::line(format!("Token: {}", text(&created["id"])));
            output::line(format!("Secret: {}", text(&created["token"])));
            output::line("Keep the token now: it is not shown again.");
            Ok(())
        }
        Some(TokensCommand::Remove { id }) => {
            ctx.api
                .call(Method::DELETE, &["tokens", &id], &[], None)
                .await?;
            if ctx.json {
                output::json(&json!({ "deleted": id }));
            } else {
                output::line(format!("Removing {id}... OK"));
            }
            Ok(())
        }
    }
}

async fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let listed = ctx.api.get(&["tokens"]).await?;
    if ctx.json {
        output::json(&listed);
        return Ok(());
    }
    let apps = |v: &Value| match v.as_array() {
        Some(a) if !a.is_empty() => a.iter().map(text).collect::<Vec<_>>().join(","),
        _ => "*".to_owned(),
    };
    let never = |v: &Value| match ago(v) {
        a if a.is_empty() => "never".to_owned(),
        a => a,
    };
    let rows = items(&listed, "tokens")
        .iter()
        .map(|t| {
            vec![
                Cell::new(text(&t["id"])),
                Cell::new(text(&t["name"])),
                Cell::new(text(&t["scope"])),
                Cell::new(apps(&t["apps"])),
                Cell::new(ago(&t["created_at"])),
                Cell::new(never(&t["last_used_at"])),
                Cell::new(text(&t["expires_at"])),
            ]
        })
        .collect();
    let headers = [
        "ID",
        "NAME",
        "SCOPE",
        "APPS",
        "CREATED",
        "LAST USED",
        "EXPIRES",
    ];
    output::line(output::table(&headers, rows, ctx.colour));
    Ok(())
}
