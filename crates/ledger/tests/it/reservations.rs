//! Reservation mode against the real embedded log: several ledgers on one store never
//! oversell, a crash between a reservation and its records is rolled forward exactly
//! once, atomic requests stay all-or-nothing without multi-stream appends, the
//! internal record type cannot be submitted, and the answers equal the default mode's.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use counterfoil_core::catalog::{LedgerReserved, ReservedRecord};
use counterfoil_core::{
    AppendOutcome, AppendUnit, NewRecord, Position, RecordBody, RefusalReason, Store, StoreError,
    StoredRecord, Subscription, UnitOutcome,
};
use counterfoil_ledger::{Ledger, LedgerConfig, Reservations, SubmitError};
use counterfoil_log::{Log, LogConfig};
use serde_json::json;

use crate::support::*;

/// The embedded log seen as a store without multi-stream atomicity (as KurrentDB):
/// `atomic_multi_stream()` is false and a unit spanning several streams is refused
/// (and counted, so a test can show none was asked for). It can also fail the next
/// append that touches a ticket stream, as a crash right after a reservation would.
struct SingleStreamLog {
    log: Log,
    fail_next_ticket_append: AtomicBool,
    multi_stream_units: AtomicUsize,
}

impl SingleStreamLog {
    fn new(log: Log) -> Arc<Self> {
        Arc::new(Self {
            log,
            fail_next_ticket_append: AtomicBool::new(false),
            multi_stream_units: AtomicUsize::new(0),
        })
    }

    /// Refuses what KurrentDB cannot do, and fails a ticket append when armed.
    fn check(&self, unit: &AppendUnit) -> Result<(), StoreError> {
        let first = unit.first().map(|w| w.stream.as_str());
        if unit.iter().any(|w| Some(w.stream.as_str()) != first) {
            self.multi_stream_units.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Unsupported {
                what: "an atomic append to several streams".into(),
            });
        }
        if first.is_some_and(|s| s.starts_with("ticket-"))
            && self.fail_next_ticket_append.swap(false, Ordering::SeqCst)
        {
            return Err(StoreError::Io {
                op: "write",
                path: "(injected)".into(),
                source: std::io::Error::other("the process died here"),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Store for SingleStreamLog {
    async fn append_multi(&self, unit: AppendUnit) -> Result<AppendOutcome, StoreError> {
        self.check(&unit)?;
        self.log.append_multi(unit).await
    }

    async fn append_batch(&self, units: Vec<AppendUnit>) -> Result<Vec<UnitOutcome>, StoreError> {
        for unit in &units {
            self.check(unit)?;
        }
        self.log.append_batch(units).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.log.read_stream(stream, from_revision, max).await
    }

    async fn stream_revision(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        self.log.stream_revision(stream).await
    }

    async fn read_all(&self, from: Position, max: usize) -> Result<Vec<StoredRecord>, StoreError> {
        self.log.read_all(from, max).await
    }

    async fn find_by_id(&self, id: uuid::Uuid) -> Result<Option<StoredRecord>, StoreError> {
        self.log.find_by_id(id).await
    }

    async fn find_ids(&self, ids: &[uuid::Uuid]) -> Result<Vec<StoredRecord>, StoreError> {
        self.log.find_ids(ids).await
    }

    async fn end_position(&self) -> Result<Position, StoreError> {
        self.log.end_position().await
    }

    async fn subscribe(&self, from: Position) -> Result<Subscription, StoreError> {
        self.log.subscribe(from).await
    }

    fn atomic_multi_stream(&self) -> bool {
        false
    }
}

fn config(reservations: Reservations) -> LedgerConfig {
    LedgerConfig {
        reservations,
        ..LedgerConfig::default()
    }
}

async fn all_records(store: &dyn Store) -> Vec<StoredRecord> {
    store.read_all(0, 1_000_000).await.expect("read_all")
}

fn reservations_in(records: &[StoredRecord]) -> Vec<&LedgerReserved> {
    records
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::LedgerReserved(res) => Some(res),
            _ => None,
        })
        .collect()
}

fn assert_verifies(log: &Log) {
    let report = log.verify(&mut |_| {}).expect("verify runs");
    assert!(report.is_ok(), "{:?}", report.first_mismatch);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_ledgers_on_one_store_racing_for_one_hundred_seats_sell_exactly_one_hundred() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = Log::open(LogConfig::new(dir.path())).expect("log opens");
    // The default configuration: reservation mode raises the retries and backs off
    // with jitter between attempts, so the losers of each race get their turn.
    let racing = LedgerConfig {
        reservations: Reservations::Always,
        ..LedgerConfig::default()
    };
    let a = Ledger::open(Arc::new(log.clone()), racing.clone())
        .await
        .expect("a opens");
    for r in [perf("P1"), def("D1", "P1", Some(100))] {
        accepted(&a.submit(r).await);
    }
    // b folds the log now; from here on each ledger learns of the other's sales only
    // through conflicts on the definition's stream.
    let b = Ledger::open(Arc::new(log.clone()), racing)
        .await
        .expect("b opens");

    let mut tasks = Vec::new();
    for task in 0..16 {
        let ledger = if task % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in (task..1000).step_by(16) {
                let r = ledger
                    .submit(buy(&format!("T{i}"), &format!("O{i}"), "D1"))
                    .await;
                answers.push(r.map_err(|e| (e.reason(), e.to_string())));
            }
            answers
        }));
    }
    let (mut ok, mut sold_out) = (0, 0);
    for t in tasks {
        for answer in t.await.expect("task") {
            match answer {
                Ok(s) => {
                    assert!(!s.duplicate, "{s:?}");
                    assert!(s.stream.starts_with("ticket-"), "{s:?}");
                    ok += 1;
                }
                Err((Some(RefusalReason::SoldOut), _)) => sold_out += 1,
                Err(other) => panic!("unexpected answer {other:?}"),
            }
        }
    }
    assert_eq!((ok, sold_out), (100, 900));

    let records = all_records(&log).await;
    let tickets = records
        .iter()
        .filter(|r| matches!(r.body, RecordBody::TicketPurchased(_)))
        .count();
    assert_eq!(tickets, 100);
    // One reservation per sale, each carrying its purchase, all on the definition.
    let reserved = reservations_in(&records);
    assert_eq!(reserved.len(), 100);
    assert!(
        reserved
            .iter()
            .all(|r| r.stream == "definition-D1" && r.records.len() == 1)
    );
    assert_verifies(&log);

    // A third ledger folded from the log agrees: the definition is full.
    a.shutdown().await;
    b.shutdown().await;
    let c = Ledger::open(Arc::new(log.clone()), config(Reservations::Always))
        .await
        .expect("c opens");
    assert_eq!(
        reason(&c.submit(buy("T-late", "O-late", "D1")).await),
        Some("sold_out")
    );
    c.shutdown().await;
    log.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_a_reservation_and_its_ticket_is_rolled_forward_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = Log::open(LogConfig::new(dir.path())).expect("log opens");
    let store = SingleStreamLog::new(log.clone());
    // Auto: the store says it cannot append to several streams atomically.
    let ledger = Ledger::open(store.clone(), config(Reservations::Auto))
        .await
        .expect("opens");
    for r in [perf("P1"), def("D1", "P1", Some(2))] {
        accepted(&ledger.submit(r).await);
    }
    let purchase = buy("T1", "O1", "D1");
    store.fail_next_ticket_append.store(true, Ordering::SeqCst);
    let r = ledger.submit(purchase.clone()).await;
    assert!(matches!(r, Err(SubmitError::Store(_))), "{r:?}");
    ledger.shutdown().await;

    // The reservation is durable, the ticket is not.
    let records = all_records(&log).await;
    assert_eq!(reservations_in(&records).len(), 1);
    assert_eq!(log.stream_revision("ticket-T1").await.expect("rev"), None);
    let end_before = log.end_position().await.expect("end");

    // A fresh ledger on the same log writes the reserved purchase on open...
    let ledger = Ledger::open(store.clone(), config(Reservations::Auto))
        .await
        .expect("reopens");
    assert_eq!(log.end_position().await.expect("end"), end_before + 1);
    let ticket = log.read_stream("ticket-T1", 0, 10).await.expect("read");
    assert_eq!(ticket.len(), 1);
    assert_eq!(ticket[0].id, purchase.id);
    assert_eq!(ticket[0].body, purchase.body);
    // ...the client's retry finds it stored...
    let again = accepted(&ledger.submit(purchase.clone()).await).clone();
    assert!(again.duplicate);
    assert_eq!(again.position, ticket[0].position);
    // ...and its seat counts once: one of the two seats is left.
    accepted(&ledger.submit(buy("T2", "O2", "D1")).await);
    assert_eq!(
        reason(&ledger.submit(buy("T3", "O3", "D1")).await),
        Some("sold_out")
    );
    ledger.shutdown().await;

    // Opening again writes nothing more: the repair happened exactly once.
    let end = log.end_position().await.expect("end");
    let ledger = Ledger::open(store.clone(), config(Reservations::Auto))
        .await
        .expect("reopens");
    assert_eq!(log.end_position().await.expect("end"), end);
    assert_eq!(
        reason(&ledger.submit(buy("T3", "O3", "D1")).await),
        Some("sold_out")
    );
    ledger.shutdown().await;
    assert_eq!(
        log.read_stream("ticket-T1", 0, 10)
            .await
            .expect("read")
            .len(),
        1
    );
    assert_eq!(store.multi_stream_units.load(Ordering::SeqCst), 0);
    assert_verifies(&log);
    log.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_requests_are_all_or_nothing_without_multi_stream_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = Log::open(LogConfig::new(dir.path())).expect("log opens");
    let store = SingleStreamLog::new(log.clone());
    let ledger = Ledger::open(store.clone(), config(Reservations::Auto))
        .await
        .expect("opens");

    // A POST-style batch of a performance and its definitions takes no seat but spans
    // three streams: an intent on its first stream commits it.
    let setup = vec![
        perf("P1"),
        def("D1", "P1", Some(3)),
        def("D2", "P1", Some(1)),
    ];
    let written = ledger.submit_atomic(setup.clone()).await.expect("accepted");
    let places: Vec<(&str, u64)> = written
        .iter()
        .map(|s| (s.stream.as_str(), s.revision))
        .collect();
    assert_eq!(
        places,
        [
            ("performance-P1", 1),
            ("definition-D1", 0),
            ("definition-D2", 0)
        ]
    );
    let records = all_records(&log).await;
    let intents = reservations_in(&records);
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0].stream, "performance-P1");
    assert_eq!(
        intents[0].records.iter().map(|r| r.id).collect::<Vec<_>>(),
        setup.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    // Retrying it is safe and writes nothing.
    let end = log.end_position().await.expect("end");
    let again = ledger.submit_atomic(setup).await.expect("duplicates");
    assert!(again.iter().all(|s| s.duplicate));
    assert_eq!(log.end_position().await.expect("end"), end);

    // A purchase with its scan and payment: reserved on the definition, then written.
    let order = vec![
        buy("T1", "O1", "D1"),
        redeem("T1"),
        capture("O1", "tok-1", "25.00"),
    ];
    let written = ledger.submit_atomic(order).await.expect("accepted");
    assert_eq!(written.len(), 3);
    let records = all_records(&log).await;
    assert_eq!(
        reservations_in(&records).last().map(|r| r.stream.as_str()),
        Some("definition-D1")
    );

    // A refusal late in a request writes nothing, not even a reservation.
    let end = log.end_position().await.expect("end");
    let err = ledger
        .submit_atomic(vec![
            buy("T2", "O2", "D1"),
            buy("T3", "O2", "D1"),
            on("ticket.revalidated", "T2"),
        ])
        .await
        .expect_err("T2 is not invalidated");
    assert_eq!(
        (err.index, err.error.reason().map(|r| r.code())),
        (2, Some("not_invalidated"))
    );
    assert_eq!(log.end_position().await.expect("end"), end);
    // Seats of two definitions in one request cannot be reserved together: refused
    // whole, clearly, with nothing written.
    let err = ledger
        .submit_atomic(vec![buy("T4", "O4", "D1"), buy("T5", "O4", "D2")])
        .await
        .expect_err("two definitions");
    assert!(
        matches!(&err.error, SubmitError::Store(StoreError::Unsupported { what }) if what.contains("D1, D2")),
        "{err}"
    );
    assert_eq!(log.end_position().await.expect("end"), end);
    // The state was put back: both remaining seats of D1 are free.
    let answers = ledger
        .submit_many(vec![
            buy("T2", "O2", "D1"),
            buy("T3", "O2", "D1"),
            buy("T4", "O2", "D1"),
        ])
        .await;
    assert!(answers[0].is_ok() && answers[1].is_ok(), "{answers:?}");
    assert_eq!(reason(&answers[2]), Some("sold_out"));

    // A crash after the intent of a multi-stream request: the next ledger writes the
    // rest, so the request ends up whole.
    let request = vec![perf("P2"), def("D3", "P2", None), buy("T9", "O9", "D3")];
    store.fail_next_ticket_append.store(true, Ordering::SeqCst);
    let r = ledger.submit_atomic(request.clone()).await;
    assert!(r.is_err(), "{r:?}");
    ledger.shutdown().await;
    let ledger = Ledger::open(store.clone(), config(Reservations::Auto))
        .await
        .expect("reopens");
    let again = ledger.submit_atomic(request).await.expect("whole");
    assert!(again.iter().all(|s| s.duplicate), "{again:?}");
    assert_eq!(
        log.stream_revision("ticket-T9").await.expect("rev"),
        Some(0)
    );
    ledger.shutdown().await;

    assert_eq!(store.multi_stream_units.load(Ordering::SeqCst), 0);
    assert_verifies(&log);
    log.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_record_from_outside_is_refused_naming_type() {
    let line = json!({"type": "ledger.reserved", "occurred_at": "2026-11-01T10:00:00Z",
        "source": "test", "actor": "tester",
        "data": {"stream": "definition-D1", "records": []}});
    let e = NewRecord::from_json_str(&line.to_string()).expect_err("internal type");
    assert_eq!(e.field, "type");
    assert!(e.reason.contains("ledger.reserved"), "{e}");

    // Built in code and handed to the ledger, it is refused as well.
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open(dir.path()).await;
    accepted(&ledger.submit(perf("P1")).await);
    accepted(&ledger.submit(def("D1", "P1", Some(5))).await);
    let inner = ReservedRecord::new(&buy("T1", "O1", "D1"), None);
    let forged = NewRecord {
        body: RecordBody::LedgerReserved(LedgerReserved {
            stream: "definition-D1".into(),
            records: vec![inner],
        }),
        ..perf("P-unused")
    };
    for r in [
        ledger.submit(forged.clone()).await,
        ledger
            .submit_atomic(vec![forged.clone()])
            .await
            .map(|mut v| v.remove(0))
            .map_err(|e| e.error),
    ] {
        let refusal = r.expect_err("refused");
        let refusal = refusal.refusal().expect("a refusal");
        assert_eq!(refusal.reason, RefusalReason::InvalidField);
        assert_eq!(refusal.field.as_deref(), Some("type"));
    }
    assert_eq!(log.end_position().await.expect("end"), 2);
    close(log, ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_writes_no_reservation_on_the_embedded_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open_with(LogConfig::new(dir.path()), config(Reservations::Auto)).await;
    for r in [perf("P1"), def("D1", "P1", Some(5)), buy("T1", "O1", "D1")] {
        accepted(&ledger.submit(r).await);
    }
    ledger
        .submit_atomic(vec![
            perf("P2"),
            def("D2", "P2", None),
            buy("T2", "O2", "D2"),
        ])
        .await
        .expect("accepted");
    assert_eq!(log.end_position().await.expect("end"), 6);
    assert!(reservations_in(&all_records(&log).await).is_empty());
    close(log, ledger).await;
}

/// What an importer sees for one record: accepted (and whether it was a duplicate),
/// or the refusal code, or a store error.
fn outcome(r: &Result<counterfoil_ledger::Submitted, SubmitError>) -> String {
    match r {
        Ok(s) if s.duplicate => "duplicate".into(),
        Ok(_) => "accepted".into(),
        Err(SubmitError::Refused(f)) => format!("refused {}", f.reason),
        Err(e) => format!("error {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservation_mode_answers_a_demo_workload_exactly_as_the_default_mode() {
    let lines: Vec<counterfoil_demo::DemoLine> =
        counterfoil_demo::generate(&counterfoil_demo::DemoConfig {
            events: 4_000,
            seed: 11,
        })
        .collect();
    let records: Vec<NewRecord> = lines
        .iter()
        .filter_map(|l| NewRecord::from_json_str(&l.to_json_line()).ok())
        .collect();
    assert!(records.len() > 3_000, "{}", records.len());

    let plain_dir = tempfile::tempdir().expect("tempdir");
    let (plain_log, plain) = open_with(
        LogConfig::new(plain_dir.path()),
        config(Reservations::Never),
    )
    .await;
    let reserved_dir = tempfile::tempdir().expect("tempdir");
    let (reserved_log, _) = Log::open(LogConfig::new(reserved_dir.path())).expect("log opens");
    let store = SingleStreamLog::new(reserved_log.clone());
    let reserved = Ledger::open(store.clone(), config(Reservations::Auto))
        .await
        .expect("opens");

    // In chunks, as an import sends them.
    let mut a = Vec::new();
    let mut b = Vec::new();
    for chunk in records.chunks(500) {
        a.extend(plain.submit_many(chunk.to_vec()).await);
        b.extend(reserved.submit_many(chunk.to_vec()).await);
    }
    let mut kinds = HashSet::new();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let (x, y) = (outcome(x), outcome(y));
        assert_eq!(x, y, "record {i}: {}", records[i].to_json());
        kinds.insert(x);
    }
    assert!(
        kinds.contains("accepted") && kinds.contains("refused sold_out"),
        "{kinds:?}"
    );

    // The records written are the same, in the same order; only reservations are added.
    let plain_ids: Vec<_> = all_records(&plain_log).await.iter().map(|r| r.id).collect();
    let reserved_records = all_records(&reserved_log).await;
    let reserved_ids: Vec<_> = reserved_records
        .iter()
        .filter(|r| !r.record_type().is_internal())
        .map(|r| r.id)
        .collect();
    assert_eq!(plain_ids, reserved_ids);
    assert!(!reservations_in(&reserved_records).is_empty());
    assert_eq!(store.multi_stream_units.load(Ordering::SeqCst), 0);
    assert_verifies(&reserved_log);

    // Folded again from its log, the reserved ledger still agrees on the next answers.
    reserved.shutdown().await;
    let reserved = Ledger::open(store.clone(), config(Reservations::Auto))
        .await
        .expect("reopens");
    let tail: Vec<NewRecord> = records.iter().rev().take(200).cloned().collect();
    let x = plain.submit_many(tail.clone()).await;
    let y = reserved.submit_many(tail).await;
    assert_eq!(
        x.iter().map(outcome).collect::<Vec<_>>(),
        y.iter().map(outcome).collect::<Vec<_>>()
    );
    reserved.shutdown().await;
    reserved_log.close().await.expect("closes");
    close(plain_log, plain).await;
}

#[test]
fn a_reservation_carries_the_expected_revision_of_each_record() {
    // The wire shape that roll-forward depends on.
    let inner = ReservedRecord::new(&buy("T1", "O1", "D1"), Some(3));
    let back: ReservedRecord =
        serde_json::from_value(serde_json::to_value(&inner).expect("json")).expect("parses");
    assert_eq!(back, inner);
    assert_eq!(back.expected_revision, Some(3));
}
