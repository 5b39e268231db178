//! Where a rollout's time goes: the drive started (the claim) → its new
//! instance launched (the instance record's `started_at`) → the drive saw
//! it healthy (its `deployment.progress` event, stamped when written in the
//! background, so possibly late) → the deployment finished (the old
//! instance stopped, the final transition written).

use diesel::sql_types::{Array, Double, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use std::collections::HashMap;

use crate::cluster::{instances, Cluster};
use crate::report::percentile;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    release: String,
    #[diesel(sql_type = Nullable<Double>)]
    started: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    healthy: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    finished: Option<f64>,
}

/// The phases' names, in order.
pub(crate) const NAMES: [&str; 3] = [
    "started → instance launched",
    "launched → seen healthy",
    "seen healthy → finished",
];

/// Each phase's durations (seconds) over the deployments `ids` whose new
/// instance is still recorded.
pub(crate) fn phases(cluster: &Cluster, ids: &[String]) -> [Vec<f64>; 3] {
    let launched: HashMap<String, f64> = instances(cluster.data.path())
        .iter()
        .filter_map(|r| {
            let at = chrono::DateTime::parse_from_rfc3339(r["started_at"].as_str()?).ok()?;
            let release = r["release"].as_str()?.to_owned();
            Some((release, at.timestamp_micros() as f64 / 1e6))
        })
        .collect();
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT d.release, EXTRACT(EPOCH FROM d.started_at)::float8 AS started, \
           EXTRACT(EPOCH FROM min(e.created_at) \
             FILTER (WHERE e.data::jsonb ->> 'step' = 'healthy'))::float8 AS healthy, \
           EXTRACT(EPOCH FROM d.finished_at)::float8 AS finished \
         FROM deployments d \
         LEFT JOIN events e ON e.deployment = d.id AND e.kind = 'deployment.progress' \
         WHERE d.id = ANY($1) GROUP BY d.id",
    )
    .bind::<Array<Text>, _>(ids)
    .load(&mut *cluster.conn.lock().unwrap())
    .unwrap_or_else(|e| cluster.fail(format!("read the progress events: {e}")));
    let mut phases: [Vec<f64>; 3] = Default::default();
    for row in rows {
        let times = [
            row.started,
            launched.get(&row.release).copied(),
            row.healthy,
            row.finished,
        ];
        if times.iter().all(Option::is_some) {
            for (i, phase) in phases.iter_mut().enumerate() {
                phase.push(times[i + 1].unwrap() - times[i].unwrap());
            }
        }
    }
    phases
}

/// `p50 / p99` of one phase, in milliseconds.
pub(crate) fn summary(values: &[f64]) -> String {
    format!(
        "{:.0} / {:.0} ms",
        percentile(values, 50.0) * 1000.0,
        percentile(values, 99.0) * 1000.0
    )
}
