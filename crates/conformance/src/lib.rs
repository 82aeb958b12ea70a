//! The conformance suite of the storage trait: every store backend runs it, so that
//! the guarantees `counterfoil_core::store` promises hold the same way everywhere.
//!
//! A backend's test calls [`run_all`] with a factory of fresh, empty stores, or
//! [`run_all_with`] with a [`Harness`] that can also reopen a store (for the cases
//! that need a restart). Each case panics with its name and what went wrong.
//!
//! Positions are only assumed to be strictly increasing, never dense.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test suite reports failures by panicking"
)]

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use counterfoil_core::catalog::TicketRef;
use counterfoil_core::{
    AppendOutcome, Chain, ExpectedRevision, Hash, Id, NewRecord, RecordBody, Store, StoreError,
    StoredRecord, StreamWrite, UnitOutcome,
};
use futures::StreamExt;
use uuid::Uuid;

/// How the suite gets stores.
#[async_trait]
pub trait Harness: Send {
    type Store: Store;

    /// A fresh, empty store.
    async fn fresh(&mut self) -> Self::Store;

    /// Closes `store` and opens the same data again; `None` when the backend cannot,
    /// in which case the restart cases are skipped.
    async fn reopen(&mut self, store: Self::Store) -> Option<Self::Store> {
        let _ = store;
        None
    }
}

struct Factory<F>(F);

#[async_trait]
impl<F, Fut, S> Harness for Factory<F>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = S> + Send,
    S: Store,
{
    type Store = S;
    async fn fresh(&mut self) -> S {
        (self.0)().await
    }
}

/// Runs every case, each on a fresh store from `make_store`.
pub async fn run_all<F, Fut, S>(make_store: F)
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = S> + Send,
    S: Store,
{
    run_all_with(&mut Factory(make_store)).await;
}

/// Runs every case, each on a fresh store from the harness, and the restart cases
/// when it can reopen.
pub async fn run_all_with<H: Harness>(h: &mut H) {
    macro_rules! case {
        ($name:ident) => {{
            eprintln!("conformance: {}", stringify!($name));
            $name(Arc::new(h.fresh().await)).await;
        }};
    }
    case!(expected_revision_rules);
    {
        let s = Arc::new(h.fresh().await);
        if s.atomic_multi_stream() {
            eprintln!("conformance: multi_stream_atomicity");
            multi_stream_atomicity(s).await;
        } else {
            eprintln!(
                "conformance: multi_stream_atomicity SKIPPED: this store has no multi-stream \
                 atomic append; checking that it refuses such a unit instead"
            );
            multi_stream_unit_refused(s).await;
        }
    }
    case!(idempotent_reappend);
    case!(same_id_other_content_refused);
    case!(partial_duplicate_refused);
    case!(invalid_appends_refused);
    case!(reads_in_order);
    case!(find_by_id);
    case!(subscription_catch_up_then_live);
    case!(concurrent_appenders_distinct_streams);
    case!(concurrent_appenders_same_stream);
    case!(large_unit);
    case!(append_batch_stops_after_first_failure);
    case!(chained_batches_follow_in_order);
    case!(a_broken_chain_writes_nothing_after_it);
    eprintln!("conformance: idempotency_survives_reopen");
    idempotency_survives_reopen(h).await;
}

/// A record for tests: a `ticket.delivered` of `ticket`, with a fresh id.
pub fn record(ticket: &str) -> NewRecord {
    NewRecord {
        id: Uuid::now_v7(),
        occurred_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
        source: "conformance".into(),
        actor: "suite".into(),
        correlation_id: None,
        body: RecordBody::TicketDelivered(TicketRef {
            ticket_id: Id::new(ticket).unwrap(),
        }),
    }
}

fn records(prefix: &str, n: usize) -> Vec<NewRecord> {
    (0..n).map(|i| record(&format!("{prefix}-{i}"))).collect()
}

fn write(stream: &str, expected: ExpectedRevision, records: Vec<NewRecord>) -> StreamWrite {
    StreamWrite {
        stream: stream.into(),
        expected,
        records,
    }
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(e @ StoreError::WrongExpectedRevision { .. }) => assert!(e.is_conflict()),
        other => panic!("{what}: expected a wrong-expected-revision error, got {other:?}"),
    }
}

fn revisions(o: &AppendOutcome) -> Vec<u64> {
    o.records.iter().map(|r| r.revision).collect()
}

fn positions(o: &AppendOutcome) -> Vec<u64> {
    o.records.iter().map(|r| r.position).collect()
}

fn strictly_increasing(p: &[u64]) -> bool {
    p.windows(2).all(|w| w[0] < w[1])
}

/// The stored record is the new one, placed where the outcome says.
fn assert_stored_as(stored: &StoredRecord, new: &NewRecord, stream: &str) {
    assert_eq!(stored.id, new.id);
    assert_eq!(stored.stream, stream);
    assert!(
        new.same_content(stored),
        "stored content differs for {}",
        new.id
    );
}

/// Every record of a stream chains on the one before (SPEC §8).
fn assert_chain(records: &[StoredRecord]) {
    let mut previous = Hash::GENESIS;
    for r in records {
        let mut canonical = Vec::new();
        r.encode_canonical(&mut canonical).unwrap();
        assert_eq!(
            r.hash,
            Hash::chain(&previous, &canonical),
            "hash chain of {} at revision {}",
            r.stream,
            r.revision
        );
        previous = r.hash;
    }
}

async fn expected_revision_rules<S: Store>(s: Arc<S>) {
    assert_eq!(s.stream_revision("er-a").await.unwrap(), None);
    let o = s
        .append("er-a", ExpectedRevision::NoStream, vec![record("a")])
        .await
        .unwrap();
    assert_eq!(revisions(&o), [0]);
    assert_conflict(
        s.append("er-a", ExpectedRevision::NoStream, vec![record("a")])
            .await,
        "NoStream on an existing stream",
    );
    assert_conflict(
        s.append(
            "er-missing",
            ExpectedRevision::StreamExists,
            vec![record("a")],
        )
        .await,
        "StreamExists on a missing stream",
    );
    assert_conflict(
        s.append("er-missing", ExpectedRevision::Exact(0), vec![record("a")])
            .await,
        "Exact on a missing stream",
    );
    let o = s
        .append("er-a", ExpectedRevision::StreamExists, vec![record("a")])
        .await
        .unwrap();
    assert_eq!(revisions(&o), [1]);
    assert_conflict(
        s.append("er-a", ExpectedRevision::Exact(0), vec![record("a")])
            .await,
        "Exact behind the stream",
    );
    assert_conflict(
        s.append("er-a", ExpectedRevision::Exact(7), vec![record("a")])
            .await,
        "Exact ahead of the stream",
    );
    let o = s
        .append(
            "er-a",
            ExpectedRevision::Exact(1),
            vec![record("a"), record("a")],
        )
        .await
        .unwrap();
    assert_eq!(revisions(&o), [2, 3]);
    assert!(strictly_increasing(&positions(&o)));
    let o = s
        .append("er-a", ExpectedRevision::Any, vec![record("a")])
        .await
        .unwrap();
    assert_eq!(revisions(&o), [4]);
    let o = s
        .append("er-b", ExpectedRevision::Any, vec![record("b")])
        .await
        .unwrap();
    assert_eq!(revisions(&o), [0]);
    assert_eq!(s.stream_revision("er-a").await.unwrap(), Some(4));
    assert_eq!(s.stream_revision("er-missing").await.unwrap(), None);
    assert_eq!(s.read_stream("er-a", 0, 100).await.unwrap().len(), 5);
}

async fn multi_stream_atomicity<S: Store>(s: Arc<S>) {
    s.append("ms-a", ExpectedRevision::NoStream, vec![record("a")])
        .await
        .unwrap();
    let end = s.end_position().await.unwrap();
    let a1 = record("a");
    let b0 = record("b");
    let bad = vec![
        write("ms-a", ExpectedRevision::Exact(0), vec![a1.clone()]),
        write("ms-b", ExpectedRevision::NoStream, vec![b0.clone()]),
        write("ms-c", ExpectedRevision::Exact(3), vec![record("c")]),
    ];
    assert_conflict(s.append_multi(bad).await, "a unit with one bad expectation");
    assert_eq!(
        s.end_position().await.unwrap(),
        end,
        "a refused unit wrote something"
    );
    assert_eq!(s.stream_revision("ms-a").await.unwrap(), Some(0));
    assert_eq!(s.stream_revision("ms-b").await.unwrap(), None);
    assert!(s.find_by_id(a1.id).await.unwrap().is_none());

    let b1 = record("b");
    let good = vec![
        write("ms-a", ExpectedRevision::Exact(0), vec![a1.clone()]),
        write(
            "ms-b",
            ExpectedRevision::NoStream,
            vec![b0.clone(), b1.clone()],
        ),
    ];
    let o = s.append_multi(good).await.unwrap();
    assert_eq!(revisions(&o), [1, 0, 1]);
    assert!(strictly_increasing(&positions(&o)));
    assert!(o.records.iter().all(|r| !r.duplicate));
    let all = s.read_all(end, 100).await.unwrap();
    let ids: Vec<Uuid> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids, [a1.id, b0.id, b1.id]);
    assert_eq!(
        all.iter().map(|r| r.position).collect::<Vec<_>>(),
        positions(&o)
    );

    // A later write to the same stream in one unit sees the earlier one.
    let twice = vec![
        write("ms-d", ExpectedRevision::NoStream, vec![record("d")]),
        write("ms-d", ExpectedRevision::Exact(0), vec![record("d")]),
    ];
    let o = s.append_multi(twice).await.unwrap();
    assert_eq!(revisions(&o), [0, 1]);
}

/// A store without multi-stream atomicity refuses a unit spanning several streams
/// whole, and still appends a unit of several writes to one stream atomically.
async fn multi_stream_unit_refused<S: Store>(s: Arc<S>) {
    s.append("mu-a", ExpectedRevision::NoStream, vec![record("a")])
        .await
        .unwrap();
    let end = s.end_position().await.unwrap();
    let a1 = record("a");
    let unit = vec![
        write("mu-a", ExpectedRevision::Exact(0), vec![a1.clone()]),
        write("mu-b", ExpectedRevision::NoStream, vec![record("b")]),
    ];
    match s.append_multi(unit).await {
        Err(StoreError::Unsupported { .. }) => {}
        other => panic!("a unit spanning two streams: {other:?}"),
    }
    assert_eq!(s.end_position().await.unwrap(), end, "a refused unit wrote");
    assert!(s.find_by_id(a1.id).await.unwrap().is_none());
    assert_eq!(s.stream_revision("mu-b").await.unwrap(), None);
    let twice = vec![
        write("mu-d", ExpectedRevision::NoStream, vec![record("d")]),
        write("mu-d", ExpectedRevision::Exact(0), vec![record("d")]),
    ];
    let o = s.append_multi(twice).await.unwrap();
    assert_eq!(revisions(&o), [0, 1]);
    assert!(strictly_increasing(&positions(&o)));
}

async fn idempotent_reappend<S: Store>(s: Arc<S>) {
    let recs = records("id", 3);
    let first = s
        .append("id-a", ExpectedRevision::NoStream, recs.clone())
        .await
        .unwrap();
    s.append("id-b", ExpectedRevision::NoStream, vec![record("other")])
        .await
        .unwrap();
    let end = s.end_position().await.unwrap();
    // The stream has moved on, yet the retry answers what the first append got.
    let again = s
        .append("id-a", ExpectedRevision::NoStream, recs.clone())
        .await
        .unwrap();
    assert!(
        again.all_duplicates(),
        "a re-append must be all duplicates: {again:?}"
    );
    assert_eq!(positions(&again), positions(&first));
    assert_eq!(revisions(&again), revisions(&first));
    assert_eq!(
        again.records.iter().map(|r| r.hash).collect::<Vec<_>>(),
        first.records.iter().map(|r| r.hash).collect::<Vec<_>>()
    );
    let one = s
        .append("id-a", ExpectedRevision::Exact(99), vec![recs[1].clone()])
        .await
        .unwrap();
    assert!(one.records[0].duplicate);
    assert_eq!(one.records[0].position, first.records[1].position);
    let batch = s
        .append_batch(vec![vec![write(
            "id-a",
            ExpectedRevision::Any,
            vec![recs[2].clone()],
        )]])
        .await
        .unwrap();
    match &batch[..] {
        [UnitOutcome::Appended(o)] => {
            assert!(o.all_duplicates());
            assert_eq!(o.records[0].position, first.records[2].position);
        }
        other => panic!("batch re-append: {other:?}"),
    }
    assert_eq!(
        s.end_position().await.unwrap(),
        end,
        "a duplicate was written again"
    );
    assert_eq!(s.read_stream("id-a", 0, 100).await.unwrap().len(), 3);
}

async fn same_id_other_content_refused<S: Store>(s: Arc<S>) {
    let r = record("ic");
    let o = s
        .append("ic-a", ExpectedRevision::Any, vec![r.clone()])
        .await
        .unwrap();
    let mut other = r.clone();
    other.actor = "someone else".into();
    match s.append("ic-a", ExpectedRevision::Any, vec![other]).await {
        Err(StoreError::IdConflict { id, position }) => {
            assert_eq!(id, r.id);
            assert_eq!(position, o.records[0].position);
        }
        other => panic!("same id, other content: {other:?}"),
    }
    match s
        .append("ic-elsewhere", ExpectedRevision::Any, vec![r.clone()])
        .await
    {
        Err(StoreError::IdConflict { id, .. }) => assert_eq!(id, r.id),
        other => panic!("same record in another stream: {other:?}"),
    }
    assert_eq!(s.stream_revision("ic-elsewhere").await.unwrap(), None);
}

async fn partial_duplicate_refused<S: Store>(s: Arc<S>) {
    let r1 = record("pd");
    s.append("pd-a", ExpectedRevision::Any, vec![r1.clone()])
        .await
        .unwrap();
    let end = s.end_position().await.unwrap();
    let r2 = record("pd");
    match s
        .append("pd-a", ExpectedRevision::Any, vec![r1, r2.clone()])
        .await
    {
        Err(StoreError::PartialDuplicate { duplicates }) => assert_eq!(duplicates, 1),
        other => panic!("stored and new records in one append: {other:?}"),
    }
    assert!(s.find_by_id(r2.id).await.unwrap().is_none());
    assert_eq!(s.end_position().await.unwrap(), end);
}

async fn invalid_appends_refused<S: Store>(s: Arc<S>) {
    match s.append_multi(Vec::new()).await {
        Err(StoreError::InvalidAppend(_)) => {}
        other => panic!("an empty append: {other:?}"),
    }
    match s.append("", ExpectedRevision::Any, vec![record("x")]).await {
        Err(StoreError::InvalidAppend(_)) => {}
        other => panic!("an empty stream name: {other:?}"),
    }
    let r = record("x");
    match s
        .append("iv-a", ExpectedRevision::Any, vec![r.clone(), r])
        .await
    {
        Err(StoreError::InvalidAppend(_)) => {}
        other => panic!("one id twice in one append: {other:?}"),
    }
    assert_eq!(s.stream_revision("iv-a").await.unwrap(), None);
}

async fn reads_in_order<S: Store>(s: Arc<S>) {
    let start = s.end_position().await.unwrap();
    let a = records("rd-a", 10);
    let b = records("rd-b", 5);
    s.append("rd-a", ExpectedRevision::NoStream, a[..4].to_vec())
        .await
        .unwrap();
    s.append("rd-b", ExpectedRevision::NoStream, b[..2].to_vec())
        .await
        .unwrap();
    s.append("rd-a", ExpectedRevision::Exact(3), a[4..7].to_vec())
        .await
        .unwrap();
    s.append("rd-b", ExpectedRevision::Exact(1), b[2..].to_vec())
        .await
        .unwrap();
    s.append("rd-a", ExpectedRevision::Exact(6), a[7..].to_vec())
        .await
        .unwrap();

    let all_a = s.read_stream("rd-a", 0, 100).await.unwrap();
    assert_eq!(all_a.len(), 10);
    for (i, (stored, new)) in all_a.iter().zip(&a).enumerate() {
        assert_stored_as(stored, new, "rd-a");
        assert_eq!(stored.revision, i as u64);
    }
    assert!(strictly_increasing(
        &all_a.iter().map(|r| r.position).collect::<Vec<_>>()
    ));
    assert_chain(&all_a);
    assert_chain(&s.read_stream("rd-b", 0, 100).await.unwrap());
    let mid = s.read_stream("rd-a", 3, 4).await.unwrap();
    assert_eq!(
        mid.iter().map(|r| r.revision).collect::<Vec<_>>(),
        [3, 4, 5, 6]
    );
    assert_eq!(mid, all_a[3..7]);
    assert!(s.read_stream("rd-a", 10, 5).await.unwrap().is_empty());
    assert!(s.read_stream("rd-a", 0, 0).await.unwrap().is_empty());
    assert!(s.read_stream("rd-none", 0, 10).await.unwrap().is_empty());

    let all = s.read_all(start, 1000).await.unwrap();
    assert_eq!(all.len(), 15);
    let pos: Vec<u64> = all.iter().map(|r| r.position).collect();
    assert!(strictly_increasing(&pos));
    let order: Vec<Uuid> = all.iter().map(|r| r.id).collect();
    let want: Vec<Uuid> = a[..4]
        .iter()
        .chain(&b[..2])
        .chain(&a[4..7])
        .chain(&b[2..])
        .chain(&a[7..])
        .map(|r| r.id)
        .collect();
    assert_eq!(order, want);
    let page = s.read_all(pos[5], 3).await.unwrap();
    assert_eq!(page, all[5..8]);
    assert!(s.read_all(pos[14] + 1, 10).await.unwrap().is_empty());
    assert!(s.end_position().await.unwrap() > pos[14]);
}

async fn find_by_id<S: Store>(s: Arc<S>) {
    let recs = records("fi", 5);
    let o = s
        .append("fi-a", ExpectedRevision::Any, recs.clone())
        .await
        .unwrap();
    for (new, out) in recs.iter().zip(&o.records) {
        let got = s
            .find_by_id(new.id)
            .await
            .unwrap()
            .expect("stored record found by id");
        assert_stored_as(&got, new, "fi-a");
        assert_eq!(got.position, out.position);
        assert_eq!(got.revision, out.revision);
        assert_eq!(got.hash, out.hash);
    }
    assert!(s.find_by_id(Uuid::now_v7()).await.unwrap().is_none());
}

async fn subscription_catch_up_then_live<S: Store>(s: Arc<S>) {
    let start = s.end_position().await.unwrap();
    s.append("sub-pre", ExpectedRevision::Any, records("pre", 50))
        .await
        .unwrap();
    let mut sub = s.subscribe(start).await.unwrap();
    let mut batches = s.subscribe_batches(start).await.unwrap();
    let appenders: Vec<_> = (0..4)
        .map(|k| {
            let s = s.clone();
            tokio::spawn(async move {
                for r in records(&format!("live{k}"), 50) {
                    s.append(&format!("sub-{k}"), ExpectedRevision::Any, vec![r])
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut got = Vec::new();
    let collect = async {
        while got.len() < 250 {
            match sub.next().await {
                Some(Ok(r)) => got.push(r),
                Some(Err(e)) => panic!("subscription failed: {e}"),
                None => panic!("subscription ended"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), collect)
        .await
        .expect("subscription delivered every record within 60 s");
    for a in appenders {
        a.await.unwrap();
    }
    let pos: Vec<u64> = got.iter().map(|r| r.position).collect();
    assert!(
        strictly_increasing(&pos),
        "subscription out of order or duplicated"
    );
    let logged = s.read_all(start, 1000).await.unwrap();
    assert_eq!(logged.len(), 250);
    assert_eq!(got, logged, "the subscription skipped or invented records");

    // The batch subscription followed the same appends: the same records, in order.
    let mut in_batches = Vec::new();
    let collect = async {
        while in_batches.len() < 250 {
            match batches.next().await {
                Some(Ok(b)) => {
                    assert!(!b.is_empty(), "an empty batch");
                    in_batches.extend_from_slice(b.records());
                }
                Some(Err(e)) => panic!("batch subscription failed: {e}"),
                None => panic!("batch subscription ended"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), collect)
        .await
        .expect("the batch subscription delivered every record within 60 s");
    assert_eq!(in_batches, logged, "the batch subscription differs");

    // A subscription at the end waits for new records.
    let end = s.end_position().await.unwrap();
    let mut live = s.subscribe(end).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(100), live.next()).await;
    assert!(
        quiet.is_err(),
        "a subscription at the end yielded an old record"
    );
    let r = record("late");
    s.append("sub-late", ExpectedRevision::Any, vec![r.clone()])
        .await
        .unwrap();
    let next = tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .expect("live record delivered")
        .expect("subscription open")
        .unwrap();
    assert_eq!(next.id, r.id);
}

async fn concurrent_appenders_distinct_streams<S: Store>(s: Arc<S>) {
    let tasks: Vec<_> = (0..16)
        .map(|k| {
            let s = s.clone();
            tokio::spawn(async move {
                let stream = format!("cd-{k}");
                for i in 0..20u64 {
                    let expected = if i == 0 {
                        ExpectedRevision::NoStream
                    } else {
                        ExpectedRevision::Exact(i - 1)
                    };
                    let o = s
                        .append(&stream, expected, vec![record("cd")])
                        .await
                        .unwrap();
                    assert_eq!(revisions(&o), [i]);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for k in 0..16 {
        let recs = s.read_stream(&format!("cd-{k}"), 0, 100).await.unwrap();
        assert_eq!(
            recs.iter().map(|r| r.revision).collect::<Vec<_>>(),
            (0..20).collect::<Vec<_>>()
        );
        assert_chain(&recs);
    }
}

async fn concurrent_appenders_same_stream<S: Store>(s: Arc<S>) {
    const TASKS: usize = 16;
    const ROUNDS: u64 = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let s = s.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mut wins = Vec::new();
                for round in 0..ROUNDS {
                    barrier.wait().await;
                    let expected = if round == 0 {
                        ExpectedRevision::NoStream
                    } else {
                        ExpectedRevision::Exact(round - 1)
                    };
                    match s.append("cs", expected, vec![record("cs")]).await {
                        Ok(o) => {
                            assert_eq!(revisions(&o), [round]);
                            wins.push(round);
                        }
                        Err(e) => assert!(e.is_conflict(), "round {round}: {e}"),
                    }
                    barrier.wait().await;
                }
                wins
            })
        })
        .collect();
    let mut wins = Vec::new();
    for t in tasks {
        wins.extend(t.await.unwrap());
    }
    wins.sort_unstable();
    assert_eq!(
        wins,
        (0..ROUNDS).collect::<Vec<_>>(),
        "exactly one append must win each revision"
    );
    let recs = s.read_stream("cs", 0, 100).await.unwrap();
    assert_eq!(recs.len() as u64, ROUNDS);
    assert_chain(&recs);
}

async fn large_unit<S: Store>(s: Arc<S>) {
    let recs = records("lg", 10_000);
    let o = s
        .append("lg-a", ExpectedRevision::NoStream, recs.clone())
        .await
        .unwrap();
    assert_eq!(o.records.len(), 10_000);
    assert_eq!(revisions(&o), (0..10_000).collect::<Vec<_>>());
    assert!(strictly_increasing(&positions(&o)));
    let back = s.read_stream("lg-a", 0, 20_000).await.unwrap();
    assert_eq!(back.len(), 10_000);
    for (stored, new) in back.iter().zip(&recs) {
        assert_stored_as(stored, new, "lg-a");
    }
    assert_chain(&back);
    let page = s.read_stream("lg-a", 9_990, 100).await.unwrap();
    assert_eq!(page, back[9_990..]);
    let from_log = s.read_all(o.records[0].position, 10_000).await.unwrap();
    assert_eq!(from_log, back);
}

async fn append_batch_stops_after_first_failure<S: Store>(s: Arc<S>) {
    let ok = s
        .append_batch(vec![
            vec![write("bt-x", ExpectedRevision::NoStream, vec![record("x")])],
            vec![write("bt-x", ExpectedRevision::Exact(0), vec![record("x")])],
            vec![write("bt-y", ExpectedRevision::NoStream, vec![record("y")])],
        ])
        .await
        .unwrap();
    let mut pos = Vec::new();
    for u in &ok {
        match u {
            UnitOutcome::Appended(o) => pos.extend(positions(o)),
            other => panic!("a good batch: {other:?}"),
        }
    }
    assert!(strictly_increasing(&pos));

    let first = record("a");
    let third = record("c");
    let out = s
        .append_batch(vec![
            vec![write(
                "bt-a",
                ExpectedRevision::NoStream,
                vec![first.clone()],
            )],
            vec![write("bt-b", ExpectedRevision::Exact(5), vec![record("b")])],
            vec![write(
                "bt-c",
                ExpectedRevision::NoStream,
                vec![third.clone()],
            )],
        ])
        .await
        .unwrap();
    assert_eq!(out.len(), 3);
    assert!(
        matches!(&out[0], UnitOutcome::Appended(o) if o.records[0].id == first.id),
        "{:?}",
        out[0]
    );
    assert!(
        matches!(&out[1], UnitOutcome::Failed(e) if e.is_conflict()),
        "{:?}",
        out[1]
    );
    assert!(matches!(&out[2], UnitOutcome::NotAttempted), "{:?}", out[2]);
    assert!(s.find_by_id(first.id).await.unwrap().is_some());
    assert!(s.find_by_id(third.id).await.unwrap().is_none());
    assert_eq!(s.stream_revision("bt-c").await.unwrap(), None);
    assert!(s.append_batch(Vec::new()).await.unwrap().is_empty());
}

/// Positions of an appended unit's records.
fn unit_positions(outcome: &UnitOutcome) -> Vec<u64> {
    match outcome {
        UnitOutcome::Appended(o) => o.records.iter().map(|r| r.position).collect(),
        other => panic!("not appended: {other:?}"),
    }
}

/// `append_batch_chained`: a batch handed over before the one it follows waits for
/// it, is written after it, and both verdicts say "whole".
async fn chained_batches_follow_in_order<S: Store>(s: Arc<S>) {
    // Many records, so a store that encodes ahead does so off the caller's task.
    let first = records("ch-first", 600);
    let second = records("ch-second", 3);
    let (c1, v1) = Chain::after(None);
    let (c2, v2) = Chain::after(Some(v1.clone()));
    let store = s.clone();
    let units = vec![vec![write(
        "ch-second",
        ExpectedRevision::NoStream,
        second.clone(),
    )]];
    let later = tokio::spawn(async move { store.append_batch_chained(units, c2).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(s.stream_revision("ch-second").await.unwrap(), None);
    assert_eq!(v2.get(), None);
    let units = vec![
        vec![write("ch-first", ExpectedRevision::NoStream, first.clone())],
        vec![write(
            "ch-other",
            ExpectedRevision::NoStream,
            vec![record("o")],
        )],
    ];
    let out1 = s.append_batch_chained(units, c1).await.unwrap();
    let out2 = later.await.unwrap().unwrap();
    assert_eq!(out1.len(), 2);
    assert_eq!(out2.len(), 1);
    let last_of_first = unit_positions(&out1[1]).into_iter().max().unwrap();
    assert!(
        unit_positions(&out1[0])
            .into_iter()
            .all(|p| p < last_of_first)
    );
    assert!(
        unit_positions(&out2[0])
            .into_iter()
            .all(|p| p > last_of_first)
    );
    assert_eq!(v1.get(), Some(true));
    assert_eq!(v2.get(), Some(true));
    let back = s.read_stream("ch-second", 0, 10).await.unwrap();
    assert_eq!(back.len(), second.len());
    for (stored, new) in back.iter().zip(&second) {
        assert_stored_as(stored, new, "ch-second");
    }
}

/// `append_batch_chained`: after a batch that was not written whole (a failed unit, a
/// duplicate record, or a link dropped before it reached the store), nothing of the
/// batches chained after it is written, and their verdicts say so.
async fn a_broken_chain_writes_nothing_after_it<S: Store>(s: Arc<S>) {
    let existing = record("cb-existing");
    s.append("cb-x", ExpectedRevision::NoStream, vec![existing.clone()])
        .await
        .unwrap();

    // A unit that fails: the stream exists, NoStream is expected.
    let (c1, v1) = Chain::after(None);
    let (c2, v2) = Chain::after(Some(v1.clone()));
    let (c3, v3) = Chain::after(Some(v2.clone()));
    let (a, b, c) = (record("cb-a"), record("cb-b"), record("cb-c"));
    let out1 = s
        .append_batch_chained(
            vec![
                vec![write("cb-a", ExpectedRevision::NoStream, vec![a.clone()])],
                vec![write("cb-x", ExpectedRevision::NoStream, vec![record("x")])],
            ],
            c1,
        )
        .await
        .unwrap();
    assert!(
        matches!(&out1[0], UnitOutcome::Appended(_)),
        "{:?}",
        out1[0]
    );
    assert!(matches!(&out1[1], UnitOutcome::Failed(_)), "{:?}", out1[1]);
    assert_eq!(v1.get(), Some(false));
    for (chain, rec, verdict) in [(c2, &b, &v2), (c3, &c, &v3)] {
        chained_not_written(&*s, "cb-b", ExpectedRevision::Any, rec, chain).await;
        assert_eq!(verdict.get(), Some(false));
    }
    assert_eq!(s.stream_revision("cb-b").await.unwrap(), None);

    // A duplicate: appended, but not as decided.
    let (c1, v1) = Chain::after(None);
    let (c2, v2) = Chain::after(Some(v1.clone()));
    let out1 = s
        .append_batch_chained(
            vec![vec![write(
                "cb-x",
                ExpectedRevision::Any,
                vec![existing.clone()],
            )]],
            c1,
        )
        .await
        .unwrap();
    match &out1[0] {
        UnitOutcome::Appended(o) => assert!(o.all_duplicates()),
        other => panic!("{other:?}"),
    }
    assert_eq!(v1.get(), Some(false));
    let d = record("cb-d");
    chained_not_written(&*s, "cb-d", ExpectedRevision::NoStream, &d, c2).await;
    assert_eq!(v2.get(), Some(false));

    // A link dropped before its batch reached the store.
    let (c1, v1) = Chain::after(None);
    let (c2, _) = Chain::after(Some(v1));
    drop(c1);
    let e = record("cb-e");
    chained_not_written(&*s, "cb-e", ExpectedRevision::NoStream, &e, c2).await;
}

/// Appends `rec` to `stream` chained on `chain`, and checks that none of it was
/// written: the unit is not attempted and the id is not stored.
async fn chained_not_written<S: Store + ?Sized>(
    s: &S,
    stream: &str,
    expected: ExpectedRevision,
    rec: &NewRecord,
    chain: Chain,
) {
    let out = s
        .append_batch_chained(
            vec![vec![write(stream, expected, vec![rec.clone()])]],
            chain,
        )
        .await
        .unwrap();
    assert!(matches!(&out[0], UnitOutcome::NotAttempted), "{:?}", out[0]);
    assert!(s.find_by_id(rec.id).await.unwrap().is_none());
}

async fn idempotency_survives_reopen<H: Harness>(h: &mut H) {
    let s = h.fresh().await;
    let recs = records("ro", 4);
    let first = s
        .append("ro-a", ExpectedRevision::NoStream, recs.clone())
        .await
        .unwrap();
    let before = s.read_all(0, 100).await.unwrap();
    let Some(s) = h.reopen(s).await else {
        eprintln!("conformance: the harness cannot reopen; skipped");
        return;
    };
    assert_eq!(
        s.read_all(0, 100).await.unwrap(),
        before,
        "records changed across a restart"
    );
    let again = s
        .append("ro-a", ExpectedRevision::NoStream, recs.clone())
        .await
        .unwrap();
    assert!(again.all_duplicates());
    assert_eq!(positions(&again), positions(&first));
    let mut other = recs[0].clone();
    other.source = "changed".into();
    assert!(matches!(
        s.append("ro-a", ExpectedRevision::Any, vec![other]).await,
        Err(StoreError::IdConflict { .. })
    ));
    let o = s
        .append("ro-a", ExpectedRevision::Exact(3), vec![record("ro")])
        .await
        .unwrap();
    assert_eq!(revisions(&o), [4]);
    let all = s.read_stream("ro-a", 0, 10).await.unwrap();
    assert_chain(&all);
    let seen: HashSet<Uuid> = all.iter().map(|r| r.id).collect();
    assert_eq!(seen.len(), 5);
}
