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
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect(s)
    }

    /// Each refused class, then addresses in it: IPv4, IPv6 and the IPv6 forms
    /// that carry an IPv4 address (mapped, translated, compatible, NAT64, 6to4).
    const REFUSED: &str = "
        loopback: 127.0.0.1 127.255.255.254 ::1 ::ffff:127.0.0.1 ::127.0.0.1 64:ff9b::127.0.0.1 2002:7f00:1::1
        private: 10.0.0.1 10.255.255.255 172.16.0.1 172.31.255.255 192.168.1.1 ::ffff:10.1.2.3 ::ffff:0:192.168.0.1 ::10.0.0.1 2002:c0a8:101::
        shared (CGNAT): 100.64.0.1 100.127.255.255 ::ffff:100.64.0.1
        link-local: 169.254.169.254 fe80::1 febf::1 ::ffff:169.254.169.254 64:ff9b::a9fe:a9fe
        unique-local: fc00::1 fd12:3456::1
        site-local: fec0::1
        multicast: 224.0.0.1 239.255.255.250 ff02::1 ::ffff:224.0.0.1
        unspecified: 0.0.0.0 0.1.2.3 :: ::ffff:0.0.0.0
        broadcast: 255.255.255.255 ::ffff:255.255.255.255
        reserved: 240.0.0.1 254.1.1.1";

    fn refused() -> impl Iterator<Item = (&'static str, &'static str)> {
        REFUSED
            .lines()
            .filter_map(|line| line.split_once(':'))
            .flat_map(|(class, addrs)| addrs.split_whitespace().map(move |a| (a, class.trim())))
    }

    const PUBLIC: [&str; 10] = [
        "93.184.216.34",
        "1.1.1.1",
        "8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:93.184.216.34",
        "64:ff9b::808:808",
        "2002:5db8:d822::1",
    ];

    #[test]
    fn refuses_every_internal_address_class() {
        assert_eq!(refused().count(), 39);
        for (addr, class) in refused() {
            assert_eq!(refused_class(ip(addr)), Some(class), "{addr}");
        }
    }

    #[test]
    fn public_addresses_are_not_refused() {
        for addr in PUBLIC {
            assert_eq!(refused_class(ip(addr)), None, "{addr}");
        }
    }

    fn err(url: &str) -> WebhookUrlError {
        WebhookUrl::parse(url, false).expect_err(url)
    }

    #[test]
    fn refused_address_literals_are_rejected_with_class_and_address() {
        for (addr, class) in refused() {
            let host = match ip(addr) {
                IpAddr::V4(_) => addr.to_owned(),
                IpAddr::V6(_) => format!("[{addr}]"),
            };
            let err = err(&format!("https://{host}/hook"));
            assert_eq!(
                err,
                WebhookUrlError::RefusedAddress {
                    address: ip(addr),
                    class
                }
            );
            let message = err.to_string();
            assert!(message.contains(class), "{message}");
            assert!(message.contains(&ip(addr).to_string()), "{message}");
            assert!(message.contains("SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true"));
        }
    }

    #[test]
    fn odd_spellings_of_addresses_are_normalised_then_refused() {
        for url in "http://2130706433/ http://0x7f.1/ http://127.1/ http://[::ffff:7f00:1]/"
            .split_whitespace()
        {
            let err = err(url);
            let refused = matches!(
                err,
                WebhookUrlError::RefusedAddress {
                    class: "loopback",
                    ..
                }
            );
            assert!(refused, "{url}: {err:?}");
        }
    }

    #[test]
    fn localhost_names_are_rejected() {
        for url in
            "http://localhost/ http://LOCALHOST:8080/x http://localhost./ https://a.localhost/"
                .split_whitespace()
        {
            let err = err(url);
            assert!(
                matches!(err, WebhookUrlError::Localhost(_)),
                "{url}: {err:?}"
            );
            assert!(err
                .to_string()
                .contains("SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true"));
        }
        assert!(WebhookUrl::parse("https://notlocalhost.com/", false).is_ok());
    }

    #[test]
    fn public_targets_are_accepted() {
        for url in [
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "http://93.184.216.34:8080/hook?x=1",
            "https://[2606:4700::1111]/hook",
            "https://[::ffff:93.184.216.34]/",
        ] {
            let parsed = WebhookUrl::parse(url, false).expect(url);
            assert_eq!(parsed.url().as_str(), parsed.as_str());
        }
        let parsed = WebhookUrl::parse("https://Example.COM/a", false).expect("valid");
        assert_eq!(parsed.as_str(), "https://example.com/a");
        assert_eq!(parsed.host(), "example.com");
    }

    #[test]
    fn allow_private_lifts_only_the_address_refusals() {
        for url in "http://127.0.0.1:9000/ http://[::1]/ http://10.0.0.5/ http://localhost:3000/"
            .split_whitespace()
        {
            assert!(WebhookUrl::parse(url, true).is_ok(), "{url}");
        }
        for url in "ftp://10.0.0.5/ http://user:pw@10.0.0.5/ file:///etc/passwd".split_whitespace()
        {
            assert!(WebhookUrl::parse(url, true).is_err(), "{url}");
        }
    }

    #[test]
    fn other_schemes_are_rejected() {
        for (url, scheme) in [
            ("ftp://example.com/x", "ftp"),
            ("file:///etc/passwd", "file"),
            ("javascript:alert(1)", "javascript"),
            ("gopher://example.com/", "gopher"),
        ] {
            assert_eq!(err(url), WebhookUrlError::UnsupportedScheme(scheme.into()));
            assert!(err(url).to_string().contains("http or https"));
        }
    }

    #[test]
    fn missing_host_and_garbage_are_rejected() {
        assert_eq!(err("http://"), WebhookUrlError::MissingHost);
        assert_eq!(err("https://:443/x"), WebhookUrlError::MissingHost);
        for bad in ["", "hooks.slack.com/x", "not a url", "http://exa mple.com/"] {
            assert!(matches!(err(bad), WebhookUrlError::Invalid(_)), "{bad}");
        }
    }

    #[test]
    fn credentials_are_rejected() {
        for url in
            "https://u:hunter2@a.com/ https://u@a.com/ https://:hunter2@a.com/".split_whitespace()
        {
            assert_eq!(err(url), WebhookUrlError::Credentials);
            assert!(!err(url).to_string().contains("hunter2"));
        }
    }

    #[test]
    fn length_limit_is_2048_characters() {
        let prefix = "https://example.com/";
        let exact = format!("{prefix}{}", "a".repeat(MAX_URL_LEN - prefix.len()));
        assert!(WebhookUrl::parse(&exact, false).is_ok());
        assert_eq!(err(&format!("{exact}a")), WebhookUrlError::TooLong);
        // Percent-encoding can grow a URL past the limit after parsing.
        let grows = format!("{prefix}{}", "é".repeat(400));
        assert_eq!(err(&grows), WebhookUrlError::TooLong);
    }

    #[test]
    fn errors_and_debug_never_show_the_path_or_query() {
        let secret = "T0001/B0002/s3cr3tT0k3n";
        for url in [
            format!("ftp://hooks.slack.com/services/{secret}?q={secret}"),
            format!("https://u:p@hooks.slack.com/services/{secret}"),
            format!("http://10.0.0.1/services/{secret}"),
            format!("http://localhost/services/{secret}"),
            format!("https://hooks.slack.com/{secret}{}", "x".repeat(3000)),
        ] {
            let err = err(&url);
            assert!(!err.to_string().contains(secret), "{err}");
            assert!(!format!("{err:?}").contains(secret), "{err:?}");
        }
        let ok = WebhookUrl::parse(&format!("https://hooks.slack.com/services/{secret}"), false);
        let shown = format!("{:?}", ok.expect("valid"));
        assert_eq!(shown, "WebhookUrl(https://hooks.slack.com/…)");
    }
}
