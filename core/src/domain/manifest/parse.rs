//! Validation of a manifest's JSON tree, by hand rather than with serde derives so
//! that every error carries the full field path (`manifest.services.web.port`) and a
//! message saying what is allowed, and so `health` can be a string or an object.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::host::host_name;
use super::json::{
    as_object, boolean, check_range, integer, kind, narrow, object, optional_integer, shown,
    string, too_long,
};
use super::{Health, Manifest, Service, Strategy};
use crate::domain::{InvalidInput, ServiceName};

const MAX_SERVICES: usize = 50;
const MAX_IMAGE_BYTES: usize = 512;
const MAX_COMMAND_BYTES: usize = 8 * 1024;
const MAX_HEALTH_PATH_BYTES: usize = 1024;
const MAX_DOMAINS: usize = 20;

const DEFAULT_GRACE: u32 = 5;
const DEFAULT_INTERVAL: u32 = 5;
const DEFAULT_TIMEOUT: u32 = 4;
const DEFAULT_COUNT: u32 = 1;
pub(super) const DEFAULT_MINIMUM: u8 = 50;
pub(super) const DEFAULT_MAXIMUM: u16 = 200;
const DEFAULT_DRAIN: u32 = 30;
const MAX_DRAIN: u64 = 300;

const TOP_KEYS: &[&str] = &["services"];
const SERVICE_KEYS: &[&str] = &[
    "image",
    "command",
    "port",
    "health",
    "scale",
    "deployment",
    "domains",
    "default",
    "drain",
];
const HEALTH_KEYS: &[&str] = &["path", "grace", "interval", "timeout"];
const SCALE_KEYS: &[&str] = &["count"];
const DEPLOYMENT_KEYS: &[&str] = &["minimum", "maximum"];

pub(super) fn manifest(value: &Value) -> Result<Manifest, InvalidInput> {
    let top = object(value, "manifest", "an object with `services`", TOP_KEYS)?;
    let Some(services) = top.get("services") else {
        return Err(InvalidInput::new("manifest.services", "is required"));
    };
    // Any key is allowed here: keys are service names, checked below.
    let what = "an object mapping service names to services";
    let services = as_object(services, "manifest.services", what)?;
    if services.is_empty() {
        return Err(InvalidInput::new(
            "manifest.services",
            "must define at least one service",
        ));
    }
    if services.len() > MAX_SERVICES {
        return Err(InvalidInput::new(
            "manifest.services",
            format!(
                "defines {} services; the limit is {MAX_SERVICES}",
                services.len()
            ),
        ));
    }
    let mut out = BTreeMap::new();
    // Where each domain was first listed, and which service is the default.
    let mut listed: HashMap<String, String> = HashMap::new();
    let mut default: Option<ServiceName> = None;
    for (name, body) in services {
        let path = format!("manifest.services.{}", shown(name));
        let name = ServiceName::parse(name).map_err(|e| InvalidInput::new(&path, e.message))?;
        let service = service(body, &path)?;
        for (i, domain) in service.domains.iter().enumerate() {
            let here = format!("{path}.domains[{i}]");
            if let Some(first) = listed.get(domain) {
                return Err(InvalidInput::new(
                    here,
                    format!("`{domain}` is listed twice; it is already at {first}"),
                ));
            }
            listed.insert(domain.clone(), here);
        }
        if service.default {
            if let Some(first) = &default {
                return Err(InvalidInput::new(
                    format!("{path}.default"),
                    format!("only one service may be the default, and `{first}` already is"),
                ));
            }
            default = Some(name.clone());
        }
        out.insert(name, service);
    }
    Ok(Manifest { services: out })
}

fn service(value: &Value, path: &str) -> Result<Service, InvalidInput> {
    let map = object(value, path, "an object", SERVICE_KEYS)?;
    let image = map
        .get("image")
        .map(|v| image(v, &format!("{path}.image")))
        .transpose()?;
    let command = map
        .get("command")
        .map(|v| command(v, &format!("{path}.command")))
        .transpose()?;
    if image.is_none() && command.is_none() {
        return Err(InvalidInput::new(
            path,
            "needs `image` (Kubernetes) or `command` (local runtime)",
        ));
    }
    let port = map
        .get("port")
        .map(|v| integer(v, &format!("{path}.port"), 1..=u64::from(u16::MAX)))
        .transpose()?
        .map(narrow);
    let health = match (map.get("health"), port) {
        (Some(v), Some(_)) => Some(health(v, &format!("{path}.health"))?),
        (Some(_), None) => {
            return Err(InvalidInput::new(
                format!("{path}.health"),
                "needs `port`: the health check is an HTTP request to the service's port",
            ))
        }
        (None, Some(_)) => Some(health_with_path("/".to_owned())),
        (None, None) => None,
    };
    let count = match map.get("scale") {
        Some(v) => {
            let path = format!("{path}.scale");
            let scale = object(v, &path, "an object with `count`", SCALE_KEYS)?;
            optional_integer(scale, "count", &path, 0..=100, DEFAULT_COUNT)?
        }
        None => DEFAULT_COUNT,
    };
    let strategy = match map.get("deployment") {
        Some(v) => {
            let path = format!("{path}.deployment");
            let what = "an object with `minimum` and `maximum`";
            let deployment = object(v, &path, what, DEPLOYMENT_KEYS)?;
            let minimum = u32::from(DEFAULT_MINIMUM);
            let minimum = optional_integer(deployment, "minimum", &path, 0..=100, minimum)?;
            let maximum = u32::from(DEFAULT_MAXIMUM);
            let maximum = optional_integer(deployment, "maximum", &path, 100..=200, maximum)?;
            strategy(minimum.into(), maximum.into(), &path)?
        }
        None => Strategy::default(),
    };
    let domains = match map.get("domains") {
        Some(v) => domains(v, &format!("{path}.domains"))?,
        None => Vec::new(),
    };
    if !domains.is_empty() && port.is_none() {
        return Err(InvalidInput::new(
            format!("{path}.domains"),
            "needs `port`: the router sends a domain's requests to the service's port",
        ));
    }
    let default = match map.get("default") {
        Some(v) => boolean(v, &format!("{path}.default"))?,
        None => false,
    };
    if default && port.is_none() {
        return Err(InvalidInput::new(
            format!("{path}.default"),
            "needs `port`: the default service answers the app's own address over HTTP",
        ));
    }
    let drain = optional_integer(map, "drain", path, 0..=MAX_DRAIN, DEFAULT_DRAIN)?;
    Ok(Service {
        image,
        command,
        port,
        health,
        count,
        strategy,
        domains,
        default,
        drain,
    })
}

/// A list of at most [`MAX_DOMAINS`] host names, lower-cased.
fn domains(value: &Value, path: &str) -> Result<Vec<String>, InvalidInput> {
    let Value::Array(items) = value else {
        return Err(InvalidInput::new(
            path,
            format!("must be a list of host names, not {}", kind(value)),
        ));
    };
    if items.len() > MAX_DOMAINS {
        return Err(InvalidInput::new(
            path,
            format!("lists {} domains; the limit is {MAX_DOMAINS}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("{path}[{i}]");
            host_name(string(item, &path)?).map_err(|message| InvalidInput::new(&path, message))
        })
        .collect()
}

/// Builds a strategy from in-range or out-of-range percentages, reporting on `path`.
pub(super) fn strategy(minimum: u64, maximum: u64, path: &str) -> Result<Strategy, InvalidInput> {
    let minimum = check_range(minimum, &format!("{path}.minimum"), 0..=100)?;
    let maximum = check_range(maximum, &format!("{path}.maximum"), 100..=200)?;
    if minimum == 100 && maximum == 100 {
        return Err(InvalidInput::new(
            path,
            "minimum 100 with maximum 100 leaves no room to roll: lower `minimum` or raise `maximum`",
        ));
    }
    Ok(Strategy {
        minimum: narrow(minimum),
        maximum: narrow(maximum),
    })
}

fn image(value: &Value, path: &str) -> Result<String, InvalidInput> {
    let image = string(value, path)?;
    if image.len() > MAX_IMAGE_BYTES {
        return Err(too_long(path, image.len(), MAX_IMAGE_BYTES));
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InvalidInput::new(path, "must not contain whitespace"));
    }
    Ok(image.to_owned())
}

fn command(value: &Value, path: &str) -> Result<String, InvalidInput> {
    let command = string(value, path)?;
    if command.trim().is_empty() {
        return Err(InvalidInput::new(path, "must not be blank"));
    }
    if command.len() > MAX_COMMAND_BYTES {
        return Err(too_long(path, command.len(), MAX_COMMAND_BYTES));
    }
    if command.contains('\0') {
        return Err(InvalidInput::new(path, "must not contain a NUL character"));
    }
    Ok(command.to_owned())
}

fn health(value: &Value, path: &str) -> Result<Health, InvalidInput> {
    if let Value::String(_) = value {
        return Ok(health_with_path(health_path(value, path)?));
    }
    let what = "a path string or an object with `path`";
    let map = object(value, path, what, HEALTH_KEYS)?;
    let Some(path_value) = map.get("path") else {
        return Err(InvalidInput::new(format!("{path}.path"), "is required"));
    };
    Ok(Health {
        path: health_path(path_value, &format!("{path}.path"))?,
        grace: optional_integer(map, "grace", path, 0..=3600, DEFAULT_GRACE)?,
        interval: optional_integer(map, "interval", path, 1..=300, DEFAULT_INTERVAL)?,
        timeout: optional_integer(map, "timeout", path, 1..=60, DEFAULT_TIMEOUT)?,
    })
}

fn health_with_path(path: String) -> Health {
    Health {
        path,
        grace: DEFAULT_GRACE,
        interval: DEFAULT_INTERVAL,
        timeout: DEFAULT_TIMEOUT,
    }
}

fn health_path(value: &Value, path: &str) -> Result<String, InvalidInput> {
    let text = string(value, path)?;
    if !text.starts_with('/') {
        return Err(InvalidInput::new(path, "must start with `/`"));
    }
    if text.len() > MAX_HEALTH_PATH_BYTES {
        return Err(too_long(path, text.len(), MAX_HEALTH_PATH_BYTES));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InvalidInput::new(
            path,
            "must not contain whitespace or control characters",
        ));
    }
    Ok(text.to_owned())
}
