//! The real `slipway` binary end to end: servers, rollouts on real
//! processes, PostgreSQL and Redis.

mod rollouts;
mod servers;
mod support;
