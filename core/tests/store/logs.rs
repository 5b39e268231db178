//! Shipped log lines: appended in order, capped per app (the oldest go),
//! read back by service, time and position, and nothing for a deleted app.

use crate::{fixture, on_both_backends};
use slipway_core::domain::{AppName, ServiceName};
use slipway_core::store::{
    AppLogs, Backend, LogOffset, LogQuery, NewLogLine, StoreError, LOG_LINES_KEPT,
};

on_both_backends!(
    lines_are_kept_up_to_the_cap_and_read_in_order,
    many_apps_ship_in_one_write,
);

fn lines(service: &str, from: i64, count: i64) -> Vec<NewLogLine> {
    (from..from + count)
        .map(|n| NewLogLine {
            service: ServiceName::parse(service).unwrap(),
            instance: format!("{service}-r1-abcdef"),
            line: format!("line {n}"),
        })
        .collect()
}

fn lines_are_kept_up_to_the_cap_and_read_in_order(backend: Backend) {
    let f = fixture(backend);
    let all = |after| LogQuery {
        limit: LOG_LINES_KEPT + 100,
        after,
        ..LogQuery::default()
    };
    let mut shipped = 0;
    while shipped < LOG_LINES_KEPT + 5 {
        let batch = 2_000.min(LOG_LINES_KEPT + 5 - shipped);
        f.store
            .append_logs(&f.app, &lines("web", shipped, batch), &[])
            .unwrap();
        shipped += batch;
    }
    let kept = f.store.list_logs(&f.app, &all(0)).unwrap();
    assert_eq!(kept.len() as i64, LOG_LINES_KEPT);
    assert_eq!(kept[0].line, "line 5", "the oldest went first");
    assert_eq!(
        kept.last().unwrap().line,
        format!("line {}", LOG_LINES_KEPT + 4)
    );
    assert!(kept.windows(2).all(|w| w[0].seq < w[1].seq));
    // At the cap, each line shipped pushes the oldest out.
    f.store
        .append_logs(&f.app, &lines("web", LOG_LINES_KEPT + 5, 3), &[])
        .unwrap();
    let kept = f.store.list_logs(&f.app, &all(0)).unwrap();
    assert_eq!(kept.len() as i64, LOG_LINES_KEPT);
    assert_eq!(kept[0].line, "line 8");

    let long = "é".repeat(10_000);
    let mut worker = lines("worker", 0, 1);
    worker[0].line = long;
    f.store.append_logs(&f.app, &worker, &[]).unwrap();
    let after = kept.last().unwrap().seq;
    let newer = f.store.list_logs(&f.app, &all(after)).unwrap();
    assert_eq!(newer.len(), 1);
    assert_eq!(newer[0].line.len(), 8 * 1024, "cut at a character");
    assert_eq!(
        f.store.list_logs(&f.app, &all(0)).unwrap().len() as i64,
        LOG_LINES_KEPT
    );
    let web_only = LogQuery {
        service: Some(ServiceName::parse("web").unwrap()),
        limit: 3,
        ..LogQuery::default()
    };
    let web: Vec<_> = f.store.list_logs(&f.app, &web_only).unwrap();
    assert_eq!(web.len(), 3);
    assert!(web.iter().all(|l| l.service.as_str() == "web"));

    let other = AppName::parse("nope").unwrap();
    let err = f.store.list_logs(&other, &all(0)).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    f.store
        .append_logs(&other, &lines("web", 0, 1), &[])
        .unwrap();

    // How far each instance was shipped goes with its lines.
    let at = |instance: &str, next| LogOffset {
        instance: instance.to_owned(),
        next,
    };
    let shipped = [
        at("web-r1-abcdef", Some(42)),
        at("worker-r1-abcdef", Some(7)),
    ];
    f.store
        .append_logs(&f.app, &lines("web", 0, 1), &shipped)
        .unwrap();
    let mut offsets = f.store.list_log_offsets(&f.app).unwrap();
    offsets.sort();
    let expected = [
        ("web-r1-abcdef".to_owned(), 42),
        ("worker-r1-abcdef".to_owned(), 7),
    ];
    assert_eq!(offsets, expected);
    let moved = [at("web-r1-abcdef", Some(50)), at("worker-r1-abcdef", None)];
    f.store.append_logs(&f.app, &[], &moved).unwrap();
    let offsets = f.store.list_log_offsets(&f.app).unwrap();
    let expected = [("web-r1-abcdef".to_owned(), 50)];
    assert_eq!(offsets, expected, "a gone instance is forgotten");
}

/// A supervisor's pass: the lines and offsets of many apps in one call, more
/// lines than one insert carries, offsets replaced and forgotten, and
/// nothing for an app deleted meanwhile.
fn many_apps_ship_in_one_write(backend: Backend) {
    let f = fixture(backend);
    let name = |n: &str| AppName::parse(n).unwrap();
    let (other, deleted) = (name("other"), name("deleted"));
    for app in [&other, &deleted] {
        f.store.create_app(app, None, "tester").unwrap();
    }
    let at = |instance: &str, next| LogOffset {
        instance: instance.to_owned(),
        next,
    };
    let before = [at("web-r1-abcdef", Some(5)), at("web-r0-old", Some(9))];
    f.store.append_logs(&f.app, &[], &before).unwrap();
    f.store.delete_app(&deleted, "tester").unwrap();

    let shipped = [
        AppLogs {
            app: f.app.clone(),
            lines: lines("web", 0, 2_500),
            offsets: vec![at("web-r1-abcdef", Some(100)), at("web-r0-old", None)],
        },
        AppLogs {
            app: other.clone(),
            lines: lines("worker", 0, 2),
            offsets: vec![at("worker-r1-abcdef", Some(3))],
        },
        AppLogs {
            app: deleted.clone(),
            lines: lines("web", 0, 1),
            offsets: vec![at("web-r9-gone", Some(1))],
        },
    ];
    f.store.append_logs_of(&shipped).unwrap();

    let all = LogQuery {
        limit: 10_000,
        ..LogQuery::default()
    };
    let mine = f.store.list_logs(&f.app, &all).unwrap();
    let texts: Vec<String> = mine.iter().map(|l| l.line.clone()).collect();
    let expected: Vec<String> = (0..2_500).map(|n| format!("line {n}")).collect();
    assert_eq!(texts, expected, "every line, in order");
    let theirs = f.store.list_logs(&other, &all).unwrap();
    assert_eq!(theirs.len(), 2);
    assert!(theirs.iter().all(|l| l.service.as_str() == "worker"));

    let mut offsets = f
        .store
        .list_log_offsets_of(&[f.app.clone(), other, deleted])
        .unwrap();
    offsets.sort();
    let expected = [
        ("web-r1-abcdef".to_owned(), 100),
        ("worker-r1-abcdef".to_owned(), 3),
    ];
    assert_eq!(
        offsets, expected,
        "replaced, forgotten, none for the deleted app"
    );
}
