//! The build manifest (Convox's `convox.yml`, sent as JSON over the API): the
//! services an app runs, with their image or command, port, health check, scale,
//! rolling-deployment strategy, and how the router reaches them (custom domains,
//! the app's default service, the drain time). Validation lives in `parse`,
//! host names in `host`.

mod host;
mod json;
mod parse;
#[cfg(test)]
mod routing_tests;
pub mod schema;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::domain::{InvalidInput, ServiceName};

/// A validated manifest: at least one and at most 50 services, all defaults filled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    services: BTreeMap<ServiceName, Service>,
}

impl Manifest {
    /// Validates a JSON manifest; errors name the offending field as
    /// `manifest.services.<name>.<key>...`.
    pub fn from_json(value: &Value) -> Result<Manifest, InvalidInput> {
        parse::manifest(value)
    }

    /// Reads a manifest from any serde format (the CLI feeds YAML through here) and
    /// validates it like [`Manifest::from_json`].
    pub fn from_deserializer<'de, D: Deserializer<'de>>(d: D) -> Result<Manifest, InvalidInput> {
        // Going through a JSON tree keeps one validator, with full control over
        // field paths and messages, for every input format.
        let value = Value::deserialize(d)
            .map_err(|e| InvalidInput::new("manifest", format!("could not be read: {e}")))?;
        Self::from_json(&value)
    }

    /// The services by name.
    pub fn services(&self) -> &BTreeMap<ServiceName, Service> {
        &self.services
    }

    /// The service the app's own address (`<app>.<router host>`) reaches: the
    /// one with `default: true`, else the only service with a port, else none.
    pub fn default_service(&self) -> Option<&ServiceName> {
        if let Some((name, _)) = self.services.iter().find(|(_, s)| s.default) {
            return Some(name);
        }
        let mut with_port = self.services.iter().filter(|(_, s)| s.port.is_some());
        match (with_port.next(), with_port.next()) {
            (Some((name, _)), None) => Some(name),
            _ => None,
        }
    }

    /// The canonical form: every default filled in, `health` always an object (and
    /// absent exactly when there is no `port`), `drain` always there, `domains`
    /// only when there are some and `default` only when true. Parses back to an
    /// equal manifest.
    pub fn to_json(&self) -> Value {
        let services: Map<String, Value> = self
            .services
            .iter()
            .map(|(name, service)| (name.to_string(), service.to_json()))
            .collect();
        json!({ "services": services })
    }
}

impl Serialize for Manifest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Manifest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Manifest::from_json(&value).map_err(serde::de::Error::custom)
    }
}

/// One service of a manifest. It has an image (run on Kubernetes), a command (run
/// by the local runtime, or overriding the image's), or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    image: Option<String>,
    command: Option<String>,
    port: Option<u16>,
    health: Option<Health>,
    count: u32,
    strategy: Strategy,
    domains: Vec<String>,
    default: bool,
    drain: u32,
}

impl Service {
    /// The container image reference, e.g. `ghcr.io/acme/web:1.2`.
    pub fn image(&self) -> Option<&str> {
        self.image.as_deref()
    }

    /// The command line to run.
    pub fn command(&self) -> Option<&str> {
        self.command.as_deref()
    }

    /// The port the service listens on (passed to it as `$PORT`).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The HTTP health check; present exactly when the service has a port.
    pub fn health(&self) -> Option<&Health> {
        self.health.as_ref()
    }

    /// The desired number of instances (0-100).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// How a rolling deployment may shrink and grow the service.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Custom host names the router sends to this service (lower case, at
    /// most 20, each claimed by one app; only on a service with a port).
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    /// Whether the manifest marks this service as the app's default (see
    /// [`Manifest::default_service`] for the one that answers).
    pub fn is_default(&self) -> bool {
        self.default
    }

    /// Seconds requests already sent to an instance being stopped may take
    /// to finish (0-300, default 30).
    pub fn drain(&self) -> u32 {
        self.drain
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(image) = &self.image {
            out.insert("image".into(), json!(image));
        }
        if let Some(command) = &self.command {
            out.insert("command".into(), json!(command));
        }
        if let Some(port) = self.port {
            out.insert("port".into(), json!(port));
        }
        if let Some(health) = &self.health {
            let Health {
                path,
                grace,
                interval,
                timeout,
            } = health;
            out.insert(
                "health".into(),
                json!({ "path": path, "grace": grace, "interval": interval, "timeout": timeout }),
            );
        }
        out.insert("scale".into(), json!({ "count": self.count }));
        out.insert(
            "deployment".into(),
            json!({ "minimum": self.strategy.minimum, "maximum": self.strategy.maximum }),
        );
        if !self.domains.is_empty() {
            out.insert("domains".into(), json!(self.domains));
        }
        if self.default {
            out.insert("default".into(), json!(true));
        }
        out.insert("drain".into(), json!(self.drain));
        Value::Object(out)
    }
}

/// An HTTP health check against the service's port. Times are in seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    path: String,
    grace: u32,
    interval: u32,
    timeout: u32,
}

impl Health {
    /// The request path, starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Seconds after start before failures count (0-3600, default 5).
    pub fn grace(&self) -> u32 {
        self.grace
    }

    /// Seconds between checks (1-300, default 5).
    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// Seconds before a check counts as failed (1-60, default 4).
    pub fn timeout(&self) -> u32 {
        self.timeout
    }
}

/// Rolling-deployment bounds, in percent of `scale.count` (Convox's names): at
/// least `minimum` healthy, at most `maximum` running during a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strategy {
    minimum: u8,
    maximum: u16,
}

impl Strategy {
    /// Checks `minimum` 0-100, `maximum` 100-200 and that they leave room to roll.
    pub fn new(minimum: u8, maximum: u16) -> Result<Self, InvalidInput> {
        parse::strategy(u64::from(minimum), u64::from(maximum), "deployment")
    }

    /// Percent of instances that must stay healthy (0-100, default 50).
    pub fn minimum(&self) -> u8 {
        self.minimum
    }

    /// Percent of instances that may run at once (100-200, default 200).
    pub fn maximum(&self) -> u16 {
        self.maximum
    }
}

impl Default for Strategy {
    fn default() -> Self {
        Self {
            minimum: parse::DEFAULT_MINIMUM,
            maximum: parse::DEFAULT_MAXIMUM,
        }
    }
}
