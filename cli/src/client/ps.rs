//! `slipway ps`: the app's instances, as its supervising worker last saw
//! them: id, service, release, status, restarts, age and its address.

use super::output::{self, since, Cell};
use super::Ctx;
use clap::Args;
use slipway_core::contract::{Process, ProcessList};

#[derive(Debug, Args)]
pub struct PsArgs {}

pub async fn run(ctx: &Ctx, _args: PsArgs) -> anyhow::Result<()> {
    let app = ctx.app(None)?;
    let listed = ctx.api.get(&["apps", &app, "processes"]).await?;
    if ctx.json {
        output::json(&listed);
        return Ok(());
    }
    let listed: ProcessList = ctx.api.read(&listed)?;
    let rows = listed.processes.iter().map(row).collect();
    let headers = [
        "ID", "SERVICE", "RELEASE", "STATUS", "RESTARTS", "STARTED", "ADDRESS",
    ];
    output::line(output::table(&headers, rows, ctx.colour));
    Ok(())
}

fn row(p: &Process) -> Vec<Cell> {
    vec![
        Cell::new(p.id.clone()),
        Cell::new(p.service.to_string()),
        Cell::new(p.release.to_string()),
        Cell::new(p.status.as_str()),
        Cell::new(p.restarts.to_string()),
        Cell::new(since(p.started_at)),
        Cell::new(p.address.as_deref().unwrap_or("-")),
    ]
}
