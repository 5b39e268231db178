//! Webhook URLs: what is accepted, and which targets are refused.

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
    for url in
        "http://2130706433/ http://0x7f.1/ http://127.1/ http://[::ffff:7f00:1]/".split_whitespace()
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
    for url in "http://localhost/ http://LOCALHOST:8080/x http://localhost./ https://a.localhost/"
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
    for url in "ftp://10.0.0.5/ http://user:pw@10.0.0.5/ file:///etc/passwd".split_whitespace() {
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
