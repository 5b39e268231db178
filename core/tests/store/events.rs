//! The event log read back: typed by kind, and a kind this version does not
//! know is an error, never a panic.

use crate::{fixture, on_both_backends};
use slipway_core::events::{EventKind, EventPayload};
use slipway_core::store::{Backend, StoreError};

on_both_backends!(
    events_read_back_typed_by_their_kind,
    an_unknown_kind_in_the_database_is_an_error,
);

fn events_read_back_typed_by_their_kind(backend: Backend) {
    let f = fixture(backend);
    let (build, release) = f.build(None);
    let events = f.store.list_events(Some(&f.app)).unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::AppCreated,
            EventKind::BuildCreated,
            EventKind::ReleaseCreated
        ]
    );
    for event in &events {
        assert_eq!(event.payload().unwrap().kind(), event.kind);
    }
    match events[1].payload().unwrap() {
        EventPayload::BuildCreated(created) => assert_eq!(created.build, build),
        other => panic!("{other:?}"),
    }
    match events[2].payload().unwrap() {
        EventPayload::ReleaseCreated(created) => assert_eq!(created.release, release),
        other => panic!("{other:?}"),
    }
}

fn an_unknown_kind_in_the_database_is_an_error(backend: Backend) {
    let f = fixture(backend);
    f.db.execute("UPDATE events SET kind = 'app.renamed'");
    let err = f.store.list_events(Some(&f.app)).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(message) if message.contains("app.renamed")),
        "{err:?}"
    );
}
