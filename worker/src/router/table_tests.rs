//! The routing table alone: balancing, draining, membership.

use super::*;
use chrono::Utc;

fn instance(id: &str, port: u16) -> Instance {
    Instance {
        id: id.into(),
        app: "shop".parse().unwrap(),
        service: "web".parse().unwrap(),
        release: "RAAAAAAAAAA".parse().unwrap(),
        port: Some(port),
        started_at: Utc::now(),
        stopping: false,
    }
}

fn table(instances: &[Instance]) -> (Table, Arc<Pool>) {
    let table = Table::default();
    let key: Key = ("shop".parse().unwrap(), "web".parse().unwrap());
    table.set_hosts(HashMap::from([("web.shop.localhost".to_string(), key)]));
    table.sync(instances, Instant::now());
    let Route::Service(_, pool) = table.route("web.shop.localhost") else {
        panic!("the host is routed");
    };
    (table, pool)
}

#[test]
fn only_healthy_instances_are_picked_the_least_busy_first() {
    let (a, b) = (instance("a", 1), instance("b", 2));
    let (table, pool) = table(&[a.clone(), b.clone()]);
    assert!(pool.pick(&[]).is_none(), "nothing is healthy yet");
    table.admit(&a);
    let first = pool.pick(&[]).unwrap();
    assert_eq!(first.backend().id, "a");
    table.admit(&b);
    let second = pool.pick(&[]).unwrap();
    assert_eq!(second.backend().id, "b", "a is busier");
    drop(first);
    assert_eq!(pool.pick(&[]).unwrap().backend().id, "a");
    let tried = [second.backend().clone()];
    assert_eq!(pool.pick(&tried).unwrap().backend().id, "a");
}

#[test]
fn unknown_hosts_route_nowhere() {
    let (table, _) = table(&[]);
    assert!(matches!(table.route("api.shop.localhost"), Route::Unknown));
}

#[tokio::test]
async fn a_drain_waits_for_requests_in_flight_and_takes_no_new_ones() {
    let (a, b) = (instance("a", 1), instance("b", 2));
    let (table, pool) = table(&[a.clone(), b.clone()]);
    table.admit(&a);
    let request = pool.pick(&[]).unwrap();
    let drained = tokio::spawn({
        let table = Arc::new(table);
        let a = a.clone();
        async move {
            let left = table.drain(&a, Duration::from_secs(5)).await;
            (table, left)
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!drained.is_finished(), "a request is still in flight");
    assert!(
        pool.pick(&[]).is_none(),
        "a draining instance takes no request"
    );
    drop(request);
    let (table, left) = drained.await.unwrap();
    assert_eq!(left, 0);
    table.admit(&a);
    assert!(
        pool.pick(&[]).is_none(),
        "a drained instance never comes back"
    );
}

#[tokio::test]
async fn a_drain_gives_up_at_its_timeout() {
    let a = instance("a", 1);
    let (table, pool) = table(std::slice::from_ref(&a));
    table.admit(&a);
    let _stuck = pool.pick(&[]).unwrap();
    assert_eq!(table.drain(&a, Duration::from_millis(20)).await, 1);
}

#[test]
fn stopping_and_gone_instances_leave_the_pool() {
    let (a, mut b) = (instance("a", 1), instance("b", 2));
    let (table, _) = table(&[a.clone(), b.clone()]);
    table.admit(&a);
    table.admit(&b);
    b.stopping = true;
    let known = table.sync(&[b.clone()], Instant::now());
    assert_eq!(known.len(), 1);
    assert_eq!(known[0].state(), State::Draining);
    let Route::Service(_, pool) = table.route("web.shop.localhost") else {
        panic!("the host is routed");
    };
    assert!(pool.pick(&[]).is_none());
}

fn snapshot(table: &Table) -> Arc<Snapshot> {
    table.snapshot.read().unwrap().clone()
}

#[test]
fn announcing_names_already_routed_changes_nothing_and_keeps_them_routed() {
    let app: AppName = "shop".parse().unwrap();
    let manifest = Manifest::from_json(&serde_json::json!({
        "services": { "web": { "command": "run", "port": 80 } }
    }))
    .unwrap();
    let table = Table::default();
    table.announce(&app, &manifest);
    let first = snapshot(&table);
    let hosts: Vec<&String> = first.hosts.keys().collect();
    assert!(!hosts.is_empty(), "a first announcement routes the names");
    // What the feed reads once the release is active: the same names.
    table.set_hosts(first.hosts.clone());
    let read = snapshot(&table);
    table.announce(&app, &manifest);
    assert!(
        Arc::ptr_eq(&read, &snapshot(&table)),
        "names already routed: nothing published"
    );
    // The feed no longer reads them (say the store is behind): announced,
    // they stay routed.
    table.set_hosts(HashMap::new());
    assert_eq!(snapshot(&table).hosts, first.hosts);
}
