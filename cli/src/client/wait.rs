//! `--wait`: follows a deployment's event stream (server-sent events) and
//! tells its progress as it happens; a spinner line on a terminal, plain
//! lines otherwise. Resumes after a dropped connection (`Last-Event-ID`);
//! gives up with its own exit code when the API stays away. A promotion's
//! success line ends with where the app answers.

use super::output::{self, paint};
use super::sse::{self, Sse};
use super::{code, Ctx, Exit};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressFinish, ProgressState, ProgressStyle};
use serde_json::Value;
use slipway_core::contract::{App, Deployment};
use slipway_core::domain::DeploymentStatus;
use slipway_core::events::{DeploymentChanged, EventKind, EventPayload, Progress};
use std::io::IsTerminal;
use std::time::Duration;

/// Reconnection attempts before the connection counts as lost; the n-th
/// waits n seconds, at most `RECONNECT_WAIT_MAX` (21 s in all): long enough
/// for an API to restart.
const RECONNECTS: u32 = 8;
const RECONNECT_WAIT_MAX: u32 = 3;
/// The spinner's frames; the last is shown once it stops (never: it is cleared).
const FRAMES: [&str; 11] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", " "];

/// After a deploying request: prints the deployment and, with `wait`,
/// follows it to its end. `started` is the API's answer, with `deployment`.
pub async fn promoted(ctx: &Ctx, app: &str, mut started: Value, wait: bool) -> anyhow::Result<()> {
    let deployment: Option<Deployment> = ctx.api.read(&started["deployment"])?;
    let Some(Deployment { id, .. }) = deployment else {
        // Nothing changed, so nothing was promoted.
        if ctx.json {
            output::json(&started);
        }
        return Ok(());
    };
    if !ctx.json {
        output::line(format!("Deployment: {id}"));
    }
    if !wait {
        if ctx.json {
            output::json(&started);
        }
        return Ok(());
    }
    let last = follow_to(ctx, app, id.as_str(), true).await?;
    if ctx.json {
        started["deployment"] = last.shown;
        output::json(&started);
    }
    outcome(&last.deployment)
}

/// The exit code a final deployment stands for.
pub fn outcome(deployment: &Deployment) -> anyhow::Result<()> {
    let status = match deployment.status {
        DeploymentStatus::Succeeded => return Ok(()),
        status => status.as_str().replace('_', " "),
    };
    let reason = match deployment.reason.as_deref() {
        None | Some("") => String::new(),
        Some(r) => format!(": {r}"),
    };
    Err(Exit {
        code: code::DEPLOYMENT_FAILED,
        message: format!("deployment {} {status}{reason}", deployment.id),
    }
    .into())
}

/// A deployment at its end: as the stream showed it (for `--json`), and read.
pub struct Final {
    pub shown: Value,
    pub deployment: Deployment,
}

/// Follows the events until the final one; returns the final deployment.
pub async fn follow(ctx: &Ctx, app: &str, id: &str) -> anyhow::Result<Final> {
    follow_to(ctx, app, id, false).await
}

/// [`follow`]; with `with_url`, a success line ends with the app's URL.
async fn follow_to(ctx: &Ctx, app: &str, id: &str, with_url: bool) -> anyhow::Result<Final> {
    let path = ["apps", app, "deployments", id, "events"];
    let show = Show::new(ctx.json);
    let mut last_id: Option<String> = None;
    let mut failures = 0;
    loop {
        let response = match ctx.api.events(&path, last_id.as_deref()).await {
            Ok(response) => response,
            Err(err) if err.downcast_ref::<Exit>().is_some() => return Err(err),
            Err(_) if failures < RECONNECTS => {
                failures += 1;
                show.note("connection lost; reconnecting");
                pause(failures).await;
                continue;
            }
            Err(_) => return Err(lost(ctx, app, id)),
        };
        let mut events = std::pin::pin!(sse::events(response));
        while let Some(event) = events.next().await {
            failures = 0;
            if event.id.is_some() {
                last_id = event.id.clone();
            }
            if let Some((shown, deployment, mut line)) = show.event(&event)? {
                let succeeded = deployment.status == DeploymentStatus::Succeeded;
                if with_url && succeeded {
                    if let Some(url) = app_url(ctx, app).await {
                        line = format!("{line}: {url}");
                    }
                }
                // The final line, green on a terminal when it succeeded.
                show.say(paint(&line, output::GREEN, show.colour && succeeded));
                return Ok(Final { shown, deployment });
            }
        }
        // The stream ended before the final event: reconnect and resume.
        if failures >= RECONNECTS {
            return Err(lost(ctx, app, id));
        }
        failures += 1;
        show.note("connection lost; reconnecting");
        pause(failures).await;
    }
}

/// Where the app answers now: its default service's first URL, else the
/// first URL of its first service that has one; none when the API shows
/// none (no router URL configured) or cannot be asked.
async fn app_url(ctx: &Ctx, app: &str) -> Option<String> {
    let shown = ctx.api.get(&["apps", app]).await.ok()?;
    let shown: App = ctx.api.read(&shown).ok()?;
    let services = &shown.services;
    services
        .iter()
        .filter(|s| s.default)
        .chain(services)
        .find_map(|service| service.urls.first().cloned())
}

/// The wait before reconnection attempt `n`.
async fn pause(n: u32) {
    let seconds = n.min(RECONNECT_WAIT_MAX);
    tokio::time::sleep(Duration::from_secs(seconds.into())).await;
}

fn lost(ctx: &Ctx, app: &str, id: &str) -> anyhow::Error {
    Exit {
        code: code::CONNECTION_LOST,
        message: format!(
            "lost the connection to Slipway at {} while following deployment {id}; it goes on \
             without you: check it with `slipway deployments info {id} --app {app}`",
            ctx.api.host()
        ),
    }
    .into()
}

/// How progress is shown: lines to stdout (stderr with `--json`), and on a
/// terminal a spinner line on stderr kept below them.
struct Show {
    json: bool,
    colour: bool,
    /// Hidden off a terminal; cleared for good by the final event.
    spinner: ProgressBar,
}

impl Show {
    fn new(json: bool) -> Show {
        let terminal = std::io::stderr().is_terminal() && (json || std::io::stdout().is_terminal());
        let spinner = if terminal {
            let style = ProgressStyle::with_template("{spinner} {msg} ({secs}s)")
                .expect("the spinner's template is valid")
                .tick_strings(&FRAMES)
                .with_key(
                    "secs",
                    |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                        let _ = write!(out, "{}", state.elapsed().as_secs());
                    },
                );
            // Whichever way `--wait` ends, its spinner line goes.
            let spinner = ProgressBar::new_spinner()
                .with_style(style)
                .with_finish(ProgressFinish::AndClear);
            spinner.enable_steady_tick(Duration::from_millis(100));
            spinner
        } else {
            ProgressBar::hidden()
        };
        spinner.set_message("waiting for a worker");
        Show {
            json,
            colour: output::colour_for(terminal),
            spinner,
        }
    }

    /// What the spinner line says is going on.
    fn phase(&self, phase: String) {
        self.spinner.set_message(phase);
    }

    /// A line above the spinner.
    fn say(&self, line: String) {
        self.spinner.suspend(|| {
            if self.json {
                output::err_line(line);
            } else {
                output::line(line);
            }
        });
    }

    fn note(&self, line: &str) {
        self.spinner.suspend(|| output::err_line(line));
    }

    /// Removes the spinner line for good.
    fn clear(&self) {
        self.spinner.finish_and_clear();
    }

    /// Shows one event; for the last, returns the final deployment (as the
    /// stream showed it, and read) and the line that tells its end, for the
    /// caller to show. Events of a kind this slipway does not know are
    /// passed over, like fields it does not know.
    fn event(&self, event: &Sse) -> anyhow::Result<Option<(Value, Deployment, String)>> {
        let Ok(kind) = EventKind::parse(&event.kind) else {
            return Ok(None);
        };
        let payload = match EventPayload::parse(kind, event.data["data"].clone()) {
            Ok(payload) => payload,
            Err(err) if is_final(kind) => {
                anyhow::bail!("the {kind} event cannot be read by this slipway ({err})")
            }
            Err(_) => return Ok(None),
        };
        match payload {
            EventPayload::DeploymentStarted(DeploymentChanged { deployment: d }) => {
                self.phase(format!("rolling out {}", d.release));
                self.say(format!("Rolling out {}", d.release));
            }
            EventPayload::DeploymentProgress(step) => self.progress(&step),
            EventPayload::DeploymentRollingBack(DeploymentChanged { deployment: d }) => {
                self.phase("rolling back".into());
                let reason = d.reason.as_deref().unwrap_or_default();
                let line = format!("Rolling back: {reason}");
                let line = paint(&line, output::YELLOW, self.colour && !self.json);
                self.say(line);
            }
            EventPayload::DeploymentSucceeded(DeploymentChanged { deployment: d })
            | EventPayload::DeploymentRolledBack(DeploymentChanged { deployment: d })
            | EventPayload::DeploymentFailed(DeploymentChanged { deployment: d }) => {
                let took = d
                    .duration_ms
                    .map(|ms| format!(" in {}", output::duration_ms(ms)))
                    .unwrap_or_default();
                let ended = match kind {
                    EventKind::DeploymentSucceeded => "succeeded",
                    EventKind::DeploymentRolledBack => "rolled back",
                    _ => "failed",
                };
                let line = format!("Deployment {} {ended}{took}", d.id);
                // The last line: no spinner after it.
                self.clear();
                let shown = event.data["data"]["deployment"].clone();
                return Ok(Some((shown, d, line)));
            }
            _ => {}
        }
        Ok(None)
    }

    fn progress(&self, step: &Progress) {
        match step {
            Progress::Wave {
                service,
                release,
                instances: n,
                count,
            } => {
                let plural = if *n == 1 { "" } else { "s" };
                self.phase(format!("{service}: starting {n} instance{plural}"));
                self.say(format!(
                    "{service}: starting {n} instance{plural} of {release} ({count} wanted)"
                ));
            }
            Progress::Healthy {
                service,
                release,
                healthy,
                count,
                ..
            } => {
                self.phase(format!("{service}: {healthy}/{count} healthy"));
                self.say(format!("{service}: {healthy}/{count} healthy ({release})"));
            }
            Progress::Cancel { by } => self.say(format!("Cancel requested by {by}")),
            Progress::Rollback { to } => {
                self.phase(format!("rolling back to {to}"));
                self.say(format!("Rolling back to {to}"));
            }
        }
    }
}

/// The events a deployment's stream ends with.
fn is_final(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::DeploymentSucceeded
            | EventKind::DeploymentRolledBack
            | EventKind::DeploymentFailed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(status: &str, reason: Option<&str>) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "id": "DABCDEFGHIJ", "app": "a", "release": "RABCDEFGHIJ",
            "previous_release": null, "status": status, "reason": reason,
            "deadline_at": "2026-11-29T10:00:00Z", "minimum": null, "maximum": null,
            "actor": "ci", "trace_id": null, "cancel_requested": false,
            "created_at": "2026-11-29T09:50:00Z", "started_at": null,
            "finished_at": null, "duration_ms": null
        }))
        .unwrap()
    }

    #[test]
    fn only_success_exits_zero() {
        assert!(outcome(&deployment("succeeded", None)).is_ok());
        let err = outcome(&deployment("rolled_back", Some("cancelled"))).unwrap_err();
        let exit = err.downcast_ref::<Exit>().unwrap();
        assert_eq!(exit.code, code::DEPLOYMENT_FAILED);
        assert_eq!(
            exit.message,
            "deployment DABCDEFGHIJ rolled back: cancelled"
        );
    }
}
