//! `slipway apps`, `apps create NAME`, `apps delete NAME`, `apps info`
//! (with where each service answers).

use super::output::{self, ago, text, Cell};
use super::Ctx;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct AppsArgs {
    #[command(subcommand)]
    command: Option<AppsCommand>,
}

#[derive(Debug, Subcommand)]
enum AppsCommand {
    /// Create an app
    Create {
        name: String,
        /// Rollout deadline of its promotions (e.g. 10m; 10 s to 1 h)
        #[arg(long, value_parser = output::parse_duration)]
        deadline: Option<i64>,
    },
    /// Delete an app (its history is kept)
    Delete { name: String },
    /// Show the app (`--app`, or NAME)
    Info { name: Option<String> },
}

pub async fn run(ctx: &Ctx, args: AppsArgs) -> anyhow::Result<()> {
    match args.command {
        None => list(ctx).await,
        Some(AppsCommand::Create { name, deadline }) => {
            let mut body = json!({ "name": name });
            if let Some(seconds) = deadline {
                body["deadline_seconds"] = json!(seconds);
            }
            let app = ctx
                .api
                .call(Method::POST, &["apps"], &[], Some(&body))
                .await?;
            if ctx.json {
                output::json(&app);
            } else {
                output::line(format!("Creating {name}... OK"));
            }
            Ok(())
        }
        Some(AppsCommand::Delete { name }) => {
            ctx.api
                .call(Method::DELETE, &["apps", &name], &[], None)
                .await?;
            if ctx.json {
                output::json(&json!({ "deleted": name }));
            } else {
                output::line(format!("Deleting {name}... OK"));
            }
            Ok(())
        }
        Some(AppsCommand::Info { name }) => {
            let name = match name {
                Some(name) => name,
                None => ctx.app(None)?,
            };
            let app = ctx.api.get(&["apps", &name]).await?;
            if ctx.json {
                output::json(&app);
                return Ok(());
            }
            output::line(output::fields(&[
                ("Name", text(&app["name"])),
                ("Release", text(&app["active_release"])),
                ("Deadline", format!("{} s", text(&app["deadline_seconds"]))),
                ("Created", ago(&app["created_at"])),
            ]));
            if let Some(table) = services(&app, ctx.colour) {
                output::line("");
                output::line(table);
            }
            Ok(())
        }
    }
}

/// One row per URL of each service of the active release (`-` for a
/// service without one: no router URL is configured); none without services.
fn services(app: &Value, colour: bool) -> Option<String> {
    let services = app["services"].as_array().filter(|s| !s.is_empty())?;
    let mut rows = Vec::new();
    for service in services {
        let name = text(&service["name"]);
        let urls = service["urls"].as_array().cloned().unwrap_or_default();
        if urls.is_empty() {
            rows.push(vec![Cell::new(name.clone()), Cell::new("-")]);
        }
        for url in &urls {
            rows.push(vec![Cell::new(name.clone()), Cell::new(text(url))]);
        }
    }
    Some(output::table(&["SERVICE", "URL"], rows, colour))
}

async fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let listed = ctx.api.get(&["apps"]).await?;
    if ctx.json {
        output::json(&listed);
        return Ok(());
    }
    let apps = listed["apps"].as_array().cloned().unwrap_or_default();
    let rows = apps
        .iter()
        .map(|a| {
            vec![
                Cell::new(text(&a["name"])),
                Cell::new(text(&a["active_release"])),
                Cell::new(ago(&a["created_at"])),
            ]
        })
        .collect();
    output::line(output::table(
        &["APP", "RELEASE", "CREATED"],
        rows,
        ctx.colour,
    ));
    Ok(())
}
