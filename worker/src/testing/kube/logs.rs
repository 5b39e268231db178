//! Pods' logs: the lines the scripted containers write, and the `log`
//! subresource that reads them.

use super::resources::{ApiError, Resource};
use super::watch::Body;
use super::{lock, Shared};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Response;
use std::collections::{BTreeMap, HashMap};

/// Each container's log lines, by `(namespace, pod)`.
#[derive(Debug, Default)]
pub struct Logs(BTreeMap<(String, String), Vec<(String, String)>>);

impl Logs {
    pub fn push(&mut self, namespace: &str, pod: &str, container: &str, line: String) {
        let key = (namespace.to_owned(), pod.to_owned());
        self.0
            .entry(key)
            .or_default()
            .push((container.to_owned(), line));
    }

    pub fn lines(&self, namespace: &str, pod: &str, container: &str) -> Vec<String> {
        let key = (namespace.to_owned(), pod.to_owned());
        let lines = self.0.get(&key).map(Vec::as_slice).unwrap_or_default();
        lines
            .iter()
            .filter(|(c, _)| c == container)
            .map(|(_, l)| l.clone())
            .collect()
    }
}

/// Answers `GET .../pods/{name}/log`: the container's lines as plain text
/// (`container` needed when the pod has several; `tailLines` honoured).
pub fn pod_log(
    shared: &Shared,
    ns: &str,
    name: &str,
    query: &HashMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    let pods = Resource::by_kind("Pod").expect("served");
    let containers: Vec<String> = {
        let store = lock(&shared.store);
        let pod = store
            .get("Pod", ns, name)
            .ok_or_else(|| ApiError::not_found(pods, name))?;
        let names = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        names
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect()
    };
    let container = match (query.get("container"), containers.as_slice()) {
        (Some(c), _) if containers.contains(c) => c.clone(),
        (Some(c), _) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        (None, [only]) => only.clone(),
        (None, _) => {
            let message = format!(
                "a container name must be specified for pod {name}, choose one of: {containers:?}"
            );
            return Err(ApiError::bad_request(message));
        }
    };
    let lines = lock(&shared.logs).lines(ns, name, &container);
    let tail = query
        .get("tailLines")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let text: String = lines[lines.len().saturating_sub(tail)..]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    Ok(Response::builder()
        .header(hyper::header::CONTENT_TYPE, "text/plain")
        .body(Full::new(Bytes::from(text)).boxed_unsync())
        .expect("a valid response"))
}
