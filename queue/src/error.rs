//! [`QueueError`], and keeping the Redis URL (which may carry a password) out
//! of every message.

use std::fmt;

/// Why a queue operation failed. Messages never include the Redis URL (it may
/// carry a password), and carry the cause as text so no error chain can either.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The key prefix is empty, too long, or has characters Redis keys should not.
    #[error("invalid queue namespace {0:?}: use 1 to 64 characters from A-Z a-z 0-9 _ - . :")]
    InvalidNamespace(String),
    /// The URL did not parse as a Redis URL.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    /// Redis did not answer (or refused the credentials) when connecting.
    #[error("cannot connect to Redis: {0}")]
    Connect(String),
    /// A command failed after connecting (Redis down, timeout, script error).
    #[error("Redis queue operation failed: {0}")]
    Redis(String),
    /// The in-process consumer is gone, so nothing would ever run the job.
    #[error("the in-process job queue is closed: its consumer has stopped")]
    Closed,
    /// A consumer was configured with values it cannot run with.
    #[error("invalid job consumer configuration: {0}")]
    InvalidConfig(String),
}

/// `error` as text, with the URL and its password blanked out should the
/// Redis client ever echo them.
pub(crate) fn redact(error: &dyn fmt::Display, url: &str) -> String {
    let mut text = error.to_string();
    if !url.is_empty() {
        text = text.replace(url, "[redis url]");
    }
    if let Some(password) = url_password(url) {
        text = text.replace(password, "[redacted]");
    }
    text
}

/// The password in `scheme://user:password@host/...`, if there is one.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then_some(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_the_url_and_its_password() {
        let url = "redis://user:hunter2@redis.internal:6379/0";
        assert_eq!(url_password(url), Some("hunter2"));
        assert_eq!(url_password("redis://:p%40ss@host"), Some("p%40ss"));
        assert_eq!(url_password("redis://host:6379"), None);
        assert_eq!(url_password("redis://user@host"), None);
        let message = format!("failed for {url}; auth hunter2 refused");
        let clean = redact(&message, url);
        assert!(!clean.contains("hunter2"), "{clean}");
        assert_eq!(clean, "failed for [redis url]; auth [redacted] refused");
    }
}
