//! Resource ids: a one-letter prefix naming the kind of resource, then 10 random
//! upper-case letters (`R` + `QWERTYUIOP` for a release).
//!
//! The random part comes from a CSPRNG so ids cannot be guessed (webhook and token
//! ids appear in URLs), and each kind is its own type so they cannot be mixed up.

use rand::Rng;

use crate::domain::{string_newtype_impls, string_schema, InvalidInput};

/// Number of random letters after the prefix.
const RANDOM_LEN: usize = 10;

fn generate_with_prefix(prefix: char) -> String {
    #[cfg(feature = "testing")]
    if let Some(forced) = forced::take(prefix) {
        return forced;
    }
    // `rand::rng()` is a ChaCha CSPRNG seeded from the OS; `random_range` samples
    // uniformly (rejection sampling), so there is no modulo bias.
    let mut rng = rand::rng();
    let mut id = String::with_capacity(1 + RANDOM_LEN);
    id.push(prefix);
    for _ in 0..RANDOM_LEN {
        id.push(char::from(rng.random_range(b'A'..=b'Z')));
    }
    id
}

/// Ids that tests force (feature `testing`), to provoke a collision.
#[cfg(feature = "testing")]
mod forced {
    use std::cell::RefCell;

    thread_local! {
        static FORCED_IDS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    /// Makes the next ids generated on this thread with their prefixes be
    /// these, in order: how tests provoke an id collision.
    pub fn force_next_ids(ids: &[&str]) {
        FORCED_IDS.with(|forced| {
            forced
                .borrow_mut()
                .extend(ids.iter().rev().map(|id| (*id).to_owned()))
        });
    }

    pub(super) fn take(prefix: char) -> Option<String> {
        FORCED_IDS.with(|forced| {
            let mut forced = forced.borrow_mut();
            let position = forced.iter().rposition(|id| id.starts_with(prefix))?;
            Some(forced.remove(position))
        })
    }
}

#[cfg(feature = "testing")]
pub use forced::force_next_ids;

fn has_id_shape(s: &str, prefix: char) -> bool {
    let mut chars = s.chars();
    chars.next() == Some(prefix)
        && s.len() == 1 + RANDOM_LEN
        && chars.all(|c| c.is_ascii_uppercase())
}

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The letter every id of this kind starts with.
            pub const PREFIX: char = $prefix;

            /// A new random id.
            pub fn generate() -> Self {
                Self(generate_with_prefix(Self::PREFIX))
            }

            /// Accepts exactly the prefix followed by 10 upper-case letters A-Z.
            pub fn parse(s: &str) -> Result<Self, InvalidInput> {
                if has_id_shape(s, Self::PREFIX) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(InvalidInput::new(
                        "id",
                        concat!("expected ", $what, ": ", $prefix, " followed by 10 upper-case letters"),
                    ))
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_newtype_impls!($name);
        string_schema!(
            $name,
            concat!("^", $prefix, "[A-Z]{10}$"),
            concat!("Identifies ", $what, ": `", $prefix, "` and 10 upper-case letters.")
        );
    };
}

define_id!(
    /// Identifies a build (`B...`).
    BuildId, 'B', "a build id"
);
define_id!(
    /// Identifies a release (`R...`).
    ReleaseId, 'R', "a release id"
);
define_id!(
    /// Identifies a deployment (`D...`).
    DeploymentId, 'D', "a deployment id"
);
define_id!(
    /// Identifies an event (`E...`).
    EventId, 'E', "an event id"
);
define_id!(
    /// Identifies a webhook (`W...`).
    WebhookId, 'W', "a webhook id"
);
define_id!(
    /// Identifies one delivery of an event to a webhook (`V...`).
    DeliveryId, 'V', "a delivery id"
);
define_id!(
    /// Identifies an API token (`T...`); the token's secret itself is elsewhere.
    TokenId, 'T', "a token id"
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_ids_have_the_documented_shape() {
        let id = ReleaseId::generate();
        let s = id.as_str();
        assert_eq!(s.len(), 11);
        assert!(s.starts_with('R'));
        assert!(s[1..].bytes().all(|b| b.is_ascii_uppercase()), "{s}");
        assert_eq!(ReleaseId::parse(s), Ok(id.clone()));
        assert!(BuildId::generate().as_str().starts_with('B'));
        assert!(DeploymentId::generate().as_str().starts_with('D'));
        assert!(EventId::generate().as_str().starts_with('E'));
        assert!(WebhookId::generate().as_str().starts_with('W'));
        assert!(TokenId::generate().as_str().starts_with('T'));
        assert!(DeliveryId::generate().as_str().starts_with('V'));
    }

    #[test]
    fn generated_ids_are_unique() {
        let ids: HashSet<BuildId> = (0..10_000).map(|_| BuildId::generate()).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn parse_accepts_a_valid_id() {
        let id = ReleaseId::parse("RABCDEFGHIJ").expect("valid");
        assert_eq!(id.as_str(), "RABCDEFGHIJ");
        assert_eq!(id.to_string(), "RABCDEFGHIJ");
        assert_eq!("RABCDEFGHIJ".parse::<ReleaseId>(), Ok(id));
    }

    #[test]
    fn parse_rejects_malformed_ids() {
        for bad in [
            "",
            "R",
            "BABCDEFGHIJ",  // wrong prefix
            "rABCDEFGHIJ",  // lower-case prefix
            "RABCDEFGHIj",  // lower-case letter
            "RABCDEFGHI",   // too short
            "RABCDEFGHIJK", // too long
            "RABCDEFGHI1",  // digit
            "RABCDEFGHIÉ",  // non-ASCII, 12 bytes
            "RABCDEFGHÉ",   // non-ASCII, 11 bytes
            " RABCDEFGHIJ", // whitespace
        ] {
            let err = ReleaseId::parse(bad).expect_err(bad);
            assert_eq!(err.field, "id");
            assert_eq!(
                err.message,
                "expected a release id: R followed by 10 upper-case letters"
            );
        }
        assert_eq!(
            EventId::parse("x").expect_err("bad").message,
            "expected an event id: E followed by 10 upper-case letters"
        );
    }

    #[test]
    fn serde_roundtrips_as_a_plain_string() {
        let id = WebhookId::generate();
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, format!("\"{id}\""));
        let back: WebhookId = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, id);
    }

    #[test]
    fn deserialize_rejects_a_bad_id() {
        let err = serde_json::from_str::<TokenId>("\"RABCDEFGHIJ\"").expect_err("wrong prefix");
        assert!(err.to_string().contains("expected a token id"), "{err}");
        assert!(serde_json::from_str::<TokenId>("42").is_err());
    }
}
