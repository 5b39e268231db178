//! `slipway env`, `env get KEY`, `env set K=V ...`, `env unset K ...`. Each
//! change is a new release; `--promote` promotes it. `KEY=-` reads the value
//! from stdin, so secrets stay out of shell history. Values are printed
//! only by `env` and `env get`, never in messages.

use super::latest::{warn_if_based_on_inactive, Inherits};
use super::output;
use super::releases::PromoteFlags;
use super::{wait, Ctx, Exit};
use anyhow::Context;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;
use slipway_core::contract::{EnvChanged, EnvShow, PatchEnv};
use std::collections::BTreeMap;
use std::io::Read;

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(subcommand)]
    command: Option<EnvCommand>,
}

#[derive(Debug, Args)]
struct ChangeFlags {
    /// Promote the new release at once
    #[arg(long)]
    promote: bool,
    #[command(flatten)]
    promote_flags: PromoteFlags,
    /// The release's description [default: env add:A change:B remove:C]
    #[arg(long, short = 'd', value_name = "TEXT")]
    description: Option<String>,
}

#[derive(Debug, Subcommand)]
enum EnvCommand {
    /// Print one value
    Get { key: String },
    /// Set variables (KEY=VALUE; KEY=- reads the value from stdin)
    Set {
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Remove variables
    Unset {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
}

pub async fn run(ctx: &Ctx, args: EnvArgs) -> anyhow::Result<()> {
    let app = ctx.app(None)?;
    match args.command {
        None => {
            let shown = ctx.api.get(&["apps", &app, "env"]).await?;
            if ctx.json {
                output::json(&shown);
                return Ok(());
            }
            let shown: EnvShow = ctx.api.read(&shown)?;
            for (key, value) in shown.env.iter() {
                output::line(format!("{key}={value}"));
            }
            Ok(())
        }
        Some(EnvCommand::Get { key }) => {
            let shown = ctx.api.get(&["apps", &app, "env"]).await?;
            let shown: EnvShow = ctx.api.read(&shown)?;
            match shown.env.get(&key) {
                Some(value) if ctx.json => output::json(&json!({ key: value })),
                Some(value) => output::line(value),
                None => {
                    let key = super::clip(&key);
                    return Err(Exit::error(format!("{key} is not set in app {app}")).into());
                }
            }
            Ok(())
        }
        Some(EnvCommand::Set { pairs, flags }) => {
            let set = parse_pairs(&pairs)?;
            // As typed (each once), not in the map's order.
            let mut keys: Vec<&str> = Vec::new();
            for (key, _) in pairs.iter().filter_map(|p| p.split_once('=')) {
                let key = super::clip(key);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            let body = PatchEnv {
                set,
                ..PatchEnv::default()
            };
            change(
                ctx,
                &app,
                body,
                &flags,
                &format!("Setting {}", keys.join(", ")),
            )
            .await
        }
        Some(EnvCommand::Unset { keys, flags }) => {
            let body = PatchEnv {
                unset: keys.clone(),
                ..PatchEnv::default()
            };
            let shown: Vec<&str> = keys.iter().map(|k| super::clip(k)).collect();
            change(
                ctx,
                &app,
                body,
                &flags,
                &format!("Unsetting {}", shown.join(", ")),
            )
            .await
        }
    }
}

async fn change(
    ctx: &Ctx,
    app: &str,
    mut body: PatchEnv,
    flags: &ChangeFlags,
    doing: &str,
) -> anyhow::Result<()> {
    body.description = flags.description.clone();
    if flags.promote {
        body.promote = true;
        body.deadline_seconds = flags.promote_flags.deadline;
    } else if flags.promote_flags.wait || flags.promote_flags.deadline.is_some() {
        return Err(Exit::error("--wait and --deadline need --promote").into());
    }
    let changed = ctx
        .api
        .send(Method::PATCH, &["apps", app, "env"], &body)
        .await?;
    if !ctx.json {
        output::line(format!("{doing}... OK"));
        let read: EnvChanged = ctx.api.read(&changed)?;
        match read.release {
            Some(release) => output::line(format!("Release: {}", release.id)),
            None => output::line("No change: no release created"),
        }
    }
    warn_if_based_on_inactive(ctx, app, &changed, Inherits::EnvAndBuild).await;
    if flags.promote {
        return wait::promoted(ctx, app, changed, flags.promote_flags.wait).await;
    }
    if ctx.json {
        output::json(&changed);
    }
    Ok(())
}

/// `KEY=VALUE` arguments; one `KEY=-` takes its value from stdin.
fn parse_pairs(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut set = BTreeMap::new();
    let mut from_stdin = None;
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            let shown = super::clip(pair);
            return Err(Exit::error(format!("expected KEY=VALUE, got `{shown}`")).into());
        };
        if key.is_empty() {
            return Err(Exit::error("expected KEY=VALUE, got an empty key").into());
        }
        if value == "-" {
            if from_stdin.is_some() {
                return Err(Exit::error("only one KEY=- can read its value from stdin").into());
            }
            from_stdin = Some(key.to_owned());
            continue;
        }
        set.insert(key.to_owned(), value.to_owned());
    }
    if let Some(key) = from_stdin {
        let mut value = String::new();
        std::io::stdin()
            .read_to_string(&mut value)
            .context("cannot read the value from stdin")?;
        let value = value
            .strip_suffix("\r\n")
            .or_else(|| value.strip_suffix('\n'))
            .unwrap_or(&value);
        set.insert(key, value.to_owned());
    }
    Ok(set)
}
