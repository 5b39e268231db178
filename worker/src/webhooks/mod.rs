//! Webhook deliveries: the SSRF-guarded resolver, Standard Webhooks signing
//! and Slack message formatting.

pub mod resolve;
pub mod sign;
pub mod slack;
