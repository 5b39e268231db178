//! `slipway apps`, `apps create NAME`, `apps delete NAME`, `apps info`
//! (with where each service answers).

use super::output::{self, optional, since, Cell};
use super::Ctx;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;
use slipway_core::contract::{App, AppList, CreateApp};

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
            let body = CreateApp {
                name: name.clone(),
                deadline_seconds: deadline,
            };
            let app = ctx.api.send(Method::POST, &["apps"], &body).await?;
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
            let shown = ctx.api.get(&["apps", &name]).await?;
            if ctx.json {
                output::json(&shown);
                return Ok(());
            }
            let app: App = ctx.api.read(&shown)?;
            output::line(output::fields(&[
                ("Name", app.name.to_string()),
                ("Release", optional(&app.active_release)),
                ("Deadline", format!("{} s", app.deadline_seconds.seconds())),
                ("Created", since(app.created_at)),
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
fn services(app: &App, colour: bool) -> Option<String> {
    if app.services.is_empty() {
        return None;
    }
    let mut rows = Vec::new();
    for service in &app.services {
        let name = service.name.to_string();
        if service.urls.is_empty() {
            rows.push(vec![Cell::new(name.clone()), Cell::new("-")]);
        }
        for url in &service.urls {
            rows.push(vec![Cell::new(name.clone()), Cell::new(url.clone())]);
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
    let listed: AppList = ctx.api.read(&listed)?;
    let rows = listed
        .apps
        .iter()
        .map(|a| {
            vec![
                Cell::new(a.name.to_string()),
                Cell::new(optional(&a.active_release)),
                Cell::new(since(a.created_at)),
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
