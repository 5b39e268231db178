//! `slipway build` and `slipway deploy`: the manifest from YAML (the API's
//! JSON schema, plus an optional `app:`), and the git commit as the
//! description when the working tree is clean.

use super::latest::{warn_if_based_on_inactive, Inherits};
use super::output;
use super::{wait, Ctx, Exit};
use clap::Args;
use reqwest::Method;
use serde_json::{Map, Value};
use slipway_core::contract::{BuildCreated, CreateBuild, Deploy, Deployed};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const DEFAULT_MANIFEST: &str = "slipway.yml";
/// Larger manifests are surely a mistake (the API takes 1 MiB bodies).
const MAX_MANIFEST_BYTES: u64 = 512 * 1024;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The manifest (YAML or JSON)
    #[arg(long, short = 'm', default_value = DEFAULT_MANIFEST, value_name = "PATH")]
    manifest: PathBuf,
    /// The release's description [default: the git commit, when the working tree is clean]
    #[arg(long, short = 'd', value_name = "TEXT")]
    description: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// Follow the rollout until it ends; exit 0 only if it succeeded
    #[arg(long)]
    wait: bool,
    /// Rollout deadline (e.g. 10m) [default: the app's, 10m unless set]
    #[arg(long, value_parser = output::parse_duration, value_name = "DURATION")]
    deadline: Option<i64>,
}

pub async fn build(ctx: &Ctx, args: BuildArgs) -> anyhow::Result<()> {
    let app = ctx.app(Some(&args.manifest))?;
    let body = body(&args)?;
    let created = ctx
        .api
        .send(Method::POST, &["apps", &app, "builds"], &body)
        .await?;
    warn_if_based_on_inactive(ctx, &app, &created, Inherits::Env).await;
    if ctx.json {
        output::json(&created);
        return Ok(());
    }
    let created: BuildCreated = ctx.api.read(&created)?;
    output::line(format!("Build: {}", created.build.id));
    output::line(format!("Release: {}", created.release.id));
    Ok(())
}

pub async fn deploy(ctx: &Ctx, args: DeployArgs) -> anyhow::Result<()> {
    let app = ctx.app(Some(&args.build.manifest))?;
    let build = body(&args.build)?;
    let body = Deploy {
        manifest: build.manifest,
        git_sha: build.git_sha,
        git_message: build.git_message,
        description: build.description,
        deadline_seconds: args.deadline,
        minimum: None,
        maximum: None,
    };
    let started = ctx
        .api
        .send(Method::POST, &["apps", &app, "deploy"], &body)
        .await?;
    if !ctx.json {
        let deployed: Deployed = ctx.api.read(&started)?;
        output::line(format!("Build: {}", deployed.build.id));
        output::line(format!("Release: {}", deployed.release.id));
    }
    warn_if_based_on_inactive(ctx, &app, &started, Inherits::Env).await;
    wait::promoted(ctx, &app, started, args.wait).await
}

/// The build request: manifest, description or git info.
fn body(args: &BuildArgs) -> anyhow::Result<CreateBuild> {
    let mut manifest = read_manifest(&args.manifest)?;
    manifest.remove("app");
    let mut body = CreateBuild {
        manifest: Value::Object(manifest),
        git_sha: None,
        git_message: None,
        description: None,
    };
    match &args.description {
        Some(description) => body.description = Some(description.clone()),
        None => {
            let dir = args
                .manifest
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if let Some((sha, subject)) = clean_commit(dir) {
                body.git_sha = Some(sha);
                body.git_message = Some(subject);
            }
        }
    }
    Ok(body)
}

/// The manifest as a JSON object (YAML is a superset of JSON).
fn read_manifest(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| Exit::error(format!("cannot read the manifest {shown}: {e}")))?
        .len();
    if size > MAX_MANIFEST_BYTES {
        return Err(Exit::error(format!("the manifest {shown} is larger than 512 KiB")).into());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Exit::error(format!("cannot read the manifest {shown}: {e}")))?;
    let value: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| Exit::error(format!("the manifest {shown} is not valid YAML: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Exit::error(format!(
            "the manifest {shown} must be a mapping with `services:`"
        ))
        .into()),
    }
}

/// `app:` of the manifest, if it names one.
pub fn manifest_app(path: &Path) -> anyhow::Result<Option<String>> {
    let manifest = read_manifest(path)?;
    match manifest.get("app") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(app)) => Ok(Some(app.clone())),
        Some(_) => Err(Exit::error(format!("`app:` in {} must be a name", path.display())).into()),
    }
}

/// The commit's sha and subject, when `dir` is in a git repository whose
/// working tree is clean (untracked files count as changes).
fn clean_commit(dir: &Path) -> Option<(String, String)> {
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let status = git(&["status", "--porcelain"])?;
    if !status.trim().is_empty() {
        return None;
    }
    let log = git(&["log", "-1", "--format=%H%n%s"])?;
    let mut lines = log.lines();
    let sha = lines.next()?.trim().to_owned();
    let subject = lines.next().unwrap_or("").trim().to_owned();
    (!sha.is_empty()).then_some((sha, subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_from_yaml_and_keep_app_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slipway.yml");
        std::fs::write(
            &path,
            "app: shop\nservices:\n  web:\n    command: bin/web --port $PORT\n    port: 8000\n",
        )
        .unwrap();
        assert_eq!(manifest_app(&path).unwrap().as_deref(), Some("shop"));
        let args = BuildArgs {
            manifest: path.clone(),
            description: Some("by hand".into()),
        };
        let body = serde_json::to_value(body(&args).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({ "manifest": { "services": { "web": {
                "command": "bin/web --port $PORT", "port": 8000 } } },
                "description": "by hand" })
        );
        for bad in ["- a\n- b\n", "services: [\n", "42", ""] {
            std::fs::write(&path, bad).unwrap();
            assert!(read_manifest(&path).is_err(), "{bad:?}");
        }
        assert!(read_manifest(&dir.path().join("missing.yml")).is_err());
    }
}
