//! The rollout deadline of an app or a promotion.

use crate::domain::InvalidInput;
use serde::{Deserialize, Deserializer, Serialize};

/// Seconds a rollout may take before it is rolled back (Convox: 10 minutes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Deadline(u32);

impl utoipa::PartialSchema for Deadline {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(Self::MIN))
            .maximum(Some(Self::MAX))
            .description(Some(
                "Seconds a rollout may take before it is rolled back (default 600).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Deadline {
    fn name() -> std::borrow::Cow<'static, str> {
        "DeadlineSeconds".into()
    }
}

impl Deadline {
    pub const MIN: u32 = 10;
    pub const MAX: u32 = 3600;
    pub const DEFAULT: Deadline = Deadline(600);

    /// `field` names where the value came from (`deadline_seconds`).
    pub fn parse(seconds: i64, field: &str) -> Result<Deadline, InvalidInput> {
        match u32::try_from(seconds) {
            Ok(s) if (Self::MIN..=Self::MAX).contains(&s) => Ok(Deadline(s)),
            _ => Err(InvalidInput::new(
                field,
                format!("must be between {} and {} seconds", Self::MIN, Self::MAX),
            )),
        }
    }

    pub fn seconds(self) -> u32 {
        self.0
    }
}

/// Read back from an app or event as its seconds, within the same bounds.
impl<'de> Deserialize<'de> for Deadline {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = i64::deserialize(deserializer)?;
        Deadline::parse(seconds, "deadline_seconds").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(Deadline::parse(10, "d").unwrap().seconds(), 10);
        assert_eq!(Deadline::parse(3600, "d").unwrap().seconds(), 3600);
        for bad in [9, 3601, -1, i64::MAX] {
            let err = Deadline::parse(bad, "deadline_seconds").unwrap_err();
            assert_eq!(err.field, "deadline_seconds");
        }
    }
}
