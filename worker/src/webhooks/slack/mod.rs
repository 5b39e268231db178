//! Slack incoming-webhook messages for event payloads: a one-line `text`
//! fallback (notifications, screen readers) and `blocks` a person can read at a
//! glance — app, release, description, outcome, duration, reason, who.
//!
//! Payloads come from the event fanout; any field may be missing or null, and
//! nothing here panics on any JSON. All interpolated text is escaped as Slack
//! requires (`&`, `<`, `>`), so a description cannot mention `<!channel>` or
//! forge a link.

use serde_json::{json, Value};

/// Longest interpolated value, in characters, before escaping: keeps blocks
/// under Slack's 3000-character limit even if every character needs escaping.
const MAX_VALUE_CHARS: usize = 200;
/// Env keys listed per kind of change before "and N more", and their longest shown length.
const MAX_KEYS: usize = 10;
const MAX_KEY_CHARS: usize = 60;

/// A Slack incoming-webhook message `{"text": ..., "blocks": [...]}` for an event payload.
pub fn message(payload: &Value) -> Value {
    let data = payload.get("data").unwrap_or(&Value::Null);
    let field = |key: &str| text(data, key);
    let kind = text(payload, "type").unwrap_or_default();
    let (emoji, summary) = headline(&kind, data);
    let duration = data.get("duration_ms").and_then(duration);
    let progress = data.get("progress").and_then(progress);
    let (app, description) = (field("app"), field("description"));
    let (reason, actor) = (field("reason"), field("actor"));

    // The fallback: one plain line with the essentials.
    let mut line = match &app {
        Some(app) => format!("{emoji} {app}: {summary}"),
        None => format!("{emoji} {summary}"),
    };
    let release = field("release").filter(|r| !summary.contains(r.as_str()));
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
        ("Outcome", field("status").map(|s| outcome(&s))),
        ("Release", field("release").map(code)),
        ("Previous release", field("previous_release").map(code)),
        ("Build", field("build").map(code)),
        ("Deployment", field("deployment").map(code)),
        ("Duration", duration),
        ("By", actor.map(|a| escape(&a))),
        ("Trace", field("trace_id").map(code)),
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
        ("Env", data.get("changes").and_then(env_changes)),
    ] {
        if let Some(value) = value {
            blocks.push(section(&format!("*{label}:* {value}")));
        }
    }

    let context = [
        (!kind.is_empty()).then(|| code(&kind)),
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

/// The emoji and a short phrase for an event type.
fn headline(kind: &str, data: &Value) -> (&'static str, String) {
    let id = |key: &str| text(data, key).map(|v| format!(" {v}")).unwrap_or_default();
    let (release, build) = (id("release"), id("build"));
    let of = text(data, "release").map(|r| format!(" of {r}"));
    let of = of.unwrap_or_default();
    match kind {
        "app.created" => ("🆕", "app created".to_owned()),
        "app.updated" => ("✏️", "app updated".to_owned()),
        "app.deleted" => ("🗑️", "app deleted".to_owned()),
        "app.crashed" => ("💥", crashed(data)),
        "build.created" => ("📦", format!("build{build} created")),
        "release.created" => ("🏷️", format!("release{release} created")),
        "env.changed" => ("🔧", "env changed".to_owned()),
        "deployment.created" => ("🕒", format!("deployment{of} queued")),
        "deployment.started" => ("🚀", format!("deployment{of} started")),
        "deployment.succeeded" => ("✅", format!("deployment{of} succeeded")),
        "deployment.rolling_back" => ("⚠️", format!("deployment{of} rolling back")),
        "deployment.rolled_back" => ("↩️", format!("deployment{of} rolled back")),
        "deployment.failed" => ("❌", format!("deployment{of} failed")),
        "deployment.progress" => ("⏳", format!("deployment{of} in progress")),
        "webhook.test" => ("👋", "test message from Slipway: it works".to_owned()),
        "" => ("🔔", "Slipway event".to_owned()),
        other => ("🔔", other.to_owned()),
    }
}

/// `web instance web-r1-abc123 crashed; restart 3 in 4s` (the reason
/// follows as for every event).
fn crashed(data: &Value) -> String {
    let mut line = match (text(data, "service"), text(data, "instance")) {
        (Some(service), Some(instance)) => format!("{service} instance {instance} crashed"),
        _ => "an instance crashed".to_owned(),
    };
    let restart = data.get("restarts").and_then(Value::as_u64);
    if let (Some(restart), Some(wait)) = (restart, data.get("restart_in_ms").and_then(duration)) {
        line.push_str(&format!("; restart {restart} in {wait}"));
    }
    line
}

/// A deployment status in words, with the emoji of the event that enters it.
fn outcome(status: &str) -> String {
    let event = match status {
        "pending" => "created",
        "running" => "started",
        other => other,
    };
    let (emoji, _) = headline(&format!("deployment.{event}"), &Value::Null);
    format!("{emoji} {}", escape(&status.replace('_', " ")))
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

/// ``added `A`, `B`; removed `C` `` from `{"added": [..], "changed": [..], "removed": [..]}`.
fn env_changes(changes: &Value) -> Option<String> {
    let mut parts = Vec::new();
    for verb in ["added", "changed", "removed"] {
        let keys = changes.get(verb).and_then(Value::as_array);
        let keys: Vec<&str> = keys
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
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
fn progress(p: &Value) -> Option<String> {
    let step = text(p, "step")?;
    let service = text(p, "service")
        .map(|s| format!("{s}: "))
        .unwrap_or_default();
    let num = |k: &str| p.get(k).and_then(Value::as_u64);
    let (healthy, count, instances) = (num("healthy"), num("count"), num("instances"));
    Some(match (step.as_str(), healthy, count, instances) {
        ("healthy", Some(h), Some(c), _) => format!("{service}{h}/{c} healthy"),
        ("wave", _, Some(c), Some(n)) => format!("{service}starting {n} of {c} instances"),
        ("rollback", ..) => match text(p, "to") {
            Some(to) => format!("rolling back to {to}"),
            None => "rolling back".to_owned(),
        },
        _ => format!("{service}{step}"),
    })
}

/// A string (or number) field as one clipped line; `None` when missing, null or blank.
fn text(obj: &Value, key: &str) -> Option<String> {
    let raw = match obj.get(key)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    let line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    (!line.is_empty()).then(|| clip(&line, MAX_VALUE_CHARS))
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
