//! `slipway ps`: the app's instances, as its supervising worker last saw
//! them: id, service, release, status, restarts, age and its address.

use super::output::{self, ago, text, Cell};
use super::Ctx;
use clap::Args;
use serde_json::Value;

#[derive(Debug, Args)]
pub struct PsArgs {}

pub async fn run(ctx: &Ctx, _args: PsArgs) -> anyhow::Result<()> {
    let app = ctx.app(None)?;
    let listed = ctx.api.get(&["apps", &app, "processes"]).await?;
    if ctx.json {
        output::json(&listed);
        return Ok(());
    }
    let rows = listed["processes"]
        .as_array()
        .map(|all| all.iter().map(row).collect())
        .unwrap_or_default();
    let headers = [
        "ID", "SERVICE", "RELEASE", "STATUS", "RESTARTS", "STARTED", "ADDRESS",
    ];
    output::line(output::table(&headers, rows, ctx.colour));
    Ok(())
}

fn row(p: &Value) -> Vec<Cell> {
    let address = match text(&p["address"]) {
        a if a.is_empty() => "-".to_owned(),
        a => a,
    };
    vec![
        Cell::new(text(&p["id"])),
        Cell::new(text(&p["service"])),
        Cell::new(text(&p["release"])),
        Cell::new(text(&p["status"])),
        Cell::new(p["restarts"].as_u64().unwrap_or(0).to_string()),
        Cell::new(ago(&p["started_at"])),
        Cell::new(address),
    ]
}
