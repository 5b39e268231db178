//! Background jobs as data: what a job names, never a copy of the state it
//! acts on (the database row is the truth). Queueing them is `slipway-queue`'s
//! business; `core` only defines what travels.

use serde::{Deserialize, Serialize};

use super::DeploymentId;

/// "Drive deployment `deployment`": the only rollout job there is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutJob {
    /// The deployment to drive; its row holds everything else.
    pub deployment: DeploymentId,
    /// W3C `traceparent` of the request that enqueued the job, if any.
    #[serde(default)]
    pub traceparent: Option<String>,
    /// Wall-clock enqueue time (µs since the Unix epoch), for pickup latency.
    #[serde(default)]
    pub enqueued_at_micros: i64,
}

impl RolloutJob {
    /// A job for `deployment`, stamped with the current time.
    pub fn new(deployment: DeploymentId, traceparent: Option<String>) -> Self {
        Self {
            deployment,
            traceparent,
            enqueued_at_micros: chrono::Utc::now().timestamp_micros(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_job_serializes_its_deployment_as_a_plain_string() {
        let job = RolloutJob::new(
            DeploymentId::parse("DABCDEFGHIJ").expect("id"),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        );
        let json = serde_json::to_value(&job).expect("serialize");
        assert_eq!(json["deployment"], "DABCDEFGHIJ");
        assert!(job.enqueued_at_micros > 0);
        let back: RolloutJob = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, job);
    }

    #[test]
    fn a_rollout_job_rejects_a_malformed_deployment_id() {
        let json = serde_json::json!({ "deployment": "RABCDEFGHIJ", "enqueued_at_micros": 1 });
        assert!(serde_json::from_value::<RolloutJob>(json).is_err());
    }
}
