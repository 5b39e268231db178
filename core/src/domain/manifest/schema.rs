//! The manifest's JSON Schema for the OpenAPI document. The manifest is
//! checked by hand in `parse` (for its field paths and messages), not by
//! serde derives, so its schema is written beside it in `schema.json`, rule
//! for rule: change both together.
//!
//! utoipa's schema model cannot hold all of it (`not`, `dependentRequired`,
//! `anyOf` of bare `required`), so the derived document carries a stand-in
//! and the document's maker puts [`SCHEMAS`] in its place.

use super::Manifest;
use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// `Manifest`, `Service`, `Health` and `HealthPath`, by name, as JSON Schema.
pub const SCHEMAS: &str = include_str!("schema.json");

impl utoipa::PartialSchema for Manifest {
    /// The stand-in for `SCHEMAS`' `Manifest`.
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("The services an app runs."))
            .into()
    }
}

impl utoipa::ToSchema for Manifest {
    fn name() -> Cow<'static, str> {
        "Manifest".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        use crate::domain::ServiceName;
        let name = <ServiceName as utoipa::ToSchema>::name().into_owned();
        schemas.push((name, <ServiceName as utoipa::PartialSchema>::schema()));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn describes_the_manifest_and_its_parts() {
        let schemas: serde_json::Value = serde_json::from_str(super::SCHEMAS).unwrap();
        for name in ["Manifest", "Service", "Health", "HealthPath"] {
            assert!(schemas[name].is_object(), "{name}");
        }
    }
}
