//! `slipway webhooks`, `webhooks add URL`, `webhooks remove ID`,
//! `webhooks deliveries ID`. The signing secret is shown once, at `add`.

use super::output::{self, optional, since, Cell};
use super::Ctx;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::json;
use slipway_core::contract::{CreateWebhook, DeliveryList, WebhookList, WebhookWithSecret};

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
            let body = CreateWebhook {
                url,
                kind: kind.into(),
                events,
                apps,
                description,
            };
            let created = ctx.api.send(Method::POST, &["webhooks"], &body).await?;
            if ctx.json {
                output::json(&created);
                return Ok(());
            }
            let created: WebhookWithSecret = ctx.api.read(&created)?;
            output::line(format!("Webhook: {}", created.webhook.id));
            output::line(format!("Secret: {}", created.secret));
            output::line("Keep the secret now: it is not shown again.");
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
            let listed: DeliveryList = ctx.api.read(&listed)?;
            let rows = listed
                .deliveries
                .iter()
                .map(|d| {
                    let last = match d.last_error.as_deref() {
                        None | Some("") => optional(&d.last_status_code),
                        Some(error) => error.to_owned(),
                    };
                    vec![
                        Cell::new(d.id.to_string()),
                        Cell::new(d.event_type.as_str()),
                        Cell::status(d.status.as_str()),
                        Cell::new(d.attempts.to_string()),
                        Cell::new(since(d.created_at)),
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
    let listed: WebhookList = ctx.api.read(&listed)?;
    let rows = listed
        .webhooks
        .iter()
        .map(|w| {
            let events: Vec<&str> = w.events.iter().map(|e| e.as_str()).collect();
            let apps = match w.apps.as_slice() {
                [] => "*".to_owned(),
                apps => apps
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            vec![
                Cell::new(w.id.to_string()),
                Cell::new(w.kind.as_str()),
                Cell::new(events.join(",")),
                Cell::new(apps),
                Cell::new(since(w.created_at)),
                Cell::new(w.url.clone()),
            ]
        })
        .collect();
    let headers = ["ID", "KIND", "EVENTS", "APPS", "CREATED", "URL"];
    output::line(output::table(&headers, rows, ctx.colour));
    Ok(())
}
