//! The supervisor, in every worker: between deployments it keeps each app's
//! active release running. One worker supervises an app at a time (a lease
//! per app in the store); it brings missing instances up (a worker restarted
//! on an empty machine restores every app), restarts an instance that exited
//! on its own after a backoff doubling from 1 s to 60 s while it keeps
//! crashing, reports each crash as an `app.crashed` event, and writes what
//! runs for `GET /apps/{app}/processes` and what they write for
//! `GET /apps/{app}/logs`. While a deployment is under way it only reports:
//! the deployment's drive owns the app.

use super::ship_logs::LogShipper;
use super::Engine;
use crate::runtime::{Failure, Instance, Limits, Probe, Runtime, Target};
use chrono::{TimeDelta, Utc};
use slipway_core::domain::{AppName, Health, ReleaseId, ServiceName};
use slipway_core::events::AppCrashed;
use slipway_core::store::{Process, ProcessStatus, Supervised};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How the supervisor paces itself. `Default` gives production values.
#[derive(Clone, Debug)]
pub struct SuperviseConfig {
    /// How often each supervised app's instances are looked at.
    pub every: Duration,
    /// A supervisor not heard of for this long lets another worker take over.
    pub lease: Duration,
    /// The wait before the first restart of a crashed instance.
    pub first_backoff: Duration,
    /// The longest wait between restarts of an instance that keeps crashing.
    pub max_backoff: Duration,
    /// A service without a crash for this long starts again at `first_backoff`.
    pub steady_after: Duration,
}

impl Default for SuperviseConfig {
    fn default() -> Self {
        SuperviseConfig {
            every: Duration::from_millis(100),
            lease: Duration::from_secs(15),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            steady_after: Duration::from_secs(120),
        }
    }
}

/// Restarts of one service of one app.
#[derive(Default)]
struct Slot {
    restarts: u32,
    backoff: Duration,
    /// No start before this (a crash's backoff).
    not_before: Option<Instant>,
    last_crash: Option<Instant>,
    /// Crashed instances not yet replaced, shown as `crashed`.
    crashed: Vec<Process>,
}

/// What the supervisor remembers between passes.
struct State {
    logs: LogShipper,
    slots: HashMap<(AppName, ServiceName), Slot>,
    /// Instances seen passing their health check.
    healthy: HashSet<String>,
    targets: HashMap<AppName, Arc<Target>>,
    reported: HashMap<AppName, Vec<Process>>,
}

impl<R: Runtime> Engine<R> {
    /// Supervises apps until `shutdown` resolves, then gives the apps up so
    /// another worker takes them over at once.
    pub async fn supervise(&self, config: SuperviseConfig, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut state = State {
            logs: LogShipper::default(),
            slots: HashMap::new(),
            healthy: HashSet::new(),
            targets: HashMap::new(),
            reported: HashMap::new(),
        };
        let mut renewed: Option<Instant> = None;
        let lease = TimeDelta::from_std(config.lease).unwrap_or(TimeDelta::seconds(15));
        loop {
            // A restart that is due before the next look is not kept waiting.
            let wake = state
                .slots
                .values()
                .filter_map(|slot| slot.not_before)
                .fold(Instant::now() + config.every, Instant::min);
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep_until(wake) => {}
            }
            // Claims are renewed every third of the lease; in between, each
            // pass still reads afresh which apps are under a deployment.
            let renew = renewed.is_none_or(|at| at.elapsed() >= config.lease / 3);
            let owner = self.config.owner.clone();
            let looked = self
                .db(move |s| {
                    if renew {
                        s.supervise(&owner, lease)
                    } else {
                        s.list_supervised(&owner)
                    }
                })
                .await;
            let apps = match looked {
                Ok(apps) => apps,
                Err(error) => {
                    tracing::warn!(%error, "cannot look up the apps to supervise");
                    continue;
                }
            };
            if renew {
                renewed = Some(Instant::now());
            }
            state.forget_all_but(&apps);
            // One look at what runs serves every app of the pass.
            let running = match self.runtime.every_instance().await {
                Ok(running) => running,
                Err(error) => {
                    tracing::warn!(%error, "cannot list instances");
                    continue;
                }
            };
            let mut by_app: HashMap<AppName, Vec<Instance>> = HashMap::new();
            for instance in running {
                by_app
                    .entry(instance.app.clone())
                    .or_default()
                    .push(instance);
            }
            let runtime = self.runtime.as_ref();
            state.logs.ship(runtime, &self.store, &apps, &by_app).await;
            let mut reports = Vec::new();
            for app in &apps {
                let instances = by_app.remove(&app.app).unwrap_or_default();
                let seen = self.supervise_app(app, instances, &config, &mut state);
                reports.extend(seen.await.map(|seen| (app.app.clone(), seen)));
            }
            self.report(reports, &mut state).await;
        }
        let owner = self.config.owner.clone();
        if let Err(error) = self.db(move |s| s.stop_supervising(&owner)).await {
            tracing::warn!(%error, "cannot give up supervision; it lapses");
        }
    }

    /// One look at one app: crashes noticed, missing instances started
    /// (when idle). What runs, when it differs from what was reported.
    async fn supervise_app(
        &self,
        app: &Supervised,
        instances: Vec<Instance>,
        config: &SuperviseConfig,
        state: &mut State,
    ) -> Option<Vec<Process>> {
        let mut seen = Vec::new();
        if let (Some(release), true) = (&app.active_release, app.idle) {
            if let Some(target) = self.target_for(&app.app, release, state).await {
                for (name, service) in target.manifest.services() {
                    let ours: Vec<&Instance> = instances
                        .iter()
                        .filter(|i| &i.service == name && &i.release == release)
                        .collect();
                    let health = service.health();
                    let alive = self
                        .look_after(&app.app, name, health, &ours, config, state)
                        .await;
                    let slot = state
                        .slots
                        .entry((app.app.clone(), name.clone()))
                        .or_default();
                    let due = slot.not_before.is_none_or(|at| Instant::now() >= at);
                    let missing = (service.count() as usize).saturating_sub(alive);
                    if missing > 0 && due {
                        slot.not_before = None;
                        slot.crashed.clear();
                        self.start_missing(&target, name, missing).await;
                    }
                }
            }
        }
        // Everything that runs is reported; of the active release's, those
        // not yet seen healthy as starting.
        let crashed: HashSet<&str> = state
            .slots
            .iter()
            .filter(|((of, _), _)| of == &app.app)
            .flat_map(|(_, slot)| slot.crashed.iter().map(|p| p.id.as_str()))
            .collect();
        for instance in instances
            .iter()
            .filter(|i| !crashed.contains(i.id.as_str()))
        {
            let looked_after = app.idle && app.active_release.as_ref() == Some(&instance.release);
            let status = if instance.stopping {
                ProcessStatus::Stopping
            } else if looked_after && !state.healthy.contains(&instance.id) {
                ProcessStatus::Starting
            } else {
                ProcessStatus::Running
            };
            seen.push(process(instance, state, status));
        }
        for ((of, _), slot) in &state.slots {
            if of == &app.app {
                seen.extend(slot.crashed.iter().cloned());
            }
        }
        seen.sort_by(|a, b| {
            (&a.service, a.started_at, &a.id).cmp(&(&b.service, b.started_at, &b.id))
        });
        (state.reported.get(&app.app) != Some(&seen)).then_some(seen)
    }

    /// Reports what runs of the apps that changed in a pass, in one write.
    async fn report(&self, reports: Vec<(AppName, Vec<Process>)>, state: &mut State) {
        if reports.is_empty() {
            return;
        }
        let written = self.db(move |s| s.report_processes_of(&reports).map(|()| reports));
        match written.await {
            Ok(reported) => state.reported.extend(reported),
            Err(error) => tracing::warn!(%error, "cannot report processes"),
        }
    }

    /// Looks at the active release's instances of one service: the healthy
    /// are remembered, the crashed forgotten by the runtime and reported.
    /// Returns how many are alive.
    async fn look_after(
        &self,
        app: &AppName,
        name: &ServiceName,
        health: Option<&Health>,
        instances: &[&Instance],
        config: &SuperviseConfig,
        state: &mut State,
    ) -> usize {
        let mut alive = 0;
        for instance in instances {
            let checked = !state.healthy.contains(&instance.id);
            let check = health.filter(|h| {
                checked && Utc::now() >= instance.started_at + TimeDelta::seconds(h.grace().into())
            });
            match self.runtime.probe(instance, check).await {
                Probe::Healthy => {
                    if check.is_some() || health.is_none() {
                        state.healthy.insert(instance.id.clone());
                    }
                    alive += 1;
                }
                Probe::Unhealthy(_) => alive += 1,
                Probe::Gone(reason) => {
                    self.crashed(app, name, instance, &reason, config, state)
                        .await
                }
            }
        }
        alive
    }

    async fn crashed(
        &self,
        app: &AppName,
        name: &ServiceName,
        instance: &Instance,
        reason: &str,
        config: &SuperviseConfig,
        state: &mut State,
    ) {
        // Forgotten first: its record must not outlive the process.
        if let Err(error) = self.runtime.forget(instance).await {
            return tracing::warn!(instance = %instance.id, %error, "cannot forget a crashed instance");
        }
        state.healthy.remove(&instance.id);
        let slot = state.slots.entry((app.clone(), name.clone())).or_default();
        let steady = slot
            .last_crash
            .is_none_or(|at| at.elapsed() >= config.steady_after);
        slot.backoff = if steady {
            config.first_backoff
        } else {
            (slot.backoff * 2).min(config.max_backoff)
        };
        slot.restarts += 1;
        slot.last_crash = Some(Instant::now());
        slot.not_before = Some(Instant::now() + slot.backoff);
        let mut shown = process(instance, state, ProcessStatus::Crashed);
        let slot = state.slots.entry((app.clone(), name.clone())).or_default();
        shown.restarts = slot.restarts;
        slot.crashed.push(shown);
        let crash = AppCrashed {
            app: app.clone(),
            service: name.clone(),
            release: instance.release.clone(),
            instance: instance.id.clone(),
            reason: reason.to_owned(),
            restarts: slot.restarts,
            restart_in_ms: u64::try_from(slot.backoff.as_millis()).unwrap_or(u64::MAX),
        };
        tracing::warn!(%app, instance = %instance.id, %reason, restarts = slot.restarts,
            backoff = ?slot.backoff, "instance crashed; restarting after the backoff");
        if let Err(error) = self.db(move |s| s.record_crash(&crash)).await {
            tracing::warn!(%error, "cannot record the crash");
        }
    }

    async fn start_missing(&self, target: &Target, name: &ServiceName, missing: usize) {
        let limits = Limits {
            deadline: Utc::now() + TimeDelta::seconds(30),
            expired: Failure::StartTimeout { seconds: 30 },
            guard: None,
            honour_cancel: false,
            steps: None,
            pace: self.pace(),
            traffic: self.traffic.as_ref(),
        };
        let (owner, app, release) = (
            self.config.owner.clone(),
            target.app.clone(),
            target.release.clone(),
        );
        match self
            .db(move |s| s.may_restore(&owner, &app, &release))
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => return tracing::warn!(%error, "cannot confirm the app is idle"),
        }
        match self.runtime.restore(target, name, missing, &limits).await {
            Ok(()) => tracing::info!(app = %target.app, service = %name, missing,
                "supervisor restored the active release's instances"),
            Err(stop) => tracing::warn!(app = %target.app, service = %name, ?stop,
                "supervisor cannot restore the active release's instances"),
        }
    }

    /// The active release's target, read once per release.
    async fn target_for(
        &self,
        app: &AppName,
        release: &ReleaseId,
        state: &mut State,
    ) -> Option<Arc<Target>> {
        let fresh = state.targets.get(app).is_none_or(|t| &t.release != release);
        if fresh {
            match self.target_of(app, release, None, None, None).await {
                Ok(Ok(target)) => {
                    state.targets.insert(app.clone(), Arc::new(target));
                }
                Ok(Err(reason)) => {
                    tracing::warn!(%app, %release, %reason, "cannot run the active release");
                    return None;
                }
                Err(error) => {
                    tracing::warn!(%app, %error, "cannot read the active release");
                    return None;
                }
            }
        }
        state.targets.get(app).cloned()
    }
}

impl State {
    /// Drops what is kept of apps no longer supervised here.
    fn forget_all_but(&mut self, apps: &[Supervised]) {
        let supervised: HashSet<&AppName> = apps.iter().map(|a| &a.app).collect();
        let kept = |app: &AppName| supervised.contains(app);
        self.slots.retain(|(app, _), _| kept(app));
        self.targets.retain(|app, _| kept(app));
        self.reported.retain(|app, _| kept(app));
        self.logs.keep_only(kept);
    }
}

fn process(instance: &Instance, state: &State, status: ProcessStatus) -> Process {
    let slot = state
        .slots
        .get(&(instance.app.clone(), instance.service.clone()));
    Process {
        id: instance.id.clone(),
        service: instance.service.clone(),
        release: instance.release.clone(),
        status,
        restarts: slot.map_or(0, |s| s.restarts),
        port: instance.port,
        started_at: instance.started_at,
    }
}
