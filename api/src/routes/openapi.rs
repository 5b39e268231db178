//! `GET /openapi.json`: the API described for people and generators.

use actix_web::HttpResponse;

/// Kept beside the route table; a test checks every route is described.
pub(crate) const DOCUMENT: &str = include_str!("../../openapi.json");

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT)
}
