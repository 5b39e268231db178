//! `slipway webhooks`, `webhooks add URL`, `webhooks remove ID`,
//! `webhooks deliveries ID`. The signing secret is shown once, at `add`.

use super::output::{self, ago, text, Cell};
use super::Ctx;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    #[command(subcommand)]
    command: Option<WebhooksCommand>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Kind {
    /// The event JSON, signed (Standard Webhooks)
    Generic,
    /// A Slack incoming-webhook message
    Slack,
}

#[derive(Debug, Subcommand)]
enum WebhooksCommand {
    /// Subscribe a URL to events
    Add {
        url: String,
        #[arg(long, value_enum, default_value = "generic")]
        kind: Kind,
        /// Event types or families (`deployment.*`, `release.created`; comma-separated)
        #[arg(long, value_delimiter = ',', default_value = "*")]
        events: Vec<String>,
        /// Only these apps' events (comma-separated) [default: every app]
        #[arg(long, value_delimiter = ',')]
        apps: Vec<String>,
        #[arg(long, short = 'd', value_name = "TEXT")]
        description: Option<String>,
    },
    /// Delete a webhook
    Remove { id: String },
    /// The webhook's deliveries, newest first
    Deliveries { id: String },
}

pub async fn run(ctx: &Ctx, args: WebhooksArgs) -> anyhow::Result<()> {
    match args.command {
        None => list(ctx).await,
        Some(WebhooksCommand::Add {
            url,
            kind,
            events,
            apps,
            description,
        }) => {
            let kind = match kind {
                Kind::Generic => "generic",
                Kind::Slack => "slack",
            };
            let mut body = json!({ "url": url, "kind": kind, "events": events, "apps": apps });
            if let Some(description) = description {
                body["description"] = json!(description);
            }
            let created = ctx
                .api
                .call(Method::POST, &["webhooks"], &[], Some(&body))
                .await?;
            if ctx.json {
                output::json(&created);
                return Ok(());
            }
            let hook = created.get("webhook").unwrap_or(&created);
            output::line(format!("Webhook: {}", text(&hook["id"])));
            let secret = created
                .get("secret")
                .or_else(|| hook.get("secret"))
                .map(text)
                .unwrap_or_default();
            if !secret.is_empty() {
                output::line(format!("Secret: {secret}"));
                output::line("Keep the secret now: it is not shown again.");
            }
            Ok(())
        }
        Some(WebhooksCommand::Remove { id }) => {
            ctx.api
                .call(Method::DELETE, &["webhooks", &id], &[], None)
                .await?;
            if ctx.json {
                output::json(&json!({ "deleted": id }));
            } else {
                output::line(format!("Removing {id}... OK"));
            }
            Ok(())
        }
        Some(WebhooksCommand::Deliveries { id }) => {
            let listed = ctx.api.get(&["webhooks", &id, "deliveries"]).await?;
            if ctx.json {
                output::json(&listed);
                return Ok(());
            }
            let rows = items(&listed, "deliveries")
                .iter()
                .map(|d| {
                    let code = text(&d["last_status_code"]);
                    let last = match text(&d["last_error"]) {
                        e if e.is_empty() => code,
                        e => e,
                    };
                    vec![
                        Cell::new(text(&d["id"])),
                        Cell::new(text(&d["event_type"])),
                        Cell::status(&text(&d["status"])),
                        Cell::new(text(&d["attempts"])),
                        Cell::new(ago(&d["created_at"])),
                        Cell::new(last),
                    ]
                })
                .collect();
            let headers = ["ID", "EVENT", "STATUS", "ATTEMPTS", "CREATED", "LAST"];
            output::line(output::table(&headers, rows, ctx.colour));
            Ok(())
        }
    }
}

async fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let listed = ctx.api.get(&["webhooks"]).await?;
    if ctx.json {
        output::json(&listed);
        return Ok(());
    }
    let join = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().map(text).collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    };
    let rows = items(&listed, "webhooks")
        .iter()
        .map(|w| {
            let apps = match join(&w["apps"]) {
                a if a.is_empty() => "*".to_owned(),
                a => a,
            };
            vec![
                Cell::new(text(&w["id"])),
                Cell::new(text(&w["kind"])),
                Cell::new(join(&w["events"])),
                Cell::new(apps),
                Cell::new(ago(&w["created_at"])),
                Cell::new(text(&w["url"])),
            ]
        })
        .collect();
    let headers = ["ID", "KIND", "EVENTS", "APPS", "CREATED", "URL"];
    output::line(output::table(&headers, rows, ctx.colour));
    Ok(())
}

/// A listing's items, whether wrapped (`{"webhooks": [...]}`) or bare.
pub(super) fn items(listed: &Value, key: &str) -> Vec<Value> {
    listed
        .get(key)
        .unwrap_or(listed)
        .as_array()
        .cloned()
        .unwrap_or_default()
}
