//! Making a release run: for every service at once, observe the runtime,
//! take the next step of the rolling update (`plan`), watch new instances
//! until healthy, and fail fast when one exits or stays unhealthy. Each look
//! starts from what runs now, so a resumed rollout simply continues.

use super::plan::next_step;
use super::watch::{Limits, Stop};
use super::{Engine, Target};
use crate::queue::trace;
use crate::runtime::{Instance, InstanceSpec, Probe, Runtime, RuntimeError};
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::{join_all, try_join_all};
use serde_json::json;
use slipway_core::domain::{Health, Service, ServiceName};
use std::collections::HashMap;
use std::time::Duration;
use tracing::Instrument;

/// A service without a health check counts as healthy once it has stayed up this long.
const NO_HEALTH_SETTLE: TimeDelta = TimeDelta::seconds(1);

/// What is known of one target instance between looks.
struct Track {
    healthy: bool,
    /// No health check before this (the service's `grace`).
    first_check_at: DateTime<Utc>,
    /// Not healthy by then: the instance failed.
    give_up_at: DateTime<Utc>,
    /// The "health wait" span, open until the instance is healthy or failed.
    wait: Option<tracing::Span>,
}

impl<R: Runtime> Engine<R> {
    /// Brings every service of `target` to its count of healthy instances,
    /// with nothing of other releases left, then stops services the
    /// manifest no longer has.
    pub(super) async fn converge(&self, target: &Target, limits: &Limits<'_>) -> Result<(), Stop> {
        let services = target.manifest.services();
        try_join_all(
            services
                .iter()
                .map(|(name, service)| self.roll(target, name, service, limits)),
        )
        .await?;
        let leftovers: Vec<Instance> = self
            .instances(target, limits)
            .await?
            .into_iter()
            .filter(|i| !services.contains_key(&i.service))
            .collect();
        self.stop_all(&leftovers).await;
        Ok(())
    }

    /// One service's rolling update: a span over its waves.
    #[tracing::instrument(name = "service", skip_all, fields(
        slipway.app = %target.app,
        slipway.release = %target.release,
        slipway.service = %name,
    ))]
    async fn roll(
        &self,
        target: &Target,
        name: &ServiceName,
        service: &Service,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        let count = service.count() as usize;
        let strategy = target.strategy(service)?;
        let mut tracks: HashMap<String, Track> = HashMap::new();
        loop {
            limits.check()?;
            let (mut new, mut old) = (Vec::new(), Vec::new());
            for instance in self.instances(target, limits).await? {
                if &instance.service != name {
                    continue;
                }
                if instance.release == target.release {
                    new.push(instance);
                } else {
                    old.push(instance);
                }
            }
            old = self.drop_gone(old).await;
            let (healthy, newly) = self.watch_new(name, service, &new, &mut tracks).await?;
            tracks.retain(|id, _| new.iter().any(|i| &i.id == id));
            if !newly.is_empty() {
                limits.progress(|| {
                    json!({ "step": "healthy", "service": name, "release": target.release,
                            "instances": newly, "healthy": healthy, "count": count })
                });
            }

            let step = next_step(count, strategy, old.len(), new.len(), healthy);
            if step.done {
                return Ok(());
            }
            if step.start > 0 {
                limits.progress(|| {
                    json!({ "step": "wave", "service": name, "release": target.release,
                            "instances": step.start, "count": count })
                });
            }
            // A wave starts at once: its instances become healthy together.
            let starts = (0..step.start).map(|_| self.start(target, name, service, limits));
            let wave = tracing::info_span!(
                "wave",
                slipway.service = %name,
                slipway.release = %target.release,
                instances = step.start,
            );
            let started = try_join_all(starts).instrument(wave.clone()).await;
            if let Err(Stop::Failed(reason)) = &started {
                trace::fail(&wave, reason);
            }
            for instance in started? {
                tracing::debug!(instance = %instance.id, service = %name, "instance started");
            }
            // The oldest go first; surplus new ones that are not healthy go first.
            old.sort_by_key(|i| i.started_at);
            new.sort_by_key(|i| tracks.get(&i.id).is_some_and(|t| t.healthy));
            let mut stopping: Vec<Instance> = old.into_iter().take(step.stop_old).collect();
            stopping.extend(new.into_iter().take(step.stop_new));
            let acted = step.start > 0 || !stopping.is_empty();
            self.stop_all(&stopping).await;
            if !acted {
                tokio::time::sleep(self.config.tick).await;
            }
        }
    }

    /// Looks at each target instance; returns how many are healthy and the
    /// ids of those found healthy just now, or the failure of the first that
    /// exited or stayed unhealthy too long.
    async fn watch_new(
        &self,
        name: &ServiceName,
        service: &Service,
        new: &[Instance],
        tracks: &mut HashMap<String, Track>,
    ) -> Result<(usize, Vec<String>), Stop> {
        let health = service.health();
        let now = Utc::now();
        let probes = join_all(new.iter().map(|instance| {
            let track = tracks
                .entry(instance.id.clone())
                .or_insert_with(|| self.track(instance, health));
            // Before grace, and once healthy, only liveness is looked at.
            let check = (!track.healthy && now >= track.first_check_at)
                .then_some(health)
                .flatten();
            self.runtime.probe(instance, check)
        }))
        .await;
        let mut healthy = 0;
        let mut newly = Vec::new();
        for (instance, probe) in new.iter().zip(probes) {
            let Some(track) = tracks.get_mut(&instance.id) else {
                continue;
            };
            let id = &instance.id;
            match probe {
                Probe::Gone(why) if track.healthy => {
                    return Err(Stop::Failed(format!("{name} instance {id} {why}")))
                }
                Probe::Gone(why) => {
                    return give_up(
                        track,
                        format!("{name} instance {id} {why} before it was healthy"),
                    )
                }
                Probe::Healthy if track.healthy || now >= track.first_check_at => {
                    if !track.healthy {
                        newly.push(id.clone());
                        track.wait = None;
                    }
                    track.healthy = true;
                    healthy += 1;
                }
                Probe::Healthy => {}
                Probe::Unhealthy(why) if now >= track.give_up_at => {
                    return give_up(
                        track,
                        format!("{name} instance {id} failed its health check: {why}"),
                    )
                }
                Probe::Unhealthy(_) => {}
            }
        }
        Ok((healthy, newly))
    }

    fn track(&self, instance: &Instance, health: Option<&Health>) -> Track {
        let seconds = |s: u32| TimeDelta::seconds(s.into());
        let (first_check_at, give_up_at) = match health {
            Some(h) => {
                let first = instance.started_at + seconds(h.grace());
                let window = seconds(h.interval()) * self.config.failure_intervals as i32;
                (first, first + window)
            }
            None => {
                let first = instance.started_at + NO_HEALTH_SETTLE;
                (first, first)
            }
        };
        let wait = tracing::info_span!(
            "health wait",
            slipway.service = %instance.service,
            slipway.release = %instance.release,
            instance = %instance.id,
        );
        Track {
            healthy: false,
            first_check_at,
            give_up_at,
            wait: Some(wait),
        }
    }

    /// Instances of other releases that are already gone are forgotten.
    async fn drop_gone(&self, old: Vec<Instance>) -> Vec<Instance> {
        let probes = join_all(old.iter().map(|i| self.runtime.probe(i, None))).await;
        let (gone, alive): (Vec<_>, Vec<_>) = old
            .into_iter()
            .zip(probes)
            .partition(|(_, probe)| matches!(probe, Probe::Gone(_)));
        self.stop_all(&gone.into_iter().map(|(i, _)| i).collect::<Vec<_>>())
            .await;
        alive.into_iter().map(|(i, _)| i).collect()
    }

    #[tracing::instrument(name = "start instance", skip_all, fields(
        slipway.service = %name,
        slipway.release = %target.release,
    ))]
    async fn start(
        &self,
        target: &Target,
        name: &ServiceName,
        service: &Service,
        limits: &Limits<'_>,
    ) -> Result<Instance, Stop> {
        let spec = InstanceSpec {
            app: target.app.clone(),
            service: name.clone(),
            release: target.release.clone(),
            command: service.command().map(str::to_owned),
            image: service.image().map(str::to_owned),
            port: service.port(),
            env: target.env.clone(),
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.runtime.start(&spec).await {
                Ok(instance) => return Ok(instance),
                Err(RuntimeError::Failed(why)) => {
                    let reason = format!("{name} cannot start: {why}");
                    trace::fail(&tracing::Span::current(), &reason);
                    return Err(Stop::Failed(reason));
                }
                Err(RuntimeError::Transient(why)) => {
                    tracing::warn!(service = %name, error = %why, "start failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    limits.check()?;
                }
            }
        }
    }

    /// The app's instances, retrying transient errors inside the limits.
    async fn instances(&self, target: &Target, limits: &Limits<'_>) -> Result<Vec<Instance>, Stop> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.runtime.instances(&target.app).await {
                Ok(instances) => return Ok(instances),
                Err(RuntimeError::Failed(why)) => return Err(Stop::Failed(why)),
                Err(RuntimeError::Transient(why)) => {
                    tracing::warn!(error = %why, "cannot list instances; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    limits.check()?;
                }
            }
        }
    }

    /// Stops instances at once, gracefully; a failure is logged and the
    /// instance looked at again on the next pass.
    pub(super) async fn stop_all(&self, instances: &[Instance]) {
        if instances.is_empty() {
            return;
        }
        let grace = self.config.stop_grace;
        let span = tracing::info_span!("stop instances", instances = instances.len());
        let results = join_all(instances.iter().map(|i| self.runtime.stop(i, grace)))
            .instrument(span)
            .await;
        for (instance, result) in instances.iter().zip(results) {
            if let Err(err) = result {
                tracing::warn!(instance = %instance.id, error = %err, "cannot stop instance");
            }
        }
    }
}

/// The instance failed: its health wait ends with `reason`.
fn give_up<T>(track: &mut Track, reason: String) -> Result<T, Stop> {
    if let Some(wait) = track.wait.take() {
        trace::fail(&wait, &reason);
    }
    Err(Stop::Failed(reason))
}
