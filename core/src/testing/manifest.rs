//! Manifests as tests write them: a builder of services that gives the same
//! manifest as a parsed [`Manifest`] (for the store), as JSON (for API
//! bodies) or as YAML (a `slipway.yml` for the CLI), so no test file keeps a
//! `manifest(...)` function of its own.

use crate::domain::Manifest;
use serde_json::{json, Map, Value};
use std::fmt::Display;

/// A manifest under construction: its services in order, and the app it
/// names (only `slipway.yml` carries one).
#[derive(Clone, Debug, Default)]
pub struct ManifestBuilder {
    app: Option<String>,
    services: Map<String, Value>,
}

impl ManifestBuilder {
    /// A manifest without services (add some before building it).
    pub fn new() -> ManifestBuilder {
        ManifestBuilder::default()
    }

    /// A manifest of one service named `web`.
    pub fn web(service: ServiceBuilder) -> ManifestBuilder {
        ManifestBuilder::new().service("web", service)
    }

    /// Adds (or replaces) the service `name`.
    pub fn service(mut self, name: &str, service: ServiceBuilder) -> ManifestBuilder {
        self.services
            .insert(name.to_owned(), Value::Object(service.0));
        self
    }

    /// Names the app, as `slipway.yml`'s `app:` key does; not part of
    /// [`ManifestBuilder::json`] nor of [`ManifestBuilder::build`].
    pub fn app(mut self, name: &str) -> ManifestBuilder {
        self.app = Some(name.to_owned());
        self
    }

    /// The manifest as the API takes it: `{"services": {...}}`.
    pub fn json(&self) -> Value {
        json!({ "services": self.services })
    }

    /// The manifest parsed; panics with the reason when it is invalid.
    pub fn build(&self) -> Manifest {
        Manifest::from_json(&self.json())
            .unwrap_or_else(|e| panic!("an invalid test manifest ({e}): {}", self.json()))
    }

    /// The manifest as a `slipway.yml`, with `app:` first when named.
    pub fn yaml(&self) -> String {
        let mut top = Map::new();
        if let Some(app) = &self.app {
            top.insert("app".to_owned(), Value::String(app.clone()));
        }
        top.insert("services".to_owned(), Value::Object(self.services.clone()));
        serde_yaml_ng::to_string(&top).expect("a manifest as YAML")
    }
}

/// One service of a [`ManifestBuilder`]: only the keys a test sets.
#[derive(Clone, Debug, Default)]
pub struct ServiceBuilder(Map<String, Value>);

impl ServiceBuilder {
    /// A service with no keys set.
    pub fn new() -> ServiceBuilder {
        ServiceBuilder::default()
    }

    /// The test app (`slipway-testapp` at `path`) run with `flags`, on
    /// port 8000, one instance, health-checked on `/health` every second
    /// from its start (no grace) with a one-second timeout.
    pub fn testapp(path: impl Display, flags: &str) -> ServiceBuilder {
        ServiceBuilder::new()
            .command(format!("'{path}' {flags}"))
            .port(8000)
            .health("/health")
            .grace(0)
            .interval(1)
            .timeout(1)
            .count(1)
    }

    pub fn command(self, command: impl Into<String>) -> ServiceBuilder {
        self.set("command", Value::String(command.into()))
    }

    pub fn image(self, image: impl Into<String>) -> ServiceBuilder {
        self.set("image", Value::String(image.into()))
    }

    pub fn port(self, port: u16) -> ServiceBuilder {
        self.set("port", json!(port))
    }

    /// The health check's path; [`grace`](Self::grace),
    /// [`interval`](Self::interval) and [`timeout`](Self::timeout) tune it.
    pub fn health(self, path: &str) -> ServiceBuilder {
        self.health_key("path", json!(path))
    }

    /// Seconds after start before the health check counts.
    pub fn grace(self, seconds: u32) -> ServiceBuilder {
        self.health_key("grace", json!(seconds))
    }

    pub fn interval(self, seconds: u32) -> ServiceBuilder {
        self.health_key("interval", json!(seconds))
    }

    pub fn timeout(self, seconds: u32) -> ServiceBuilder {
        self.health_key("timeout", json!(seconds))
    }

    /// How many instances run (`scale.count`).
    pub fn count(self, count: u32) -> ServiceBuilder {
        self.set("scale", json!({ "count": count }))
    }

    /// The rollout strategy: `minimum` and `maximum` percent.
    pub fn strategy(self, minimum: u32, maximum: u32) -> ServiceBuilder {
        self.set(
            "deployment",
            json!({ "minimum": minimum, "maximum": maximum }),
        )
    }

    /// The custom domains the service answers on.
    pub fn domains(self, domains: &[&str]) -> ServiceBuilder {
        self.set("domains", json!(domains))
    }

    /// Seconds the router drains an instance before it stops.
    pub fn drain(self, seconds: u32) -> ServiceBuilder {
        self.set("drain", json!(seconds))
    }

    /// Marks the service as the app's default one.
    pub fn default_service(self) -> ServiceBuilder {
        self.set("default", Value::Bool(true))
    }

    fn set(mut self, key: &str, value: Value) -> ServiceBuilder {
        self.0.insert(key.to_owned(), value);
        self
    }

    fn health_key(mut self, key: &str, value: Value) -> ServiceBuilder {
        let health = self
            .0
            .entry("health")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(health) = health {
            health.insert(key.to_owned(), value);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::{ManifestBuilder, ServiceBuilder};
    use serde_json::json;

    #[test]
    fn the_test_app_service_is_what_the_tests_ran_before() {
        let manifest = ManifestBuilder::web(ServiceBuilder::testapp("/bin/app", "--x").count(2));
        assert_eq!(
            manifest.json(),
            json!({ "services": { "web": {
                "command": "'/bin/app' --x",
                "port": 8000,
                "health": { "path": "/health", "grace": 0, "interval": 1, "timeout": 1 },
                "scale": { "count": 2 },
            }}})
        );
        assert_eq!(manifest.build().services().len(), 1);
    }

    #[test]
    fn yaml_names_the_app_and_parses_back_to_the_same_services() {
        let manifest = ManifestBuilder::new()
            .app("shop")
            .service("web", ServiceBuilder::new().command("run").port(80))
            .service("worker", ServiceBuilder::new().command("work"));
        let yaml = manifest.yaml();
        assert!(yaml.starts_with("app: shop\n"), "{yaml}");
        let back: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(back["services"], manifest.json()["services"]);
    }
}
