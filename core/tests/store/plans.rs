//! `Store::explain_history`: the plans of the history reads as PostgreSQL
//! runs them, which the history benchmark checks on a seeded app.

use crate::deployments::promote;
use crate::fixture;
use slipway_core::domain::{AppName, DeploymentId};
use slipway_core::store::{Backend, NewBuild, StoreError};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder};

const NAMES: [&str; 11] = [
    "releases: first page",
    "releases: page before",
    "releases: latest",
    "release by id",
    "release statuses: a page",
    "release statuses: one",
    "builds: first page",
    "builds: page before",
    "deployments: first page",
    "deployments: page before",
    "deployments: the open one",
];

#[test]
fn every_history_read_is_explained_as_it_ran() {
    let f = fixture(Backend::Postgres);
    let (_, first) = f.build(None);
    f.change_env(&[("LEVEL", "1")], &[]);
    let deployment = promote(&f, &first.id);
    let plans = f
        .store
        .explain_history(&f.app, &first.id, &deployment.id)
        .unwrap();
    let names: Vec<&str> = plans.iter().map(|p| p.name).collect();
    assert_eq!(names, NAMES);
    let rows = |name: &str| {
        let plan = &plans.iter().find(|p| p.name == name).unwrap().plan;
        assert!(plan[0]["Execution Time"].is_number(), "{name}: {plan}");
        plan[0]["Plan"]["Actual Rows"].as_f64().unwrap()
    };
    // Run, not only planned: each found what the store would have.
    assert_eq!(rows("releases: first page"), 2.0);
    assert_eq!(rows("releases: page before"), 0.0);
    assert_eq!(rows("release by id"), 1.0);
    assert_eq!(rows("release statuses: one"), 1.0);
    assert_eq!(rows("deployments: the open one"), 1.0);
}

#[test]
fn plans_are_refused_on_sqlite() {
    let f = fixture(Backend::Sqlite);
    let (_, release) = f.build(None);
    let deployment = promote(&f, &release.id);
    let err = f
        .store
        .explain_history(&f.app, &release.id, &deployment.id)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Config(m) if m.contains("PostgreSQL only")),
        "{err:?}"
    );
}

#[test]
fn plans_need_the_apps_own_release_and_deployment() {
    let f = fixture(Backend::Postgres);
    let (_, release) = f.build(None);
    let deployment = promote(&f, &release.id);
    let other = AppName::parse("other").unwrap();
    f.store.create_app(&other, None, "tester").unwrap();
    let new = NewBuild {
        manifest: ManifestBuilder::web(ServiceBuilder::new().command("true")).build(),
        git: None,
        description: None,
    };
    let (_, theirs) = f.store.create_build(&other, &new, "tester").unwrap();
    let missing = |result: Result<_, StoreError>| matches!(result, Err(StoreError::NotFound(_)));
    assert!(missing(f.store.explain_history(
        &f.app,
        &theirs.id,
        &deployment.id
    )));
    let unknown = DeploymentId::parse("DAAAAAAAAAA").unwrap();
    assert!(missing(f.store.explain_history(
        &f.app,
        &release.id,
        &unknown
    )));
    let nobody = AppName::parse("nobody").unwrap();
    assert!(missing(f.store.explain_history(
        &nobody,
        &release.id,
        &deployment.id
    )));
}
