//! The connection pool on PostgreSQL, against a database of the test's own
//! that is cut off and restored (every open connection ended by the server).

use slipway_core::testing::TestDatabase;
use std::time::{Duration, Instant};

/// A connection that answered within the last half second is handed out
/// without a `SELECT 1` first. One the server ended in that window fails the
/// one call that gets it, as the database being away, and is then discarded:
/// the next call runs on a new connection.
#[test]
fn a_connection_lost_just_after_it_answered_fails_one_call_and_is_replaced() {
    let db = TestDatabase::postgres_database();
    let store = db.store();
    // The cut must land within the trust window of the last answer; on a
    // machine too busy for that, try again.
    for _ in 0..5 {
        store.list_apps().expect("the database answers");
        let answered = Instant::now();
        db.cut_off();
        db.restore();
        let result = store.list_apps();
        if answered.elapsed() >= Duration::from_millis(400) {
            continue;
        }
        let err = result.expect_err("a connection the server ended");
        assert!(err.is_connection_lost(), "{err:?}");
        store.list_apps().expect("a new connection");
        store.list_apps().expect("and again");
        return;
    }
    panic!("could not cut the connections off within 400 ms of their last answer");
}

/// A connection idle for longer is checked before it is handed out, so a
/// call after an outage succeeds on a new one.
#[test]
fn an_idle_connection_is_checked_before_it_is_handed_out() {
    let db = TestDatabase::postgres_database();
    let store = db.store();
    store.list_apps().expect("the database answers");
    std::thread::sleep(Duration::from_millis(600));
    db.cut_off();
    db.restore();
    store.list_apps().expect("checked, found lost and replaced");
}
