//! The served OpenAPI document, read as the contract to check answers
//! against: which (method, path, status) it lists, and whether a body
//! validates against the schema it gives for one (a JSON Schema validator).

use serde_json::Value;
use slipway_api::testing::{expect_status, TestApp};
use std::collections::BTreeSet;

/// One documented answer: `("post", "/apps", 201)`.
pub type Answer = (String, String, u16);

pub struct Document {
    doc: Value,
}

impl Document {
    pub async fn fetch(app: &TestApp) -> Document {
        let doc = expect_status(app.get("/openapi.json").await, 200).await;
        Document { doc }
    }

    /// Every answer the document lists.
    pub fn answers(&self) -> BTreeSet<Answer> {
        let mut answers = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("a path item") {
                let Some(responses) = operation["responses"].as_object() else {
                    continue;
                };
                for status in responses.keys() {
                    let status = status.parse().expect("a numeric status");
                    answers.insert((method.clone(), path.clone(), status));
                }
            }
        }
        answers
    }

    /// The methods of a path, as an `Allow` header lists them.
    pub fn methods(&self, path: &str) -> Vec<String> {
        let item = self.doc["paths"][path]
            .as_object()
            .expect("a documented path");
        item.keys().map(|m| m.to_ascii_uppercase()).collect()
    }

    pub fn paths(&self) -> Vec<String> {
        let paths = self.doc["paths"].as_object().expect("paths");
        paths.keys().cloned().collect()
    }

    /// The response object for an answer, its `$ref` followed.
    fn response(&self, (method, path, status): &Answer) -> &Value {
        let response = &self.doc["paths"][path][method]["responses"][status.to_string()];
        match response["$ref"].as_str() {
            Some(target) => {
                let pointer = target.strip_prefix('#').expect("a local $ref");
                self.doc.pointer(pointer).expect("the $ref resolves")
            }
            None => response,
        }
    }

    /// Panics unless an answer with `content_type` and `body` is what the
    /// document says: a listed media type, and a JSON body valid against its schema.
    pub fn check(&self, answer: &Answer, content_type: &str, body: &str) {
        let response = self.response(answer);
        assert!(!response.is_null(), "{answer:?} is not documented");
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let Some(content) = response["content"].as_object() else {
            assert!(body.is_empty(), "{answer:?} documents no body, got {body}");
            return;
        };
        let documented = content
            .keys()
            .find(|listed| listed.split(';').next().unwrap_or_default().trim() == media);
        let documented = documented.unwrap_or_else(|| {
            panic!(
                "{answer:?}: {content_type} is not one of {:?}",
                content.keys()
            )
        });
        if media != "application/json" {
            return;
        }
        let instance: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{answer:?}: not JSON ({e}): {body}"));
        let errors = self.violations(&content[documented]["schema"], &instance);
        assert!(errors.is_empty(), "{answer:?}: {errors:#?}\nbody: {body}");
    }

    /// How `instance` violates the document's component schema `name`.
    pub fn component_violations(&self, name: &str, instance: &Value) -> Vec<String> {
        let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
        self.violations(&schema, instance)
    }

    /// How `instance` violates `schema` (whose `$ref`s point into the document).
    fn violations(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let mut schema = schema.clone();
        schema["components"] = self.doc["components"].clone();
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("the schema does not compile: {e}"));
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}
