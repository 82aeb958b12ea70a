//! The four read models of SPEC §6 over HTTP, with the CLI's `report` parameters
//! (snake_case query parameters) and JSON shapes. The live projections answer by
//! default; `as_of` folds the log in memory up to a past position or time instead.
//! Every answer says the log position it reflects: a `position` field in JSON (the
//! next position to fold: every record below it is included), the
//! `X-Counterfoil-Position` header in CSV and JSON alike. The unsold counts can also
//! be followed as server-sent events (the live ticket counter).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use counterfoil_core::{Store, Timestamp};
use counterfoil_projection::{AsOf, CsvRow, LiveState, Projector, build_as_of};
use counterfoil_projector_links::{LinkAttribution, LinkQuery};
use counterfoil_projector_owners::{OwnerQuery, OwnerReport, OwnersError};
use counterfoil_projector_shared::{
    Bucket, ShareCounts, ShareFilter, SharedTickets, Shares, TicketShares,
};
use counterfoil_projector_unsold::{UnsoldCounts, UnsoldQuery};
use futures::Stream;
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::api::{ApiError, number};

/// The live read models the server keeps up to date.
#[derive(Debug, Clone)]
pub struct Models {
    pub shared: LiveState<SharedTickets>,
    pub unsold: LiveState<UnsoldCounts>,
    pub owners: LiveState<OwnerReport>,
    pub links: LiveState<LinkAttribution>,
}

type Params = Query<HashMap<String, String>>;

/// JSON or CSV, from `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

struct Asked {
    format: Format,
    as_of: Option<AsOf>,
    masked: bool,
}

fn asked(q: &HashMap<String, String>, masked: bool) -> Result<Asked, ApiError> {
    let format = match q.get("format").map(String::as_str) {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("{other:?} is not json or csv"),
            ));
        }
    };
    let as_of = q
        .get("as_of")
        .map(|s| s.parse::<AsOf>().map_err(|e| ApiError::invalid("as_of", e)))
        .transpose()?;
    Ok(Asked {
        format,
        as_of,
        masked,
    })
}

/// An RFC 3339 time or a date (midnight UTC), as the CLI's time flags.
fn time(q: &HashMap<String, String>, name: &str) -> Result<Option<Timestamp>, ApiError> {
    let Some(s) = q.get(name) else {
        return Ok(None);
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.to_utc()));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(Some(t.and_utc()));
    }
    Err(ApiError::invalid(
        name,
        format!("{s:?} is not an RFC 3339 time (2026-11-21T19:04:05Z) or a date (2026-11-21)"),
    ))
}

fn text(q: &HashMap<String, String>, name: &str) -> Option<String> {
    q.get(name).filter(|s| !s.is_empty()).cloned()
}

/// Runs `f` on the live model, or on the model folded as of `as_of`; returns its
/// answer and the position it reflects.
async fn with_model<P: Projector, T>(
    live: &LiveState<P>,
    store: &Arc<dyn Store>,
    as_of: Option<AsOf>,
    f: impl FnOnce(&P) -> T,
) -> Result<(T, u64), ApiError> {
    match as_of {
        Some(as_of) => {
            let (model, position) = build_as_of::<P>(&**store, as_of)
                .await
                .map_err(|e| ApiError::store(format!("building {} as of {as_of}: {e}", P::NAME)))?;
            Ok((f(&model), position))
        }
        None => {
            let model = live.read();
            // Read under the guard: the state includes at least every record below it.
            let position = live.position();
            Ok((f(&model), position))
        }
    }
}

/// The answer in the asked form, with the position it reflects.
fn respond<T: Serialize, R: CsvRow>(
    asked: &Asked,
    answer: &T,
    rows: impl FnOnce() -> Vec<R>,
    position: u64,
) -> Result<Response, ApiError> {
    let header = [("x-counterfoil-position", HeaderValue::from(position))];
    match asked.format {
        Format::Json => {
            let mut value = serde_json::to_value(answer)
                .map_err(|e| ApiError::internal(format!("writing the report as JSON: {e}")))?;
            if asked.masked {
                crate::access::mask(&mut value);
            }
            if let Value::Object(map) = &mut value {
                map.insert("position".to_string(), Value::from(position));
            }
            Ok((header, axum::Json(value)).into_response())
        }
        Format::Csv => {
            let text = csv_text(&rows(), asked.masked)?;
            Ok((
                header,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                )],
                text,
            )
                .into_response())
        }
    }
}

fn csv_text<R: CsvRow>(rows: &[R], masked: bool) -> Result<String, ApiError> {
    let fail =
        |e: &dyn std::fmt::Display| ApiError::internal(format!("writing the report as CSV: {e}"));
    let header = R::csv_header();
    let hidden: Vec<bool> = header
        .iter()
        .map(|h| masked && crate::access::is_personal(h))
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).map_err(|e| fail(&e))?;
    for row in rows {
        let mut fields = row.csv_row();
        for (field, hide) in fields.iter_mut().zip(&hidden) {
            if *hide && !field.is_empty() {
                *field = crate::access::MASK.to_string();
            }
        }
        w.write_record(&fields).map_err(|e| fail(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| fail(&e))?;
    String::from_utf8(bytes).map_err(|e| fail(&e))
}

fn share_filter(q: &HashMap<String, String>) -> Result<ShareFilter, ApiError> {
    Ok(ShareFilter {
        from: time(q, "from")?,
        to: time(q, "to")?,
        shared_by: text(q, "shared_by"),
        recipient: text(q, "recipient"),
        order_id: text(q, "order_id"),
        performance_id: text(q, "performance_id"),
        ticket_id: None,
    })
}

pub async fn shared_tickets(
    State(state): State<AppState>,
    access: crate::access::Access,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let asked = asked(&q, access.reports()?)?;
    let filter = share_filter(&q)?;
    let (shares, position) = with_model(&state.models.shared, &state.store, asked.as_of, |m| {
        m.search(&filter)
    })
    .await?;
    let answer = Shares { shares };
    respond(&asked, &answer, || answer.shares.clone(), position)
}

pub async fn shared_counts(
    State(state): State<AppState>,
    access: crate::access::Access,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let asked = asked(&q, access.reports()?)?;
    let bucket = match q.get("bucket") {
        None => return Err(ApiError::invalid("bucket", "required: day or month")),
        Some(b) => b
            .parse::<Bucket>()
            .map_err(|_| ApiError::invalid("bucket", format!("{b:?} is not day or month")))?,
    };
    let filter = share_filter(&q)?;
    let (counts, position) = with_model(&state.models.shared, &state.store, asked.as_of, |m| {
        m.counts(&filter, bucket)
    })
    .await?;
    let answer = ShareCounts { bucket, counts };
    respond(&asked, &answer, || answer.counts.clone(), position)
}

pub async fn ticket_shares(
    State(state): State<AppState>,
    access: crate::access::Access,
    Path(ticket): Path<String>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let asked = asked(&q, access.reports()?)?;
    let (shares, position) = with_model(&state.models.shared, &state.store, asked.as_of, |m| {
        m.ticket_shares(&ticket)
    })
    .await?;
    let answer = TicketShares {
        ticket_id: ticket,
        shares,
    };
    respond(&asked, &answer, || answer.shares.clone(), position)
}

pub async fn unsold(
    State(state): State<AppState>,
    access: crate::access::Access,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let asked = asked(&q, access.reports()?)?;
    let (performance_id, definition_id) = unsold_scope(&q)?;
    // `on_sale` as it was then, when the report is as of a time.
    let at = time(&q, "at")?
        .or(match asked.as_of {
            Some(AsOf::Time(t)) => Some(t),
            _ => None,
        })
        .unwrap_or_else(chrono::Utc::now);
    let query = UnsoldQuery {
        performance_id,
        definition_id,
        at,
    };
    let (report, position) = with_model(&state.models.unsold, &state.store, asked.as_of, |m| {
        m.report(&query)
    })
    .await?;
    respond(&asked, &report, || report.definitions.clone(), position)
}

/// `GET /v1/reports/unsold/live`: server-sent events, one per definition whose row
/// changed (first every matching definition, then each change as the live read model
/// folds records). The event's `id` is the read model's position, its `data` the
/// definition's row of the unsold report with that `position`.
pub async fn unsold_live(
    State(state): State<AppState>,
    access: crate::access::Access,
    Query(q): Params,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    access.reports()?;
    let (performance_id, definition_id) = unsold_scope(&q)?;
    let watcher = UnsoldWatch {
        live: state.models.unsold.clone(),
        positions: state.models.unsold.watch_position(),
        stopping: state.stopping.clone(),
        performance_id,
        definition_id,
        last: HashMap::new(),
        pending: VecDeque::new(),
        first: true,
    };
    let events = futures::stream::unfold(watcher, |mut w| async move {
        w.next_event().await.map(|e| (Ok(e), w))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The state of one unsold subscription: the rows last sent, by definition.
struct UnsoldWatch {
    live: LiveState<UnsoldCounts>,
    positions: tokio::sync::watch::Receiver<u64>,
    stopping: tokio::sync::watch::Receiver<bool>,
    performance_id: Option<String>,
    definition_id: Option<String>,
    last: HashMap<String, Value>,
    pending: VecDeque<Event>,
    first: bool,
}

impl UnsoldWatch {
    /// The next changed row; `None` when the server stops.
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            if self.first {
                self.first = false;
            } else {
                let mut stopping = self.stopping.clone();
                tokio::select! {
                    changed = self.positions.changed() => changed.ok()?,
                    _ = stopping.wait_for(|s| *s) => return None,
                }
            }
            self.positions.borrow_and_update();
            self.collect();
        }
    }

    /// Queues an event for each row that differs from the one last sent.
    fn collect(&mut self) {
        let query = UnsoldQuery {
            performance_id: self.performance_id.clone(),
            definition_id: self.definition_id.clone(),
            at: chrono::Utc::now(),
        };
        let (rows, position) = {
            let model = self.live.read();
            (model.report(&query).definitions, self.live.position())
        };
        for row in rows {
            let Ok(value) = serde_json::to_value(&row) else {
                continue;
            };
            if self.last.get(&row.definition_id) == Some(&value) {
                continue;
            }
            let mut data = value.clone();
            if let Value::Object(map) = &mut data {
                map.insert("position".to_string(), Value::from(position));
            }
            self.last.insert(row.definition_id, value);
            self.pending.push_back(
                Event::default()
                    .id(position.to_string())
                    .event("unsold")
                    .data(data.to_string()),
            );
        }
    }
}

/// `performance_id` or `definition_id`, not both.
fn unsold_scope(q: &HashMap<String, String>) -> Result<(Option<String>, Option<String>), ApiError> {
    let performance_id = text(q, "performance_id");
    let definition_id = text(q, "definition_id");
    if performance_id.is_some() && definition_id.is_some() {
        return Err(ApiError::invalid(
            "definition_id",
            "give performance_id or definition_id, not both",
        ));
    }
    Ok((performance_id, definition_id))
}

pub async fn owners(
    State(state): State<AppState>,
    access: crate::access::Access,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let asked = asked(&q, access.reports()?)?;
    let performances: Vec<String> = q
        .get("performance_id")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let Some(limit) = q.get("limit") else {
        return Err(ApiError::invalid("limit", "required: 1 to 1000"));
    };
    let exclude_deleted = match q.get("exclude_deleted").map(String::as_str) {
        None | Some("false") => false,
        Some("true") | Some("") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "exclude_deleted",
                format!("{other:?} is not true or false"),
            ));
        }
    };
    let query = OwnerQuery {
        performances,
        limit: number("limit", Some(limit), 0)?,
        offset: number("offset", q.get("offset").map(String::as_str), 0)?,
        exclude_deleted,
        last_updated_since: time(&q, "last_updated_since")?,
        last_updated_before: time(&q, "last_updated_before")?,
    };
    let (page, position) = with_model(&state.models.owners, &state.store, asked.as_of, |m| {
        m.query(&query)
    })
    .await?;
    let page = page.map_err(|e| match e {
        OwnersError::NoPerformance => ApiError::invalid("performance_id", e.to_string()),
        OwnersError::LimitOutOfRange { .. } => ApiError::invalid("limit", e.to_string()),
        e => ApiError::invalid("query", e.to_string()),
    })?;
    respond(&asked, &page, || page.result.clone(), position)
}

pub async fn links(
    State(state): State<AppState>,
    access: crate::access::Access,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let asked = asked(&q, access.reports()?)?;
    let query = LinkQuery {
        performance_id: text(&q, "performance_id"),
    };
    let (report, position) = with_model(&state.models.links, &state.store, asked.as_of, |m| {
        m.report(&query)
    })
    .await?;
    respond(&asked, &report, || report.csv_rows(), position)
}
