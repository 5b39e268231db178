//! `GET /healthz` and `GET /readyz`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The process answers (`ok`), and can reach its database (`ready`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Status {
    #[schema(value_type = String, pattern = "^(ok|ready)$")]
    pub status: String,
}

impl Status {
    pub fn ok() -> Status {
        Status {
            status: "ok".into(),
        }
    }

    pub fn ready() -> Status {
        Status {
            status: "ready".into(),
        }
    }
}
