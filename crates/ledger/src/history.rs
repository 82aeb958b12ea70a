//! The past of one ticket or one order: each record, and the state after it
//! (`history ticket|order ID [--as-of T]`). Read straight from the store, so it works
//! without a running ledger and shows exactly what is durable.

use std::collections::{BTreeMap, HashMap, HashSet};

use counterfoil_core::rules::view::{OrderView, TicketView};
use counterfoil_core::{Id, RecordBody, Store, StoredRecord, Timestamp};
use serde::Serialize;

use crate::error::LedgerError;

/// Records read per store call.
const CHUNK: usize = 1024;

/// Which records count: those at or before a position, or recorded at or before a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Position(u64),
    /// `recorded_at <= T`: what the ledger knew at T.
    Time(Timestamp),
}

impl AsOf {
    pub fn includes(&self, record: &StoredRecord) -> bool {
        match self {
            AsOf::Position(p) => record.position <= *p,
            AsOf::Time(t) => record.recorded_at <= *t,
        }
    }
}

/// One record and the state of the ticket or order after it (a `TicketView` or an
/// `OrderView` as JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub record: StoredRecord,
    pub state: serde_json::Value,
}

/// A ticket's records in order, each with the ticket's state after it. A ticket
/// never seen has an empty history.
pub async fn ticket_history(
    store: &dyn Store,
    ticket_id: &str,
    as_of: Option<AsOf>,
) -> Result<Vec<HistoryEntry>, LedgerError> {
    let Ok(id) = Id::new(ticket_id) else {
        return Ok(Vec::new());
    };
    let records = read_stream(store, &format!("ticket-{ticket_id}"), as_of).await?;
    let performances = performances_of(store, &records).await?;
    let performance_of = |d: &Id| performances.get(d).cloned();
    let mut view = TicketView::new(id);
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        view.apply(&record, &performance_of);
        out.push(HistoryEntry {
            state: to_json(&view)?,
            record,
        });
    }
    Ok(out)
}

/// An order's records: its `order-<id>` stream merged, in position order, with the
/// streams of the tickets purchased in it; each with the order's state after it.
///
/// The store has no index from an order to its tickets, so this reads the whole log
/// (up to `as_of`). [`crate::Ledger::order_history`] knows the tickets and reads only
/// their streams.
pub async fn order_history(
    store: &dyn Store,
    order_id: &str,
    as_of: Option<AsOf>,
) -> Result<Vec<HistoryEntry>, LedgerError> {
    let Ok(id) = Id::new(order_id) else {
        return Ok(Vec::new());
    };
    let mut view = OrderView::new(id);
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let chunk = store
            .read_all(from, CHUNK)
            .await
            .map_err(|source| LedgerError::ReadLog {
                position: from,
                source,
            })?;
        let Some(last) = chunk.last() else {
            break;
        };
        from = last.position.saturating_add(1);
        let mut past_as_of = false;
        for record in chunk {
            if let Some(a) = as_of
                && !a.includes(&record)
            {
                past_as_of |= matches!(a, AsOf::Position(_));
                continue;
            }
            if view.concerns(&record) {
                view.apply(&record);
                out.push(HistoryEntry {
                    state: to_json(&view)?,
                    record,
                });
            }
        }
        if past_as_of {
            break;
        }
    }
    Ok(out)
}

/// [`order_history`] for an order whose tickets are known: reads only the order's
/// stream and those tickets' streams.
pub async fn order_history_of(
    store: &dyn Store,
    order_id: &str,
    tickets: &[Id],
    as_of: Option<AsOf>,
) -> Result<Vec<HistoryEntry>, LedgerError> {
    let Ok(id) = Id::new(order_id) else {
        return Ok(Vec::new());
    };
    let mut merged: BTreeMap<u64, StoredRecord> = BTreeMap::new();
    let mut streams = vec![format!("order-{order_id}")];
    streams.extend(tickets.iter().map(|t| format!("ticket-{t}")));
    for stream in streams {
        for r in read_stream(store, &stream, as_of).await? {
            merged.insert(r.position, r);
        }
    }
    let mut view = OrderView::new(id);
    let mut out = Vec::with_capacity(merged.len());
    for record in merged.into_values() {
        if view.concerns(&record) {
            view.apply(&record);
            out.push(HistoryEntry {
                state: to_json(&view)?,
                record,
            });
        }
    }
    Ok(out)
}

/// A whole stream, up to `as_of`.
async fn read_stream(
    store: &dyn Store,
    stream: &str,
    as_of: Option<AsOf>,
) -> Result<Vec<StoredRecord>, LedgerError> {
    let mut out = Vec::new();
    let mut revision = 0;
    loop {
        let chunk = store
            .read_stream(stream, revision, CHUNK)
            .await
            .map_err(|source| LedgerError::ReadStream {
                stream: stream.to_string(),
                revision,
                source,
            })?;
        let Some(last) = chunk.last() else {
            break;
        };
        revision = last.revision.saturating_add(1);
        out.extend(
            chunk
                .into_iter()
                .filter(|r| as_of.is_none_or(|a| a.includes(r))),
        );
    }
    Ok(out)
}

/// The performance of every definition a ticket's records name (its purchase and its
/// reschedules), from each definition's `definition.created`.
async fn performances_of(
    store: &dyn Store,
    records: &[StoredRecord],
) -> Result<HashMap<Id, Id>, LedgerError> {
    let mut definitions = HashSet::new();
    for r in records {
        match &r.body {
            RecordBody::TicketPurchased(d) => definitions.insert(d.definition_id.clone()),
            RecordBody::TicketRescheduled(d) => definitions.insert(d.to_definition_id.clone()),
            _ => false,
        };
    }
    let mut out = HashMap::new();
    for d in definitions {
        let stream = format!("definition-{d}");
        let first =
            store
                .read_stream(&stream, 0, 1)
                .await
                .map_err(|source| LedgerError::ReadStream {
                    stream,
                    revision: 0,
                    source,
                })?;
        if let Some(RecordBody::DefinitionCreated(c)) = first.first().map(|r| &r.body) {
            out.insert(d, c.performance_id.clone());
        }
    }
    Ok(out)
}

fn to_json<T: Serialize>(view: &T) -> Result<serde_json::Value, LedgerError> {
    serde_json::to_value(view).map_err(|e| LedgerError::Encoding(e.to_string()))
}
