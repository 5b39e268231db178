//! What a receiver's answer, or its failure, means for the next attempt:
//! `Retry-After`, and an error text safe to log; reading the answer so its
//! connection is kept.

use chrono::Utc;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use std::time::Duration;

/// Longest `Retry-After` honoured; a receiver cannot park a delivery forever.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After` as seconds or an HTTP date, capped at a day.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&Utc) - Utc::now()).to_std().ok()?
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// What went wrong, without the URL (a Slack URL's path is its secret).
pub(super) fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("no answer within {}s", timeout.as_secs_f64());
    }
    let mut text = String::from(if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    });
    let mut next = std::error::Error::source(err);
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}

/// Longest answer read to keep a connection; a longer one closes it.
const DRAIN_LIMIT: usize = 64 * 1024;

/// Reads the answer's body (up to [`DRAIN_LIMIT`]) and hands back its head.
/// Failing to read it fails no delivery: the status came first.
pub(super) async fn drain(mut response: reqwest::Response) -> Answer {
    let mut read = 0;
    while read <= DRAIN_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
    Answer {
        status: response.status(),
        headers: std::mem::take(response.headers_mut()),
    }
}

/// What is kept of a receiver's answer.
pub(super) struct Answer {
    status: StatusCode,
    headers: HeaderMap,
}

impl Answer {
    pub(super) fn status(&self) -> StatusCode {
        self.status
    }

    pub(super) fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates_and_caps_them() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("999999999"));
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        let later = (Utc::now() + chrono::TimeDelta::seconds(120)).to_rfc2822();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
