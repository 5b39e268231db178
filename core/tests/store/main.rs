//! The store against real databases: every test runs on SQLite and on
//! PostgreSQL (a schema of its own; PostgreSQL must be up, see
//! `SLIPWAY_TEST_DATABASE_URL`).

mod deletion;
mod deployments;
mod domains;
mod events;
mod leases;
mod logs;
mod plans;
mod pool;
mod processes;
mod progress;
mod prune;
mod recipients;
mod releases;
mod routes;
mod sealing;
mod sessions;
mod unreadable;
mod webhooks;

use slipway_core::domain::{AppName, Env, EnvChange, GitInfo, ReleaseId};
use slipway_core::events::EventKind;
use slipway_core::store::{Backend, Build, NewBuild, Release, Store};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder, TestDatabase};
use std::collections::BTreeMap;

pub(crate) use slipway_core::on_both_backends;

pub struct Fixture {
    pub store: Store,
    pub app: AppName,
    pub db: TestDatabase,
}

pub fn fixture(backend: Backend) -> Fixture {
    let db = TestDatabase::new(backend);
    let store = db.store();
    let app = AppName::parse("myapp").unwrap();
    store.create_app(&app, None, "tester").unwrap();
    Fixture { store, app, db }
}

impl Fixture {
    pub fn build(&self, git: Option<(&str, &str)>) -> (Build, Release) {
        let new = NewBuild {
            manifest: ManifestBuilder::web(ServiceBuilder::new().command("true")).build(),
            git: git.map(|(sha, message)| GitInfo::parse(sha, Some(message)).unwrap()),
            description: None,
        };
        self.store.create_build(&self.app, &new, "tester").unwrap()
    }

    pub fn change_env(&self, set: &[(&str, &str)], unset: &[&str]) -> Option<Release> {
        self.store
            .change_env(&self.app, &change(set, unset), None, "tester")
            .unwrap()
    }

    pub fn releases(&self) -> Vec<Release> {
        self.store.list_releases(&self.app, 100, None).unwrap()
    }

    pub fn event_kinds(&self) -> Vec<EventKind> {
        let events = self.store.list_events(Some(&self.app)).unwrap();
        events.into_iter().map(|e| e.kind).collect()
    }
}

pub fn change(set: &[(&str, &str)], unset: &[&str]) -> EnvChange {
    let set = set
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<BTreeMap<_, _>>();
    EnvChange::parse(set, unset.iter().map(|k| k.to_string()).collect()).unwrap()
}

pub fn env_of(store: &Store, app: &AppName, release: &ReleaseId) -> Env {
    store.get_release(app, release).unwrap().env.unwrap()
}
