//! Slack incoming-webhook messages for event payloads: a one-line `text`
//! fallback (notifications, screen readers) and `blocks` a person can read at a
//! glance — app, release, description, outcome, duration, reason, who.
//!
//! Payloads come from the event fanout and are read as the typed webhook body
//! (`slipway_core::events`): kinds and steps are matched as enums, fields
//! come typed. Any field may be missing or null, and nothing here panics on
//! any JSON. All interpolated text is escaped as Slack
//! requires (`&`, `<`, `>`), so a description cannot mention `<!channel>` or
//! forge a link.

use serde::Deserialize;
use serde_json::{json, Value};
use slipway_core::domain::{DeploymentStatus, EnvDiff};
use slipway_core::events::{BodyKind, EventData, EventKind, Progress, ProgressStep};

/// Longest interpolated value, in characters, before escaping: keeps blocks
/// under Slack's 3000-character limit even if every character needs escaping.
const MAX_VALUE_CHARS: usize = 200;
/// Env keys listed per kind of change before "and N more", and their longest shown length.
const MAX_KEYS: usize = 10;
const MAX_KEY_CHARS: usize = 60;

/// A body's `type`: one this version knows, or the name of a newer one.
enum Kind {
    Known(BodyKind),
    Unknown(String),
}

/// A Slack incoming-webhook message `{"text": ..., "blocks": [...]}` for a
/// webhook body. The body is read as the typed contract; a `type` or `data`
/// that does not read (a newer server's, or damaged) is shown as far as it goes.
pub fn message(payload: &Value) -> Value {
    let kind = text(payload, "type").map(|name| match BodyKind::parse(&name) {
        Ok(kind) => Kind::Known(kind),
        Err(_) => Kind::Unknown(name),
    });
    let data = payload
        .get("data")
        .and_then(|data| EventData::deserialize(data).ok())
        .unwrap_or_default();
    let (emoji, summary) = headline(kind.as_ref(), &data);
    let duration = data.duration_ms.and_then(|ms| duration(&ms.into()));
    let progress = data.progress.as_ref().map(progress);
    let app = data.app.as_ref().and_then(|app| one_line(app.as_str()));
    let description = data.description.as_deref().and_then(one_line);
    let reason = data.reason.as_deref().and_then(one_line);
    let actor = data.actor.as_deref().and_then(one_line);
    let release_id = data.release.as_ref().and_then(|r| one_line(r.as_str()));

    // The fallback: one plain line with the essentials.
    let mut line = match &app {
        Some(app) => format!("{emoji} {app}: {summary}"),
        None => format!("{emoji} {summary}"),
    };
    let release = release_id.clone().filter(|r| !summary.contains(r.as_str()));
    for (label, value) in [
        ("", &description),
        ("", &progress),
        ("release ", &release),
        ("", &duration),
        ("reason: ", &reason),
        ("by ", &actor),
    ] {
        if let Some(value) = value {
            line.push_str(&format!(" · {label}{value}"));
        }
    }

    let mut title = match &app {
        Some(app) => format!("{emoji} *{}*: {}", escape(app), escape(&summary)),
        None => format!("{emoji} *{}*", escape(&summary)),
    };
    if let Some(description) = &description {
        title.push_str(&format!("\n{}", escape(description)));
    }
    let mut blocks = vec![section(&title)];

    // At most 8 fields: Slack allows 10 per section.
    let fields: Vec<Value> = [
        ("Outcome", data.status.map(outcome)),
        ("Release", release_id.map(code)),
        (
            "Previous release",
            data.previous_release.map(|r| code(r.as_str())),
        ),
        ("Build", data.build.map(|b| code(b.as_str()))),
        ("Deployment", data.deployment.map(|d| code(d.as_str()))),
        ("Duration", duration),
        ("By", actor.map(|a| escape(&a))),
        (
            "Trace",
            data.trace_id.as_deref().and_then(one_line).map(code),
        ),
    ]
    .into_iter()
    .filter_map(|(label, value)| Some(mrkdwn(&format!("*{label}*\n{}", value?))))
    .collect();
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    for (label, value) in [
        ("Reason", reason.map(|r| escape(&r))),
        ("Progress", progress.map(|p| escape(&p))),
        ("Env", data.changes.as_ref().and_then(env_changes)),
    ] {
        if let Some(value) = value {
            blocks.push(section(&format!("*{label}:* {value}")));
        }
    }

    let name = kind.as_ref().map(|kind| match kind {
        Kind::Known(kind) => kind.as_str().to_owned(),
        Kind::Unknown(name) => name.clone(),
    });
    let context = [
        name.map(code),
        text(payload, "id").map(|id| code(&id)),
        text(payload, "timestamp").map(|t| escape(&t)),
    ];
    let context: Vec<String> = context.into_iter().flatten().collect();
    if !context.is_empty() {
        let elements = [mrkdwn(&context.join(" · "))];
        blocks.push(json!({"type": "context", "elements": elements}));
    }

    json!({"text": escape(&line), "blocks": blocks})
}

/// The emoji and a short phrase for a body's type.
fn headline(kind: Option<&Kind>, data: &EventData) -> (&'static str, String) {
    let id = |value: Option<&str>| value.map(|v| format!(" {v}")).unwrap_or_default();
    let release = id(data.release.as_ref().map(|r| r.as_str()));
    let build = id(data.build.as_ref().map(|b| b.as_str()));
    let of = data
        .release
        .as_ref()
        .map(|r| format!(" of {r}"))
        .unwrap_or_default();
    let kind = match kind {
        Some(Kind::Known(BodyKind::Event(kind))) => *kind,
        Some(Kind::Known(BodyKind::Test)) => {
            return ("👋", "test message from Slipway: it works".to_owned())
        }
        Some(Kind::Unknown(name)) => return ("🔔", name.clone()),
        None => return ("🔔", "Slipway event".to_owned()),
    };
    match kind {
        EventKind::AppCreated => ("🆕", "app created".to_owned()),
        EventKind::AppUpdated => ("✏️", "app updated".to_owned()),
        EventKind::AppDeleted => ("🗑️", "app deleted".to_owned()),
        EventKind::AppCrashed => ("💥", crashed(data)),
        EventKind::BuildCreated => ("📦", format!("build{build} created")),
        EventKind::ReleaseCreated => ("🏷️", format!("release{release} created")),
        EventKind::EnvChanged => ("🔧", "env changed".to_owned()),
        EventKind::DeploymentCreated => ("🕒", format!("deployment{of} queued")),
        EventKind::DeploymentStarted => ("🚀", format!("deployment{of} started")),
        EventKind::DeploymentSucceeded => ("✅", format!("deployment{of} succeeded")),
        EventKind::DeploymentRollingBack => ("⚠️", format!("deployment{of} rolling back")),
        EventKind::DeploymentRolledBack => ("↩️", format!("deployment{of} rolled back")),
        EventKind::DeploymentFailed => ("❌", format!("deployment{of} failed")),
        EventKind::DeploymentProgress => ("⏳", format!("deployment{of} in progress")),
    }
}

/// `web instance web-r1-abc123 crashed; restart 3 in 4s` (the reason
/// follows as for every event).
fn crashed(data: &EventData) -> String {
    let service = data.service.as_ref().and_then(|s| one_line(s.as_str()));
    let instance = data.instance.as_deref().and_then(one_line);
    let mut shown = match (service, instance) {
        (Some(service), Some(instance)) => format!("{service} instance {instance} crashed"),
        _ => "an instance crashed".to_owned(),
    };
    let wait = data.restart_in_ms.and_then(|ms| duration(&ms.into()));
    if let (Some(restart), Some(wait)) = (data.restarts, wait) {
        shown.push_str(&format!("; restart {restart} in {wait}"));
    }
    shown
}

/// A deployment status in words, with the emoji of the event that enters it.
fn outcome(status: DeploymentStatus) -> String {
    let kind = Kind::Known(BodyKind::Event(EventKind::for_deployment(status)));
    let (emoji, _) = headline(Some(&kind), &EventData::default());
    format!("{emoji} {}", escape(&status.as_str().replace('_', " ")))
}

/// `41s`, `3m 05s`, `2h 03m`; under a second as milliseconds.
fn duration(value: &Value) -> Option<String> {
    let float = || value.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64);
    let ms = value.as_u64().or_else(float)?;
    let secs = ms / 1000;
    Some(match secs {
        0 => format!("{ms}ms"),
        1..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    })
}

/// ``added `A`, `B`; removed `C` `` from an env change.
fn env_changes(changes: &EnvDiff) -> Option<String> {
    let mut parts = Vec::new();
    for (verb, keys) in [
        ("added", changes.added()),
        ("changed", changes.changed()),
        ("removed", changes.removed()),
    ] {
        if keys.is_empty() {
            continue;
        }
        let shown = keys
            .iter()
            .take(MAX_KEYS)
            .map(|k| code(clip(k, MAX_KEY_CHARS)));
        let mut part = format!("{verb} {}", shown.collect::<Vec<_>>().join(", "));
        if keys.len() > MAX_KEYS {
            part.push_str(&format!(" and {} more", keys.len() - MAX_KEYS));
        }
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// One line for a `deployment.progress` step, e.g. `web: 2/3 healthy`.
fn progress(step: &ProgressStep) -> String {
    match step {
        ProgressStep::Known(Progress::Healthy {
            service,
            healthy,
            count,
            ..
        }) => format!("{service}: {healthy}/{count} healthy"),
        ProgressStep::Known(Progress::Wave {
            service,
            instances,
            count,
            ..
        }) => format!("{service}: starting {instances} of {count} instances"),
        ProgressStep::Known(Progress::Rollback { to }) => format!("rolling back to {to}"),
        ProgressStep::Known(Progress::Cancel { .. }) => "cancel".to_owned(),
        ProgressStep::Unknown { step } => one_line(step).unwrap_or_default(),
    }
}

/// A text as one clipped line; `None` when blank.
fn one_line(raw: &str) -> Option<String> {
    let line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    (!line.is_empty()).then(|| clip(&line, MAX_VALUE_CHARS))
}

/// A string (or number) field as one clipped line; `None` when missing, null or blank.
fn text(obj: &Value, key: &str) -> Option<String> {
    let raw = match obj.get(key)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    one_line(&raw)
}

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// Escapes the three characters Slack treats as control sequences.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An identifier in code font; backticks inside would end it early, so they go.
fn code(s: impl AsRef<str>) -> String {
    let s = s.as_ref();
    format!("`{}`", escape(&s.replace('`', "")))
}

fn mrkdwn(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": mrkdwn(text)})
}

#[cfg(test)]
mod tests;
