//! The stand-in's HTTP side: reading a kube client's request (path, verb,
//! query, body) and answering it from the store, as JSON, plain text
//! (logs) or a watch stream.

use super::apply;
use super::logs;
use super::resources::{deleted_status, ApiError, Resource};
use super::selector::{FieldSelector, LabelSelector};
use super::watch::{watch_stream, Body, WatchRequest};
use super::{lock, Shared};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Accepts connections until the task running it is aborted; the
/// connections (and their watches) end with it.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// What a path names: a kind, maybe in a namespace, maybe one object of
/// it, maybe a subresource (`log`).
#[derive(Debug)]
struct Target {
    resource: Resource,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    lock(&shared.requests).push((method.to_string(), path_and_query));
    let path = req.uri().path().to_owned();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(error(&ApiError::bad_request("the body could not be read"))),
    };
    let answer = match discovery(&path) {
        Some(document) if method == Method::GET => Ok(json_response(StatusCode::OK, &document)),
        _ => route(&shared, &method, &path, &query, &content_type, &body),
    };
    Ok(answer.unwrap_or_else(|e| error(&e)))
}

/// The minimal answers to `/version`, `/api` and `/apis`.
fn discovery(path: &str) -> Option<Value> {
    match path.trim_end_matches('/') {
        "/version" => Some(
            json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-standin", "platform": "linux/amd64"}),
        ),
        "/api" => Some(
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        ),
        "/apis" => Some(json!({
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}],
        })),
        _ => None,
    }
}

fn parse_target(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_version, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("v1", rest),
        ["apis", "apps", "v1", rest @ ..] => ("apps/v1", rest),
        _ => return None,
    };
    let owned = |s: &&str| (*s).to_owned();
    let (namespace, plural, name, subresource) = match rest {
        ["namespaces", ns, plural, tail @ ..] if tail.len() <= 2 => {
            (Some(owned(ns)), *plural, tail.first(), tail.get(1))
        }
        [plural, tail @ ..] if tail.len() <= 1 => (None, *plural, tail.first(), None),
        _ => return None,
    };
    let resource = Resource::by_plural(api_version, plural)?;
    if namespace.is_some() && !resource.namespaced {
        return None;
    }
    Some(Target {
        resource,
        namespace,
        name: name.map(owned),
        subresource: subresource.map(owned),
    })
}

fn route(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    content_type: &str,
    body: &Bytes,
) -> Result<Response<Body>, ApiError> {
    let target = parse_target(path).ok_or_else(|| ApiError::no_route(path))?;
    let r = target.resource;
    // A namespaced kind's object lives in a namespace; its collection may be listed across all.
    if r.namespaced
        && target.namespace.is_none()
        && (target.name.is_some() || *method != Method::GET)
    {
        return Err(ApiError::no_route(path));
    }
    let ns = target.namespace.clone().unwrap_or_default();
    let manager = query.get("fieldManager").map_or("unknown", String::as_str);
    match (
        method.clone(),
        target.name.as_deref(),
        target.subresource.as_deref(),
    ) {
        (Method::GET, None, None)
            if matches!(query.get("watch").map(String::as_str), Some("true" | "1")) =>
        {
            let request = WatchRequest::from_query(r, target.namespace.clone(), query)?;
            let stream = watch_stream(shared.clone(), request);
            Ok(Response::builder()
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(stream)
                .expect("a valid response"))
        }
        (Method::GET, None, None) => {
            let (labels, fields) = selectors(query)?;
            let store = lock(&shared.store);
            let items = store.list(r.kind, target.namespace.as_deref(), &labels, &fields);
            Ok(json_response(
                StatusCode::OK,
                &list(r, items, store.resource_version()),
            ))
        }
        (Method::GET, Some(name), None) => {
            let store = lock(&shared.store);
            let object = store
                .get(r.kind, &ns, name)
                .ok_or_else(|| ApiError::not_found(r, name))?;
            Ok(json_response(StatusCode::OK, object))
        }
        (Method::GET, Some(name), Some("log")) if r.kind == "Pod" => {
            logs::pod_log(shared, &ns, name, query)
        }
        (Method::POST, None, None) => {
            let mut object = parse_body(body)?;
            stamp_kind(&mut object, r, &ns)?;
            apply::record_manager(&mut object, manager, "Update", &super::store::now());
            let created = lock(&shared.store).create(object)?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        (Method::PATCH, Some(name), None) => {
            patch(shared, r, &ns, name, manager, content_type, body)
        }
        (Method::PUT, Some(name), None) => {
            let mut object = parse_body(body)?;
            stamp_kind(&mut object, r, &ns)?;
            let mut store = lock(&shared.store);
            let existing = store
                .get(r.kind, &ns, name)
                .ok_or_else(|| ApiError::not_found(r, name))?;
            check_version(&object, existing, r, name)?;
            let mut replaced = apply::replace(existing, &object);
            apply::record_manager(&mut replaced, manager, "Update", &super::store::now());
            Ok(json_response(StatusCode::OK, &store.update(replaced)?))
        }
        (Method::DELETE, Some(name), None) => {
            let deleted = lock(&shared.store).delete(r, &ns, name)?;
            let uid = deleted["metadata"]["uid"].as_str().unwrap_or_default();
            let answer = if r.kind == "Pod" {
                deleted.clone()
            } else {
                deleted_status(r, name, uid)
            };
            Ok(json_response(StatusCode::OK, &answer))
        }
        (Method::DELETE, None, None) => {
            let (labels, fields) = selectors(query)?;
            let mut store = lock(&shared.store);
            let doomed = store.list(r.kind, target.namespace.as_deref(), &labels, &fields);
            let mut deleted = Vec::new();
            for object in doomed {
                let name = object["metadata"]["name"].as_str().unwrap_or_default();
                let object_ns = object["metadata"]["namespace"].as_str().unwrap_or_default();
                if let Ok(gone) = store.delete(r, object_ns, name) {
                    deleted.push(gone);
                }
            }
            Ok(json_response(
                StatusCode::OK,
                &list(r, deleted, store.resource_version()),
            ))
        }
        _ => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

fn patch(
    shared: &Arc<Shared>,
    r: Resource,
    ns: &str,
    name: &str,
    manager: &str,
    content_type: &str,
    body: &Bytes,
) -> Result<Response<Body>, ApiError> {
    let patch = parse_body(body)?;
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let mut store = lock(&shared.store);
    let existing = store.get(r.kind, ns, name).cloned();
    if let Some(existing) = &existing {
        check_version(&patch, existing, r, name)?;
    }
    let now = super::store::now();
    match (media, existing) {
        ("application/apply-patch+yaml", None) => {
            let mut object = patch;
            stamp_kind(&mut object, r, ns)?;
            object["metadata"]["name"] = json!(name);
            apply::record_manager(&mut object, manager, "Apply", &now);
            Ok(json_response(StatusCode::CREATED, &store.create(object)?))
        }
        ("application/apply-patch+yaml", Some(existing)) => {
            let mut object = patch;
            stamp_kind(&mut object, r, ns)?;
            let mut applied = apply::apply(&existing, &object);
            apply::record_manager(&mut applied, manager, "Apply", &now);
            Ok(json_response(StatusCode::OK, &store.update(applied)?))
        }
        (
            "application/merge-patch+json" | "application/strategic-merge-patch+json",
            Some(mut object),
        ) => {
            apply::merge_patch(&mut object, &patch);
            apply::record_manager(&mut object, manager, "Update", &now);
            Ok(json_response(StatusCode::OK, &store.update(object)?))
        }
        ("application/merge-patch+json" | "application/strategic-merge-patch+json", None) => {
            Err(ApiError::not_found(r, name))
        }
        (other, _) => Err(ApiError::unsupported_media_type(other)),
    }
}

/// Refuses a write that names a resourceVersion other than the stored one
/// (optimistic concurrency); a write naming none is not checked.
fn check_version(body: &Value, existing: &Value, r: Resource, name: &str) -> Result<(), ApiError> {
    match body["metadata"]["resourceVersion"].as_str() {
        Some(version)
            if !version.is_empty() && existing["metadata"]["resourceVersion"] != version =>
        {
            Err(ApiError::conflict(r, name))
        }
        _ => Ok(()),
    }
}

/// Reads a request body as JSON (an apply's YAML body is JSON, which is YAML).
fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
}

/// Sets `kind`, `apiVersion` and the namespace of the path on a written
/// object, refusing a body that names another kind or namespace.
fn stamp_kind(object: &mut Value, r: Resource, ns: &str) -> Result<(), ApiError> {
    if !object.is_object() || !object["metadata"].is_object() {
        return Err(ApiError::bad_request(
            "the body is not an object with metadata",
        ));
    }
    if object.get("kind").is_some_and(|k| k != r.kind) {
        return Err(ApiError::bad_request(format!(
            "the body's kind is not {}",
            r.kind
        )));
    }
    let body_ns = object["metadata"]["namespace"].as_str().unwrap_or(ns);
    if r.namespaced && body_ns != ns {
        return Err(ApiError::bad_request(
            "the namespace of the object does not match the namespace on the request",
        ));
    }
    object["kind"] = json!(r.kind);
    object["apiVersion"] = json!(r.api_version);
    if r.namespaced {
        object["metadata"]["namespace"] = json!(ns);
    }
    Ok(())
}

fn selectors(query: &HashMap<String, String>) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str));
    let fields = FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str));
    Ok((
        labels.map_err(ApiError::bad_request)?,
        fields.map_err(ApiError::bad_request)?,
    ))
}

fn list(r: Resource, items: Vec<Value>, rv: u64) -> Value {
    json!({
        "apiVersion": r.api_version,
        "kind": format!("{}List", r.kind),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    })
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(value.to_string())).boxed_unsync())
        .expect("a valid response")
}

fn error(e: &ApiError) -> Response<Body> {
    json_response(
        StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &e.status(),
    )
}
