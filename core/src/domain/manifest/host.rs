//! Custom domains of a service: DNS host names the router answers for. The
//! checks are DNS's own (RFC 1123 labels, 253 characters) plus what a router
//! cannot serve: addresses, ports, wildcards, and `localhost` names, which
//! are generated from the router's URL and never claimed.

/// Longest host name DNS allows, without a trailing dot.
const MAX_HOST_LEN: usize = 253;
/// Longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// `raw` as a lower-case host name, or what is wrong with it.
pub(super) fn host_name(raw: &str) -> Result<String, String> {
    if raw.contains("://") {
        return Err(
            "must be a host name without a scheme (`example.com`, not `https://example.com`)"
                .into(),
        );
    }
    if raw.parse::<std::net::IpAddr>().is_ok() || (raw.starts_with('[') && raw.ends_with(']')) {
        return Err("must be a host name, not an IP address".into());
    }
    if raw.contains('/') {
        return Err("must be a host name only, without a path".into());
    }
    if raw.contains(':') {
        return Err("must not have a port: the router's port is used".into());
    }
    if raw.contains('*') {
        return Err("must not be a wildcard: list each host name".into());
    }
    if !raw.is_ascii() {
        return Err(
            "must be ASCII: write an internationalized name in punycode (`xn--...`)".into(),
        );
    }
    if raw.ends_with('.') {
        return Err("must not end with a dot".into());
    }
    if raw.len() > MAX_HOST_LEN {
        return Err(format!(
            "is {} characters; a host name has at most {MAX_HOST_LEN}",
            raw.len()
        ));
    }
    let host = raw.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return Err(
            "is reserved: names under `localhost` are generated from the router's URL".into(),
        );
    }
    let labels: Vec<&str> = host.split('.').collect();
    for label in &labels {
        label_rule(label)?;
    }
    if labels.len() < 2 {
        return Err("needs at least two labels, like `example.com`".into());
    }
    // A last label of digits only makes the name read as an address
    // (`10.1`, `1.2.3.4` written oddly); no top-level domain is numeric.
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must be a host name, not an IP address".into());
    }
    Ok(host)
}

fn label_rule(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("must not have an empty label (`..` or a leading dot)".into());
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(format!(
            "has a label of {} characters; a label has at most {MAX_LABEL_LEN}",
            label.len()
        ));
    }
    if !label
        .bytes()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
    {
        return Err("may only contain letters, digits, '-' and '.'".into());
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("must not have a label starting or ending with '-'".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn accepts_host_names_and_lowers_them() {
        for (raw, host) in [
            ("example.com", "example.com"),
            ("WWW.Example.COM", "www.example.com"),
            ("a-b.c0.io", "a-b.c0.io"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("1.example.com", "1.example.com"),
        ] {
            assert_eq!(host_name(raw).as_deref(), Ok(host), "{raw}");
        }
        let longest_label = format!("{}.com", "a".repeat(63));
        assert!(host_name(&longest_label).is_ok());
        // 4 labels of 61 and ".com": 4 * 62 + 3 = 251 characters.
        let long = format!("{}com", format!("{}.", "a".repeat(61)).repeat(4));
        assert_eq!(long.len(), 251);
        assert!(host_name(&long).is_ok());
    }

    #[test]
    fn rejects_what_is_not_a_servable_host_name() {
        let cases = [
            ("https://example.com", "scheme"),
            ("example.com/path", "path"),
            ("example.com:8080", "port"),
            ("127.0.0.1", "IP address"),
            ("::1", "IP address"),
            ("[::1]", "IP address"),
            ("10.1", "IP address"),
            ("*.example.com", "wildcard"),
            ("bücher.example", "ASCII"),
            ("example.com.", "dot"),
            ("com", "two labels"),
            ("example..com", "empty label"),
            (".example.com", "empty label"),
            ("exa_mple.com", "letters, digits"),
            ("exa mple.com", "letters, digits"),
            ("-example.com", "starting or ending"),
            ("example-.com", "starting or ending"),
            ("localhost", "reserved"),
            ("web.shop.localhost", "reserved"),
            ("shop.LOCALHOST", "reserved"),
        ];
        for (raw, why) in cases {
            let message = host_name(raw).expect_err(raw);
            assert!(message.contains(why), "{raw}: {message}");
        }
        let label = format!("{}.com", "a".repeat(64));
        assert!(host_name(&label).expect_err("label").contains("at most 63"));
        let long = format!("{}com", format!("{}.", "a".repeat(62)).repeat(4));
        assert_eq!(long.len(), 255);
        assert!(host_name(&long).expect_err("long").contains("at most 253"));
    }
}
