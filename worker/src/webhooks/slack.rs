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
mod tests {
    use super::*;

    const REASON: &str = "web: health check failed after 60s";

    fn event(kind: &str, data: Value) -> Value {
        let at = "2026-11-28T17:00:00.123456Z";
        json!({"id": "EABCDEFGHIJ", "type": kind, "timestamp": at, "data": data})
    }

    /// The example payload from the webhook contract, as `deployment.{status}`.
    fn deployment(status: &str, reason: Option<&str>) -> Value {
        let data = json!({
            "app": "myapp", "release": "RABCDEFGHIJ", "build": "BABCDEFGHIJ",
            "description": "build 7329df90c1 fix login", "deployment": "DABCDEFGHIJ",
            "status": status, "reason": reason, "previous_release": "RQWERTYUIOP",
            "duration_ms": 41234, "actor": "admin", "trace_id": null,
        });
        event(&format!("deployment.{status}"), data)
    }

    /// The one-line fallback, checked to be one non-empty line.
    fn line(payload: &Value) -> String {
        let text = message(payload)["text"].as_str().expect("text").to_owned();
        assert!(!text.is_empty() && !text.contains('\n'), "{text}");
        text
    }

    /// Every string in the blocks, joined by newlines.
    fn blocks(payload: &Value) -> String {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
                Value::Object(map) => map.values().for_each(|i| walk(i, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&message(payload)["blocks"], &mut out);
        out.join("\n")
    }

    fn has(haystack: &str, needle: &str) {
        assert!(haystack.contains(needle), "{needle:?} not in {haystack}");
    }

    #[test]
    fn a_succeeded_deployment_reads_at_a_glance() {
        let payload = deployment("succeeded", None);
        let start = "✅ myapp: deployment of RABCDEFGHIJ succeeded · build 7329df90c1 fix login";
        assert_eq!(line(&payload), format!("{start} · 41s · by admin"));
        let all = blocks(&payload);
        for needle in [
            "✅ *myapp*: deployment of RABCDEFGHIJ succeeded\nbuild 7329df90c1 fix login",
            "*Outcome*\n✅ succeeded",
            "*Release*\n`RABCDEFGHIJ`",
            "*Previous release*\n`RQWERTYUIOP`",
            "*Duration*\n41s",
            "*By*\nadmin",
            "`deployment.succeeded` · `EABCDEFGHIJ` · 2026-11-28T17:00:00.123456Z",
        ] {
            has(&all, needle);
        }
        assert!(!all.contains("Reason") && !all.contains("Trace"), "{all}");
    }

    #[test]
    fn every_deployment_state_has_its_emoji_and_failures_their_reason() {
        for (status, emoji, words, reason) in [
            ("created", "🕒", "queued", None),
            ("started", "🚀", "started", None),
            ("progress", "⏳", "in progress", None),
            ("failed", "❌", "failed", Some(REASON)),
            ("rolled_back", "↩️", "rolled back", Some(REASON)),
            ("rolling_back", "⚠️", "rolling back", Some(REASON)),
        ] {
            let payload = deployment(status, reason);
            let (text, all) = (line(&payload), blocks(&payload));
            let start = format!("{emoji} myapp: deployment of RABCDEFGHIJ {words} · ");
            has(&text, &start);
            if let Some(reason) = reason {
                has(&text, &format!(" · reason: {reason} · by admin"));
                has(&all, &format!("*Outcome*\n{emoji} {words}"));
                has(&all, &format!("*Reason:* {reason}"));
            }
        }
    }

    #[test]
    fn progress_steps_read_as_sentences() {
        let steps = [
            r#"{"step": "healthy", "service": "web", "healthy": 2, "count": 3}"#,
            r#"{"step": "wave", "service": "web", "instances": 1, "count": 3}"#,
            r#"{"step": "rollback", "to": "RQWERTYUIOP"}"#,
            r#"{"step": "paused"}"#,
        ];
        let shown = [
            "web: 2/3 healthy",
            "web: starting 1 of 3 instances",
            "rolling back to RQWERTYUIOP",
            "paused",
        ];
        let mut payload = deployment("progress", None);
        for (step, shown) in steps.into_iter().zip(shown) {
            payload["data"]["progress"] = serde_json::from_str(step).expect("json");
            let want = format!("in progress · build 7329df90c1 fix login · {shown}");
            has(&line(&payload), &want);
            has(&blocks(&payload), &format!("*Progress:* {shown}"));
        }
    }

    #[test]
    fn app_build_release_and_test_events() {
        let app = |kind: &str| line(&event(kind, json!({"app": "myapp", "actor": "admin"})));
        assert_eq!(app("app.created"), "🆕 myapp: app created · by admin");
        assert_eq!(app("app.updated"), "✏️ myapp: app updated · by admin");
        assert_eq!(app("app.deleted"), "🗑️ myapp: app deleted · by admin");
        let crash = json!({
            "app": "myapp", "service": "web", "instance": "web-r1-abc123",
            "reason": "exited with status 1", "restarts": 3, "restart_in_ms": 4000,
            "actor": "slipway",
        });
        let crashed = "💥 myapp: web instance web-r1-abc123 crashed; restart 3 in 4s \
                       · reason: exited with status 1 · by slipway";
        assert_eq!(line(&event("app.crashed", crash)), crashed);
        let data = json!({"app": "a", "build": "B1", "release": "R1", "description": "fix"});
        let build = "📦 a: build B1 created · fix · release R1";
        let release = "🏷️ a: release R1 created · fix";
        assert_eq!(line(&event("build.created", data.clone())), build);
        assert_eq!(line(&event("release.created", data)), release);
        let test = line(&event("webhook.test", json!({})));
        assert_eq!(test, "👋 test message from Slipway: it works");
        let unknown = line(&event("some.new", json!({"app": "x"})));
        assert_eq!(unknown, "🔔 x: some.new");
    }

    #[test]
    fn env_changes_list_key_names() {
        let changes = json!({"added": ["FOO", "BAR"], "changed": ["DATABASE_URL"], "removed": []});
        let data = json!({"app": "a", "release": "R1", "changes": changes});
        let payload = event("env.changed", data);
        assert_eq!(line(&payload), "🔧 a: env changed · release R1");
        let all = blocks(&payload);
        has(&all, "*Env:* added `FOO`, `BAR`; changed `DATABASE_URL`");
        assert!(!all.contains("removed"), "{all}");

        let many: Vec<String> = (0..25).map(|i| format!("K{i}")).collect();
        let payload = event("env.changed", json!({"changes": {"removed": many}}));
        has(&blocks(&payload), "*Env:* removed `K0`, `K1`, `K2`");
        has(&blocks(&payload), "`K9` and 15 more");
    }

    #[test]
    fn interpolated_text_is_escaped() {
        let mut payload = deployment("failed", Some("<!channel> a & b > c"));
        payload["data"]["description"] = json!("fix <https://evil.example|login> & more");
        payload["data"]["actor"] = json!("<@U123>");
        for shown in [line(&payload), blocks(&payload)] {
            has(&shown, "fix &lt;https://evil.example|login&gt; &amp; more");
            has(&shown, "&lt;!channel&gt; a &amp; b &gt; c");
            has(&shown, "&lt;@U123&gt;");
            assert!(!shown.contains('<') && !shown.contains(" & "), "{shown}");
        }
        let payload = event("env.changed", json!({"changes": {"added": ["A<B>`&"]}}));
        has(&blocks(&payload), "`A&lt;B&gt;&amp;`");
    }

    #[test]
    fn missing_and_odd_fields_never_panic() {
        let odd = json!({"app": null, "duration_ms": -5, "reason": {"x": 1},
                         "changes": "nope", "progress": [], "status": 3});
        let odd_changes = json!({"changes": {"added": [1, null, {}], "removed": "X"}});
        for payload in [
            json!(null),
            json!(42),
            json!([]),
            json!({"type": null, "data": null}),
            json!({"type": 7, "data": []}),
            json!({"type": "deployment.failed", "data": odd}),
            json!({"type": "env.changed", "data": odd_changes}),
            json!({"type": "deployment.succeeded", "data": {"duration_ms": "soon"}}),
        ] {
            line(&payload);
            let blocks = message(&payload)["blocks"].clone();
            assert!(blocks.as_array().is_some_and(|b| !b.is_empty()));
        }
        assert_eq!(line(&json!({})), "🔔 Slipway event");
        let bare = line(&json!({"type": "deployment.failed"}));
        assert_eq!(bare, "❌ deployment failed");
    }

    #[test]
    fn long_values_are_clipped_and_whitespace_collapsed() {
        let description = format!("line one\n\tline two {}", "é".repeat(1000));
        let data = json!({"description": description});
        let text = line(&event("release.created", data));
        assert!(text.starts_with("🏷️ release created · line one line two éé"));
        assert!(text.ends_with('…') && text.chars().count() < 300, "{text}");
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        let shown = |v: Value| duration(&v);
        assert_eq!(shown(json!(450)).as_deref(), Some("450ms"));
        assert_eq!(shown(json!(41_234)).as_deref(), Some("41s"));
        assert_eq!(shown(json!(185_000)).as_deref(), Some("3m 05s"));
        assert_eq!(shown(json!(7_380_000)).as_deref(), Some("2h 03m"));
        assert_eq!(shown(json!(1500.7)).as_deref(), Some("1s"));
        assert_eq!(shown(json!(-1)), None);
        assert_eq!(shown(json!("41s")), None);
    }
}
