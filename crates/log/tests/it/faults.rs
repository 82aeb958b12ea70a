//! Injected I/O faults: after a failed fsync or write the store refuses appends until
//! it is reopened, and what was acknowledged before survives.

use std::sync::Arc;

use counterfoil_core::{ExpectedRevision, Store, StoreError};
use counterfoil_log::{FaultyVfs, Log, LogConfig, RealVfs};

use crate::common::{assert_stream_holds, bulk_units, open, record, unit_ids};

/// A log in `dir` over a file system whose faults the test injects.
fn open_faulty(dir: &std::path::Path) -> (Log, FaultyVfs) {
    let faulty = FaultyVfs::new(Arc::new(RealVfs));
    let mut cfg = LogConfig::new(dir);
    cfg.vfs = Arc::new(faulty.clone());
    let (log, _) = Log::open(cfg).unwrap();
    (log, faulty)
}

/// After a failed write the store is poisoned: a healthy disk changes nothing until
/// the log is reopened. Closes the log.
async fn refuses_appends_until_reopened(log: &Log, stream: &str) {
    assert!(matches!(
        log.append(stream, ExpectedRevision::Any, vec![record("x")])
            .await,
        Err(StoreError::Poisoned { .. })
    ));
    log.close().await.unwrap();
}

#[tokio::test]
async fn a_failed_fsync_poisons_the_store_until_reopened() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, faulty) = open_faulty(tmp.path());

    let acked = record("acked");
    log.append("f-a", ExpectedRevision::NoStream, vec![acked.clone()])
        .await
        .unwrap();

    faulty.fail_next_sync();
    match log
        .append("f-a", ExpectedRevision::Any, vec![record("lost")])
        .await
    {
        Err(StoreError::Io { op, path, .. }) => {
            assert_eq!(op, "fdatasync");
            assert_eq!(path, "segments/00000000000000000000.seg");
        }
        other => panic!("append whose fsync failed: {other:?}"),
    }
    // The sync would succeed now; the store must not retry it and go on.
    for _ in 0..2 {
        match log
            .append("f-b", ExpectedRevision::Any, vec![record("later")])
            .await
        {
            Err(StoreError::Poisoned { cause }) => assert!(cause.contains("fdatasync"), "{cause}"),
            other => panic!("append after a failed fsync: {other:?}"),
        }
    }
    let batch = log
        .append_batch(vec![vec![counterfoil_core::StreamWrite {
            stream: "f-b".into(),
            expected: ExpectedRevision::Any,
            records: vec![record("later")],
        }]])
        .await;
    assert!(
        matches!(batch, Err(StoreError::Poisoned { .. })),
        "{batch:?}"
    );
    // Acknowledged data stays readable.
    assert_eq!(
        log.find_by_id(acked.id).await.unwrap().unwrap().id,
        acked.id
    );
    assert_eq!(log.end_position().await.unwrap(), 1);
    log.close().await.unwrap();

    let (log, _) = open(tmp.path());
    assert_eq!(log.find_by_id(acked.id).await.unwrap().unwrap().position, 0);
    log.append("f-b", ExpectedRevision::Any, vec![record("after reopen")])
        .await
        .unwrap();
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();
}

#[tokio::test]
async fn a_write_cut_short_poisons_and_leaves_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, faulty) = open_faulty(tmp.path());
    let acked: Vec<_> = (0..3).map(|i| record(&format!("w{i}"))).collect();
    log.append("w-a", ExpectedRevision::NoStream, acked.clone())
        .await
        .unwrap();

    faulty.fail_writes_after(20);
    match log
        .append("w-a", ExpectedRevision::Any, vec![record("torn")])
        .await
    {
        Err(StoreError::Io { op, .. }) => assert_eq!(op, "write"),
        other => panic!("append whose write failed: {other:?}"),
    }
    faulty.heal();
    refuses_appends_until_reopened(&log, "w-a").await;
    // Close of a poisoned store writes no snapshot, so this open scans and finds the
    // 20 bytes of the cut write (the count ends with its last byte that is not zero:
    // the zeros the writer wrote ahead are not part of it).
    let (log, report) = open(tmp.path());
    let torn = report.torn_tail.expect("the cut write is a torn tail");
    assert!(
        (9..=20).contains(&torn.bytes_dropped),
        "{}",
        torn.bytes_dropped
    );
    assert_eq!(report.records, 3);
    assert_stream_holds(&log, "w-a", &acked).await;
    log.close().await.unwrap();
}

/// A bulk group (written past the page cache) cut short: the same as a small one.
/// The store is poisoned, and the reopen drops the partial frame and keeps every
/// acknowledged record, including those in the block the cut write rewrote. Whole
/// frames the cut write got out before the cut stay, in order, as after a crash: an
/// append that failed may or may not have been written (a retry with the same ids is
/// a duplicate, not a second copy).
#[tokio::test]
async fn a_bulk_write_cut_short_keeps_what_was_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, faulty) = open_faulty(tmp.path());
    log.append_batch(bulk_units("ok", 900, 11)).await.unwrap();
    let acked = crate::common::append_each(&log, "small", 2).await;

    faulty.fail_writes_after(50_000);
    let cut = bulk_units("cut", 900, 11);
    let cut_ids = unit_ids(&cut);
    match log.append_batch(cut).await {
        Err(StoreError::Io { op, .. }) => assert_eq!(op, "write"),
        other => panic!("bulk append whose write failed: {other:?}"),
    }
    faulty.heal();
    refuses_appends_until_reopened(&log, "small").await;

    let (log, report) = open(tmp.path());
    assert!(report.torn_tail.is_some());
    let kept = report.records as usize - 902;
    assert!(kept < 900, "{kept} of the cut batch kept");
    let after = log.read_all(902, 1000).await.unwrap();
    assert_eq!(
        after.iter().map(|r| r.id).collect::<Vec<_>>(),
        cut_ids[..kept].to_vec()
    );
    assert_stream_holds(&log, "small", &acked).await;
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();
}
