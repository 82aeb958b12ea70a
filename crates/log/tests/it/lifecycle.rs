//! Closing, relaxed durability, and what `verify` says of a damaged `index.snap`.

use counterfoil_core::{ExpectedRevision, Store, StoreError};
use counterfoil_log::{Durability, Log, LogConfig};
use futures::StreamExt;

use crate::common::{append_each, assert_stream_holds, open, record, snapshot_path};

#[tokio::test]
async fn closing_ends_subscriptions_and_refuses_calls() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path());
    append_each(&log, "lc-a", 3).await;
    let mut sub = log.subscribe(0).await.unwrap();
    for p in 0..3 {
        assert_eq!(sub.next().await.unwrap().unwrap().position, p);
    }
    let clone = log.clone();
    log.close().await.unwrap();
    match sub.next().await {
        Some(Err(StoreError::Closed)) => {}
        other => panic!("subscription after close: {other:?}"),
    }
    assert!(sub.next().await.is_none());
    assert!(matches!(
        clone
            .append("lc-a", ExpectedRevision::Any, vec![record("x")])
            .await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        clone.read_all(0, 10).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(clone.verify(&mut |_| {}), Err(StoreError::Closed)));
    clone.close().await.unwrap();
    // The folder is free again.
    let (again, report) = open(tmp.path());
    assert_eq!(report.records, 3);
    again.close().await.unwrap();
}

#[tokio::test]
async fn relaxed_durability_keeps_what_was_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = LogConfig::new(tmp.path());
    cfg.durability = Durability::Relaxed;
    cfg.segment_bytes = 4096;
    cfg.index_checkpoint_records = 16;
    let (log, _) = Log::open(cfg).unwrap();
    let recs = append_each(&log, "rx-a", 60).await;
    assert!(log.stats().segments > 1);
    log.close().await.unwrap();
    let (log, report) = open(tmp.path());
    assert!(report.snapshot_used);
    assert_stream_holds(&log, "rx-a", &recs).await;
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();
}

#[tokio::test]
async fn verify_reports_a_damaged_index_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path());
    append_each(&log, "ds-a", 5).await;
    log.close().await.unwrap();
    let (log, _) = open(tmp.path());
    let mut bytes = std::fs::read(snapshot_path(tmp.path())).unwrap();
    bytes[30] ^= 1;
    std::fs::write(snapshot_path(tmp.path()), bytes).unwrap();
    let m = log
        .verify(&mut |_| {})
        .unwrap()
        .first_mismatch
        .expect("damage found");
    assert_eq!(m.segment, "index.snap");
    assert!(m.what.contains("checksum"), "{m}");
    log.close().await.unwrap();

    // On open, a damaged snapshot is set aside and the log rescanned.
    let mut bytes = std::fs::read(snapshot_path(tmp.path())).unwrap();
    bytes[40] ^= 1;
    std::fs::write(snapshot_path(tmp.path()), bytes).unwrap();
    let (log, report) = open(tmp.path());
    assert!(!report.snapshot_used);
    assert_eq!((report.records, report.rescanned_records), (5, 5));
    assert!(
        !snapshot_path(tmp.path()).exists(),
        "the unusable snapshot is removed"
    );
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();
}

#[tokio::test]
async fn recorded_at_never_goes_back_along_positions_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path());
    append_each(&log, "ra-a", 20).await;
    log.close().await.unwrap();
    let (log, _) = open(tmp.path());
    append_each(&log, "ra-b", 20).await;
    let all = log.read_all(0, 100).await.unwrap();
    assert_eq!(all.len(), 40);
    for pair in all.windows(2) {
        assert!(
            pair[0].recorded_at <= pair[1].recorded_at,
            "position {} recorded at {} after position {} at {}",
            pair[1].position,
            pair[1].recorded_at,
            pair[0].position,
            pair[0].recorded_at
        );
    }
    log.close().await.unwrap();
}

#[tokio::test]
async fn a_reserve_hint_changes_nothing_a_reader_or_writer_sees() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path());
    let before = append_each(&log, "rs-a", 5).await;
    log.reserve(200_000);
    // Twice, and with nothing: a hint, never an error.
    log.reserve(0);
    let after = append_each(&log, "rs-b", 5).await;
    let more = append_each(&log, "rs-a", 2).await;
    assert_eq!(log.end_position().await.unwrap(), 12);
    assert_eq!(log.stream_revision("rs-a").await.unwrap(), Some(6));
    let ids = |rs: &[counterfoil_core::StoredRecord]| rs.iter().map(|r| r.id).collect::<Vec<_>>();
    let a = log.read_stream("rs-a", 0, 100).await.unwrap();
    let expected: Vec<_> = before.iter().chain(&more).map(|r| r.id).collect();
    assert_eq!(ids(&a), expected);
    let b = log.read_stream("rs-b", 0, 100).await.unwrap();
    assert_eq!(ids(&b), after.iter().map(|r| r.id).collect::<Vec<_>>());
    for r in before.iter().chain(&after) {
        assert!(log.find_by_id(r.id).await.unwrap().is_some());
    }
    log.close().await.unwrap();
    let (log, report) = open(tmp.path());
    assert_eq!(report.records, 12);
    log.verify(&mut |_| {}).unwrap();
    log.close().await.unwrap();
}

/// Groups over 128 KiB go past the page cache in whole 4 KiB blocks, rewriting the
/// start of the block the data before them ends in; small groups between them go
/// through the cache. Whatever the mix, and across segment rolls inside a group,
/// every record reads back in order, the segment files hold exactly the frames, and
/// the log verifies before and after a reopen.
#[tokio::test]
async fn bulk_groups_and_small_appends_read_back_in_order_and_reopen() {
    bulk_groups_and_small_appends(true).await;
}

/// The same on a file system without direct I/O: the bulk groups go through the
/// page cache, with the same bytes in the files.
#[tokio::test]
async fn bulk_groups_without_direct_io_read_back_in_order_and_reopen() {
    bulk_groups_and_small_appends(false).await;
}

async fn bulk_groups_and_small_appends(direct: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = LogConfig::new(tmp.path());
    cfg.segment_bytes = 96 << 10;
    let vfs = counterfoil_log::FaultyVfs::new(std::sync::Arc::new(counterfoil_log::RealVfs));
    if !direct {
        vfs.without_direct_writes();
    }
    cfg.vfs = std::sync::Arc::new(vfs);
    let (log, _) = Log::open(cfg).unwrap();
    let mut expected = Vec::new();
    for round in 0..3 {
        let units = crate::common::bulk_units(&format!("bulk-{round}"), 900, 37);
        expected.extend(crate::common::unit_ids(&units));
        let outcomes = log.append_batch(units).await.unwrap();
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, counterfoil_core::UnitOutcome::Appended(_))),
            "{outcomes:?}"
        );
        let small = append_each(&log, &format!("small-{round}"), 3).await;
        expected.extend(small.iter().map(|r| r.id));
    }
    let ids =
        |rs: Vec<counterfoil_core::StoredRecord>| rs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(log.read_all(0, 10_000).await.unwrap()), expected);
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();

    // Closed cleanly: every segment ends with its last frame, no zeros after it.
    let segs = crate::common::segments(tmp.path());
    assert!(segs.len() > 3, "the bulk groups rolled segments: {segs:?}");
    let mut frames = 0;
    for s in &segs {
        let f = crate::common::frames(s);
        let end = f.last().map_or(16, |(o, l)| o + l);
        assert_eq!(std::fs::metadata(s).unwrap().len(), end, "{}", s.display());
        frames += f.len();
    }
    assert_eq!(frames, expected.len());

    let (log, report) = open(tmp.path());
    assert_eq!(report.records, expected.len() as u64);
    assert!(report.torn_tail.is_none());
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    assert_eq!(ids(log.read_all(0, 10_000).await.unwrap()), expected);
    // And the log goes on after the reopen, small then bulk.
    let more = append_each(&log, "after", 2).await;
    log.append_batch(crate::common::bulk_units("after-bulk", 900, 1))
        .await
        .unwrap();
    let all = log.read_all(0, 10_000).await.unwrap();
    assert_eq!(all.len(), expected.len() + 902);
    assert_eq!(all[expected.len()].id, more[0].id);
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();
}

#[tokio::test]
async fn reading_into_a_vector_handed_back_fills_that_vector() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path());
    append_each(&log, "ri-a", 30).await;
    let whole = log.read_all(5, 20).await.unwrap();

    let mut buf = log.read_all(0, 3).await.unwrap();
    buf.reserve(64);
    let (at, capacity) = (buf.as_ptr(), buf.capacity());
    let again = log.read_all_into(5, 20, buf).await.unwrap();
    assert_eq!(again, whole, "the same records, the old ones gone");
    assert_eq!(again.as_ptr(), at, "in the vector handed in");
    assert_eq!(again.capacity(), capacity);

    let past_end = log.read_all_into(30, 10, again).await.unwrap();
    assert!(past_end.is_empty());
    log.close().await.unwrap();
    assert!(matches!(
        log.read_all_into(0, 10, past_end).await,
        Err(StoreError::Closed)
    ));
}
