//! `GET /v1/records/live`: the log as server-sent events, from a position (or after
//! the `Last-Event-ID` a reconnecting client sends), catch-up then live. Each event's
//! `id` is the record's position and its `data` the stored record as JSON. The events
//! come from the shared tail in `fanout` (each record serialized once for every
//! subscriber). The stream ends when the server stops, so a graceful shutdown does not
//! wait on subscribers.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::AppState;
use crate::access::Access;
use crate::api::{ApiError, number};
use crate::tokens::Role;

pub async fn records_live(
    State(state): State<AppState>,
    access: Access,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    access.require(&[Role::Audit])?;
    let from = match headers.get("last-event-id") {
        // Resume after the last event the client saw.
        Some(v) => {
            let text = v
                .to_str()
                .map_err(|_| ApiError::invalid("Last-Event-ID", "not text"))?;
            number("Last-Event-ID", Some(text.trim()), 0)?.saturating_add(1)
        }
        None => number("from", q.get("from").map(String::as_str), 0)?,
    };
    let mut stopping = state.stopping.clone();
    let stopped = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let events = state
        .live
        .events(from)
        .take_while(|item| {
            if let Err(e) = item {
                tracing::error!(%e, "live subscription ended by a store error");
            }
            std::future::ready(item.is_ok())
        })
        .filter_map(|item| std::future::ready(item.ok().map(Ok::<_, Infallible>)))
        .take_until(Box::pin(stopped));
    let mut response = Body::from_stream(events).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}
