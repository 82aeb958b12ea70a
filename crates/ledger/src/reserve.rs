//! Reservation mode: "no oversell" and all-or-nothing requests on a store that cannot
//! append to several streams atomically (KurrentDB), and with several ledgers (one per
//! server process) sharing one store.
//!
//! A request (an atomic unit, or one record of an independent submission) that takes
//! seats of a definition, or that writes several streams, is written in two steps:
//! 1. a `ledger.reserved` record carrying the request's records whole is appended to
//!    the definition's stream (else to the request's first stream) with the revision
//!    the ledger decided against. This is the commit point: another ledger that took
//!    seats of that definition in between makes it a conflict, and the ledger rebuilds
//!    its state from the log and decides again;
//! 2. the records are appended to their own streams, one single-stream append each,
//!    with the revisions recorded in the reservation.
//!
//! The fold counts a reservation's records from the reservation on and skips them
//! when they appear in their own streams (`LedgerState::fold_record`). A crash between
//! the two steps leaves a reservation whose records are not all stored: on open and
//! after every rebuild the ledger writes them ([`roll_forward`]), idempotently by
//! record id, so any ledger sharing the store repairs it exactly once.
//!
//! The decision and its costs are written down in `docs/eventstore.md`.

use std::collections::HashSet;
use std::sync::Arc;

use counterfoil_core::catalog::{LedgerReserved, ReservedRecord};
use counterfoil_core::rules::LedgerState;
use counterfoil_core::{
    AppendOutcome, AppendUnit, Chain, ExpectedRevision, NewRecord, RecordBody, Store, StoreError,
    StreamWrite, UnitOutcome,
};
use uuid::Uuid;

use crate::error::replicate;

/// When the ledger writes reservations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reservations {
    /// Exactly when the store cannot append to several streams atomically
    /// (`Store::atomic_multi_stream` is false).
    #[default]
    Auto,
    /// Always: also on the embedded log, e.g. when several ledgers share one store.
    Always,
    /// Never: one decider per store is assumed to see every write (the embedded log's
    /// folder lock keeps other processes out).
    Never,
}

impl Reservations {
    /// True when reservations are written on this store.
    pub fn enabled(self, store: &dyn Store) -> bool {
        match self {
            Reservations::Auto => !store.atomic_multi_stream(),
            Reservations::Always => true,
            Reservations::Never => false,
        }
    }
}

/// How a request is written in reservation mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// One stream and no seat taken: a plain single-stream append is atomic.
    Direct,
    /// Reserve on this stream first.
    Reserve(String),
    /// The request cannot be written all-or-nothing by this store.
    Unsupported(String),
}

/// The plan of a request, from its records alone (routing and the definitions whose
/// seats they take are fixed by the records' types and data).
pub(crate) fn plan<'a>(records: impl IntoIterator<Item = &'a NewRecord>) -> Plan {
    let mut seats: Vec<&str> = Vec::new();
    let mut first_stream: Option<String> = None;
    let mut several_streams = false;
    for r in records {
        let takes = match &r.body {
            RecordBody::TicketPurchased(d) => Some(d.definition_id.as_str()),
            RecordBody::TicketRescheduled(d) => Some(d.to_definition_id.as_str()),
            _ => None,
        };
        if let Some(d) = takes
            && !seats.contains(&d)
        {
            seats.push(d);
        }
        let stream = r.stream();
        match &first_stream {
            None => first_stream = Some(stream),
            Some(f) => several_streams |= *f != stream,
        }
    }
    match seats.as_slice() {
        [] if several_streams => first_stream.map_or(Plan::Direct, Plan::Reserve),
        [] => Plan::Direct,
        [one] => Plan::Reserve(format!("definition-{one}")),
        many => Plan::Unsupported(format!(
            "one atomic request that takes seats of several definitions ({}): this store \
             cannot reserve them together; send one request per definition",
            many.join(", ")
        )),
    }
}

/// Source and actor of the ledger's own records.
const SOURCE: &str = "counterfoil-ledger";
const ACTOR: &str = "reservation";

/// The reservation of a decided request: one record on `stream`, carrying `writes`.
pub(crate) fn reservation(
    stream: String,
    expected: ExpectedRevision,
    writes: &[StreamWrite],
) -> StreamWrite {
    let records = writes
        .iter()
        .flat_map(|w| {
            // Decisions expect an exact revision or no stream; several records of one
            // write follow each other.
            let base = match w.expected {
                ExpectedRevision::Exact(r) => Some(r),
                _ => None,
            };
            w.records.iter().enumerate().map(move |(i, r)| {
                let expected = match (base, i) {
                    (b, 0) => b,
                    (Some(b), i) => Some(b.saturating_add(i as u64)),
                    (None, i) => Some((i as u64).saturating_sub(1)),
                };
                ReservedRecord::new(r, expected)
            })
        })
        .collect();
    let record = NewRecord {
        id: Uuid::now_v7(),
        occurred_at: chrono::Utc::now(),
        source: SOURCE.into(),
        actor: ACTOR.into(),
        correlation_id: None,
        body: RecordBody::LedgerReserved(LedgerReserved {
            stream: stream.as_str().into(),
            records,
        }),
    };
    StreamWrite {
        stream,
        expected,
        records: vec![record],
    }
}

/// [`write_batch`] chained after the batch before it (`Store::append_batch_chained`):
/// written only if that one was written whole, else nothing of it is written. Without
/// reservations the store may queue it right behind that batch.
pub(crate) async fn write_batch_chained(
    store: Arc<dyn Store>,
    units: Vec<AppendUnit>,
    reservations: Vec<Option<StreamWrite>>,
    chain: Chain,
) -> Result<Vec<UnitOutcome>, StoreError> {
    if reservations.is_empty() {
        return store.append_batch_chained(units, chain).await;
    }
    chain
        .write_after(units.len(), || write_batch(store, units, reservations))
        .await
}

/// Writes a decided batch. Without reservations this is one `append_batch`. With
/// them (`reservations[u]` is unit `u`'s reservation, if any): the reservations in
/// one `append_batch`, then the units' records as single-stream appends in one more,
/// in the batch's order. The answers are one per unit, as `append_batch` gives them:
/// a reserved unit is `Appended` when all its records are.
pub(crate) async fn write_batch(
    store: Arc<dyn Store>,
    units: Vec<AppendUnit>,
    reservations: Vec<Option<StreamWrite>>,
) -> Result<Vec<UnitOutcome>, StoreError> {
    if reservations.is_empty() {
        return store.append_batch(units).await;
    }
    let unit_count = units.len();
    let reserved: Vec<usize> = (0..unit_count)
        .filter(|&u| reservations.get(u).is_some_and(Option::is_some))
        .collect();
    let first: Vec<AppendUnit> = reservations
        .into_iter()
        .flatten()
        .map(|w| vec![w])
        .collect();
    let mut outcomes: Vec<Option<UnitOutcome>> = (0..unit_count).map(|_| None).collect();
    // Units from `cut` on were decided assuming a reservation that was not written.
    let mut cut = unit_count;
    if !first.is_empty() {
        let answers = store.append_batch(first).await?;
        for (k, &u) in reserved.iter().enumerate() {
            match answers.get(k) {
                Some(UnitOutcome::Appended(_)) => {}
                Some(UnitOutcome::Failed(e)) => {
                    outcomes[u] = Some(UnitOutcome::Failed(replicate(e)));
                    cut = u;
                    break;
                }
                Some(UnitOutcome::NotAttempted) | None => {
                    cut = u;
                    break;
                }
            }
        }
    }

    // Every stream write becomes its own single-stream unit.
    let mut second: Vec<AppendUnit> = Vec::new();
    let mut parts: Vec<(usize, usize)> = Vec::new();
    for (u, unit) in units.into_iter().enumerate().take(cut) {
        if reserved.binary_search(&u).is_ok() {
            let n = unit.len();
            second.extend(unit.into_iter().map(|w| vec![w]));
            parts.push((u, n));
        } else {
            second.push(unit);
            parts.push((u, 1));
        }
    }
    let mut answers = if second.is_empty() {
        Vec::new()
    } else {
        store.append_batch(second).await?
    }
    .into_iter();
    for (u, n) in parts {
        let is_reserved = reserved.binary_search(&u).is_ok();
        let mut merged = AppendOutcome::default();
        let mut failed: Option<UnitOutcome> = None;
        for _ in 0..n {
            match answers.next() {
                Some(UnitOutcome::Appended(o)) => merged.records.extend(o.records),
                Some(other) => {
                    failed.get_or_insert(other);
                }
                None => {
                    failed.get_or_insert(UnitOutcome::NotAttempted);
                }
            }
        }
        if is_reserved {
            // Another ledger may have rolled this unit forward already: the records
            // are still this request's, written once.
            for r in &mut merged.records {
                r.duplicate = false;
            }
        }
        outcomes[u] = Some(failed.unwrap_or(UnitOutcome::Appended(merged)));
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(UnitOutcome::NotAttempted))
        .collect())
}

/// Writes the records of every reservation in `state` whose records are not all
/// stored yet (see [`roll_forward_pending`]) and marks them arrived in `state`.
pub(crate) async fn roll_forward(
    store: &dyn Store,
    state: &mut LedgerState,
) -> Result<usize, StoreError> {
    let reservations = state.pending_reservations();
    if reservations.is_empty() {
        return Ok(0);
    }
    let pending: HashSet<Uuid> = state.pending_records().into_iter().collect();
    let arrived = roll_forward_pending(store, &reservations, pending).await?;
    for id in &arrived {
        state.arrived(id);
    }
    Ok(arrived.len())
}

/// Writes the `pending` records of the given reservations, in log order, each with
/// the revision recorded in its reservation; a record already stored answers as a
/// duplicate. Answers the records now stored.
///
/// A record whose stream has moved on (another writer took that stream first) cannot
/// be written as reserved: the rest of that reservation is left and logged, and tried
/// again after the next rebuild. Only a failure of the store itself is an error.
pub(crate) async fn roll_forward_pending(
    store: &dyn Store,
    reservations: &[Uuid],
    mut pending: HashSet<Uuid>,
) -> Result<Vec<Uuid>, StoreError> {
    let mut found = store.find_ids(reservations).await?;
    found.sort_by_key(|r| r.position);
    let mut todo: Vec<(Uuid, u64, Vec<ReservedRecord>)> = found
        .into_iter()
        .filter_map(|r| match r.body {
            RecordBody::LedgerReserved(res) => Some((r.id, r.position, res.records)),
            _ => None,
        })
        .collect();
    let mut arrived = Vec::new();
    let mut written = 0usize;
    // Each round writes every reservation's pending records in one batch; a unit that
    // fails stops the batch there, so its reservation is set aside and the rest go in
    // the next round.
    while !todo.is_empty() {
        let mut units: Vec<AppendUnit> = Vec::new();
        let mut owners: Vec<(usize, Uuid)> = Vec::new();
        for (k, (_, _, records)) in todo.iter().enumerate() {
            for rec in records.iter().filter(|r| pending.contains(&r.id)) {
                let new = rec.to_new();
                units.push(vec![StreamWrite {
                    stream: new.stream(),
                    expected: match rec.expected_revision {
                        Some(r) => ExpectedRevision::Exact(r),
                        None => ExpectedRevision::NoStream,
                    },
                    records: vec![new],
                }]);
                owners.push((k, rec.id));
            }
        }
        if units.is_empty() {
            break;
        }
        let answers = store.append_batch(units).await?;
        let mut stuck: Option<usize> = None;
        let mut progress = false;
        for (answer, &(k, id)) in answers.iter().zip(&owners) {
            match answer {
                UnitOutcome::Appended(o) => {
                    progress = true;
                    pending.remove(&id);
                    arrived.push(id);
                    written += o.records.iter().filter(|r| !r.duplicate).count();
                }
                UnitOutcome::Failed(e) => {
                    if let Some((rid, position, _)) = todo.get(k) {
                        tracing::error!(
                            reservation = %rid,
                            position,
                            record = %id,
                            error = %e,
                            "a reserved record cannot be written as reserved; the rest of its reservation waits for the next rebuild"
                        );
                    }
                    stuck = Some(k);
                    break;
                }
                UnitOutcome::NotAttempted => break,
            }
        }
        match stuck {
            Some(k) => {
                todo.remove(k);
            }
            None if !progress || owners.iter().all(|(_, id)| !pending.contains(id)) => break,
            None => {}
        }
    }
    if written > 0 {
        tracing::info!(written, "rolled reserved records forward");
    }
    Ok(arrived)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(ty: &str, data: serde_json::Value) -> NewRecord {
        let line = json!({"type": ty, "occurred_at": "2026-11-01T10:00:00Z", "source": "t",
            "actor": "t", "data": data});
        NewRecord::from_json_value(line).unwrap_or_else(|e| panic!("{e}"))
    }

    fn buy(ticket: &str, def: &str) -> NewRecord {
        rec(
            "ticket.purchased",
            json!({"ticket_id": ticket, "order_id": "O1", "definition_id": def,
                "ticket_type": "Adult", "buyer": {"email": "a@example.com"},
                "face_price": "1.00", "price_paid": "1.00", "currency": "EUR", "channel": "web"}),
        )
    }

    #[test]
    fn plans_follow_seats_then_streams() {
        let redeem = rec("ticket.redeemed", json!({"ticket_id": "T1"}));
        let perf = rec(
            "performance.scheduled",
            json!({"performance_id": "P1", "organizer_id": "O", "name": "n",
                "starts_at": "2026-12-01T20:00:00Z"}),
        );
        assert_eq!(plan([&redeem]), Plan::Direct);
        assert_eq!(plan([&redeem, &redeem]), Plan::Direct);
        assert_eq!(
            plan([&buy("T1", "D1")]),
            Plan::Reserve("definition-D1".into())
        );
        assert_eq!(
            plan([&perf, &buy("T1", "D1"), &buy("T2", "D1")]),
            Plan::Reserve("definition-D1".into())
        );
        assert_eq!(
            plan([&perf, &redeem]),
            Plan::Reserve("performance-P1".into())
        );
        assert!(matches!(
            plan([&buy("T1", "D1"), &buy("T2", "D2")]),
            Plan::Unsupported(m) if m.contains("D1, D2")
        ));
    }

    #[test]
    fn a_reservation_records_each_record_with_its_expected_revision() {
        let writes = vec![
            StreamWrite {
                stream: "ticket-T1".into(),
                expected: ExpectedRevision::NoStream,
                records: vec![buy("T1", "D1")],
            },
            StreamWrite {
                stream: "ticket-T2".into(),
                expected: ExpectedRevision::Exact(4),
                records: vec![buy("T2", "D1"), buy("T2", "D1")],
            },
        ];
        let w = reservation("definition-D1".into(), ExpectedRevision::Exact(7), &writes);
        assert_eq!(w.stream, "definition-D1");
        assert_eq!(w.expected, ExpectedRevision::Exact(7));
        let [r] = w.records.as_slice() else {
            panic!("one record")
        };
        let RecordBody::LedgerReserved(res) = &r.body else {
            panic!("a reservation")
        };
        assert_eq!(res.stream, "definition-D1");
        let expected: Vec<Option<u64>> = res.records.iter().map(|r| r.expected_revision).collect();
        assert_eq!(expected, [None, Some(4), Some(5)]);
        assert_eq!(res.records[0].to_new(), writes[0].records[0]);
    }
}
