//! What runs, as supervisors report it: a pass's reports of many apps
//! written at once, each replacing what was known of its app.

use crate::{fixture, on_both_backends};
use chrono::Utc;
use slipway_core::domain::{AppName, ReleaseId, ServiceName};
use slipway_core::store::{Backend, Process, ProcessStatus};

on_both_backends!(a_pass_replaces_what_runs_of_each_app_it_reports);

fn process(id: &str, status: ProcessStatus) -> Process {
    Process {
        id: id.to_owned(),
        service: ServiceName::parse("web").unwrap(),
        release: ReleaseId::parse("RABCDEFGHIJ").unwrap(),
        status,
        restarts: 0,
        port: Some(20_000),
        started_at: Utc::now(),
    }
}

fn ids(processes: &[Process]) -> Vec<&str> {
    processes.iter().map(|p| p.id.as_str()).collect()
}

fn a_pass_replaces_what_runs_of_each_app_it_reports(backend: Backend) {
    let f = fixture(backend);
    let (shop, mail, gone) = (
        f.app.clone(),
        AppName::parse("mail").unwrap(),
        AppName::parse("gone").unwrap(),
    );
    f.store.create_app(&mail, None, "tester").unwrap();
    f.store.create_app(&gone, None, "tester").unwrap();
    let first = [
        (shop.clone(), vec![process("a", ProcessStatus::Running)]),
        (mail.clone(), vec![process("b", ProcessStatus::Running)]),
    ];
    f.store.report_processes_of(&first).unwrap();
    f.store.delete_app(&gone, "tester").unwrap();

    let second = [
        (
            shop.clone(),
            vec![
                process("a", ProcessStatus::Stopping),
                process("c", ProcessStatus::Starting),
            ],
        ),
        (gone.clone(), vec![process("d", ProcessStatus::Running)]),
    ];
    f.store.report_processes_of(&second).unwrap();
    let now = f.store.list_processes(&shop).unwrap();
    assert_eq!(ids(&now), ["a", "c"]);
    assert_eq!(now[0].status, ProcessStatus::Stopping);
    assert_eq!(
        ids(&f.store.list_processes(&mail).unwrap()),
        ["b"],
        "an app left out of a pass keeps what was reported"
    );
    f.store.report_processes_of(&[]).unwrap();
    f.store
        .report_processes_of(&[(mail.clone(), vec![])])
        .unwrap();
    assert!(f.store.list_processes(&mail).unwrap().is_empty());
    // A deleted app's report is dropped: nothing of it outlives its
    // teardown. (Its row brought back to read its processes.)
    f.db.execute("UPDATE apps SET deleted_at = NULL WHERE name = 'gone'");
    assert!(f.store.list_processes(&gone).unwrap().is_empty());
}
