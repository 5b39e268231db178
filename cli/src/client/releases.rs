//! `slipway releases` (Convox's table), `releases info|promote|rollback|diff`.

use super::output::{self, optional, since, text, Cell};
use super::{wait, Ctx};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use slipway_core::contract::{PromoteBody, Promoted, Release, ReleaseDiff};
use slipway_core::domain::BuildId;

/// The API's largest page.
const PAGE: u32 = 100;

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    /// How many releases to list
    #[arg(long, short = 'n', default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
    #[command(subcommand)]
    command: Option<ReleasesCommand>,
}

/// Options of the commands that promote.
#[derive(Debug, Args)]
pub struct PromoteFlags {
    /// Follow the rollout until it ends; exit 0 only if it succeeded
    #[arg(long)]
    pub wait: bool,
    /// Rollout deadline (e.g. 10m) [default: the app's, 10m unless set]
    #[arg(long, value_parser = output::parse_duration, value_name = "DURATION")]
    pub deadline: Option<i64>,
}

impl PromoteFlags {
    pub fn body(&self) -> PromoteBody {
        PromoteBody {
            deadline_seconds: self.deadline,
            ..PromoteBody::default()
        }
    }
}

#[derive(Debug, Subcommand)]
enum ReleasesCommand {
    /// Show a release (env values masked unless --reveal)
    Info {
        id: String,
        /// Show env values
        #[arg(long)]
        reveal: bool,
    },
    /// Promote a release: a rolling update that rolls back by itself on failure
    Promote {
        id: String,
        #[command(flatten)]
        flags: PromoteFlags,
    },
    /// A new release with that release's build and env, promoted
    Rollback {
        id: String,
        #[command(flatten)]
        flags: PromoteFlags,
    },
    /// What changes from release A to release B: build and env keys (no values)
    Diff { from: String, to: String },
}

pub async fn run(ctx: &Ctx, args: ReleasesArgs) -> anyhow::Result<()> {
    let app = ctx.app(None)?;
    match args.command {
        None => list(ctx, &app, args.limit).await,
        Some(ReleasesCommand::Info { id, reveal }) => info(ctx, &app, &id, reveal).await,
        Some(ReleasesCommand::Promote { id, flags }) => {
            let path = ["apps", app.as_str(), "releases", id.as_str(), "promote"];
            let started = ctx.api.send(Method::POST, &path, &flags.body()).await?;
            if !ctx.json {
                output::line(format!("Promoting {id}... OK"));
            }
            wait::promoted(ctx, &app, started, flags.wait).await
        }
        Some(ReleasesCommand::Rollback { id, flags }) => {
            let path = ["apps", app.as_str(), "releases", id.as_str(), "rollback"];
            let started = ctx.api.send(Method::POST, &path, &flags.body()).await?;
            if !ctx.json {
                output::line(format!("Rolling back to {id}... OK"));
                let promoted: Promoted = ctx.api.read(&started)?;
                output::line(format!("Release: {}", promoted.release.id));
            }
            wait::promoted(ctx, &app, started, flags.wait).await
        }
        Some(ReleasesCommand::Diff { from, to }) => diff(ctx, &app, &from, &to).await,
    }
}

async fn list(ctx: &Ctx, app: &str, limit: u32) -> anyhow::Result<()> {
    let mut releases: Vec<Value> = Vec::new();
    while releases.len() < limit as usize {
        let want = (limit as usize - releases.len()).min(PAGE as usize);
        let mut query = vec![("limit", want.to_string())];
        if let Some(last) = releases.last() {
            query.push(("before", text(&last["id"])));
        }
        let page = ctx
            .api
            .call(Method::GET, &["apps", app, "releases"], &query, None)
            .await?;
        let items = page["releases"].as_array().cloned().unwrap_or_default();
        let short = items.len() < want;
        releases.extend(items);
        if short {
            break;
        }
    }
    if ctx.json {
        output::json(&json!({ "releases": releases }));
        return Ok(());
    }
    let releases = releases
        .iter()
        .map(|r| ctx.api.read(r))
        .collect::<anyhow::Result<Vec<Release>>>()?;
    let rows = releases
        .iter()
        .map(|r| {
            vec![
                Cell::new(r.id.to_string()),
                Cell::status(r.status.as_str()),
                Cell::new(optional(&r.build)),
                Cell::new(since(r.created_at)),
                Cell::new(r.description.clone()),
            ]
        })
        .collect();
    let headers = ["ID", "STATUS", "BUILD", "CREATED", "DESCRIPTION"];
    output::line(output::table(&headers, rows, ctx.colour));
    Ok(())
}

const MASK: &str = "****";

async fn info(ctx: &Ctx, app: &str, id: &str, reveal: bool) -> anyhow::Result<()> {
    let mut release = ctx.api.get(&["apps", app, "releases", id]).await?;
    if !reveal {
        if let Some(env) = release["env"].as_object_mut() {
            env.values_mut().for_each(|v| *v = json!(MASK));
        }
    }
    if ctx.json {
        output::json(&release);
        return Ok(());
    }
    let release: Release = ctx.api.read(&release)?;
    let env: Vec<String> = release
        .env
        .iter()
        .flat_map(|env| env.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    let mut pairs = vec![
        ("Id", release.id.to_string()),
        ("Build", optional(&release.build)),
        ("Status", release.status.as_str().to_owned()),
        ("Created", since(release.created_at)),
        ("Actor", release.actor),
        ("Description", release.description),
    ];
    match env.split_first() {
        None => pairs.push(("Env", String::new())),
        Some((first, rest)) => {
            pairs.push(("Env", first.clone()));
            pairs.extend(rest.iter().map(|line| ("", line.clone())));
        }
    }
    output::line(output::fields(&pairs));
    Ok(())
}

async fn diff(ctx: &Ctx, app: &str, from: &str, to: &str) -> anyhow::Result<()> {
    let query = [("against", from.to_owned())];
    let path = ["apps", app, "releases", to, "diff"];
    let diff = ctx.api.call(Method::GET, &path, &query, None).await?;
    if ctx.json {
        output::json(&diff);
        return Ok(());
    }
    let diff: ReleaseDiff = ctx.api.read(&diff)?;
    let build = &diff.build;
    let build_line = if build.changed {
        format!("{} -> {}", or_none(&build.from), or_none(&build.to))
    } else {
        format!("{} (unchanged)", or_none(&build.to))
    };
    let mut pairs = vec![("build", build_line)];
    let env = &diff.env;
    for (label, keys) in [
        ("add", env.added()),
        ("change", env.changed()),
        ("remove", env.removed()),
    ] {
        pairs.extend(keys.iter().map(|key| (label, key.clone())));
    }
    if pairs.len() == 1 {
        pairs.push(("env", "(unchanged)".into()));
    }
    output::line(output::fields(&pairs));
    Ok(())
}

fn or_none(build: &Option<BuildId>) -> String {
    match build {
        Some(id) => id.to_string(),
        None => "(none)".into(),
    }
}
