//! `slipway logs [-s SERVICE] [--since 10m] [-n 100] [--follow]`: what the
//! app's instances wrote, each line prefixed with when it was shipped, its
//! service and its instance, like `convox logs`.

use super::output;
use super::sse;
use super::{code, Ctx, Exit};
use clap::Args;
use futures_util::StreamExt;
use serde_json::Value;
use slipway_core::contract::LogLine;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this service's lines
    #[arg(long, short = 's', value_name = "SERVICE")]
    service: Option<String>,
    /// Only lines since then: how long ago (30s, 10m, 2h, 1d) or an RFC 3339 time
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// How many of the newest lines (1-1000)
    #[arg(long, short = 'n', default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    lines: u32,
    /// Keep printing new lines as they come
    #[arg(long, short = 'f')]
    follow: bool,
}

pub async fn run(ctx: &Ctx, args: LogsArgs) -> anyhow::Result<()> {
    let app = ctx.app(None)?;
    let mut query = vec![("limit", args.lines.to_string())];
    if let Some(service) = args.service {
        query.push(("service", service));
    }
    if let Some(since) = args.since {
        query.push(("since", since));
    }
    let path = ["apps", app.as_str(), "logs"];
    if !args.follow {
        let listed = ctx
            .api
            .call(reqwest::Method::GET, &path, &query, None)
            .await?;
        if ctx.json {
            output::json(&listed);
            return Ok(());
        }
        for line in listed["lines"].as_array().into_iter().flatten() {
            print(ctx, line)?;
        }
        return Ok(());
    }
    query.push(("follow", "true".to_owned()));
    let response = ctx.api.stream(&path, &query, None).await?;
    let mut events = std::pin::pin!(sse::events(response));
    while let Some(event) = events.next().await {
        print(ctx, &event.data)?;
    }
    Err(Exit {
        code: code::CONNECTION_LOST,
        message: format!("lost the connection to Slipway at {}", ctx.api.host()),
    }
    .into())
}

/// `2026-11-29T17:40:01.123Z web/web-rabc-x1y2z3 the line`, or (following
/// with `--json`) one JSON object a line.
fn print(ctx: &Ctx, shown: &Value) -> anyhow::Result<()> {
    if ctx.json {
        output::line(shown.to_string());
        return Ok(());
    }
    let line: LogLine = ctx.api.read(shown)?;
    output::line(format!(
        "{} {}/{} {}",
        output::timestamp(line.at),
        line.service,
        line.instance,
        line.line
    ));
    Ok(())
}
