//! Raw reads: a stream's records, the log from a position, a ticket's history and
//! the health check. Each page is bounded; `next` says where the following one starts.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use counterfoil_core::StoredRecord;
use counterfoil_ledger::history::{self, AsOf, HistoryEntry};
use serde::Serialize;

use crate::AppState;
use crate::access::Access;
use crate::api::{ApiError, number};
use crate::tokens::Role;

/// Records per page unless `limit` says fewer.
const DEFAULT_LIMIT: u64 = 1000;
/// The most records one page may hold.
const MAX_LIMIT: u64 = 10_000;

type Params = Query<HashMap<String, String>>;

fn limit(q: &HashMap<String, String>) -> Result<usize, ApiError> {
    let n = number("limit", q.get("limit").map(String::as_str), DEFAULT_LIMIT)?;
    if n == 0 || n > MAX_LIMIT {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}, got {n}"),
        ));
    }
    usize::try_from(n).map_err(|e| ApiError::invalid("limit", e.to_string()))
}

/// `{"records": [...], "next": N}`: `next` is the revision (streams) or position (log)
/// to ask for the following page.
#[derive(Debug, Serialize)]
pub struct Page {
    records: Vec<StoredRecord>,
    next: u64,
}

pub async fn stream(
    State(state): State<AppState>,
    access: Access,
    Path(stream): Path<String>,
    Query(q): Params,
) -> Result<Json<Page>, ApiError> {
    access.require(&[Role::Audit])?;
    let from = number("from", q.get("from").map(String::as_str), 0)?;
    let limit = limit(&q)?;
    let records = state
        .store
        .read_stream(&stream, from, limit)
        .await
        .map_err(|e| ApiError::store(format!("reading stream {stream} from {from}: {e}")))?;
    let next = records.last().map_or(from, |r| r.revision + 1);
    Ok(Json(Page { records, next }))
}

pub async fn records(
    State(state): State<AppState>,
    access: Access,
    Query(q): Params,
) -> Result<Json<Page>, ApiError> {
    access.require(&[Role::Audit])?;
    let from = number("from", q.get("from").map(String::as_str), 0)?;
    let limit = limit(&q)?;
    let records = state
        .store
        .read_all(from, limit)
        .await
        .map_err(|e| ApiError::store(format!("reading the log from {from}: {e}")))?;
    let next = records.last().map_or(from, |r| r.position + 1);
    Ok(Json(Page { records, next }))
}

/// `{"ticket_id": ..., "entries": [{"record", "state"}]}`, as `history ticket --format
/// json` prints each entry.
#[derive(Debug, Serialize)]
pub struct History {
    ticket_id: String,
    entries: Vec<HistoryEntry>,
}

pub async fn ticket_history(
    State(state): State<AppState>,
    access: Access,
    Path(id): Path<String>,
    Query(q): Params,
) -> Result<Json<History>, ApiError> {
    access.require(&[Role::Audit])?;
    let as_of = q.get("as_of").map(|t| parse_as_of(t)).transpose()?;
    let entries = history::ticket_history(&*state.store, &id, as_of)
        .await
        .map_err(|e| ApiError::store(format!("reading the history of ticket {id}: {e}")))?;
    Ok(Json(History {
        ticket_id: id,
        entries,
    }))
}

/// `pos:N` or an RFC 3339 time, as the CLI's `--as-of`.
fn parse_as_of(text: &str) -> Result<AsOf, ApiError> {
    if let Some(n) = text.strip_prefix("pos:") {
        return n.parse().map(AsOf::Position).map_err(|_| {
            ApiError::invalid(
                "as_of",
                format!("{text}: the position must be a whole number"),
            )
        });
    }
    chrono_time(text).map(AsOf::Time).ok_or_else(|| {
        ApiError::invalid(
            "as_of",
            format!("{text}: expected an RFC 3339 time (2026-11-21T19:04:05Z) or pos:N"),
        )
    })
}

fn chrono_time(text: &str) -> Option<counterfoil_core::Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.to_utc())
}

#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
    /// The position the next record will take.
    end_position: u64,
}

pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let end_position = state
        .store
        .end_position()
        .await
        .map_err(|e| ApiError::store(format!("reading the log's end: {e}")))?;
    Ok(Json(Health {
        status: "ok",
        end_position,
    }))
}
