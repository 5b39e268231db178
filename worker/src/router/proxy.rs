//! One proxied request: find the service by host, pick an instance, pass
//! the request on with the forwarding headers, stream the answer back (or
//! tunnel a WebSocket), and answer for the instance when none can.

use super::headers::{
    content_length, host_of, request_id, strip_hop_by_hop, wants_upgrade, TRACEPARENT,
    X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, X_REQUEST_ID,
};
use super::table::{Backend, InFlight, Route, Table};
use super::RouterConfig;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, LengthLimitError, Limited};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry::trace::{Status, TraceContextExt};
use slipway_core::trace_context::{format_traceparent, parse_traceparent};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;

/// A request whose instance refused the connection, or (for idempotent
/// methods) closed it without answering, is tried on another instance, up to
/// this many in all; only requests without a body, which can be sent again
/// as they were.
const ATTEMPTS: usize = 3;

pub struct Proxy {
    table: Arc<Table>,
    client: Client<HttpConnector, Body>,
    config: RouterConfig,
}

impl Proxy {
    pub fn new(table: Arc<Table>, config: RouterConfig) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(config.idle_timeout)
            .build(connector);
        Proxy {
            table,
            client,
            config,
        }
    }

    /// Answers one request: the instance's answer, or the router's own.
    pub async fn serve(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let id = request_id(req.headers());
        let span = tracing::info_span!(
            "router request",
            otel.kind = "server",
            http.request.method = %req.method(),
            url.path = req.uri().path(),
            request_id = %id.to_str().unwrap_or_default(),
            app = tracing::field::Empty,
            service = tracing::field::Empty,
            instance = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
        );
        let incoming = req
            .headers()
            .get(&TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_traceparent);
        if let Some(parent) = incoming {
            let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
        }
        let mut response = self
            .forward(req, peer, &id, &span)
            .instrument(span.clone())
            .await;
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.set_status(Status::error(status.to_string()));
        }
        response.headers_mut().insert(X_REQUEST_ID.clone(), id);
        response
    }

    async fn forward(
        &self,
        mut req: Request<Incoming>,
        peer: SocketAddr,
        id: &HeaderValue,
        span: &tracing::Span,
    ) -> Response<Body> {
        let host = match host_of(&req) {
            Ok(host) => host,
            Err(why) => return answer(StatusCode::BAD_REQUEST, "bad_host", why),
        };
        let pool = match self.table.route(&host) {
            Route::Unknown => {
                return answer(
                    StatusCode::NOT_FOUND,
                    "unknown_host",
                    "no app answers at this host",
                )
            }
            Route::Service((app, service), pool) => {
                span.record("app", app.as_str());
                span.record("service", service.as_str());
                pool
            }
        };
        if let Some(length) = content_length(req.headers()) {
            if length > self.config.max_body {
                return too_large(self.config.max_body);
            }
        }
        let upgrade = wants_upgrade(req.headers());
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        self.outgoing_headers(&mut parts.headers, peer, &host, id, upgrade, span);
        // A request without a body can be sent again as it was.
        let replayable = hyper::body::Body::is_end_stream(&body);
        let mut body = Some(Limited::new(body, self.config.max_body as usize).boxed());
        let mut tried: Vec<Arc<Backend>> = Vec::new();
        let mut failure = None;
        loop {
            let Some(guard) = pool.pick(&tried) else {
                return failure.unwrap_or_else(no_instance);
            };
            let backend = guard.backend().clone();
            span.record("instance", backend.id.as_str());
            let mut upstream = Request::from_parts(parts.clone(), empty());
            *upstream.uri_mut() = instance_uri(backend.addr, &parts.uri);
            if let Some(body) = body.take() {
                *upstream.body_mut() = body;
            }
            let sent = tokio::time::timeout(
                self.config.first_byte_timeout,
                self.client.request(upstream),
            );
            match sent.await {
                Err(_) => {
                    return answer(
                        StatusCode::GATEWAY_TIMEOUT,
                        "instance_timeout",
                        format!(
                            "the instance did not answer within {} s",
                            self.config.first_byte_timeout.as_secs_f64()
                        ),
                    )
                }
                Ok(Ok(response)) => return self.pass_back(response, guard, client_upgrade),
                Ok(Err(error)) if caused_by_limit(&error) => {
                    return too_large(self.config.max_body)
                }
                Ok(Err(error)) => {
                    // Refused: nothing reached the instance. Closed without an
                    // answer: it may have acted, so only idempotent methods go
                    // again (a pooled connection of an instance just killed
                    // fails this way).
                    let refused_here = error.is_connect();
                    if refused_here {
                        tracing::warn!(instance = %backend.id, %error, "instance refused a connection; taken out until healthy");
                        backend.eject();
                    } else {
                        tracing::warn!(instance = %backend.id, %error, "instance failed to answer");
                    }
                    tried.push(backend);
                    let failed = if refused_here { refused() } else { closed() };
                    let again = refused_here || parts.method.is_idempotent();
                    if !(replayable && again) || tried.len() >= ATTEMPTS {
                        return failed;
                    }
                    failure = Some(failed);
                }
            }
        }
    }

    /// The headers the instance gets: the client's, less those about its
    /// connection, plus who asked, how and under which id and trace.
    fn outgoing_headers(
        &self,
        headers: &mut HeaderMap,
        peer: SocketAddr,
        host: &str,
        id: &HeaderValue,
        upgrade: bool,
        span: &tracing::Span,
    ) {
        let upgrade_to = headers.get(header::UPGRADE).cloned();
        strip_hop_by_hop(headers);
        if let (true, Some(protocol)) = (upgrade, upgrade_to) {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, protocol);
        }
        let client = peer.ip().to_string();
        let forwarded_for = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(earlier) => format!("{earlier}, {client}"),
            None => client,
        };
        if let Ok(value) = HeaderValue::try_from(forwarded_for) {
            headers.insert(X_FORWARDED_FOR.clone(), value);
        }
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
        if let Ok(value) = HeaderValue::try_from(host) {
            headers.insert(X_FORWARDED_HOST.clone(), value);
        }
        headers.insert(X_REQUEST_ID.clone(), id.clone());
        // With spans exported, the instance's parent is this request's span;
        // otherwise the client's `traceparent` passes through as it came.
        let context = span.context();
        let span_context = context.span().span_context().clone();
        if span_context.is_valid() {
            if let Ok(value) = HeaderValue::try_from(format_traceparent(&span_context)) {
                headers.insert(TRACEPARENT.clone(), value);
            }
        }
    }

    /// The instance's answer, its body streamed and counted in flight until
    /// it ends; a `101 Switching Protocols` joins the two connections.
    fn pass_back(
        &self,
        mut response: Response<Incoming>,
        guard: InFlight,
        client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    ) -> Response<Body> {
        if let (StatusCode::SWITCHING_PROTOCOLS, Some(client)) = (response.status(), client_upgrade)
        {
            let instance = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                let _in_flight = guard;
                match tokio::try_join!(client, instance) {
                    Ok((client, instance)) => {
                        let (mut client, mut instance) =
                            (TokioIo::new(client), TokioIo::new(instance));
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut instance).await;
                    }
                    Err(error) => tracing::debug!(%error, "an upgraded connection did not open"),
                }
            });
            let (parts, _) = response.into_parts();
            return Response::from_parts(parts, empty());
        }
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let body = Tracked {
            inner: body.map_err(BoxError::from).boxed(),
            _in_flight: guard,
        };
        Response::from_parts(parts, body.boxed())
    }
}

/// A response body that keeps its request counted in flight until it ends.
struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn empty() -> Body {
    Empty::new().map_err(BoxError::from).boxed()
}

/// The router's own answer: `{"error": {"code", "message"}}`, as the API's.
pub fn answer(status: StatusCode, code: &str, message: impl Into<String>) -> Response<Body> {
    let body = serde_json::json!({ "error": { "code": code, "message": message.into() } });
    let mut response = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(BoxError::from)
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn no_instance() -> Response<Body> {
    let mut response = answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "no_instance",
        "no healthy instance of this service is running; try again shortly",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn refused() -> Response<Body> {
    answer(
        StatusCode::BAD_GATEWAY,
        "instance_unreachable",
        "no instance of this service accepted the connection",
    )
}

fn closed() -> Response<Body> {
    answer(
        StatusCode::BAD_GATEWAY,
        "instance_failed",
        "the instance closed the connection without answering",
    )
}

fn too_large(limit: u64) -> Response<Body> {
    answer(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the request body is over the router's limit of {limit} bytes"),
    )
}

fn caused_by_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

fn instance_uri(addr: SocketAddr, original: &Uri) -> Uri {
    let path = original.path_and_query().map_or("/", |p| p.as_str());
    Uri::try_from(format!("http://{addr}{path}")).expect("an address and a parsed path make a URI")
}
