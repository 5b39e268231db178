//! Custom domains belong to one app: a build claims its manifest's domains
//! in its own transaction; another app's build (or deploy) listing one is
//! refused whole, naming the field and not the app; claims stay until the
//! app is purged.

use crate::{fixture, on_both_backends, Fixture};
use chrono::{TimeDelta, Utc};
use serde_json::json;
use slipway_core::domain::{AppName, InvalidInput, Manifest};
use slipway_core::store::{Backend, NewBuild, PromoteOptions, StoreError};

on_both_backends!(
    a_build_claims_its_domains_and_its_app_may_list_them_again,
    another_apps_build_or_deploy_listing_a_claimed_domain_writes_nothing,
    a_claim_stays_when_later_builds_drop_the_domain,
    a_deleted_app_keeps_its_domains_until_it_is_purged,
    apps_racing_for_one_domain_leave_it_with_one,
);

fn with_domains(services: serde_json::Value) -> NewBuild {
    NewBuild {
        manifest: Manifest::from_json(&json!({ "services": services })).unwrap(),
        git: None,
        description: None,
    }
}

fn web(domains: &[&str]) -> NewBuild {
    with_domains(json!({ "web": { "command": "run", "port": 80, "domains": domains } }))
}

/// `f`'s app plus another one, `shop`.
fn two_apps(backend: Backend) -> (Fixture, AppName) {
    let f = fixture(backend);
    let shop = AppName::parse("shop").unwrap();
    f.store.create_app(&shop, None, "tester").unwrap();
    (f, shop)
}

fn assert_taken<T: std::fmt::Debug>(result: Result<T, StoreError>, field: &str, domain: &str) {
    match result {
        Err(StoreError::Invalid(err)) => assert_eq!(
            err,
            InvalidInput::new(field, format!("{domain} is already used by another app"))
        ),
        other => panic!("expected {domain} to be taken, got {other:?}"),
    }
}

fn a_build_claims_its_domains_and_its_app_may_list_them_again(backend: Backend) {
    let (f, shop) = two_apps(backend);
    f.store
        .create_build(&f.app, &web(&["Example.com", "www.example.com"]), "t")
        .unwrap();
    f.store
        .create_build(&f.app, &web(&["www.example.com", "example.com"]), "t")
        .unwrap();
    assert_taken(
        f.store.create_build(&shop, &web(&["www.example.com"]), "t"),
        "manifest.services.web.domains[0]",
        "www.example.com",
    );
}

fn another_apps_build_or_deploy_listing_a_claimed_domain_writes_nothing(backend: Backend) {
    let (f, shop) = two_apps(backend);
    f.store
        .create_build(&f.app, &web(&["example.com"]), "t")
        .unwrap();
    let events_before = f.store.list_events(Some(&shop)).unwrap().len();

    // The free domain comes first: its claim is undone with the rest.
    let build = with_domains(json!({
        "api": { "command": "run", "port": 81, "domains": ["free.example.com"] },
        "web": { "command": "run", "port": 80, "domains": ["shop.example.com", "example.com"] }
    }));
    let refused = f.store.create_build(&shop, &build, "t");
    assert_taken(refused, "manifest.services.web.domains[1]", "example.com");
    let refused = f
        .store
        .deploy(&shop, &build, &PromoteOptions::default(), "t");
    assert_taken(refused, "manifest.services.web.domains[1]", "example.com");

    assert!(f.store.list_builds(&shop, 10, None).unwrap().is_empty());
    assert!(f.store.list_releases(&shop, 10, None).unwrap().is_empty());
    assert!(f
        .store
        .list_deployments(&shop, 10, None)
        .unwrap()
        .is_empty());
    assert_eq!(
        f.store.list_events(Some(&shop)).unwrap().len(),
        events_before
    );
    // Nothing was claimed: a third app may take the domains shop listed.
    let third = AppName::parse("third").unwrap();
    f.store.create_app(&third, None, "t").unwrap();
    f.store
        .create_build(&third, &web(&["free.example.com", "shop.example.com"]), "t")
        .unwrap();
}

fn a_claim_stays_when_later_builds_drop_the_domain(backend: Backend) {
    let (f, shop) = two_apps(backend);
    f.store
        .create_build(&f.app, &web(&["example.com"]), "t")
        .unwrap();
    f.store.create_build(&f.app, &web(&[]), "t").unwrap();
    assert_taken(
        f.store.create_build(&shop, &web(&["example.com"]), "t"),
        "manifest.services.web.domains[0]",
        "example.com",
    );
}

fn a_deleted_app_keeps_its_domains_until_it_is_purged(backend: Backend) {
    let (f, shop) = two_apps(backend);
    f.store
        .create_build(&f.app, &web(&["example.com"]), "t")
        .unwrap();
    f.store.delete_app(&f.app, "t").unwrap();
    assert_taken(
        f.store.create_build(&shop, &web(&["example.com"]), "t"),
        "manifest.services.web.domains[0]",
        "example.com",
    );
    let later = Utc::now() + TimeDelta::seconds(1);
    assert!(f.store.purge_app(&f.app, later).unwrap());
    f.store
        .create_build(&shop, &web(&["example.com"]), "t")
        .unwrap();
}

/// Builds of several apps listing one domain at the same moment: exactly
/// one gets it, every other one is refused on the field (never a database
/// error), whichever of them looked first.
fn apps_racing_for_one_domain_leave_it_with_one(backend: Backend) {
    const APPS: usize = 6;
    let f = fixture(backend);
    let apps: Vec<AppName> = (0..APPS)
        .map(|i| {
            let app = AppName::parse(&format!("racer-{i}")).unwrap();
            f.store.create_app(&app, None, "t").unwrap();
            app
        })
        .collect();
    let start = std::sync::Arc::new(std::sync::Barrier::new(APPS));
    let results: Vec<_> = std::thread::scope(|scope| {
        let racers: Vec<_> = apps
            .iter()
            .map(|app| {
                let (store, start) = (f.store.clone(), start.clone());
                scope.spawn(move || {
                    start.wait();
                    store.create_build(app, &web(&["race.example.com"]), "t")
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for result in results.into_iter().filter(Result::is_err) {
        assert_taken(
            result,
            "manifest.services.web.domains[0]",
            "race.example.com",
        );
    }
}
