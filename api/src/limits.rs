//! Request limits: a write rate per token, and the length of the path and
//! headers (body limits are per route, in `routes::config`).

use crate::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use slipway_core::domain::TokenId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Longest path with its query string, in bytes.
pub const MAX_URI_BYTES: usize = 2048;
/// Longest value of one header, in bytes.
pub const MAX_HEADER_BYTES: usize = 8192;

/// Refuses requests whose path or a header is over its limit, before
/// anything else looks at them.
pub async fn check_sizes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let uri = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong(format!(
            "the path and query are {uri} bytes; the limit is {MAX_URI_BYTES}"
        ))
        .into());
    }
    if let Some((name, _)) = req
        .headers()
        .iter()
        .find(|(_, value)| value.len() > MAX_HEADER_BYTES)
    {
        return Err(ApiError::HeaderTooLarge(format!(
            "header `{name}` is over the {MAX_HEADER_BYTES}-byte limit"
        ))
        .into());
    }
    next.call(req).await
}

/// A token bucket per token: `per_minute` writes a minute, in bursts of up
/// to as many. Per process: each API replica counts on its own.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<TokenId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    available: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_minute == 0` turns the limit off.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one write from `token`'s bucket, or says in how many whole
    /// seconds one will be available.
    pub fn check(&self, token: &TokenId) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(token.clone()).or_insert(Bucket {
            available: capacity,
            at: now,
        });
        let refilled = now.duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.available = (bucket.available + refilled).min(capacity);
        bucket.at = now;
        if bucket.available >= 1.0 {
            bucket.available -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.available) / per_second;
            // At least one second: `Retry-After` counts whole seconds.
            Err((wait.ceil() as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_says_when() {
        let limiter = RateLimiter::new(3);
        let (a, b) = (TokenId::generate(), TokenId::generate());
        for _ in 0..3 {
            assert_eq!(limiter.check(&a), Ok(()));
        }
        // 3 a minute: the next write is 20 s away.
        assert_eq!(limiter.check(&a), Err(20));
        assert_eq!(limiter.check(&b), Ok(()), "buckets are per token");
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = RateLimiter::new(0);
        let token = TokenId::generate();
        assert!((0..1000).all(|_| limiter.check(&token).is_ok()));
    }
}
