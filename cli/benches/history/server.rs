//! `slipway server api` of the real binary over the bench's schema, quiet
//! (`RUST_LOG=warn`) and without a rate limit, on a port chosen here: ready
//! once `/healthz` answers. Killed when dropped, a panic included.

use super::processes::{free_port, Redis};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_slipway");
pub(crate) const TOKEN: &str = "history-bench-token-0123456789";

pub(crate) struct Api {
    child: Child,
    pub(crate) url: String,
    lines: Arc<Mutex<Vec<String>>>,
    /// The queue the API would put rollouts on: a Redis of its own.
    _redis: Redis,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Api {
    pub(crate) async fn start(database_url: &str, secret_key: &str) -> Api {
        let redis = Redis::start();
        let port = free_port();
        let mut child = Command::new(BIN)
            .args(["server", "api"])
            .env_remove("SLIPWAY_SECRET_KEY_PREVIOUS")
            .env_remove("SLIPWAY_QUEUE_NAMESPACE")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env("SLIPWAY_DATABASE_URL", database_url)
            .env("SLIPWAY_REDIS_URL", &redis.url)
            .env("SLIPWAY_SECRET_KEY", secret_key)
            .env("SLIPWAY_ADMIN_TOKEN", TOKEN)
            .env("SLIPWAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("SLIPWAY_RATE_LIMIT", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run slipway server api");
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let api = Api {
            child,
            url: format!("http://127.0.0.1:{port}"),
            lines,
            _redis: redis,
        };
        api.until_ready().await;
        api
    }

    async fn until_ready(&self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = http.get(format!("{}/healthz", self.url)).send().await;
            if answer.is_ok_and(|a| a.status() == 200) {
                return;
            }
            if Instant::now() >= deadline {
                self.fail("`slipway server api` did not answer /healthz within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Panics with `message` and what the server printed.
    pub(crate) fn fail(&self, message: &str) -> ! {
        let lines = self.lines.lock().unwrap();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        panic!("{message}\n--- slipway server api ---\n{tail}");
    }
}
