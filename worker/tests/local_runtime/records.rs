//! Instance records: adopted by another runtime, and judged gone when
//! their process is absent or its pid reused.

use super::*;

#[tokio::test]
async fn another_runtime_adopts_what_the_first_started() {
    let h = Harness::new();
    let (polite, stubborn) = {
        let first = h.another_runtime();
        let polite = first
            .start(&spec("shop", &testapp("")))
            .await
            .expect("start");
        let command = format!("trap '' TERM; {}", testapp(""));
        let stubborn = first.start(&spec("shop", &command)).await.expect("start");
        wait_healthy(&first, &polite).await;
        wait_healthy(&first, &stubborn).await;
        (polite, stubborn)
        // `first` is dropped here, as if its worker process had died.
    };

    let second = h.another_runtime();
    let mut listed = second.instances(&name("shop")).await.expect("list");
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![polite.clone(), stubborn.clone()];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, expected);
    let check = health("/health");
    assert_eq!(second.probe(&polite, Some(&check)).await, Probe::Healthy);
    assert_eq!(second.probe(&stubborn, Some(&check)).await, Probe::Healthy);

    let (polite_pid, stubborn_pid) = (h.pid(&polite.id), h.pid(&stubborn.id));
    let started = Instant::now();
    second
        .stop(&polite, Duration::from_secs(10))
        .await
        .expect("stop");
    assert!(started.elapsed() < Duration::from_secs(5));
    wait_dead(polite_pid).await;

    let grace = Duration::from_millis(300);
    let started = Instant::now();
    second.stop(&stubborn, grace).await.expect("stop");
    assert!(started.elapsed() >= grace);
    wait_dead(stubborn_pid).await;

    assert!(second
        .instances(&name("shop"))
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        second.probe(&polite, None).await,
        Probe::Gone("is no longer running".into())
    );
}

#[tokio::test]
async fn records_whose_pid_is_reused_or_absent_are_gone() {
    let h = Harness::new();
    let real =
        h.rt.start(&spec("shop", &testapp("")))
            .await
            .expect("start");
    let template = h.record(&real.id);

    // A record naming this very test process, with another start time: the pid
    // was reused. Stopping it must not signal us.
    let own_pid = std::process::id();
    let own_stat = std::fs::read_to_string(format!("/proc/{own_pid}/stat")).expect("own stat");
    let own_start: u64 = own_stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .and_then(|t| t.parse().ok())
        .expect("start time");
    let reused = write_record(&h, &template, "web-reused-aaaaaa", own_pid, own_start + 1);

    // A record naming a pid that exited and was reaped.
    let mut child = std::process::Command::new("true").spawn().expect("true");
    let absent_pid = child.id();
    child.wait().expect("reaped");
    let absent = write_record(&h, &template, "web-absent-bbbbbb", absent_pid, 0);

    // A corrupt record is skipped, not fatal.
    let corrupt = h
        .state_dir()
        .join("instances")
        .join("web-corrupt-cccccc.json");
    std::fs::write(&corrupt, "{ not json").expect("write");

    let other = h.another_runtime();
    let listed = other.instances(&name("shop")).await.expect("list");
    assert_eq!(listed.len(), 3, "{listed:?}");
    for instance in [&reused, &absent] {
        assert_eq!(
            other.probe(instance, None).await,
            Probe::Gone("is no longer running".into())
        );
        other
            .stop(instance, Duration::from_secs(1))
            .await
            .expect("stop");
        assert!(!h.record_path(&instance.id).exists());
    }
    let unknown = Instance {
        id: "web-never-dddddd".into(),
        ..real.clone()
    };
    assert_eq!(
        other.probe(&unknown, None).await,
        Probe::Gone("is no longer running".into())
    );
    other
        .stop(&unknown, Duration::from_secs(1))
        .await
        .expect("stop unknown");

    h.rt.stop(&real, Duration::from_secs(5))
        .await
        .expect("stop");
    assert!(h
        .rt
        .instances(&name("shop"))
        .await
        .expect("list")
        .is_empty());
}

/// Copies `template` as the record of `id` with another pid and start time.
fn write_record(h: &Harness, template: &Value, id: &str, pid: u32, start_time: u64) -> Instance {
    let mut record = template.clone();
    record["id"] = json!(id);
    record["pid"] = json!(pid);
    record["start_time"] = json!(start_time);
    let bytes = serde_json::to_vec(&record).expect("json");
    std::fs::write(h.record_path(id), bytes).expect("write record");
    Instance {
        id: id.to_owned(),
        app: name(template["app"].as_str().expect("app")),
        service: ServiceName::parse("web").expect("service"),
        release: ReleaseId::parse(template["release"].as_str().expect("release")).expect("release"),
        port: None,
        started_at: chrono::Utc::now(),
        stopping: false,
    }
}
