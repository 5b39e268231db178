//! The API over HTTP: URLs built from escaped segments, the token as a
//! bearer, and API errors turned into one readable line.

use super::Exit;
use reqwest::{Method, Url};
use serde_json::Value;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The event stream sends a keep-alive every 15 s: silence this long means
/// the connection is gone.
const STREAM_SILENCE: Duration = Duration::from_secs(45);

/// Attempts of one request when the connection fails or a proxy answers
/// 502/503/504: writes carry an `Idempotency-Key`, so a repeat never does
/// the work twice.
const ATTEMPTS: u32 = 3;
const RETRY_WAIT: Duration = Duration::from_secs(1);

pub struct Api {
    client: reqwest::Client,
    host: Url,
    token: Option<String>,
    /// The `Idempotency-Key` of this command's first write; later writes
    /// add `.2`, `.3`, ...
    idempotency_key: String,
    writes: std::sync::atomic::AtomicU32,
}

/// A key for a command run that was given none: random, so only its own
/// retries share it.
pub fn random_idempotency_key() -> String {
    let token = slipway_core::secret::generate_token();
    format!("cli-{}", &token.expose()[4..28])
}

impl Api {
    pub fn new(host: &str, token: Option<String>) -> anyhow::Result<Api> {
        Api::with_idempotency_key(host, token, random_idempotency_key())
    }

    pub fn with_idempotency_key(
        host: &str,
        token: Option<String>,
        idempotency_key: String,
    ) -> anyhow::Result<Api> {
        let host = parse_host(host)?;
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(STREAM_SILENCE)
            .user_agent(concat!("slipway-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Api {
            client,
            host,
            token,
            idempotency_key,
            writes: std::sync::atomic::AtomicU32::new(0),
        })
    }

    pub fn host(&self) -> &str {
        self.host.as_str().trim_end_matches('/')
    }

    /// The URL of `segments` (each escaped) under the host, with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.host.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (k, v.as_str())));
        }
        url
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let request = self.client.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get(&self, segments: &[&str]) -> anyhow::Result<Value> {
        self.call(Method::GET, segments, &[], None).await
    }

    /// [`Api::call`] with a request body of the contract
    /// (`slipway_core::contract::CreateApp`, ...).
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: &impl serde::Serialize,
    ) -> anyhow::Result<Value> {
        let body = serde_json::to_value(body)?;
        self.call(method, segments, &[], Some(&body)).await
    }

    /// One request; the JSON answer (`null` for an empty one), or the API's
    /// error as one line. A POST or PATCH carries this command's
    /// `Idempotency-Key`; any request is tried again when the connection
    /// fails or a gateway answers 502, 503 or 504.
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let key = matches!(method, Method::POST | Method::PATCH).then(|| {
            use std::sync::atomic::Ordering;
            match self.writes.fetch_add(1, Ordering::Relaxed) {
                0 => self.idempotency_key.clone(),
                n => format!("{}.{}", self.idempotency_key, n + 1),
            }
        });
        let url = self.url(segments, query);
        let mut attempt = 1;
        loop {
            let mut request = self
                .request(method.clone(), url.clone())
                .timeout(REQUEST_TIMEOUT);
            if let Some(key) = &key {
                request = request.header("idempotency-key", key);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let answer = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    response.text().await.map(|text| (status, text))
                }
                Err(err) => Err(err),
            };
            let retry = match &answer {
                Err(_) => true,
                Ok((status, _)) => matches!(status.as_u16(), 502..=504),
            };
            if retry && attempt < ATTEMPTS {
                tokio::time::sleep(RETRY_WAIT * attempt).await;
                attempt += 1;
                continue;
            }
            let (status, text) = answer.map_err(|e| self.unreachable(&e))?;
            return self.answer(status, &text);
        }
    }

    /// An answer read into its contract type (`slipway_core::contract`);
    /// fields a newer server added are ignored.
    pub fn read<T: serde::de::DeserializeOwned>(&self, answer: &Value) -> anyhow::Result<T> {
        T::deserialize(answer).map_err(|err| {
            anyhow::anyhow!(
                "{} answered with something this slipway cannot read ({err})",
                self.host()
            )
        })
    }

    fn answer(&self, status: reqwest::StatusCode, text: &str) -> anyhow::Result<Value> {
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(text).map_err(|_| {
                anyhow::anyhow!(
                    "{} answered {status} with something that is not JSON",
                    self.host()
                )
            });
        }
        Err(api_error(status, text).into())
    }

    /// Opens the deployment's event stream, after event `after`.
    pub async fn events(
        &self,
        segments: &[&str],
        after: Option<&str>,
    ) -> anyhow::Result<reqwest::Response> {
        self.stream(segments, &[], after).await
    }

    /// Opens a server-sent event stream at `segments` with `query`, after
    /// event `after`.
    pub async fn stream(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        after: Option<&str>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self
            .request(Method::GET, self.url(segments, query))
            .header("accept", "text/event-stream");
        if let Some(after) = after {
            request = request.header("last-event-id", after);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if matches!(status.as_u16(), 502..=504) {
            // A gateway, or the API restarting: the stream can come back.
            return Err(anyhow::anyhow!("{} answered {status}", self.host()));
        }
        let text = response.text().await.unwrap_or_default();
        Err(api_error(status, &text).into())
    }

    /// A transport failure, with its innermost cause (`Connection refused`).
    pub fn unreachable(&self, err: &reqwest::Error) -> anyhow::Error {
        let mut cause: &dyn std::error::Error = err;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let what = if err.is_timeout() {
            "timed out".to_owned()
        } else {
            cause.to_string()
        };
        anyhow::anyhow!("cannot reach Slipway at {}: {what}", self.host())
    }
}

pub fn parse_host(raw: &str) -> anyhow::Result<Url> {
    let bad = || {
        anyhow::anyhow!(
            "invalid host `{}`: expected a URL such as http://127.0.0.1:8080",
            super::clip(raw)
        )
    };
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let url = Url::parse(&with_scheme).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad());
    }
    Ok(url)
}

/// `{"error": {"code", "message"}}` as one line; anything else by status.
fn api_error(status: reqwest::StatusCode, text: &str) -> Exit {
    let body: Option<Value> = serde_json::from_str(text).ok();
    let message = body
        .as_ref()
        .and_then(|b| b["error"]["message"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("unexpected answer")
                .to_lowercase()
        });
    let hint = match status.as_u16() {
        401 => " (set SLIPWAY_TOKEN or --token, or run `slipway login HOST`)",
        _ => "",
    };
    Exit::error(format!("{message}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_urls() {
        assert_eq!(
            parse_host("127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        assert!(parse_host("https://slipway.example.com/base").is_ok());
        for bad in ["", "ftp://x", "http://", "http://x/?a=1", "::::"] {
            assert!(parse_host(bad).is_err(), "{bad}");
        }
    }

    /// A real socket that answers every request with `status`.
    fn answering(status: &'static str) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let _ = stream.read(&mut [0u8; 4096]);
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        url
    }

    #[tokio::test]
    async fn event_streams_behind_a_failing_gateway_can_be_resumed() {
        for status in [
            "502 Bad Gateway",
            "503 Service Unavailable",
            "504 Gateway Timeout",
        ] {
            let api = Api::new(&answering(status), None).unwrap();
            let err = api.events(&["events"], None).await.unwrap_err();
            assert!(err.downcast_ref::<Exit>().is_none(), "{status}: {err}");
        }
        // The API's own refusals end the wait at once.
        let api = Api::new(&answering("404 Not Found"), None).unwrap();
        let err = api.events(&["events"], None).await.unwrap_err();
        assert!(err.downcast_ref::<Exit>().is_some(), "{err}");
    }

    #[test]
    fn segments_are_escaped() {
        let api = Api::new("http://h:1/base/", None).unwrap();
        let url = api.url(&["apps", "a/b?c"], &[("limit", "5".into())]);
        assert_eq!(url.as_str(), "http://h:1/base/apps/a%2Fb%3Fc?limit=5");
    }
}
