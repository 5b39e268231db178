//! Webhook target URLs and the addresses a webhook may reach: the SSRF guard.
//!
//! A webhook makes Slipway send requests to a URL a user chose, from inside the
//! cluster. Without a guard that URL could be `http://169.254.169.254/` (cloud
//! credentials) or an internal service. [`WebhookUrl::parse`] refuses address
//! literals and `localhost`; the worker's resolver applies [`refused_class`] to
//! every address a name resolves to. Operators with receivers on a private
//! network opt out with `SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true`.
//!
//! Errors never contain a URL's path or query: a Slack webhook URL's path is its secret.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest accepted webhook URL, in characters.
pub const MAX_URL_LEN: usize = 2048;

/// Why an address is refused as a webhook target, or `None` when it is public.
///
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses are judged by the IPv4
/// address they carry.
pub fn refused_class(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    match ip.octets() {
        [255, 255, 255, 255] => Some("broadcast"),
        [0, ..] => Some("unspecified"),
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] => Some("private"),
        [100, 64..=127, ..] => Some("shared (CGNAT)"),
        [127, ..] => Some("loopback"),
        [169, 254, ..] => Some("link-local"),
        [224..=239, ..] => Some("multicast"),
        [240..=255, ..] => Some("reserved"),
        _ => None,
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // Checked before the embedded-IPv4 forms, which `::` and `::1` also match.
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = embedded_v4(ip) {
        return refused_v4(v4);
    }
    match ip.segments()[0] {
        0xfe80..=0xfebf => Some("link-local"),
        0xfec0..=0xfeff => Some("site-local"),
        0xfc00..=0xfdff => Some("unique-local"),
        0xff00..=0xffff => Some("multicast"),
        _ => None,
    }
}

/// The IPv4 address an IPv6 address stands for, when it is one of the forms
/// that reach an IPv4 host.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let join = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match ip.segments() {
        // IPv4-mapped, IPv4-translated (RFC 2765) and IPv4-compatible.
        [0, 0, 0, 0, 0, 0xffff, hi, lo]
        | [0, 0, 0, 0, 0xffff, 0, hi, lo]
        | [0, 0, 0, 0, 0, 0, hi, lo] => Some(join(hi, lo)),
        // NAT64 well-known prefix (RFC 6052).
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(join(hi, lo)),
        // 6to4 (RFC 3056): the IPv4 address follows the 2002::/16 prefix.
        [0x2002, hi, lo, ..] => Some(join(hi, lo)),
        _ => None,
    }
}

/// A webhook target URL: http or https, with a host, at most 2048 characters,
/// without credentials and (unless private targets are allowed) not aimed at a
/// refused address literal or `localhost`.
///
/// `Debug` shows only the scheme and host, so logging one never leaks the path.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    /// Parses and checks a webhook URL.
    ///
    /// Rejects other schemes, a missing host, `user:password@` credentials,
    /// URLs over 2048 characters and, unless `allow_private`, hosts that are
    /// refused address literals (IPv4, IPv6, IPv4-mapped IPv6) or the name
    /// `localhost` (and `*.localhost`). Names that resolve to refused addresses
    /// are caught at connection time by the worker's resolver.
    pub fn parse(s: &str, allow_private: bool) -> Result<WebhookUrl, WebhookUrlError> {
        if s.chars().count() > MAX_URL_LEN {
            return Err(WebhookUrlError::TooLong);
        }
        let url = url::Url::parse(s).map_err(|e| match e {
            url::ParseError::EmptyHost => WebhookUrlError::MissingHost,
            other => WebhookUrlError::Invalid(other),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookUrlError::UnsupportedScheme(url.scheme().to_owned()));
        }
        if url.as_str().len() > MAX_URL_LEN {
            return Err(WebhookUrlError::TooLong);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(WebhookUrlError::Credentials);
        }
        let host = url.host().ok_or(WebhookUrlError::MissingHost)?;
        if !allow_private {
            let address = match host {
                url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
                url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
                url::Host::Domain(name) => {
                    let name = name.trim_end_matches('.');
                    if name == "localhost" || name.ends_with(".localhost") {
                        return Err(WebhookUrlError::Localhost(name.to_owned()));
                    }
                    None
                }
            };
            if let Some(address) = address {
                if let Some(class) = refused_class(address) {
                    return Err(WebhookUrlError::RefusedAddress { address, class });
                }
            }
        }
        Ok(WebhookUrl(url))
    }

    /// The URL as text. It may carry a secret in its path: do not log it.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The host (a name or an address literal), safe to log.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({}://{}/…)", self.0.scheme(), self.host())
    }
}

/// Why a webhook URL was rejected. Messages never include the URL's path or query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    /// Not a URL at all.
    #[error("the webhook URL is not a valid URL ({0})")]
    Invalid(url::ParseError),
    /// A scheme other than http or https.
    #[error("the webhook URL must use http or https, not {0:?}")]
    UnsupportedScheme(String),
    /// No host to send to.
    #[error("the webhook URL has no host")]
    MissingHost,
    /// `user:password@` in the URL.
    #[error(
        "the webhook URL must not contain a user name or password (user:password@); \
         use the webhook's signing secret to authenticate deliveries instead"
    )]
    Credentials,
    /// Longer than [`MAX_URL_LEN`].
    #[error("the webhook URL is longer than the limit of 2048 characters")]
    TooLong,
    /// The host is an address literal in a refused class.
    #[error(
        "the webhook host {address} is a {class} address, which webhooks may not target; \
         set SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true to allow private targets"
    )]
    RefusedAddress {
        /// The refused address.
        address: IpAddr,
        /// Its class, as returned by [`refused_class`].
        class: &'static str,
    },
    /// The host is `localhost` or a name under `.localhost`.
    #[error(
        "the webhook host {0} is a loopback name, which webhooks may not target; \
         set SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true to allow private targets"
    )]
    Localhost(String),
}

#[cfg(test)]
#[path = "webhook_url_tests.rs"]
mod tests;
