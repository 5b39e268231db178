//! `slipway tokens`, `tokens create NAME --scope S [--apps A,B] [--expires-in 90d]`,
//! `tokens remove ID`. The token is shown once, at `create`.

use super::output::{self, optional, since, timestamp, Cell};
use super::Ctx;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::json;
use slipway_core::contract::{CreateToken, TokenList, TokenWithSecret};

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
            let body = CreateToken {
                name,
                scope: scope.into(),
                apps,
                expires_in,
            };
            let created = ctx.api.send(Method::POST, &["tokens"], &body).await?;
            if ctx.json {
                output::json(&created);
                return Ok(());
            }
            let created: TokenWithSecret = ctx.api.read(&created)?;
            output::line(format!("Token: {}", created.token.id));
            output::line(format!("Secret: {}", created.secret));
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
    let listed: TokenList = ctx.api.read(&listed)?;
    let rows = listed
        .tokens
        .iter()
        .map(|t| {
            let apps = match t.apps.as_slice() {
                [] => "*".to_owned(),
                apps => apps
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            vec![
                Cell::new(t.id.to_string()),
                Cell::new(t.name.clone()),
                Cell::new(t.scope.as_str()),
                Cell::new(apps),
                Cell::new(since(t.created_at)),
                Cell::new(t.last_used_at.map_or("never".to_owned(), since)),
                Cell::new(optional(&t.expires_at.map(timestamp))),
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
