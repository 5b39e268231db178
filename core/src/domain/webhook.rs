//! Webhook subscriptions: the kind of receiver and the event patterns a
//! webhook subscribes to (`*`, `deployment.*`, `release.created`).

use super::EventKind;
use crate::domain::InvalidInput;
use serde::{Deserialize, Serialize};

/// How a delivery is shaped: a signed JSON event, or a Slack message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// The event JSON, signed per the Standard Webhooks spec.
    Generic,
    /// A Slack incoming-webhook message (`text` + `blocks`).
    Slack,
}

/// Where one event's delivery to one webhook stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet answered with a 2xx; tried again on its schedule.
    Pending,
    Delivered,
    /// Given up: its attempts ran out or the receiver refused for good.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<DeliveryStatus, InvalidInput> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(InvalidInput::new(
                "status",
                "expected pending, delivered or failed",
            )),
        }
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl WebhookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Generic => "generic",
            WebhookKind::Slack => "slack",
        }
    }

    pub fn parse(s: &str) -> Result<WebhookKind, InvalidInput> {
        match s {
            "generic" => Ok(WebhookKind::Generic),
            "slack" => Ok(WebhookKind::Slack),
            _ => Err(InvalidInput::new(
                "kind",
                "expected \"generic\" or \"slack\"",
            )),
        }
    }
}

/// Event types that only an exact pattern selects: wildcards leave them out
/// so a `deployment.*` Slack channel is not flooded with per-instance steps.
const EXPLICIT_ONLY: [&str; 1] = ["deployment.progress"];

/// Which events a webhook receives: `*`, a family (`deployment.*`) or one
/// event type (`deployment.failed`). Only known types and families parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPattern(String);

impl EventPattern {
    pub fn parse(s: &str) -> Result<EventPattern, InvalidInput> {
        let known = |kind: &EventKind| match s.strip_suffix(".*") {
            Some(family) => kind.as_str().split('.').next() == Some(family),
            None => kind.as_str() == s,
        };
        if s == "*" || EventKind::ALL.iter().any(known) {
            Ok(EventPattern(s.to_owned()))
        } else {
            Err(InvalidInput::new(
                "events",
                format!(
                    "unknown event type {s:?}: expected \"*\", a family such as \"deployment.*\", \
                     or one of {}",
                    EventKind::ALL.map(EventKind::as_str).join(", ")
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether an event of type `kind` (e.g. `deployment.failed`) is selected.
    pub fn matches(&self, kind: EventKind) -> bool {
        let kind = kind.as_str();
        if self.0 == kind {
            return true;
        }
        if EXPLICIT_ONLY.contains(&kind) {
            return false;
        }
        match self.0.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => false,
        }
    }
}

super::string_newtype_impls!(EventPattern);

impl utoipa::PartialSchema for EventPattern {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut patterns = vec!["*".to_owned()];
        for kind in EventKind::ALL {
            let family = kind.as_str().split('.').next().unwrap_or_default();
            let family = format!("{family}.*");
            if !patterns.contains(&family) {
                patterns.push(family);
            }
        }
        patterns.extend(EventKind::ALL.map(|kind| kind.as_str().to_owned()));
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(patterns))
            .description(Some(
                "Events a webhook receives: `*`, a family (`deployment.*`) or one event type. \
                 Wildcards leave out `deployment.progress`: only its exact name selects it.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for EventPattern {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> EventPattern {
        EventPattern::parse(s).expect(s)
    }

    fn kind(s: &str) -> EventKind {
        EventKind::parse(s).expect(s)
    }

    #[test]
    fn patterns_select_types_families_and_everything() {
        assert!(pattern("*").matches(kind("app.created")));
        assert!(pattern("*").matches(kind("deployment.failed")));
        assert!(pattern("deployment.*").matches(kind("deployment.succeeded")));
        assert!(!pattern("deployment.*").matches(kind("release.created")));
        assert!(pattern("release.created").matches(kind("release.created")));
        assert!(!pattern("app.created").matches(kind("app.deleted")));
    }

    #[test]
    fn wildcards_leave_out_progress_steps() {
        assert!(!pattern("*").matches(kind("deployment.progress")));
        assert!(!pattern("deployment.*").matches(kind("deployment.progress")));
        assert!(EventPattern("deployment.progress".into()).matches(kind("deployment.progress")));
    }

    #[test]
    fn unknown_patterns_are_rejected_with_the_choices() {
        for bad in [
            "",
            "deploy.*",
            "deployment",
            "deployment.*.x",
            "*.created",
            "DEPLOYMENT.*",
        ] {
            let err = EventPattern::parse(bad).expect_err(bad);
            assert_eq!(err.field, "events");
            assert!(err.message.contains("deployment.succeeded"), "{err}");
        }
    }

    #[test]
    fn kinds_parse_and_print() {
        assert_eq!(WebhookKind::parse("slack"), Ok(WebhookKind::Slack));
        assert_eq!(WebhookKind::parse("generic").unwrap().as_str(), "generic");
        assert!(WebhookKind::parse("teams").is_err());
        let json: WebhookKind = serde_json::from_str("\"slack\"").unwrap();
        assert_eq!(json, WebhookKind::Slack);
    }
}
