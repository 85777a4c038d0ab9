//! `POST /api/graphql`: everything Jobber does around executing a query.
//!
//! In order: bearer token (none → 200 `UNAUTHENTICATED`, bad → 401), API version header,
//! request-count window (→ 429), forced faults, parse, `EncodedId` variables (Jobber's own
//! message), requested cost against the bucket (→ `THROTTLED`), execution, actual cost deducted,
//! and `extensions.cost` + `extensions.versioning` on the response.

use std::sync::Arc;

use async_graphql::{Request, Variables};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json_;

use super::cost;
use super::ids::EncodedId;
use super::limits::{CostExtension, ThrottleStatus};
use super::oauth::{authenticate, AuthError};
use super::schema::Session;
use crate::context::Shared;
use crate::faults::ForcedThrottle;

/// The request header that picks the API version.
pub const VERSION_HEADER: &str = "x-jobber-graphql-version";

/// The documentation link in Jobber's THROTTLED error.
pub const THROTTLED_DOCUMENTATION: &str =
    "https://developer.getjobber.com/docs/using_jobbers_api/api_rate_limits";

/// Body of a 401 (one source shows it; unconfirmed).
pub const UNAUTHORIZED_BODY: &str = r#"{"message":"Token not recognized"}"#;

pub use crate::faults::TOO_MANY_REQUESTS_BODY;

/// A GraphQL request body.
#[derive(Deserialize)]
pub struct GraphqlBody {
    pub query: String,
    #[serde(default, rename = "operationName")]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<Json_>,
}

/// `extensions.versioning`.
#[derive(Serialize, Clone, Debug)]
pub struct Versioning {
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

#[derive(Serialize)]
struct Extensions<'a> {
    cost: CostExtension,
    versioning: &'a Versioning,
}

/// The response body, with keys in Jobber's order.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<async_graphql::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<Json_>,
    extensions: Extensions<'a>,
}

/// Resolves the version header per Jobber's policy: supported → as is; deprecated → served with a
/// warning; older than the oldest supported → silently upgraded to it (with a warning in the
/// extension so a developer can see it happened); anything else → error.
pub fn resolve_version(shared: &Shared, requested: &str) -> Result<Versioning, String> {
    let config = &shared.config.graphql;
    if config.supported_versions.iter().any(|v| v == requested) {
        return Ok(Versioning { version: requested.to_string(), warning: None });
    }
    if config.deprecated_versions.iter().any(|v| v == requested) {
        return Ok(Versioning {
            version: requested.to_string(),
            warning: Some(format!(
                "API version {requested} is deprecated and will be retired soon; please upgrade."
            )),
        });
    }
    let oldest = config.supported_versions.iter().min();
    let is_date = requested.len() == 10
        && requested
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    match oldest {
        Some(oldest) if is_date && requested < oldest.as_str() => Ok(Versioning {
            version: oldest.clone(),
            warning: Some(format!(
                "API version {requested} is retired; the request was served with {oldest}."
            )),
        }),
        _ => Err(format!("Unsupported API version: {requested}")),
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(axum::http::header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}

/// The exact THROTTLED body of jobber-api.md.
pub fn throttled_body(requested: u64, status: ThrottleStatus) -> String {
    let cost =
        CostExtension { requested_query_cost: requested, actual_query_cost: 0, throttle_status: status };
    format!(
        r#"{{"errors":[{{"message":"Throttled","extensions":{{"code":"THROTTLED","documentation":"{THROTTLED_DOCUMENTATION}"}}}}],"extensions":{{"cost":{}}}}}"#,
        serde_json::to_string(&cost).expect("plain struct")
    )
}

/// Finds the first `EncodedId` variable whose value is malformed, in Jobber's words.
fn invalid_encoded_id_variable(
    document: &async_graphql::parser::types::ExecutableDocument,
    variables: &Variables,
) -> Option<String> {
    for (_, operation) in document.operations.iter() {
        for definition in &operation.node.variable_definitions {
            let definition = &definition.node;
            let ty = definition.var_type.node.to_string();
            if ty.trim_matches(|c| c == '[' || c == ']' || c == '!') != "EncodedId" {
                continue;
            }
            let name = definition.name.node.clone();
            let Some(value) = variables.get(&name) else { continue };
            let valid = match value {
                async_graphql::Value::Null => true,
                async_graphql::Value::String(s) => EncodedId::decode(s).is_some(),
                async_graphql::Value::List(items) => items.iter().all(|item| match item {
                    async_graphql::Value::String(s) => EncodedId::decode(s).is_some(),
                    async_graphql::Value::Null => true,
                    _ => false,
                }),
                _ => false,
            };
            if !valid {
                return Some(format!("Variable ${name} of type {ty} was provided invalid value"));
            }
        }
    }
    None
}

/// The operation a request runs, for the counters: the `operationName` given, else the first
/// operation's name.
fn operation_name(
    document: Option<&async_graphql::parser::types::ExecutableDocument>,
    given: Option<&str>,
) -> String {
    if let Some(name) = given {
        return name.to_string();
    }
    let first = document.and_then(|doc| doc.operations.iter().next().and_then(|(name, _)| name.cloned()));
    first.map_or_else(|| "(anonymous)".to_string(), |name| name.to_string())
}

/// `POST /api/graphql`.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    State(jobber): State<Arc<super::Runtime>>,
    forced: Option<Extension<ForcedThrottle>>,
    headers: HeaderMap,
    Json(body): Json<GraphqlBody>,
) -> Response {
    let document = async_graphql::parser::parse_query(&body.query).ok();
    shared.counters.graphql_operation(&operation_name(document.as_ref(), body.operation_name.as_deref()));
    let account_id = match authenticate(&shared, &headers) {
        Ok(account) => account,
        Err(AuthError::Missing) => {
            return json_response(
                StatusCode::OK,
                r#"{"errors":[{"message":"Unauthenticated","extensions":{"code":"UNAUTHENTICATED"}}]}"#
                    .to_string(),
            )
        }
        Err(AuthError::Invalid) => {
            shared.counters.unauthorized();
            return json_response(StatusCode::UNAUTHORIZED, UNAUTHORIZED_BODY.to_string());
        }
    };
    let versioning = match headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok()) {
        None => {
            let body = serde_json::json!({"errors": [{"message": "The X-JOBBER-GRAPHQL-VERSION header is required"}]});
            return json_response(StatusCode::BAD_REQUEST, body.to_string());
        }
        Some(requested) => match resolve_version(&shared, requested.trim()) {
            Ok(v) => v,
            Err(message) => {
                let body = serde_json::json!({"errors": [{"message": message}]});
                return json_response(StatusCode::BAD_REQUEST, body.to_string());
            }
        },
    };
    let now = shared.clock.now_ms();
    if !jobber.limits.count_request(account_id, now) {
        shared.counters.too_many();
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(axum::http::header::CONTENT_TYPE, "text/plain")],
            TOO_MANY_REQUESTS_BODY,
        )
            .into_response();
    }

    let variables = Variables::from_json(body.variables.clone().unwrap_or(Json_::Null));
    let requested = document
        .as_ref()
        .map(|doc| jobber.cost_model.requested(doc, body.operation_name.as_deref(), &variables))
        .unwrap_or(0);

    if forced.is_some() {
        shared.counters.throttled();
        let status = jobber.limits.status(account_id, now);
        return json_response(StatusCode::OK, throttled_body(requested, status));
    }
    if let Some(message) = document.as_ref().and_then(|doc| invalid_encoded_id_variable(doc, &variables)) {
        let status = jobber.limits.status(account_id, now);
        let cost =
            CostExtension { requested_query_cost: requested, actual_query_cost: 0, throttle_status: status };
        let body = Body {
            data: None,
            errors: vec![serde_json::json!({"message": message})],
            extensions: Extensions { cost, versioning: &versioning },
        };
        return json_response(StatusCode::OK, serde_json::to_string(&body).expect("serializable"));
    }
    if let Err(status) = jobber.limits.admit(account_id, now, requested) {
        shared.counters.throttled();
        return json_response(StatusCode::OK, throttled_body(requested, status));
    }

    let mut request = Request::new(body.query).variables(variables);
    if let Some(name) = body.operation_name {
        request = request.operation_name(name);
    }
    let request = request.data(Session { shared: shared.clone(), jobber: jobber.clone(), account_id });
    let response = jobber.schema.execute(request).await;

    let actual = cost::actual(&response.data).min(requested);
    let status = jobber.limits.deduct(account_id, shared.clock.now_ms(), actual);
    shared.counters.points(requested, actual);
    let cost =
        CostExtension { requested_query_cost: requested, actual_query_cost: actual, throttle_status: status };
    // Like graphql-ruby, a request that failed validation has no `data` key at all.
    let data = if !response.errors.is_empty() && response.data == async_graphql::Value::Null {
        None
    } else {
        Some(response.data)
    };
    let errors =
        response.errors.iter().map(|e| serde_json::to_value(e).expect("server errors serialize")).collect();
    let body = Body { data, errors, extensions: Extensions { cost, versioning: &versioning } };
    json_response(StatusCode::OK, serde_json::to_string(&body).expect("serializable"))
}
