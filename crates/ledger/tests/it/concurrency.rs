//! Racing buyers never oversell; another writer on the same store is noticed as a
//! conflict and the ledger decides again against the log.

use std::sync::Arc;

use counterfoil_core::{RefusalReason, Store};
use counterfoil_ledger::{LedgerConfig, SubmitError};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_tasks_racing_for_one_hundred_seats_sell_exactly_one_hundred() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open(dir.path()).await;
    for r in [perf("P1"), def("D1", "P1", Some(100))] {
        accepted(&ledger.submit(r).await);
    }

    let mut tasks = Vec::new();
    for task in 0..16 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            // 1,000 purchases spread over 16 tasks (63 or 62 each).
            for i in (task..1000).step_by(16) {
                let r = ledger
                    .submit(buy(&format!("T{i}"), &format!("O{i}"), "D1"))
                    .await;
                answers.push(r.map_err(|e| e.reason()));
            }
            answers
        }));
    }
    let mut ok = 0;
    let mut sold_out = 0;
    for t in tasks {
        for a in t.await.expect("task") {
            match a {
                Ok(s) => {
                    assert!(!s.duplicate);
                    ok += 1;
                }
                Err(Some(RefusalReason::SoldOut)) => sold_out += 1,
                Err(other) => panic!("unexpected answer {other:?}"),
            }
        }
    }
    assert_eq!((ok, sold_out), (100, 900));
    assert_eq!(log.end_position().await.expect("end"), 102);

    let report = log.verify(&mut |_| {}).expect("verify runs");
    assert!(report.is_ok(), "{:?}", report.first_mismatch);
    assert_eq!(report.records, 102);

    // A new ledger folded from the log agrees: the definition is full.
    close(log, ledger).await;
    let (log, ledger) = open(dir.path()).await;
    let r = ledger.submit(buy("T-late", "O-late", "D1")).await;
    assert_eq!(reason(&r), Some("sold_out"));
    close(log, ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_many_decides_in_order_and_batches_within_max_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open_with(
        counterfoil_log::LogConfig::new(dir.path()),
        LedgerConfig {
            max_batch: 7,
            retries: 3,
            ..LedgerConfig::default()
        },
    )
    .await;
    let mut records = vec![perf("P1"), def("D1", "P1", Some(10))];
    for i in 0..30 {
        records.push(buy(&format!("T{i}"), "O1", "D1"));
    }
    // Later records see earlier ones of the same call: a scan of T0 after its purchase.
    records.push(redeem("T0"));
    records.push(redeem("T0"));
    let answers = ledger.submit_many(records).await;
    assert_eq!(answers.len(), 34);
    let codes: Vec<Option<&str>> = answers.iter().map(reason).collect();
    assert!(codes[..12].iter().all(Option::is_none), "{codes:?}");
    assert!(
        codes[12..32].iter().all(|c| *c == Some("sold_out")),
        "{codes:?}"
    );
    assert_eq!(codes[32], None);
    assert_eq!(codes[33], Some("max_redemptions"));
    let positions: Vec<u64> = answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .map(|s| s.position)
        .collect();
    assert_eq!(positions, (0..13).collect::<Vec<u64>>());
    close(log, ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_writer_on_the_same_store_is_a_conflict_decided_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, a) = open_with_ticket_t1(dir.path()).await;
    // A second ledger on the same store: its state is folded now and goes stale.
    let b = another_ledger(&log, LedgerConfig::default()).await;
    accepted(&a.submit(redeem("T1")).await);

    // b still believes T1 unscanned at revision 0: its write conflicts, it rebuilds
    // from the log and refuses the second scan with the right reason.
    let r = b.submit(redeem("T1")).await;
    assert_eq!(reason(&r), Some("max_redemptions"));
    // And a record that is still fine after the rebuild is written at the right revision.
    let s = accepted(&b.submit(on("ticket.invalidated", "T1")).await).clone();
    assert_eq!((s.stream.as_str(), s.revision), ("ticket-T1", 2));
    let report = log.verify(&mut |_| {}).expect("verify runs");
    assert!(report.is_ok(), "{:?}", report.first_mismatch);
    b.shutdown().await;
    close(log, a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_that_outlasts_the_retries_is_answered_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, a) = open_with_ticket_t1(dir.path()).await;
    let b = another_ledger(
        &log,
        LedgerConfig {
            max_batch: 8192,
            retries: 0,
            ..LedgerConfig::default()
        },
    )
    .await;
    accepted(&a.submit(on("ticket.delivered", "T1")).await);
    // No retry allowed: the stale decision's conflict is the answer...
    let r = b.submit(on("ticket.downloaded", "T1")).await;
    assert!(
        matches!(&r, Err(counterfoil_ledger::SubmitError::Store(e)) if e.is_conflict()),
        "{r:?}"
    );
    // ...and b has caught up with the log, so the same record now goes through.
    let s = accepted(&b.submit(on("ticket.downloaded", "T1")).await).clone();
    assert_eq!(s.revision, 2);
    b.shutdown().await;
    close(log, a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_that_rested_on_an_unwritten_record_is_decided_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, a) = open(dir.path()).await;
    for r in [
        perf("P1"),
        def("D1", "P1", None),
        buy("T1", "O1", "D1"),
        redeem("T1"),
    ] {
        accepted(&a.submit(r).await);
    }
    let b = another_ledger(&log, LedgerConfig::default()).await;
    // a takes the scan back; b still sees T1 scanned once (its maximum).
    accepted(&a.submit(on("ticket.unredeemed", "T1")).await);
    let answers = b
        .submit_many(vec![on("ticket.delivered", "T1"), redeem("T1")])
        .await;
    // In b's first attempt the delivery conflicts and the scan is refused
    // max_redemptions against the stale state; after the rebuild both go through.
    let revisions: Vec<u64> = answers.iter().map(|r| accepted(r).revision).collect();
    assert_eq!(revisions, [3, 4]);
    b.shutdown().await;
    close(log, a).await;
}

/// While one batch is being written the next is decided; a record resent in that next
/// batch must still be answered as a duplicate of the one in flight, at its position,
/// and the same id with other content as an `id_conflict`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_while_the_first_copy_is_in_flight_is_its_duplicate() {
    // By default the four submissions may share a batch; with batches of one
    // submission each resend is decided while its first copy is being written.
    for max_batch in [LedgerConfig::default().max_batch, 500] {
        resend_while_in_flight(max_batch).await;
    }
}

async fn resend_while_in_flight(max_batch: usize) {
    use counterfoil_log::LogConfig;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LedgerConfig {
        max_batch,
        ..LedgerConfig::default()
    };
    let (log, ledger) = open_with(LogConfig::new(dir.path()), config).await;
    accepted(&ledger.submit(perf("P1")).await);
    accepted(&ledger.submit(def("D1", "P1", None)).await);
    for round in 0..20 {
        let chunk: Vec<_> = (0..500)
            .map(|i| buy(&format!("T{round}-{i}"), &format!("O{round}-{i}"), "D1"))
            .collect();
        // Same ids, another order id: other content.
        let altered: Vec<_> = chunk
            .iter()
            .map(|r| {
                let mut other = buy("T", &format!("X{round}"), "D1");
                other.id = r.id;
                other
            })
            .collect();
        let (a, b, c, d) = tokio::join!(
            ledger.submit_many(chunk.clone()),
            ledger.submit_many(chunk.clone()),
            ledger.submit_many(chunk),
            ledger.submit_many(altered),
        );
        for i in 0..500 {
            let first = accepted(&a[i]);
            assert!(
                !first.duplicate,
                "batch {max_batch} round {round} record {i}"
            );
            for again in [&b[i], &c[i]] {
                let again = accepted(again);
                assert!(again.duplicate, "round {round} record {i}: {again:?}");
                assert_eq!(again.position, first.position);
            }
            match &d[i] {
                Err(SubmitError::Refused(r)) => {
                    assert_eq!(
                        r.reason,
                        RefusalReason::IdConflict,
                        "round {round} record {i}"
                    );
                }
                other => panic!("round {round} record {i}: {other:?}"),
            }
        }
    }
    let report = log.verify(&mut |_| {}).expect("verify");
    assert!(report.first_mismatch.is_none());
    assert_eq!(report.records, 2 + 20 * 500);
    close(log, ledger).await;
}

/// A sync failure while later batches are already decided: nothing is written after
/// the failed sync, and every submitter hears the failure. The batches that shared
/// that sync (chained batches queued together go into one write) have an unknown
/// outcome: their bytes may have reached the file before the sync failed, each batch
/// whole or not at all. Resubmitting by id settles it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_voids_the_batch_decided_behind_it() {
    use counterfoil_log::{FaultyVfs, LogConfig, RealVfs};
    const CHUNK: usize = 400;
    let dir = tempfile::tempdir().expect("tempdir");
    let vfs = Arc::new(FaultyVfs::new(Arc::new(RealVfs)));
    let mut config = LogConfig::new(dir.path());
    config.vfs = vfs.clone();
    // One chunk per batch, so later chunks are decided while an earlier one is written.
    let ledger_config = LedgerConfig {
        max_batch: CHUNK,
        ..LedgerConfig::default()
    };
    let (log, ledger) = open_with(config, ledger_config).await;
    accepted(&ledger.submit(perf("P1")).await);
    accepted(&ledger.submit(def("D1", "P1", Some(10_000))).await);
    vfs.fail_next_sync();
    let chunks: Vec<Vec<_>> = (0..8)
        .map(|c| {
            (0..CHUNK)
                .map(|i| buy(&format!("T{c}-{i}"), &format!("O{c}-{i}"), "D1"))
                .collect()
        })
        .collect();
    let answers =
        futures::future::join_all(chunks.into_iter().map(|c| ledger.submit_many(c))).await;
    let all: Vec<_> = answers.iter().flatten().collect();
    assert!(
        all.iter().all(|r| r.is_err()),
        "nothing is acknowledged after the failed sync"
    );
    ledger.shutdown().await;
    let _ = log.close().await;
    drop(log);
    let (log, _) = counterfoil_log::Log::open(LogConfig::new(dir.path())).expect("reopens");
    let report = log.verify(&mut |_| {}).expect("verify");
    assert!(report.first_mismatch.is_none());
    let unknown = report.records as usize - 2;
    assert!(
        unknown.is_multiple_of(CHUNK) && unknown <= 8 * CHUNK,
        "only whole batches of the failed sync may be in the log, found {unknown} records"
    );
    log.close().await.expect("closes");
}

/// Several batches in flight at once, each chained after the one before: when the
/// first conflicts with another writer, the store writes none of the batches behind
/// it, and the ledger decides all of them again from the rebuilt state. Every record
/// ends up written once, in order, and the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_voids_every_batch_chained_behind_it() {
    const CHUNK: usize = 200;
    const CHUNKS: usize = 6;
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, a) = open_with_ticket_t1(dir.path()).await;
    // b's state goes stale: a writes to T1's stream after b folded the log.
    let b = another_ledger(
        &log,
        LedgerConfig {
            max_batch: CHUNK,
            ..LedgerConfig::default()
        },
    )
    .await;
    accepted(&a.submit(on("ticket.delivered", "T1")).await);

    // b's first batch starts with a record on T1 at a stale revision; every later
    // chunk is a batch of its own, decided while the first is in flight.
    let mut chunks: Vec<Vec<_>> = vec![
        std::iter::once(on("ticket.invalidated", "T1"))
            .chain((1..CHUNK).map(|i| buy(&format!("T0-{i}"), &format!("O0-{i}"), "D1")))
            .collect(),
    ];
    for c in 1..CHUNKS {
        chunks.push(
            (0..CHUNK)
                .map(|i| buy(&format!("T{c}-{i}"), &format!("O{c}-{i}"), "D1"))
                .collect(),
        );
    }
    let answers = futures::future::join_all(chunks.iter().map(|c| b.submit_many(c.clone()))).await;
    let positions: Vec<u64> = answers
        .iter()
        .flatten()
        .map(|r| accepted(r).position)
        .collect();
    assert_eq!(positions.len(), CHUNK * CHUNKS);
    let distinct: std::collections::HashSet<u64> = positions.iter().copied().collect();
    assert_eq!(distinct.len(), positions.len(), "each record written once");
    // The stale record went through after the rebuild, at T1's next revision.
    let first = accepted(&answers[0][0]);
    assert_eq!((first.stream.as_str(), first.revision), ("ticket-T1", 2));
    let report = log.verify(&mut |_| {}).expect("verify runs");
    assert!(report.is_ok(), "{:?}", report.first_mismatch);
    assert_eq!(report.records as usize, 4 + CHUNK * CHUNKS);
    b.shutdown().await;
    close(log, a).await;
}

/// A ledger whose log holds performance P1, definition D1 and ticket T1 (order O1).
async fn open_with_ticket_t1(
    dir: &std::path::Path,
) -> (counterfoil_log::Log, counterfoil_ledger::Ledger) {
    let (log, ledger) = open(dir).await;
    for r in [perf("P1"), def("D1", "P1", None), buy("T1", "O1", "D1")] {
        accepted(&ledger.submit(r).await);
    }
    (log, ledger)
}
