//! `slipway deployments` (every promotion attempt), `deployments info ID`,
//! `deployments cancel ID [--wait]`.

use super::output::{self, ago, text, Cell};
use super::{wait, Ctx};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

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
            let rows = listed["deployments"]
                .as_array()
                .map(|all| all.iter().map(row).collect())
                .unwrap_or_default();
            let headers = [
                "ID", "STATUS", "RELEASE", "PREVIOUS", "ACTOR", "CREATED", "DURATION", "REASON",
            ];
            output::line(output::table(&headers, rows, ctx.colour));
            Ok(())
        }
        Some(DeploymentsCommand::Info { id }) => {
            let d = ctx.api.get(&["apps", &app, "deployments", &id]).await?;
            if ctx.json {
                output::json(&d);
                return Ok(());
            }
            output::line(output::fields(&[
                ("Id", text(&d["id"])),
                ("Status", text(&d["status"])),
                ("Release", text(&d["release"])),
                ("Previous", text(&d["previous_release"])),
                ("Reason", text(&d["reason"])),
                ("Actor", text(&d["actor"])),
                ("Created", ago(&d["created_at"])),
                ("Started", text(&d["started_at"])),
                ("Finished", text(&d["finished_at"])),
                ("Duration", duration(&d["duration_ms"])),
                ("Deadline", text(&d["deadline_at"])),
                ("Cancel asked", yes(&d["cancel_requested"])),
                ("Trace", text(&d["trace_id"])),
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
                output::json(&last);
            }
            // A cancelled rollout that rolled back is what was asked for.
            match text(&last["status"]).as_str() {
                "rolled_back" | "succeeded" => Ok(()),
                _ => wait::outcome(&last),
            }
        }
    }
}

fn row(d: &Value) -> Vec<Cell> {
    vec![
        Cell::new(text(&d["id"])),
        Cell::status(&text(&d["status"])),
        Cell::new(text(&d["release"])),
        Cell::new(text(&d["previous_release"])),
        Cell::new(text(&d["actor"])),
        Cell::new(ago(&d["created_at"])),
        Cell::new(duration(&d["duration_ms"])),
        Cell::new(text(&d["reason"])),
    ]
}

fn duration(ms: &Value) -> String {
    ms.as_i64().map(output::duration_ms).unwrap_or_default()
}

fn yes(value: &Value) -> String {
    if value.as_bool().unwrap_or(false) {
        "yes"
    } else {
        "no"
    }
    .into()
}
