//! The frame of the OpenAPI document (title, bearer security scheme, shared
//! error responses, tags) and `GET /api/v1/openapi.json`, which serves it
//! without a token so tools can fetch the contract.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, responses as r};
use super::extract::{NoParams, Query};

/// Name of the security scheme every protected operation requires (also
/// spelled out in `#[openapi(security(...))]`, which takes only literals).
const BEARER: &str = "bearer";

/// Everything in the document that no handler states.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "pmr-hub API",
        description = "JSON over the servers, processes, events and actions a pmr-hub knows. \
            Every error is `{\"error\": string, \"status\": integer}`. Query parameters not \
            listed for an operation are rejected with 400.",
    ),
    security(("bearer" = [])),
    modifiers(&BearerScheme),
    components(
        schemas(ErrorBody, super::logs::Lines),
        responses(
            r::BadRequest,
            r::Unauthorized,
            r::Forbidden,
            r::TooManyRequests,
            r::NotFound,
            r::Conflict,
            r::PayloadTooLarge,
            r::UnsupportedMediaType,
            r::Unprocessable,
            r::Unavailable,
            r::Internal,
        )
    ),
    tags(
        (name = "servers", description = "Servers: connected agents and those only stored"),
        (name = "processes", description = "Processes as agents report them, with history"),
        (name = "events", description = "Stored process events, paged"),
        (name = "versions", description = "Which revision runs where"),
        (name = "actions", description = "Remote restart, stop, scale, ... and their outcome"),
        (name = "changes", description = "Every change, live, as server-sent events"),
        (name = "access", description = "Signing in and out; the audit log"),
        (name = "alerts", description = "Alerts now and before, rules, receivers and deliveries"),
        (name = "admin", description = "Bucket keys, API tokens and users, for admins"),
        (name = "meta", description = "This document"),
        (name = "operations", description = "Health, readiness, Prometheus metrics, the agents' websocket"),
    )
)]
pub(super) struct ApiDoc;

/// Adds the HTTP bearer scheme the top-level `security` refers to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API token from `pmr-hub tokens create --name NAME`; the scheme name is case-insensitive",
            ))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI 3.1 document of this API; needs no token.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    params(NoParams),
    responses(
        (status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json", body = Object),
        (status = 400, response = r::BadRequest),
    )
)]
pub(super) async fn get_openapi(_: Query<NoParams>) -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let text = DOC.get_or_init(|| {
        serde_json::to_string_pretty(&super::openapi())
            .unwrap_or_else(|e| format!(r#"{{"error": "{e}", "status": 500}}"#))
    });
    ([(header::CONTENT_TYPE, "application/json")], text.as_str())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn doc() -> Value {
        super::super::openapi()
    }

    #[test]
    fn document_is_openapi_3_1_with_every_route() {
        let d = doc();
        assert_eq!(d["openapi"], "3.1.0");
        let mut ops: Vec<String> = Vec::new();
        for (path, item) in d["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                ops.push(format!("{method} {path}"));
            }
        }
        // The list itself is checked against the running hub in
        // hub/tests/api_contract.rs; here: every API route is in it.
        for op in [
            "get /api/v1/servers",
            "post /api/v1/actions",
            "get /api/v1/changes",
        ] {
            assert!(ops.iter().any(|o| o == op), "{op} missing");
        }
        assert_eq!(
            d["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn every_operation_documents_its_errors_and_parameters() {
        let d = doc();
        for (path, item) in d["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let at = format!("{method} {path}");
                let codes = op["responses"].as_object().unwrap();
                let public = !path.starts_with("/api/v1/")
                    || path == "/api/v1/openapi.json"
                    || at == "post /api/v1/session"
                    || at == "post /api/v1/setup";
                if !public {
                    for code in ["400", "401", "500"] {
                        assert!(codes.contains_key(code), "{at} lacks {code}");
                    }
                }
                // A POST with a body documents what can go wrong with it
                // (one without, such as a password reset, takes none).
                if method == "post" && op["requestBody"].is_object() {
                    for code in ["413", "415", "422"] {
                        assert!(codes.contains_key(code), "{at} lacks {code}");
                    }
                }
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                for name in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
                    let declared = params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true);
                    assert!(declared, "{at} does not declare path parameter {name}");
                }
                for p in &params {
                    let described = p["description"].as_str().is_some_and(|s| !s.is_empty());
                    assert!(
                        described,
                        "{at}: parameter {} has no description",
                        p["name"]
                    );
                }
            }
        }
    }
}
