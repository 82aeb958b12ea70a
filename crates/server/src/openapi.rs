//! The route table the router is built from, and the OpenAPI 3.1 document generated
//! from the same table, so the document cannot list a route the server lacks or miss
//! one it has. `docs/openapi.json` is this document; a test keeps the two in step.

use axum::routing::{MethodRouter, get, post};
use serde_json::{Map, Value, json};

use crate::{AppState, ingest, live, metrics, read, reports};

/// A query parameter: name, whether it is required, what it means.
type Param = (&'static str, bool, &'static str);

/// One method on one path, with what the document says about it.
pub(crate) struct Endpoint {
    pub method: &'static str,
    /// The axum path (`{name}` captures, as OpenAPI writes them too).
    pub path: &'static str,
    pub summary: &'static str,
    /// Roles allowed besides `admin`; `None` when no token is needed, empty when any
    /// valid token will do.
    pub roles: Option<&'static [&'static str]>,
    pub query: &'static [Param],
    pub responses: &'static [(u16, &'static str)],
    /// `application/json`, `text/event-stream` or `text/plain`.
    pub produces: &'static str,
    pub handler: fn() -> MethodRouter<AppState>,
}

const AS_OF: Param = (
    "as_of",
    false,
    "The report as it stood at this position or RFC 3339 time.",
);
const FORMAT: Param = ("format", false, "`json` (default) or `csv`.");
const PERFORMANCE: Param = ("performance_id", false, "Only this performance.");
const REPORT_ROLES: Option<&[&str]> = Some(&["read", "audit"]);
const AUDIT: Option<&[&str]> = Some(&["audit"]);
const READ_CODES: &[(u16, &str)] = &[
    (200, "The result."),
    (400, "A query parameter is invalid; the body names it."),
    (401, "No valid bearer token."),
    (403, "The token's role may not do this."),
];
const STREAM_CODES: &[(u16, &str)] = &[
    (200, "Server-sent events: catch-up, then live."),
    (400, "A query parameter is invalid; the body names it."),
    (401, "No valid bearer token."),
    (403, "The token's role may not do this."),
];

/// Every route the server answers. The router registers exactly these.
pub(crate) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "post",
        path: "/v1/records",
        summary: "Append one record or an array of records, atomically per request.",
        roles: Some(&["ingest"]),
        query: &[],
        responses: &[
            (201, "Appended; the body gives each record's position."),
            (200, "Every record was already in the log (duplicates)."),
            (400, "The body is not valid; the error names the field."),
            (401, "No valid bearer token."),
            (403, "The token's role may not do this."),
            (409, "Refused; each refused record's index and reason."),
            (413, "The body or the batch is too large."),
        ],
        produces: "application/json",
        handler: || post(ingest::post_records),
    },
    Endpoint {
        method: "get",
        path: "/v1/records",
        summary: "Read the log in position order.",
        roles: AUDIT,
        query: &[
            ("from", false, "The first position to read (default 0)."),
            ("limit", false, "The most records to return."),
        ],
        responses: READ_CODES,
        produces: "application/json",
        handler: || get(read::records),
    },
    Endpoint {
        method: "get",
        path: "/v1/records/live",
        summary: "Follow the log as server-sent events; resumable with Last-Event-ID.",
        roles: AUDIT,
        query: &[("from", false, "The first position to send (default 0).")],
        responses: STREAM_CODES,
        produces: "text/event-stream",
        handler: || get(live::records_live),
    },
    Endpoint {
        method: "get",
        path: "/v1/streams/{stream}",
        summary: "Read one stream in revision order.",
        roles: AUDIT,
        query: &[
            ("from", false, "The first revision to read (default 0)."),
            ("limit", false, "The most records to return."),
        ],
        responses: READ_CODES,
        produces: "application/json",
        handler: || get(read::stream),
    },
    Endpoint {
        method: "get",
        path: "/v1/tickets/{id}/history",
        summary: "Every record of one ticket.",
        roles: AUDIT,
        query: &[AS_OF],
        responses: READ_CODES,
        produces: "application/json",
        handler: || get(read::ticket_history),
    },
    Endpoint {
        method: "get",
        path: "/v1/health",
        summary: "Liveness and the log's end position.",
        roles: None,
        query: &[],
        responses: &[(200, "The server is up.")],
        produces: "application/json",
        handler: || get(read::health),
    },
    Endpoint {
        method: "get",
        path: "/v1/metrics",
        summary: "Prometheus text: appends, refusals, projection lag, request latency.",
        roles: Some(&[]),
        query: &[],
        responses: &[(200, "The metrics."), (401, "No valid bearer token.")],
        produces: "text/plain",
        handler: || get(metrics::render),
    },
    Endpoint {
        method: "get",
        path: "/v1/tickets/{id}/shares",
        summary: "The shares of one ticket.",
        roles: REPORT_ROLES,
        query: &[AS_OF, FORMAT],
        responses: READ_CODES,
        produces: "application/json",
        handler: || get(reports::ticket_shares),
    },
    Endpoint {
        method: "get",
        path: "/v1/reports/shared-tickets",
        summary: "Shared tickets, filtered.",
        roles: REPORT_ROLES,
        query: &[
            ("from", false, "Shared at or after this RFC 3339 time."),
            ("to", false, "Shared before this RFC 3339 time."),
            ("shared_by", false, "Only shares by this person."),
            ("recipient", false, "Only shares to this recipient."),
            ("order_id", false, "Only this order."),
            PERFORMANCE,
            AS_OF,
            FORMAT,
        ],
        responses: READ_CODES,
        produces: "application/json",
        handler: || get(reports::shared_tickets),
    },
    Endpoint {
        method: "get",
        path: "/v1/reports/shared-tickets/counts",
        summary: "Counts of shared tickets per day or month.",
        roles: REPORT_ROLES,
        query: &[
            ("bucket", true, "`day` or `month`."),
            ("from", false, "Shared at or after this RFC 3339 time."),
            ("to", false, "Shared before this RFC 3339 time."),
            ("shared_by", false, "Only shares by this person."),
            ("recipient", false, "Only shares to this recipient."),
            ("order_id", false, "Only this order."),
            PERFORMANCE,
            AS_OF,
            FORMAT,
        ],
        responses: READ_CODES,
        produces: "application/json",
        handler: || get(reports::shared_counts),
    },
    Endpoint {
        method: "get",
        path: "/v1/reports/unsold",
        summary: "Unsold tickets per definition.",
        roles: REPORT_ROLES,
        query: &[
            PERFORMANCE,
            ("definition_id", false, "Only this definition."),
            ("at", false, "Counts at this RFC 3339 time."),
            AS_OF,
            FORMAT,
        ],
        responses: READ_CODES,
        produces: "application/json",
        handler: || get(reports::unsold),
    },
    Endpoint {
        method: "get",
        path: "/v1/reports/unsold/live",
        summary: "Server-sent events on every change of a definition's unsold count.",
        roles: REPORT_ROLES,
        query: &[
            PERFORMANCE,
            ("definition_id", false, "Only this definition."),
        ],
        responses: STREAM_CODES,
        produces: "text/event-stream",
        handler: || get(reports::unsold_live),
    },
    Endpoint {
        method: "get",
        path: "/v1/reports/owners",
        summary: "Current owners of a performance's tickets, paged.",
        roles: REPORT_ROLES,
        query: &[
            ("performance_id", true, "The performance."),
            ("limit", true, "Rows per page, 1 to 1000."),
            ("offset", false, "Rows to skip."),
            (
                "exclude_deleted",
                false,
                "`true` leaves out deleted tickets.",
            ),
            (
                "last_updated_since",
                false,
                "Updated at or after this RFC 3339 time.",
            ),
            (
                "last_updated_before",
                false,
                "Updated before this RFC 3339 time.",
            ),
            AS_OF,
            FORMAT,
        ],
        responses: READ_CODES,
        produces: "application/json",
        handler: || get(reports::owners),
    },
    Endpoint {
        method: "get",
        path: "/v1/reports/links",
        summary: "Purchases attributed to links.",
        roles: REPORT_ROLES,
        query: &[PERFORMANCE, AS_OF, FORMAT],
        responses: READ_CODES,
        produces: "application/json",
        handler: || get(reports::links),
    },
];

/// The OpenAPI 3.1 document of every route in [`ENDPOINTS`].
pub fn document() -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let mut parameters: Vec<Value> = path_captures(e.path)
            .map(|name| {
                json!({
                    "name": name, "in": "path", "required": true,
                    "schema": { "type": "string" },
                })
            })
            .collect();
        parameters.extend(e.query.iter().map(|(name, required, description)| {
            json!({
                "name": name, "in": "query", "required": required,
                "description": description, "schema": { "type": "string" },
            })
        }));
        let responses: Map<String, Value> = e
            .responses
            .iter()
            .map(|(code, description)| {
                let mut response = json!({ "description": description });
                if (200..300).contains(code) {
                    response["content"] = json!({ e.produces: {} });
                }
                (code.to_string(), response)
            })
            .collect();
        let mut operation = json!({
            "summary": e.summary,
            "operationId": operation_id(e),
            "parameters": parameters,
            "responses": responses,
        });
        match e.roles {
            None => operation["security"] = json!([]),
            Some(roles) => {
                let mut allowed: Vec<&str> = roles.to_vec();
                allowed.push("admin");
                operation["x-roles"] = json!(allowed);
            }
        }
        if e.method == "post" {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": {
                    "schema": { "oneOf": [{ "type": "object" }, { "type": "array", "items": { "type": "object" } }] }
                }},
            });
        }
        let item = paths.entry(e.path.to_string()).or_insert_with(|| json!({}));
        item[e.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Counterfoil HTTP API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Generated from the server's route table; see docs/http.md.",
        },
        "servers": [{ "url": "http://127.0.0.1:7070" }],
        "components": { "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } },
        "security": [{ "bearer": [] }],
        "paths": paths,
    })
}

fn path_captures(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn operation_id(e: &Endpoint) -> String {
    let words: Vec<&str> = e
        .path
        .split('/')
        .skip(2)
        .map(|s| s.trim_matches(|c| c == '{' || c == '}'))
        .collect();
    format!("{}_{}", e.method, words.join("_").replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_and_path_appears_once() {
        let mut seen = std::collections::HashSet::new();
        for e in ENDPOINTS {
            assert!(
                seen.insert((e.method, e.path)),
                "{} {} twice",
                e.method,
                e.path
            );
        }
        let doc = document();
        let count: usize = doc["paths"]
            .as_object()
            .map(|p| p.values().filter_map(Value::as_object).map(Map::len).sum())
            .unwrap_or(0);
        assert_eq!(count, ENDPOINTS.len());
    }
}
