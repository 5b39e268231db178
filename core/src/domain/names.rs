//! App and service names: `^[a-z][a-z0-9-]{0,29}$`, safe to use in DNS labels,
//! Kubernetes object names and file paths.

use crate::domain::{string_newtype_impls, string_schema, InvalidInput};

/// Longest accepted name, in characters (all ASCII, so also bytes).
const MAX_NAME_LEN: usize = 30;

const NAME_RULE: &str =
    "must start with a lower-case letter and contain only a-z, 0-9 and '-', at most 30 characters";

fn check_name(s: &str, field: &str) -> Result<(), InvalidInput> {
    let bytes = s.as_bytes();
    let ok = matches!(bytes.first(), Some(b'a'..=b'z'))
        && bytes.len() <= MAX_NAME_LEN
        && bytes
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(InvalidInput::new(field, NAME_RULE))
    }
}

/// The name rule as a regular expression, for the OpenAPI document.
const NAME_PATTERN: &str = "^[a-z][a-z0-9-]{0,29}$";

macro_rules! define_name {
    ($(#[$meta:meta])* $name:ident, $field:literal, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Checks the name rule; errors are reported on field `", $field, "`.")]
            pub fn parse(s: &str) -> Result<Self, InvalidInput> {
                check_name(s, $field)?;
                Ok(Self(s.to_owned()))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The name as an owned `String`.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        string_newtype_impls!($name);
        string_schema!(
            $name,
            NAME_PATTERN,
            concat!($what, ": a lower-case letter, then a-z, 0-9 and '-', at most 30 characters.")
        );
    };
}

define_name!(
    /// The name of an app, unique within a Slipway installation.
    AppName, "name", "The name of an app"
);
define_name!(
    /// The name of a service within an app's manifest.
    ServiceName, "service", "The name of a service"
);
define_name!(
    /// The name of an API token, recorded as the `actor` of what it changes.
    TokenName, "name", "The name of a token"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for good in ["a", "web", "my-app-2", "a-", "x0", &"a".repeat(30)] {
            let name = AppName::parse(good).expect(good);
            assert_eq!(name.as_str(), good);
            assert_eq!(name.to_string(), good);
            assert_eq!(name.into_string(), good);
        }
    }

    #[test]
    fn rejects_invalid_names_with_the_rule() {
        for bad in [
            "",
            &"a".repeat(31),
            "Web",
            "wEb",
            "1web",
            "-web",
            "web_app",
            "web app",
            "wéb",
            "ẃeb",
            "web\n",
            "web.",
        ] {
            let err = AppName::parse(bad).expect_err(bad);
            assert_eq!(err.field, "name");
            assert_eq!(err.message, NAME_RULE);
        }
    }

    #[test]
    fn service_name_uses_its_own_field() {
        let err = ServiceName::parse("Web").expect_err("upper-case");
        assert_eq!(err.field, "service");
        assert_eq!(
            "web".parse::<ServiceName>().map(|n| n.into_string()),
            Ok("web".into())
        );
    }

    #[test]
    fn serde_goes_through_parse() {
        let name: AppName = serde_json::from_str("\"billing\"").expect("valid");
        assert_eq!(
            serde_json::to_string(&name).expect("serialize"),
            "\"billing\""
        );
        assert!(serde_json::from_str::<AppName>("\"Billing\"").is_err());
        assert!(serde_json::from_str::<ServiceName>("\"-x\"").is_err());
    }
}
