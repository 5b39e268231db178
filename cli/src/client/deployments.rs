//! `slipway deployments` (every promotion attempt), `deployments info ID`,
//! `deployments cancel ID [--wait]`.

use super::output::{self, optional, since, timestamp, Cell};
use super::{wait, Ctx};
use clap::{Args, Subcommand};
use reqwest::Method;
use slipway_core::contract::{Deployment, DeploymentList};
use slipway_core::domain::DeploymentStatus;

#[derive(Debug, Args)]
pub struct DeploymentsArgs {
    /// How many deployments to list (1-100)
    #[arg(long, short = 'n', default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    limit: u32,
    #[command(subcommand)]
    command: Option<DeploymentsCommand>,
}

#[derive(Debug, Subcommand)]
enum DeploymentsCommand {
    /// Show one deployment
    Info { id: String },
    /// Stop a deployment under way and roll back
    Cancel {
        id: String,
        /// Follow the rollback until it ends
        #[arg(long)]
        wait: bool,
    },
}

pub async fn run(ctx: &Ctx, args: DeploymentsArgs) -> anyhow::Result<()> {
    let app = ctx.app(None)?;
    match args.command {
        None => {
            let query = [("limit", args.limit.to_string())];
            let listed = ctx
                .api
                .call(Method::GET, &["apps", &app, "deployments"], &query, None)
                .await?;
            if ctx.json {
                output::json(&listed);
                return Ok(());
            }
            let listed: DeploymentList = ctx.api.read(&listed)?;
            let rows = listed.deployments.iter().map(row).collect();
            let headers = [
                "ID", "STATUS", "RELEASE", "PREVIOUS", "ACTOR", "CREATED", "DURATION", "REASON",
            ];
            output::line(output::table(&headers, rows, ctx.colour));
            Ok(())
        }
        Some(DeploymentsCommand::Info { id }) => {
            let shown = ctx.api.get(&["apps", &app, "deployments", &id]).await?;
            if ctx.json {
                output::json(&shown);
                return Ok(());
            }
            let d: Deployment = ctx.api.read(&shown)?;
            output::line(output::fields(&[
                ("Id", d.id.to_string()),
                ("Status", d.status.as_str().to_owned()),
                ("Release", d.release.to_string()),
                ("Previous", optional(&d.previous_release)),
                ("Reason", optional(&d.reason)),
                ("Actor", d.actor.clone()),
                ("Created", since(d.created_at)),
                ("Started", optional(&d.started_at.map(timestamp))),
                ("Finished", optional(&d.finished_at.map(timestamp))),
                ("Duration", duration(d.duration_ms)),
                ("Deadline", timestamp(d.deadline_at)),
                (
                    "Cancel asked",
                    if d.cancel_requested { "yes" } else { "no" }.into(),
                ),
                ("Trace", optional(&d.trace_id)),
            ]));
            Ok(())
        }
        Some(DeploymentsCommand::Cancel { id, wait: follow }) => {
            let path = ["apps", app.as_str(), "deployments", id.as_str(), "cancel"];
            let d = ctx.api.call(Method::POST, &path, &[], None).await?;
            if !ctx.json {
                output::line(format!("Cancelling {id}... OK"));
            }
            if !follow {
                if ctx.json {
                    output::json(&d);
                }
                return Ok(());
            }
            let last = wait::follow(ctx, &app, &id).await?;
            if ctx.json {
                output::json(&last.shown);
            }
            // A cancelled rollout that rolled back is what was asked for.
            match last.deployment.status {
                DeploymentStatus::RolledBack | DeploymentStatus::Succeeded => Ok(()),
                _ => wait::outcome(&last.deployment),
            }
        }
    }
}

fn row(d: &Deployment) -> Vec<Cell> {
    vec![
        Cell::new(d.id.to_string()),
        Cell::status(d.status.as_str()),
        Cell::new(d.release.to_string()),
        Cell::new(optional(&d.previous_release)),
        Cell::new(d.actor.clone()),
        Cell::new(since(d.created_at)),
        Cell::new(duration(d.duration_ms)),
        Cell::new(optional(&d.reason)),
    ]
}

fn duration(ms: Option<i64>) -> String {
    ms.map(output::duration_ms).unwrap_or_default()
}
