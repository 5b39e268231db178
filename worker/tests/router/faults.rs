//! The router when instances fail: health ejection and return, refused
//! connections (and idempotent requests closed without an answer) tried
//! elsewhere, and its own answers (503, 502, 504, 413,
//! 431) when no instance can give one.

use super::{error_of, raw, rig};
use slipway_core::store::Backend;
use slipway_core::testing::wait_until;
use std::collections::HashSet;
use std::time::Duration;

use super::support::{self, testapp_manifest};

#[tokio::test]
async fn an_instance_failing_its_health_check_is_taken_out_until_it_passes() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let release = rig.running(testapp_manifest("", 2)).await;
    rig.serves(&release).await;
    let instances = rig.instances().await;
    let sick = &instances[0];
    let direct = |path: &str| format!("http://127.0.0.1:{}{path}", sick.port.unwrap());
    let answered_by = || async {
        let mut seen = HashSet::new();
        for _ in 0..12 {
            seen.insert(rig.web("/env/SLIPWAY_INSTANCE").await.1);
        }
        seen
    };
    rig.http.get(direct("/health/down")).send().await.unwrap();
    let healthy = HashSet::from([instances[1].id.clone()]);
    wait_until("the sick instance is taken out", answered_by, |seen| {
        seen == &healthy
    })
    .await;
    rig.http.get(direct("/health/up")).send().await.unwrap();
    wait_until("the instance is back", answered_by, |seen| seen.len() == 2).await;
}

#[tokio::test]
async fn a_refused_connection_is_tried_on_another_instance() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let release = rig.running(testapp_manifest("", 2)).await;
    rig.serves(&release).await;
    // Killed behind the runtime's back: its record still says it runs.
    let victim = support::processes_of(rig.app.as_str())[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim.pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    for _ in 0..20 {
        assert_eq!(rig.web("/").await, (200, release.to_string()));
    }
}

/// `method /sleep/5000` through the router to the first of two instances
/// (the second sick until the request is under way), the second back in
/// rotation, then the first killed under the request: what the client gets.
async fn killed_under_a_request(method: reqwest::Method) -> (u16, String, String) {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let release = rig.running(testapp_manifest("", 2)).await;
    rig.serves(&release).await;
    let instances = rig.instances().await;
    let (dying, spare) = (&instances[0], &instances[1]);
    let spare_health = |path: &str| {
        let url = format!("http://127.0.0.1:{}/health/{path}", spare.port.unwrap());
        rig.http.get(url).send()
    };
    let answered_by = || async {
        let mut seen = HashSet::new();
        for _ in 0..12 {
            seen.insert(rig.web("/env/SLIPWAY_INSTANCE").await.1);
        }
        seen
    };
    spare_health("down").await.unwrap();
    let alone = HashSet::from([dying.id.clone()]);
    wait_until("one instance in rotation", answered_by, |seen| {
        seen == &alone
    })
    .await;
    let sent = rig
        .http
        .request(method, format!("http://{}/sleep/5000", rig.router()))
        .header("host", rig.host("web"))
        .send();
    let pending = tokio::spawn(async move {
        let response = sent.await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    spare_health("up").await.unwrap();
    // Back in rotation, it takes every request: the other has one in flight.
    wait_until("the spare back in rotation", answered_by, |seen| {
        seen.contains(&spare.id)
    })
    .await;
    assert!(
        !pending.is_finished(),
        "killed while the request is under way"
    );
    let marker = format!("SLIPWAY_INSTANCE={}", dying.id);
    let victim = support::processes_of(rig.app.as_str())
        .into_iter()
        .find(|process| {
            let environ = std::fs::read(format!("/proc/{}/environ", process.pid));
            environ.is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == marker.as_bytes()))
        })
        .expect("the dying instance's process");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim.pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let (status, body) = pending.await.unwrap();
    (status, body, release.to_string())
}

#[tokio::test]
async fn an_idempotent_request_whose_instance_dies_under_it_is_tried_on_another() {
    let (status, body, release) = killed_under_a_request(reqwest::Method::GET).await;
    assert_eq!((status, body), (200, release));
}

#[tokio::test]
async fn a_post_whose_instance_dies_under_it_is_not_sent_again() {
    let (status, body, _) = killed_under_a_request(reqwest::Method::POST).await;
    assert_eq!(status, 502, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error["error"]["code"], "instance_failed");
}

#[tokio::test]
async fn with_no_healthy_instance_the_router_answers_503() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let release = rig.running(testapp_manifest("", 1)).await;
    rig.serves(&release).await;
    for instance in rig.instances().await {
        rig.runtime.stop(&instance, Duration::ZERO).await.unwrap();
    }
    let host = rig.host("web");
    let response = wait_until(
        "the router has no instance",
        || rig.get(&host, "/"),
        |response| response.status() == 503,
    )
    .await;
    assert_eq!(response.headers()["retry-after"], "1");
    let (_, error) = error_of(response).await;
    assert_eq!(error["code"], "no_instance");
}

#[tokio::test]
async fn an_instance_that_does_not_answer_in_time_gets_504() {
    let rig = rig(Backend::Sqlite, |config| {
        config.first_byte_timeout = Duration::from_millis(300)
    })
    .await;
    let release = rig.running(testapp_manifest("", 1)).await;
    rig.serves(&release).await;
    let (status, error) = error_of(rig.get(&rig.host("web"), "/sleep/3000").await).await;
    assert_eq!(status, 504);
    assert_eq!(error["code"], "instance_timeout");
}

#[tokio::test]
async fn an_instance_dying_under_a_request_gets_502() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let release = rig.running(testapp_manifest("", 1)).await;
    rig.serves(&release).await;
    let host = rig.host("web");
    let pending = rig.get(&host, "/sleep/3000");
    let kill = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        for process in support::processes_of(rig.app.as_str()) {
            let pid = nix::unistd::Pid::from_raw(process.pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    };
    let (response, ()) = tokio::join!(pending, kill);
    let (status, error) = error_of(response).await;
    assert_eq!(status, 502);
    assert_eq!(error["code"], "instance_failed");
}

#[tokio::test]
async fn oversized_requests_are_refused() {
    let rig = rig(Backend::Sqlite, |config| {
        config.max_body = 1024;
        config.max_header = 8192;
    })
    .await;
    let release = rig.running(testapp_manifest("", 1)).await;
    rig.serves(&release).await;
    let url = format!("http://{}/", rig.router());
    let fits = rig
        .http
        .post(&url)
        .header("host", rig.host("web"))
        .body(vec![b'x'; 1024]);
    assert_eq!(fits.send().await.unwrap().status(), 200);
    let over = rig
        .http
        .post(&url)
        .header("host", rig.host("web"))
        .body(vec![b'x'; 1025]);
    let (status, error) = error_of(over.send().await.unwrap()).await;
    assert_eq!(status, 413);
    assert_eq!(error["code"], "body_too_large");
    let long = "y".repeat(10_000);
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nX-Long: {long}\r\n\r\n",
        rig.host("web")
    );
    let answer = raw(rig.router(), request.as_bytes(), "\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn an_idle_client_connection_is_closed() {
    let rig = rig(Backend::Sqlite, |config| {
        config.idle_timeout = Duration::from_millis(300)
    })
    .await;
    let release = rig.running(testapp_manifest("", 1)).await;
    rig.serves(&release).await;
    let request = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", rig.host("web"));
    let mut stream = tokio::net::TcpStream::connect(rig.router()).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    // The answer, then the end of the connection once it has been idle.
    let answer = super::read_until(&mut stream, "never appears").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(release.as_str()), "{answer}");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");
}
