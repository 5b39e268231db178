//! What Slack shows for each kind of event.

use super::*;

const REASON: &str = "web: health check failed after 60s";

fn event(kind: &str, data: Value) -> Value {
    let at = "2026-11-28T17:00:00.123456Z";
    json!({"id": "EABCDEFGHIJ", "type": kind, "timestamp": at, "data": data})
}

/// The example payload from the webhook contract, as `deployment.{what}`.
fn deployment(what: &str, reason: Option<&str>) -> Value {
    // The status the deployment is in when the event is sent.
    let status = match what {
        "created" => "pending",
        "started" | "progress" => "running",
        other => other,
    };
    let data = json!({
        "app": "myapp", "release": "RABCDEFGHIJ", "build": "BABCDEFGHIJ",
        "description": "build 7329df90c1 fix login", "deployment": "DABCDEFGHIJ",
        "status": status, "reason": reason, "previous_release": "RQWERTYUIOP",
        "duration_ms": 41234, "actor": "admin", "trace_id": null,
    });
    event(&format!("deployment.{what}"), data)
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
        r#"{"step": "healthy", "service": "web", "release": "RABCDEFGHIJ",
            "instances": ["web-2"], "healthy": 2, "count": 3}"#,
        r#"{"step": "wave", "service": "web", "release": "RABCDEFGHIJ",
            "instances": 1, "count": 3}"#,
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
    let data = json!({"app": "a", "build": "BABCDEFGHIJ", "release": "RABCDEFGHIJ",
                      "description": "fix"});
    let build = "📦 a: build BABCDEFGHIJ created · fix · release RABCDEFGHIJ";
    let release = "🏷️ a: release RABCDEFGHIJ created · fix";
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
    let data = json!({"app": "a", "release": "RABCDEFGHIJ", "changes": changes});
    let payload = event("env.changed", data);
    assert_eq!(line(&payload), "🔧 a: env changed · release RABCDEFGHIJ");
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
