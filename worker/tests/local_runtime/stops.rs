//! Stopping instances (groups, the SIGTERM grace, all at once, how a stop
//! in progress is listed), and a service the local runtime cannot start.

use super::*;

#[tokio::test]
async fn stop_terminates_the_whole_group_and_forgets_the_instance() {
    let h = Harness::new();
    // Written in the app's working directory, the one place it may write.
    let bg_pid_file = h.state_dir().join("apps").join("shop").join("bg.pid");
    // A background process in the same group, as a shell script might leave.
    let command = format!("sleep 300 & echo $! > bg.pid; {}", testapp(""));
    let instance = h.rt.start(&spec("shop", &command)).await.expect("start");
    wait_healthy(&h.rt, &instance).await;
    let pid = h.pid(&instance.id);
    let bg_pid: i32 = std::fs::read_to_string(&bg_pid_file)
        .expect("bg pid")
        .trim()
        .parse()
        .expect("a pid");
    assert!(alive(pid) && alive(bg_pid));

    let started = Instant::now();
    h.rt.stop(&instance, Duration::from_secs(10))
        .await
        .expect("stop");
    // Well under the grace: SIGTERM did it, not SIGKILL.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    wait_dead(pid).await;
    wait_dead(bg_pid).await;

    assert_eq!(
        h.rt.probe(&instance, None).await,
        Probe::Gone("is no longer running".into())
    );
    assert!(!h.record_path(&instance.id).exists());
    assert!(h
        .rt
        .instances(&name("shop"))
        .await
        .expect("list")
        .is_empty());
    let log = std::fs::read_to_string(h.log_path("shop", &instance.id)).expect("log kept");
    let port = instance.port.expect("port");
    assert!(
        log.contains(&format!("testapp listening on 127.0.0.1:{port}")),
        "{log:?}"
    );

    // Stopping again is fine.
    h.rt.stop(&instance, Duration::from_secs(1))
        .await
        .expect("second stop");
}

#[tokio::test]
async fn an_instance_ignoring_sigterm_is_killed_after_the_grace() {
    let h = Harness::new();
    let command = format!("trap '' TERM; {}", testapp(""));
    let instance =
        h.rt.start(&spec("stubborn", &command))
            .await
            .expect("start");
    wait_healthy(&h.rt, &instance).await;
    let pid = h.pid(&instance.id);

    let grace = Duration::from_millis(500);
    let started = Instant::now();
    h.rt.stop(&instance, grace).await.expect("stop");
    let took = started.elapsed();
    assert!(took >= grace, "stopped after {took:?}, before the grace");
    assert!(took < grace + Duration::from_secs(4), "took {took:?}");
    wait_dead(pid).await;
    assert!(!h.record_path(&instance.id).exists());
}

#[tokio::test]
async fn stop_all_stops_every_instance_at_once() {
    let h = Harness::new();
    let stubborn = format!("trap '' TERM; {}", testapp(""));
    let mut instances = Vec::new();
    for app in ["shop", "shop", "blog"] {
        instances.push(h.rt.start(&spec(app, &stubborn)).await.expect("start"));
    }
    for instance in &instances {
        wait_healthy(&h.rt, instance).await;
    }
    let pids: Vec<i32> = instances.iter().map(|i| h.pid(&i.id)).collect();

    let grace = Duration::from_secs(1);
    let started = Instant::now();
    h.rt.stop_all(grace).await;
    let took = started.elapsed();
    // One grace, not three: the stops ran concurrently.
    assert!(took >= grace && took < grace * 5 / 2, "took {took:?}");
    for pid in pids {
        wait_dead(pid).await;
    }
    for app in ["shop", "blog"] {
        assert!(h.rt.instances(&name(app)).await.expect("list").is_empty());
    }
}

#[tokio::test]
async fn a_service_without_command_cannot_run_locally() {
    let h = Harness::new();
    let mut spec = spec("shop", "unused");
    spec.command = None;
    match h.rt.start(&spec).await {
        Err(RuntimeError::Failed(message)) => assert_eq!(
            message,
            "service web has no command; the local runtime runs `command`"
        ),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(h
        .rt
        .instances(&name("shop"))
        .await
        .expect("list")
        .is_empty());
}

/// An instance that takes its time over SIGTERM is listed as stopping until
/// it is gone, then not at all: never as a live instance that then vanishes.
#[tokio::test]
async fn an_instance_being_stopped_is_listed_as_stopping() {
    let h = Harness::new();
    let started =
        h.rt.start(&spec(
            "slow",
            "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done",
        ))
        .await
        .expect("start");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!h.rt.instances(&name("slow")).await.expect("list")[0].stopping);
    let stopping = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        h.rt.instances(&name("slow")).await.expect("list")
    };
    let (stopped, listed) = tokio::join!(h.rt.stop(&started, Duration::from_secs(5)), stopping);
    stopped.expect("stop");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].stopping, "{listed:?}");
    assert!(h
        .rt
        .instances(&name("slow"))
        .await
        .expect("list")
        .is_empty());
}
