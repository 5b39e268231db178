//! The local runtime as its own controller: the rolling update in waves of
//! processes. For every service at once, look at what runs, take the next
//! step (`plan`), watch new instances until healthy, and fail fast when one
//! exits or stays unhealthy. Each look starts from what runs now, so a
//! resumed rollout simply continues.

pub mod plan;
mod stop;
mod track;

use super::{InstanceSpec, LocalRuntime};
use crate::runtime::{
    in_step, Failure, Instance, Limits, Probe, Runtime, RuntimeError, StepOf, Stop, Target,
};
use chrono::Utc;
use futures_util::future::{join_all, try_join_all};
use plan::next_step;
use slipway_core::domain::{Service, ServiceName};
use slipway_core::events::Progress;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use track::{give_up, track, Track};

/// A rollout waiting for its new instances probes them every tick, but looks
/// again at what runs (the instance records) only after a change it made or
/// saw (a start, a stop, an instance healthy or gone), and at least this often.
const LOOK_EVERY: Duration = Duration::from_millis(250);

impl LocalRuntime {
    /// Brings every service of `target` to its count of healthy instances,
    /// with nothing of other releases left, then stops services the
    /// manifest no longer has.
    pub(super) async fn converge_waves(
        &self,
        target: &Target,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        limits.traffic.announce(&target.app, &target.manifest);
        let services = target.manifest.services();
        let last_looks = try_join_all(
            services
                .iter()
                .map(|(name, service)| self.roll(target, name, service, limits)),
        )
        .await?;
        // The rolls start and stop only the manifest's services: any of
        // their last looks shows the others as they are.
        let seen = match last_looks.into_iter().next() {
            Some(seen) => seen,
            None => self.look(target, limits).await?,
        };
        let leftovers: Vec<Instance> = seen
            .into_iter()
            .filter(|i| !services.contains_key(&i.service))
            .collect();
        self.stop_gracefully(
            target.step(None),
            &leftovers,
            Some(&target.manifest),
            limits,
        )
        .await
    }

    /// One service's rolling update: a span over its waves, failed with the
    /// reason when the service cannot be brought up. The app's instances as
    /// last looked at, once done.
    async fn roll(
        &self,
        target: &Target,
        name: &ServiceName,
        service: &Service,
        limits: &Limits<'_>,
    ) -> Result<Vec<Instance>, Stop> {
        let span = step_span!("service", target.step(Some(name)));
        in_step(span, self.roll_waves(target, name, service, limits)).await
    }

    async fn roll_waves(
        &self,
        target: &Target,
        name: &ServiceName,
        service: &Service,
        limits: &Limits<'_>,
    ) -> Result<Vec<Instance>, Stop> {
        let count = service.count() as usize;
        let strategy = target.strategy(service)?;
        let mut tracks: HashMap<String, Track> = HashMap::new();
        // The app's instances as last looked at, while nothing changed since.
        let mut unchanged: Option<(Instant, Vec<Instance>)> = None;
        loop {
            limits.check()?;
            // The next pass starts a tick after this one began: on a busy
            // machine a pass can take longer than a tick, and sleeping a
            // whole tick after it would see a healthy instance that much later.
            let next_pass = tokio::time::Instant::now() + limits.pace.tick;
            let (looked_at, seen) = match unchanged.take() {
                Some((at, seen)) if at.elapsed() < LOOK_EVERY => (at, seen),
                _ => (Instant::now(), self.look(target, limits).await?),
            };
            let (mut new, old): (Vec<Instance>, Vec<Instance>) = seen
                .iter()
                .filter(|i| &i.service == name)
                .cloned()
                .partition(|i| i.release == target.release);
            let old_count = old.len();
            let mut old = self.drop_gone(target, name, old, limits).await?;
            let dropped = old.len() != old_count;
            let (healthy, newly) = self
                .watch_new(target, name, service, &new, &mut tracks, limits)
                .await?;
            tracks.retain(|id, _| new.iter().any(|i| &i.id == id));
            for instance in new.iter().filter(|i| newly.contains(&i.id)) {
                limits.traffic.admit(instance);
            }
            if !newly.is_empty() {
                limits.progress(|| Progress::Healthy {
                    service: name.clone(),
                    release: target.release.clone(),
                    instances: newly.clone(),
                    healthy,
                    count,
                });
            }

            let step = next_step(count, strategy, old.len(), new.len(), healthy);
            if step.done {
                return Ok(seen);
            }
            if step.start > 0 {
                limits.progress(|| Progress::Wave {
                    service: name.clone(),
                    release: target.release.clone(),
                    instances: step.start,
                    count,
                });
                self.wave(target, name, service, limits, step.start).await?;
            }
            // The oldest go first; surplus new ones that are not healthy go first.
            old.sort_by_key(|i| i.started_at);
            new.sort_by_key(|i| tracks.get(&i.id).is_some_and(|t| t.healthy));
            let mut stopping: Vec<Instance> = old.into_iter().take(step.stop_old).collect();
            stopping.extend(new.into_iter().take(step.stop_new));
            let acted = step.start > 0 || !stopping.is_empty();
            self.stop_gracefully(
                target.step(Some(name)),
                &stopping,
                Some(&target.manifest),
                limits,
            )
            .await?;
            if !acted {
                if newly.is_empty() && !dropped {
                    unchanged = Some((looked_at, seen));
                }
                tokio::time::sleep_until(next_pass).await;
            }
        }
    }

    /// Starts `instances` at once (they become healthy together); a span
    /// only for a wave that starts something, not for each look.
    async fn wave(
        &self,
        target: &Target,
        name: &ServiceName,
        service: &Service,
        limits: &Limits<'_>,
        instances: usize,
    ) -> Result<(), Stop> {
        let wave = step_span!("wave", target.step(Some(name)), instances);
        in_step(
            wave,
            self.start_all(target, name, service, limits, instances),
        )
        .await
    }

    /// Starts `instances` of `service` at once. Every start runs to its end,
    /// also when another fails: a start cut short could leave a process the
    /// next look has not yet seen. The first failure, if any.
    async fn start_all(
        &self,
        target: &Target,
        name: &ServiceName,
        service: &Service,
        limits: &Limits<'_>,
        instances: usize,
    ) -> Result<(), Stop> {
        let starts = (0..instances).map(|_| self.start_step(target, name, service, limits));
        let mut first_failure = Ok(());
        for started in join_all(starts).await {
            match started {
                Ok(instance) => {
                    tracing::debug!(instance = %instance.id, service = %name, "instance started")
                }
                Err(stop) if first_failure.is_ok() => first_failure = Err(stop),
                Err(_) => {}
            }
        }
        first_failure
    }

    /// Looks at each target instance; returns how many are healthy and the
    /// ids of those found healthy just now, or the failure of the first that
    /// exited or stayed unhealthy too long.
    async fn watch_new(
        &self,
        target: &Target,
        name: &ServiceName,
        service: &Service,
        new: &[Instance],
        tracks: &mut HashMap<String, Track>,
        limits: &Limits<'_>,
    ) -> Result<(usize, Vec<String>), Stop> {
        let health = service.health();
        let now = Utc::now();
        let probes = join_all(new.iter().map(|instance| {
            let track = tracks
                .entry(instance.id.clone())
                .or_insert_with(|| track(target, instance, health, limits.pace.failure_intervals));
            // Before grace, and once healthy, only liveness is looked at.
            let check = (!track.healthy && now >= track.first_check_at)
                .then_some(health)
                .flatten();
            self.probe(instance, check)
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
                Probe::Gone(why) => {
                    let failure = Failure::Exited {
                        service: name.clone(),
                        instance: id.clone(),
                        why,
                        healthy: track.healthy,
                    };
                    return give_up(track, failure);
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
                    let failure = Failure::Unhealthy {
                        service: name.clone(),
                        instance: id.clone(),
                        why,
                    };
                    return give_up(track, failure);
                }
                Probe::Unhealthy(_) => {}
            }
        }
        Ok((healthy, newly))
    }

    /// Instances of other releases that are already gone are forgotten.
    async fn drop_gone(
        &self,
        target: &Target,
        name: &ServiceName,
        old: Vec<Instance>,
        limits: &Limits<'_>,
    ) -> Result<Vec<Instance>, Stop> {
        let probes = join_all(old.iter().map(|i| self.probe(i, None))).await;
        let (gone, alive): (Vec<_>, Vec<_>) = old
            .into_iter()
            .zip(probes)
            .partition(|(_, probe)| matches!(probe, Probe::Gone(_)));
        let gone: Vec<Instance> = gone.into_iter().map(|(i, _)| i).collect();
        self.stop_gracefully(
            target.step(Some(name)),
            &gone,
            Some(&target.manifest),
            limits,
        )
        .await?;
        Ok(alive.into_iter().map(|(i, _)| i).collect())
    }

    async fn start_step(
        &self,
        target: &Target,
        name: &ServiceName,
        service: &Service,
        limits: &Limits<'_>,
    ) -> Result<Instance, Stop> {
        let span = step_span!("start instance", target.step(Some(name)));
        in_step(span, self.start_one(target, name, service, limits)).await
    }

    async fn start_one(
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
            port: service.port(),
            env: target.env.clone(),
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            limits.check()?;
            match self.start(&spec).await {
                Ok(instance) => return Ok(instance),
                Err(RuntimeError::Failed(why)) => {
                    let service = name.clone();
                    return Err(Stop::Failed(Failure::CannotStart { service, why }));
                }
                Err(RuntimeError::Transient(why)) => {
                    tracing::warn!(service = %name, error = %why, "start failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Starts `missing` more instances of the active release's `service`.
    pub(in crate::runtime::local) async fn start_missing(
        &self,
        target: &Target,
        service: &ServiceName,
        missing: usize,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        let Some(spec) = target.manifest.services().get(service) else {
            return Ok(());
        };
        self.start_all(target, service, spec, limits, missing).await
    }

    /// The app's instances, retrying transient errors inside the limits.
    async fn look(&self, target: &Target, limits: &Limits<'_>) -> Result<Vec<Instance>, Stop> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.recently_recorded(&target.app).await {
                Ok(instances) => return Ok(instances),
                Err(RuntimeError::Failed(why)) => return Err(Stop::Failed(Failure::Runtime(why))),
                Err(RuntimeError::Transient(why)) => {
                    tracing::warn!(error = %why, "cannot list instances; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    limits.check()?;
                }
            }
        }
    }
}
