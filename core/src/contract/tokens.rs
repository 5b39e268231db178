//! `/tokens`: API tokens with a scope and apps (admin only). The token
//! itself is shown once, in the answer to its creation.

use crate::domain::token::parse_lifetime;
use crate::domain::{AppName, InvalidInput, Scope, TokenName};
use crate::store;
pub use crate::store::Token;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most apps one token may name.
const MAX_APPS: usize = 100;

/// `POST /tokens`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Unique; recorded as the `actor` of what the token changes.
    #[schema(value_type = TokenName)]
    pub name: String,
    #[schema(value_type = Scope)]
    pub scope: String,
    /// The apps it may act on; empty or left out: all apps.
    #[schema(value_type = Vec<AppName>, max_items = 100)]
    #[serde(default)]
    pub apps: Vec<String>,
    /// Seconds until the token stops working; left out: never.
    #[schema(minimum = 60, maximum = 315360000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

impl CreateToken {
    pub fn parse(&self) -> Result<store::NewToken, InvalidInput> {
        if self.apps.len() > MAX_APPS {
            return Err(InvalidInput::new(
                "apps",
                format!("at most {MAX_APPS} apps; leave it empty for all apps"),
            ));
        }
        let mut apps = self
            .apps
            .iter()
            .enumerate()
            .map(|(i, a)| {
                AppName::parse(a).map_err(|e| InvalidInput::new(format!("apps[{i}]"), e.message))
            })
            .collect::<Result<Vec<_>, _>>()?;
        apps.sort();
        apps.dedup();
        Ok(store::NewToken {
            name: TokenName::parse(&self.name)?,
            scope: Scope::parse(&self.scope)?,
            apps,
            lifetime: self.expires_in.map(parse_lifetime).transpose()?,
        })
    }
}

/// `201` to `POST /tokens`: the token, and once only its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenWithSecret {
    #[serde(flatten)]
    pub token: Token,
    /// The token: shown only here; stored only as its SHA-256.
    #[serde(rename = "token")]
    #[schema(pattern = "^slp_[0-9A-Za-z]{43}$")]
    pub secret: String,
}

/// `GET /tokens`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<Token>,
}

impl From<Vec<store::Token>> for TokenList {
    fn from(tokens: Vec<store::Token>) -> TokenList {
        TokenList { tokens }
    }
}
