//! The manifest's JSON Schema for the OpenAPI document. The manifest is
//! checked by hand in `parse` (for its field paths and messages), not by
//! serde derives, so its schema is written beside it in `schema.json`,
//! rule for rule: change both together.

use super::Manifest;
use std::borrow::Cow;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;

const SCHEMAS: &str = include_str!("schema.json");

/// One of the schemas of `schema.json`: `Manifest`, `Service`, `Health`, `HealthPath`.
fn named(name: &str) -> RefOr<Schema> {
    let mut all: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(SCHEMAS).expect("schema.json is a JSON object");
    let schema = all
        .remove(name)
        .unwrap_or_else(|| panic!("schema.json describes {name}"));
    serde_json::from_value(schema).expect("schema.json holds OpenAPI schemas")
}

impl utoipa::PartialSchema for Manifest {
    fn schema() -> RefOr<Schema> {
        named("Manifest")
    }
}

impl utoipa::ToSchema for Manifest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for name in ["Service", "Health", "HealthPath"] {
            schemas.push((name.to_owned(), named(name)));
        }
        let service = <crate::domain::ServiceName as utoipa::ToSchema>::name();
        schemas.push((
            service.into_owned(),
            <crate::domain::ServiceName as utoipa::PartialSchema>::schema(),
        ));
    }

    fn name() -> Cow<'static, str> {
        "Manifest".into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_schema_reads() {
        for name in ["Manifest", "Service", "Health", "HealthPath"] {
            super::named(name);
        }
    }
}
