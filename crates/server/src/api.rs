//! The shape of every error answer, so a client reads one form whatever went wrong:
//! `{"error": KIND, ...}` with the status that says who must act.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer: a status and a JSON body with at least `error`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    /// 400: the request is malformed; `field` names what to fix.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "error": "invalid", "field": field, "reason": reason.into() }),
        }
    }

    /// 400 for one record of a batch.
    pub fn invalid_at(index: usize, field: &str, reason: impl Into<String>) -> Self {
        let mut e = Self::invalid(field, reason);
        e.body["index"] = json!(index);
        e
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            body: json!({ "error": "too_large", "message": message.into() }),
        }
    }

    /// 503: the store failed; the operator must look.
    pub fn store(message: impl std::fmt::Display) -> Self {
        tracing::error!(%message, "store failure");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: json!({ "error": "store", "message": message.to_string() }),
        }
    }
}

impl ApiError {
    /// 500: a fault of the server itself.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(%message, "internal error");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: json!({ "error": "internal", "message": message }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        body: json!({ "error": "not_found", "message": "no such endpoint" }),
    }
}

/// A query-string parameter as a whole number, or a 400 naming it.
pub fn number(name: &str, value: Option<&str>, default: u64) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::invalid(name, format!("must be a whole number, got {v:?}"))),
    }
}
