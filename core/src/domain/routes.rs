//! Where an app's services answer through the router: the router's URL as
//! users reach it (`SLIPWAY_ROUTER_URL`), and the URLs it gives each service
//! of a manifest. One place for the naming rule, shared by the API (which
//! shows the URLs) and the router (which answers them):
//!
//! - `<service>.<app>.<router host>` for every service with a port;
//! - `<app>.<router host>` for the app's default service;
//! - each custom domain of a service as it is;
//!
//! all with the router URL's scheme and port (left out when it is the scheme's).

use serde::Serialize;
use url::{Host, Url};

use crate::domain::{AppName, InvalidInput, Manifest, ServiceName};

const FIELD: &str = "router_url";

/// The router's public base URL: `http` or `https`, a host name (not an
/// address: apps get names under it), an optional port, nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterUrl {
    scheme: String,
    host: String,
    /// Only when it is not the scheme's default.
    port: Option<u16>,
}

impl RouterUrl {
    /// Checks `raw`, e.g. `http://localhost:8000` or `https://apps.example.com`;
    /// errors are reported on field `router_url`.
    pub fn parse(raw: &str) -> Result<RouterUrl, InvalidInput> {
        let bad = |message: &str| InvalidInput::new(FIELD, message);
        let url = Url::parse(raw).map_err(|e| {
            bad(&format!(
                "is not a URL ({e}); expected e.g. http://localhost:8000"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("must start with http:// or https://"));
        }
        let host = match url.host() {
            Some(Host::Domain(host)) if !host.is_empty() => host.to_owned(),
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
                return Err(bad(
                    "must name a host, not an IP address: apps are reached at \
                     <service>.<app>.<host>",
                ))
            }
            _ => return Err(bad("must have a host")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry a user name or password"));
        }
        if url.path() != "/" {
            return Err(bad(
                "must not have a path: apps are reached at the root of their own host names",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("must not have a query or a fragment"));
        }
        Ok(RouterUrl {
            scheme: url.scheme().to_owned(),
            host,
            // `Url::port` is `None` for the scheme's default port.
            port: url.port(),
        })
    }

    /// `http://localhost:<port>`: where `slipway dev`'s router is reached
    /// when it listens on `port` of this machine.
    pub fn localhost(port: u16) -> RouterUrl {
        RouterUrl {
            scheme: "http".to_owned(),
            host: "localhost".to_owned(),
            port: (port != 80).then_some(port),
        }
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host name, lower case; generated names end with it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The URL of `host_name` through the router: its scheme and port.
    pub fn url_for(&self, host_name: &str) -> String {
        match self.port {
            Some(port) => format!("{}://{host_name}:{port}", self.scheme),
            None => format!("{}://{host_name}", self.scheme),
        }
    }
}

impl std::fmt::Display for RouterUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url_for(&self.host))
    }
}

impl std::str::FromStr for RouterUrl {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RouterUrl::parse(s)
    }
}

/// A service reachable through the router, and its URLs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ServiceUrls {
    pub name: ServiceName,
    /// Whether it is the app's default service (it answers `<app>.<host>`).
    pub default: bool,
    /// The app's own URL first for the default service, then the service's
    /// generated URL, then its domains in manifest order; empty when no
    /// router URL is configured.
    pub urls: Vec<String>,
}

/// The host names each service of `manifest` with a port answers at, by
/// service name, with whether it is the app's default service: for each of
/// `suffixes`, `<app>.<suffix>` (default service only) then
/// `<service>.<app>.<suffix>`; then the service's domains in manifest order.
/// The one rule the router serves and the API shows.
pub fn service_hosts<'a>(
    app: &AppName,
    manifest: &'a Manifest,
    suffixes: &[&str],
) -> Vec<(&'a ServiceName, bool, Vec<String>)> {
    let default = manifest.default_service();
    manifest
        .services()
        .iter()
        .filter(|(_, service)| service.port().is_some())
        .map(|(name, service)| {
            let is_default = default == Some(name);
            let mut hosts = Vec::new();
            for suffix in suffixes {
                if is_default {
                    hosts.push(format!("{app}.{suffix}"));
                }
                hosts.push(format!("{name}.{app}.{suffix}"));
            }
            hosts.extend(service.domains().iter().cloned());
            (name, is_default, hosts)
        })
        .collect()
}

/// Every service of `manifest` that has a port (by name), with its URLs
/// through `router`; without a router URL the services are listed with no URLs.
pub fn service_urls(
    router: Option<&RouterUrl>,
    app: &AppName,
    manifest: &Manifest,
) -> Vec<ServiceUrls> {
    let suffixes: Vec<&str> = router.iter().map(|r| r.host()).collect();
    service_hosts(app, manifest, &suffixes)
        .into_iter()
        .map(|(name, default, hosts)| ServiceUrls {
            name: name.clone(),
            default,
            urls: match router {
                Some(router) => hosts.iter().map(|h| router.url_for(h)).collect(),
                None => Vec::new(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn router(raw: &str) -> RouterUrl {
        RouterUrl::parse(raw).expect(raw)
    }

    fn app() -> AppName {
        AppName::parse("shop").expect("valid")
    }

    fn manifest(services: serde_json::Value) -> Manifest {
        Manifest::from_json(&json!({ "services": services })).expect("valid")
    }

    #[test]
    fn router_urls_parse_to_scheme_host_and_a_non_default_port() {
        let url = router("http://localhost:8000");
        assert_eq!(
            (url.scheme(), url.host(), url.port()),
            ("http", "localhost", Some(8000))
        );
        assert_eq!(url.to_string(), "http://localhost:8000");
        let url = router("HTTPS://Apps.Example.COM:443/");
        assert_eq!(
            (url.scheme(), url.host(), url.port()),
            ("https", "apps.example.com", None)
        );
        assert_eq!(url.to_string(), "https://apps.example.com");
        assert_eq!(router("http://localhost:80").port(), None);
        assert_eq!(
            "http://x.test:8443".parse::<RouterUrl>(),
            Ok(router("http://x.test:8443"))
        );
    }

    #[test]
    fn router_url_rejections() {
        for (raw, why) in [
            ("localhost:8000", "http:// or https://"),
            ("ftp://localhost", "http:// or https://"),
            ("not a url", "is not a URL"),
            ("http://", "is not a URL"),
            ("http://127.0.0.1:8000", "IP address"),
            ("http://[::1]:8000", "IP address"),
            ("http://user:pw@localhost", "user name or password"),
            ("http://localhost:8000/apps", "path"),
            ("http://localhost:8000/?a=1", "query"),
            ("http://localhost:8000/#top", "fragment"),
        ] {
            let err = RouterUrl::parse(raw).expect_err(raw);
            assert_eq!(err.field, "router_url");
            assert!(err.message.contains(why), "{raw}: {err}");
        }
    }

    #[test]
    fn localhost_leaves_out_port_80() {
        assert_eq!(RouterUrl::localhost(8000), router("http://localhost:8000"));
        assert_eq!(RouterUrl::localhost(80), router("http://localhost"));
    }

    #[test]
    fn every_service_with_a_port_gets_its_generated_name_and_its_domains() {
        let manifest = manifest(json!({
            "api": { "command": "x", "port": 81, "domains": ["api.example.com"] },
            "web": { "command": "x", "port": 80, "default": true,
                     "domains": ["example.com", "www.example.com"] },
            "worker": { "command": "x" }
        }));
        let urls = service_urls(Some(&router("http://localhost:8000")), &app(), &manifest);
        assert_eq!(
            serde_json::to_value(&urls).expect("serialize"),
            json!([
                { "name": "api", "default": false, "urls": [
                    "http://api.shop.localhost:8000", "http://api.example.com:8000"] },
                { "name": "web", "default": true, "urls": [
                    "http://shop.localhost:8000", "http://web.shop.localhost:8000",
                    "http://example.com:8000", "http://www.example.com:8000"] }
            ])
        );
    }

    #[test]
    fn the_default_port_is_left_out_and_any_host_is_the_suffix() {
        let manifest = manifest(json!({ "web": { "command": "x", "port": 80 } }));
        let urls = service_urls(Some(&router("https://apps.example.net")), &app(), &manifest);
        assert_eq!(
            urls,
            [ServiceUrls {
                name: ServiceName::parse("web").expect("valid"),
                default: true,
                urls: vec![
                    "https://shop.apps.example.net".to_owned(),
                    "https://web.shop.apps.example.net".to_owned()
                ],
            }]
        );
    }

    #[test]
    fn two_services_with_ports_and_none_marked_have_no_default() {
        let manifest = manifest(json!({
            "a": { "command": "x", "port": 80 }, "b": { "command": "x", "port": 81 }
        }));
        let urls = service_urls(Some(&router("http://localhost")), &app(), &manifest);
        assert!(
            urls.iter().all(|s| !s.default && s.urls.len() == 1),
            "{urls:?}"
        );
        assert_eq!(urls[0].urls, ["http://a.shop.localhost"]);
    }

    #[test]
    fn without_a_router_url_services_are_listed_without_urls() {
        let manifest = manifest(json!({
            "web": { "command": "x", "port": 80, "domains": ["example.com"] },
            "worker": { "command": "x" }
        }));
        let urls = service_urls(None, &app(), &manifest);
        assert_eq!(urls.len(), 1);
        assert_eq!((urls[0].name.as_str(), urls[0].default), ("web", true));
        assert!(urls[0].urls.is_empty());
    }
}
