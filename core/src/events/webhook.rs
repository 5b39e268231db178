//! The body every webhook receives, `{id, type, timestamp, data}`, with a
//! flat `data` a receiver can use without calling back. The store builds it
//! inside the event's transaction (every attempt sends that snapshot); the
//! worker's Slack formatting reads it back.

use super::{EventKind, Progress, UnknownEventKind};
use crate::domain::{
    AppName, BuildId, DeploymentId, DeploymentStatus, EnvDiff, EventId, ReleaseId, ServiceName,
    WebhookId,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A webhook body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookBody {
    /// The event's id (a test message's own): the `webhook-id` header.
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: BodyKind,
    /// RFC 3339 in UTC with microseconds, as every body shows time.
    #[serde(with = "micros")]
    pub timestamp: DateTime<Utc>,
    pub data: BodyData,
}

/// What a body is about: an event of the log, or a test message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Event(EventKind),
    /// `webhook.test`, sent to one webhook on request, never recorded.
    Test,
}

impl BodyKind {
    const TEST: &'static str = "webhook.test";

    pub fn as_str(self) -> &'static str {
        match self {
            BodyKind::Event(kind) => kind.as_str(),
            BodyKind::Test => BodyKind::TEST,
        }
    }

    pub fn parse(s: &str) -> Result<BodyKind, UnknownEventKind> {
        match s {
            BodyKind::TEST => Ok(BodyKind::Test),
            other => EventKind::parse(other).map(BodyKind::Event),
        }
    }
}

impl std::fmt::Display for BodyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for BodyKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BodyKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        BodyKind::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The `data` of a body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BodyData {
    /// First: an event's data never has a `webhook`.
    Test(TestData),
    Event(Box<EventData>),
}

/// What an event's body tells: the app, the release (with its build and
/// description), the deployment's outcome, who did it, and what only some
/// kinds carry. Fields that do not apply are `null`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    pub app: Option<AppName>,
    /// The release the event is about (a progress step's own release).
    pub release: Option<ReleaseId>,
    pub build: Option<BuildId>,
    pub description: Option<String>,
    pub deployment: Option<DeploymentId>,
    pub status: Option<DeploymentStatus>,
    /// Why the deployment ended as it did, or why an instance crashed.
    pub reason: Option<String>,
    pub previous_release: Option<ReleaseId>,
    pub duration_ms: Option<i64>,
    pub trace_id: Option<String>,
    pub actor: Option<String>,
    /// `env.changed`: the keys it touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<EnvDiff>,
    /// `deployment.progress`: the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressStep>,
    /// `app.crashed`: which instance, and when it comes back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_in_ms: Option<u64>,
}

/// A progress step as a receiver reads it: one this version knows, or
/// only the name of a newer server's step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProgressStep {
    Known(Progress),
    Unknown { step: String },
}

/// A test message's data: which webhook, asked by whom.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestData {
    pub webhook: WebhookId,
    pub actor: String,
}

/// Time as `2026-11-28T17:00:00.123456Z`.
mod micros {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let raw = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|at| at.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_test_body_reads_back_and_times_keep_microseconds() {
        let body = json!({
            "id": "EABCDEFGHIJ", "type": "webhook.test",
            "timestamp": "2026-11-28T17:00:00.123400Z",
            "data": {"webhook": "WABCDEFGHIJ", "actor": "ops"},
        });
        let read: WebhookBody = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(read.kind, BodyKind::Test);
        assert!(matches!(read.data, BodyData::Test(_)));
        assert_eq!(serde_json::to_value(&read).unwrap(), body);
    }

    #[test]
    fn event_data_keeps_its_nulls_and_reads_unknown_steps_by_name() {
        let data = EventData {
            app: Some(AppName::parse("shop").unwrap()),
            actor: Some("ops".into()),
            ..EventData::default()
        };
        let shown = serde_json::to_value(&data).unwrap();
        assert_eq!(shown["release"], serde_json::Value::Null);
        assert!(shown.get("progress").is_none() && shown.get("changes").is_none());
        let newer = json!({"app": "shop", "progress": {"step": "paused", "for": 3}});
        let read: EventData = serde_json::from_value(newer).unwrap();
        let step = ProgressStep::Unknown {
            step: "paused".into(),
        };
        assert_eq!(read.progress, Some(step));
        assert!(BodyKind::parse("app.renamed").is_err());
    }
}
