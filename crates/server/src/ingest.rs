//! `POST /v1/records`: one record (an object) or several (an array), all written or
//! none. Malformed input is a 400 naming the field, a refusal a 409 naming the record
//! and the reason; nothing is written for either.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use counterfoil_core::{NewRecord, Refusal, RefusalReason};
use counterfoil_ledger::{AtomicError, SubmitError, Submitted};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;

use crate::AppState;
use crate::access::Access;
use crate::api::ApiError;
use crate::tokens::Role;

#[derive(Debug, Serialize)]
struct Accepted {
    records: Vec<Submitted>,
}

pub async fn post_records(
    State(state): State<AppState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    access.require(&[Role::Ingest])?;
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            // The rest of the body was never read, so this connection cannot carry
            // another request: say so, or a pooling client would reuse it and fail.
            let mut answer = ApiError::too_large(e.body_text()).into_response();
            answer.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            return Ok(answer);
        }
        Err(e) => return Err(ApiError::invalid("body", e.body_text())),
    };
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::invalid("body", format!("not UTF-8: {e}")))?;
    let records = parse(text, state.max_batch_records)?;
    tracing::debug!(token = %access.token_id, records = records.len(), "ingest");
    let answer = if records.len() == 1 {
        let mut records = records;
        match records.pop() {
            Some(one) => state
                .ledger
                .submit(one)
                .await
                .map(|s| vec![s])
                .map_err(|error| AtomicError { index: 0, error }),
            None => Ok(Vec::new()),
        }
    } else {
        state.ledger.submit_atomic(records).await
    };
    match answer {
        Ok(records) => {
            let written = records.iter().filter(|r| !r.duplicate).count();
            state.metrics.appended(written as u64);
            let status = if written == 0 {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok((status, Json(Accepted { records })).into_response())
        }
        Err(AtomicError {
            index,
            error: SubmitError::Refused(r),
        }) => {
            state.metrics.refused(r.reason);
            Err(refused(index, &r))
        }
        Err(AtomicError { error, .. }) => Err(ApiError::store(error)),
    }
}

/// The records of the body, in order; an array of more than `max` is refused whole.
fn parse(text: &str, max: usize) -> Result<Vec<NewRecord>, ApiError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(text)
            .map_err(|e| ApiError::invalid("body", format!("not a JSON array: {e}")))?;
        if items.is_empty() {
            return Err(ApiError::invalid("body", "the array holds no record"));
        }
        if items.len() > max {
            return Err(ApiError::too_large(format!(
                "{} records in one request; at most {max}",
                items.len()
            )));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                NewRecord::from_json_str(raw.get())
                    .map_err(|e| ApiError::invalid_at(i, &e.field, e.reason))
            })
            .collect()
    } else if trimmed.starts_with('{') {
        NewRecord::from_json_str(text)
            .map(|r| vec![r])
            .map_err(|e| ApiError::invalid_at(0, &e.field, e.reason))
    } else {
        Err(ApiError::invalid(
            "body",
            "must be a JSON object (one record) or an array of records",
        ))
    }
}

/// A field the rules found malformed is the caller's input error: a 400 of the same
/// form as a parse error (`reason` says what is wrong). Any other refusal is a
/// conflict with the ledger's state: a 409 with the refusal's code.
fn refused(index: usize, r: &Refusal) -> ApiError {
    if r.reason == RefusalReason::InvalidField {
        return ApiError::invalid_at(index, r.field.as_deref().unwrap_or("record"), &r.message);
    }
    ApiError {
        status: StatusCode::CONFLICT,
        body: json!({
            "error": "refused",
            "index": index,
            "reason": r.reason.code(),
            "message": r.message,
            "field": r.field,
        }),
    }
}
