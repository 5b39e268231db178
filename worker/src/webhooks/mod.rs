//! Webhook deliveries: the delivery loop and its retry schedule, the
//! SSRF-guarded resolver, Standard Webhooks signing and Slack messages.

mod answer;
pub mod deliver;
pub mod resolve;
pub mod schedule;
pub mod sign;
pub mod slack;

pub use deliver::{Deliverer, DeliveryConfig};
pub use schedule::RetrySchedule;
