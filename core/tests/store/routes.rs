//! What the router reads: each live app with its active release and the
//! release a deployment is bringing up, with their manifests; and the
//! manifests of given releases, for the API.

use crate::deployments::TTL;
use crate::{fixture, on_both_backends, Fixture};
use slipway_core::domain::{AppName, DeploymentStatus as S, Manifest, ReleaseId};
use slipway_core::store::{AppRoutes, Backend, NewBuild, PromoteOptions};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder};

on_both_backends!(
    an_app_with_an_active_release_routes_to_it,
    a_deployment_under_way_adds_its_release_after_the_active_one,
    a_first_deployment_routes_to_its_release_alone,
    apps_without_a_release_to_route_to_and_deleted_apps_are_left_out,
    manifests_are_found_by_release,
);

/// Each port's manifest has a domain of its own: one app claims it.
fn on_port(port: u16) -> Manifest {
    let domain = format!("p{port}.example.com");
    let web = ServiceBuilder::new().command("run").port(port);
    ManifestBuilder::new()
        .service("web", web.domains(&[&domain]))
        .service("worker", ServiceBuilder::new().command("work"))
        .build()
}

impl Fixture {
    /// A build of `app` whose manifest's web service listens on `port`.
    fn build_on(&self, app: &AppName, port: u16) -> ReleaseId {
        let new = NewBuild {
            manifest: on_port(port),
            git: None,
            description: None,
        };
        self.store.create_build(app, &new, "t").unwrap().1.id
    }

    /// Promotes `release`; with `to`, drives the deployment there.
    fn promote_to(&self, app: &AppName, release: &ReleaseId, to: &[S]) {
        let options = PromoteOptions::default();
        let (_, deployment) = self.store.promote(app, release, &options, "t").unwrap();
        if to.is_empty() {
            return;
        }
        let (_, lease) = self
            .store
            .claim_deployment(&deployment.id, "w1", TTL)
            .unwrap()
            .unwrap();
        for status in to {
            self.store
                .transition_deployment(&deployment.id, &lease, *status, None)
                .unwrap();
        }
    }
}

fn an_app_with_an_active_release_routes_to_it(backend: Backend) {
    let f = fixture(backend);
    let release = f.build_on(&f.app, 8001);
    f.promote_to(&f.app, &release, &[S::Running, S::Succeeded]);
    // A newer release that is not being deployed does not count.
    f.build_on(&f.app, 8002);
    assert_eq!(
        f.store.list_routes().unwrap(),
        [AppRoutes {
            app: f.app.clone(),
            releases: vec![release],
        }]
    );
}

fn a_deployment_under_way_adds_its_release_after_the_active_one(backend: Backend) {
    let f = fixture(backend);
    let active = f.build_on(&f.app, 8001);
    f.promote_to(&f.app, &active, &[S::Running, S::Succeeded]);
    let next = f.build_on(&f.app, 8002);
    f.promote_to(&f.app, &next, &[]);
    let expected = [AppRoutes {
        app: f.app.clone(),
        releases: vec![active.clone(), next],
    }];
    assert_eq!(f.store.list_routes().unwrap(), expected);

    // The active release deployed again is listed once.
    let g = fixture(backend);
    let release = g.build_on(&g.app, 8001);
    g.promote_to(&g.app, &release, &[S::Running, S::Succeeded]);
    g.promote_to(&g.app, &release, &[S::Running]);
    let routes = g.store.list_routes().unwrap();
    assert_eq!(routes[0].releases, [release]);
}

fn a_first_deployment_routes_to_its_release_alone(backend: Backend) {
    let f = fixture(backend);
    let release = f.build_on(&f.app, 8001);
    f.promote_to(&f.app, &release, &[S::Running]);
    assert_eq!(
        f.store.list_routes().unwrap(),
        [AppRoutes {
            app: f.app.clone(),
            releases: vec![release],
        }]
    );
}

fn apps_without_a_release_to_route_to_and_deleted_apps_are_left_out(backend: Backend) {
    let f = fixture(backend);
    // `myapp`: created, never built.
    let built = AppName::parse("built").unwrap();
    f.store.create_app(&built, None, "t").unwrap();
    f.build_on(&built, 8001);
    let failed = AppName::parse("failed").unwrap();
    f.store.create_app(&failed, None, "t").unwrap();
    let release = f.build_on(&failed, 8002);
    f.promote_to(&failed, &release, &[S::Running, S::RollingBack, S::Failed]);
    let deleted = AppName::parse("deleted").unwrap();
    f.store.create_app(&deleted, None, "t").unwrap();
    let release = f.build_on(&deleted, 8004);
    f.promote_to(&deleted, &release, &[S::Running, S::Succeeded]);
    let live = AppName::parse("live").unwrap();
    f.store.create_app(&live, None, "t").unwrap();
    let release = f.build_on(&live, 8003);
    f.promote_to(&live, &release, &[S::Running, S::Succeeded]);
    let apps = |f: &Fixture| -> Vec<String> {
        let routes = f.store.list_routes().unwrap();
        routes.into_iter().map(|r| r.app.to_string()).collect()
    };
    assert_eq!(apps(&f), ["deleted", "live"]);
    f.store.delete_app(&deleted, "t").unwrap();
    assert_eq!(apps(&f), ["live"]);
}

fn manifests_are_found_by_release(backend: Backend) {
    let f = fixture(backend);
    let one = f.build_on(&f.app, 8001);
    let two = f.build_on(&f.app, 8002);
    // An env change before any build makes a release without a build.
    let bare_app = AppName::parse("bare").unwrap();
    f.store.create_app(&bare_app, None, "t").unwrap();
    let bare = f
        .store
        .change_env(&bare_app, &crate::change(&[("A", "1")], &[]), None, "t")
        .unwrap()
        .unwrap()
        .id;
    let found = f
        .store
        .list_manifests(&[one.clone(), two.clone(), bare])
        .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[&one], on_port(8001));
    assert_eq!(found[&two], on_port(8002));
    assert!(f.store.list_manifests(&[]).unwrap().is_empty());
}
