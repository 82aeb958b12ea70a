//! `POST /v1/records`: one record (an object) or several (an array), all written or
//! none. Malformed input is a 400 naming the field, a refusal a 409 naming the record
//! and the reason; nothing is written for either.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
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

/// How much of an oversized body is read and thrown away before the 413 goes out.
/// A client that sends its whole body before reading the answer (most do) would
/// otherwise have its connection reset mid-send and never see the 413; beyond this
/// the connection is closed at once.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

pub async fn post_records(
    State(state): State<AppState>,
    access: Access,
    body: Body,
) -> Result<Response, ApiError> {
    access.require(&[Role::Ingest])?;
    let body = match read_body(body, state.max_body_bytes).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            // Nothing more will be read from this connection: say so, or a pooling
            // client would reuse it and fail.
            let mut answer = ApiError::too_large(format!(
                "the request body is larger than {} bytes",
                state.max_body_bytes
            ))
            .into_response();
            answer.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            return Ok(answer);
        }
        Err(BodyError::Read(e)) => {
            return Err(ApiError::invalid("body", format!("reading it failed: {e}")));
        }
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

enum BodyError {
    TooLarge,
    Read(axum::Error),
}

/// The whole body if it is at most `limit` bytes. A larger one is read on (and thrown
/// away) up to [`DRAIN_LIMIT`], so that the client gets to read the 413.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    use http_body_util::BodyExt;
    let declared = axum::body::HttpBody::size_hint(&body).exact();
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = body;
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > limit {
            if seen > DRAIN_LIMIT {
                return Err(BodyError::TooLarge);
            }
            buf = bytes::BytesMut::new();
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if seen > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(buf.freeze())
}
