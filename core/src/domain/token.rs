//! What an API token may do: its scope (`read` < `deploy` < `admin`) and the
//! apps it is limited to.

use crate::domain::{AppName, InvalidInput};
use serde::{Deserialize, Serialize};

/// Longest token lifetime accepted at creation: ten years, in seconds.
pub const MAX_TOKEN_LIFETIME_SECONDS: i64 = 10 * 365 * 24 * 3600;
/// Shortest token lifetime accepted at creation, in seconds.
pub const MIN_TOKEN_LIFETIME_SECONDS: i64 = 60;

/// A token's scope; each one includes the ones before it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Reads (`GET`) on its apps.
    Read,
    /// Also builds, env changes, promote, rollback and cancel on its apps.
    Deploy,
    /// Everything, including apps, tokens and webhooks.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Deploy => "deploy",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Scope, InvalidInput> {
        match s {
            "read" => Ok(Scope::Read),
            "deploy" => Ok(Scope::Deploy),
            "admin" => Ok(Scope::Admin),
            _ => Err(InvalidInput::new(
                "scope",
                "expected \"admin\", \"deploy\" or \"read\"",
            )),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a token was granted: a scope, on some apps or (empty) all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub scope: Scope,
    pub apps: Vec<AppName>,
}

/// Why a grant does not cover a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("this needs a token with scope `{needed}`; this token's scope is `{held}`")]
    Scope { needed: Scope, held: Scope },
    #[error("this token may not act on app `{0}`")]
    App(AppName),
    #[error("this needs a token for all apps; this one is limited to some")]
    AllApps,
}

impl Grant {
    /// Whether the grant covers `needed` on `app` (`None`: no app, such as
    /// tokens and webhooks, which only an unrestricted grant reaches).
    pub fn allows(&self, needed: Scope, app: Option<&AppName>) -> Result<(), Denied> {
        if self.scope < needed {
            return Err(Denied::Scope {
                needed,
                held: self.scope,
            });
        }
        match app {
            Some(app) if !self.covers(app) => Err(Denied::App(app.clone())),
            None if !self.apps.is_empty() => Err(Denied::AllApps),
            _ => Ok(()),
        }
    }

    /// Whether the grant reaches `app` at all.
    pub fn covers(&self, app: &AppName) -> bool {
        self.apps.is_empty() || self.apps.contains(app)
    }
}

/// A token lifetime in seconds, from `expires_in`.
pub fn parse_lifetime(seconds: i64) -> Result<chrono::TimeDelta, InvalidInput> {
    if (MIN_TOKEN_LIFETIME_SECONDS..=MAX_TOKEN_LIFETIME_SECONDS).contains(&seconds) {
        Ok(chrono::TimeDelta::seconds(seconds))
    } else {
        Err(InvalidInput::new(
            "expires_in",
            format!(
                "must be a number of seconds from {MIN_TOKEN_LIFETIME_SECONDS} to \
                 {MAX_TOKEN_LIFETIME_SECONDS} (ten years)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> AppName {
        AppName::parse(name).unwrap()
    }

    #[test]
    fn scopes_parse_and_order() {
        for scope in [Scope::Read, Scope::Deploy, Scope::Admin] {
            assert_eq!(Scope::parse(scope.as_str()), Ok(scope));
        }
        assert!(Scope::Read < Scope::Deploy && Scope::Deploy < Scope::Admin);
        let err = Scope::parse("root").unwrap_err();
        assert_eq!(err.field, "scope");
    }

    #[test]
    fn grants_check_scope_then_app() {
        let grant = Grant {
            scope: Scope::Deploy,
            apps: vec![app("web")],
        };
        assert_eq!(grant.allows(Scope::Read, Some(&app("web"))), Ok(()));
        assert_eq!(grant.allows(Scope::Deploy, Some(&app("web"))), Ok(()));
        assert_eq!(
            grant.allows(Scope::Deploy, Some(&app("api"))),
            Err(Denied::App(app("api")))
        );
        assert!(matches!(
            grant.allows(Scope::Admin, None),
            Err(Denied::Scope { .. })
        ));
        let limited_admin = Grant {
            scope: Scope::Admin,
            apps: vec![app("web")],
        };
        assert_eq!(
            limited_admin.allows(Scope::Admin, None),
            Err(Denied::AllApps)
        );
        let everything = Grant {
            scope: Scope::Admin,
            apps: vec![],
        };
        assert_eq!(everything.allows(Scope::Admin, Some(&app("any"))), Ok(()));
    }

    #[test]
    fn lifetimes_have_bounds() {
        assert!(parse_lifetime(59).is_err());
        assert!(parse_lifetime(MAX_TOKEN_LIFETIME_SECONDS + 1).is_err());
        assert_eq!(parse_lifetime(3600).unwrap().num_seconds(), 3600);
    }
}
