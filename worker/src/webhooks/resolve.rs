//! DNS resolution for webhook deliveries that hands reqwest only checked
//! addresses, so a webhook name cannot lead a delivery into the cluster.
//!
//! reqwest connects only to the addresses a resolver returns, so checking them
//! here leaves no second lookup for a DNS-rebinding answer to slip into. reqwest
//! does not call the resolver for address literals (`http://10.0.0.1/`); those are
//! refused by `WebhookUrl::parse`, which the delivery runs before each attempt.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use slipway_core::domain::refused_class;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A reqwest DNS resolver that drops refused addresses (see [`refused_class`])
/// unless `allow_private`, and fails with an error naming the class when none
/// are left.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl GuardedResolver {
    /// A resolver; `allow_private` mirrors `SLIPWAY_WEBHOOK_ALLOW_PRIVATE`.
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port (or the scheme's) in its place.
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = filter_addresses(&host, addrs, allow_private)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The pure filtering step: keeps the allowed addresses, in order, or says why
/// none are allowed.
pub fn filter_addresses(
    host: &str,
    addrs: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, RefusedHost> {
    if addrs.is_empty() {
        return Err(RefusedHost::NoAddresses {
            host: host.to_owned(),
        });
    }
    if allow_private {
        return Ok(addrs);
    }
    let mut refused = Vec::new();
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|addr| match refused_class(addr.ip()) {
            Some(class) => {
                refused.push(RefusedAddr {
                    ip: addr.ip(),
                    class,
                });
                false
            }
            None => true,
        })
        .collect();
    if allowed.is_empty() {
        Err(RefusedHost::OnlyRefused {
            host: host.to_owned(),
            refused,
        })
    } else {
        Ok(allowed)
    }
}

/// Why a webhook host name leaves nothing to connect to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefusedHost {
    /// The lookup succeeded but returned no addresses.
    #[error("the webhook host {host} resolves to no addresses")]
    NoAddresses {
        /// The name that was looked up.
        host: String,
    },
    /// Every address the name resolves to is in a refused class.
    #[error(
        "the webhook host {host} resolves only to addresses webhooks may not target ({}); \
         set SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true to allow private targets",
        list(refused)
    )]
    OnlyRefused {
        /// The name that was looked up.
        host: String,
        /// Each address it resolved to, with its class.
        refused: Vec<RefusedAddr>,
    },
}

/// One refused address and its class, as returned by [`refused_class`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusedAddr {
    /// The address.
    pub ip: IpAddr,
    /// Why it is refused, e.g. `loopback` or `private`.
    pub class: &'static str,
}

impl fmt::Display for RefusedAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {}", self.ip, self.class)
    }
}

fn list(refused: &[RefusedAddr]) -> String {
    refused
        .iter()
        .map(RefusedAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|s| s.parse().expect(s)).collect()
    }

    #[test]
    fn keeps_public_addresses_and_drops_refused_ones() {
        let input = addrs(&[
            "10.0.0.1:443",
            "93.184.216.34:443",
            "[::1]:443",
            "[2606:4700::1111]:443",
        ]);
        assert_eq!(
            filter_addresses("example.com", input, false),
            Ok(addrs(&["93.184.216.34:443", "[2606:4700::1111]:443"]))
        );
    }

    #[test]
    fn only_refused_addresses_is_an_error_naming_each_class() {
        let err = filter_addresses(
            "internal.example",
            addrs(&["127.0.0.1:0", "[fd00::5]:0", "[::ffff:169.254.169.254]:0"]),
            false,
        )
        .expect_err("nothing allowed");
        let message = err.to_string();
        for part in [
            "internal.example",
            "127.0.0.1 is loopback",
            "fd00::5 is unique-local",
            "::ffff:169.254.169.254 is link-local",
            "SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true",
        ] {
            assert!(message.contains(part), "{part:?} not in {message}");
        }
    }

    #[test]
    fn allow_private_keeps_everything() {
        let input = addrs(&["127.0.0.1:80", "10.1.2.3:80", "[fe80::1]:80"]);
        assert_eq!(filter_addresses("h", input.clone(), true), Ok(input));
    }

    #[test]
    fn no_addresses_is_an_error_either_way() {
        for allow_private in [false, true] {
            assert_eq!(
                filter_addresses("nowhere.example", vec![], allow_private),
                Err(RefusedHost::NoAddresses {
                    host: "nowhere.example".into()
                })
            );
        }
    }

    /// A listener that answers every connection with one fixed HTTP response.
    async fn tiny_server() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            }
        });
        port
    }

    fn client(allow_private: bool) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(allow_private)))
            .build()
            .expect("client")
    }

    fn chain(err: &dyn std::error::Error) -> String {
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    #[tokio::test]
    async fn a_real_client_cannot_reach_localhost_unless_allowed() {
        let port = tiny_server().await;
        let url = format!("http://localhost:{port}/");

        let err = client(false)
            .get(&url)
            .send()
            .await
            .expect_err("localhost must be refused");
        let text = chain(&err);
        assert!(text.contains("loopback"), "{text}");
        assert!(
            text.contains("SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true"),
            "{text}"
        );

        let response = client(true).get(&url).send().await.expect("reachable");
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.expect("body"), "ok");
    }
}
