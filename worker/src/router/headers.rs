//! The headers a router reads and writes: the host a request is for, its
//! id, and which headers are about one connection and not passed on.

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::Request;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Headers about one connection, not passed on (RFC 9110, 7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

/// The request's host, lower case and without its port: from `Host`, or
/// from an absolute request target.
pub fn host_of(req: &Request<Incoming>) -> Result<String, &'static str> {
    let authority = match req.headers().get(header::HOST) {
        Some(value) => value.to_str().map_err(|_| "the Host header is not ASCII")?,
        None => req
            .uri()
            .authority()
            .map(|a| a.as_str())
            .ok_or("the request has no Host header")?,
    };
    parse_host(authority)
}

/// `host[:port]` to `host`, checked: a DNS name, an IPv4 address or a
/// bracketed IPv6 address, nothing else.
pub fn parse_host(authority: &str) -> Result<String, &'static str> {
    const MALFORMED: &str = "the Host header is not a host name";
    let authority: hyper::http::uri::Authority = authority.parse().map_err(|_| MALFORMED)?;
    let port = &authority.as_str()[authority.host().len()..];
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.parse::<u16>().is_ok() && p.bytes().all(|b| b.is_ascii_digit()));
    if authority.as_str().contains('@') || !port_ok {
        return Err(MALFORMED);
    }
    let host = authority.host().to_ascii_lowercase();
    let name = host.strip_suffix('.').unwrap_or(&host);
    let is_name = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    let is_ipv6 = host.starts_with('[')
        && host[1..host.len() - 1]
            .parse::<std::net::Ipv6Addr>()
            .is_ok();
    if is_name || is_ipv6 {
        Ok(name.to_owned())
    } else {
        Err(MALFORMED)
    }
}

/// The client's id when it gave a usable one (1-200 visible ASCII
/// characters), a new random one otherwise.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    let given = headers.get(&X_REQUEST_ID).filter(|v| {
        (1..=200).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_graphic())
    });
    match given {
        Some(value) => value.clone(),
        None => {
            let id: u128 = rand::random();
            HeaderValue::try_from(format!("{id:032x}")).expect("hex is a valid header value")
        }
    }
}

pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

pub fn wants_upgrade(headers: &HeaderMap) -> bool {
    let upgrade_listed = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    upgrade_listed && headers.contains_key(header::UPGRADE)
}

pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::try_from(token.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_without_their_port_in_lower_case() {
        assert_eq!(
            parse_host("Web.Shop.localhost:8000").unwrap(),
            "web.shop.localhost"
        );
        assert_eq!(parse_host("shop.example.com").unwrap(), "shop.example.com");
        assert_eq!(parse_host("shop.example.com.").unwrap(), "shop.example.com");
        assert_eq!(parse_host("127.0.0.1:8000").unwrap(), "127.0.0.1");
        assert_eq!(parse_host("[::1]:8000").unwrap(), "[::1]");
    }

    #[test]
    fn malformed_hosts_are_refused() {
        for bad in [
            "",
            "a b",
            "user@shop.localhost",
            "shop..localhost",
            "sh%op.localhost",
            "shop:port",
            "[zz]",
        ] {
            assert!(parse_host(bad).is_err(), "{bad:?} is not a host");
        }
    }

    #[test]
    fn a_given_request_id_is_kept_and_a_bad_one_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("ci-42"));
        assert_eq!(request_id(&headers), "ci-42");
        headers.insert("x-request-id", HeaderValue::from_static("two words"));
        let made = request_id(&headers);
        assert_eq!(made.len(), 32);
        assert_ne!(made, request_id(&HeaderMap::new()), "each made id is new");
    }

    #[test]
    fn connection_headers_are_not_passed_on() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("accept"));
    }
}
