//! Index snapshots and segments: idempotency across restarts by both open paths, a
//! snapshot loaded equals one rebuilt by rescanning, and segments roll.

use counterfoil_core::{ExpectedRevision, Store, StreamWrite};
use counterfoil_log::{Log, LogConfig};

use crate::common::{append_each, copy_dir, open, record, segments, snapshot_path};

#[tokio::test]
async fn idempotency_survives_restart_by_snapshot_and_by_rescan() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path());
    let recs = append_each(&log, "is-a", 20).await;
    log.close().await.unwrap();

    for rescan in [false, true] {
        if rescan {
            std::fs::remove_file(snapshot_path(tmp.path())).unwrap();
        }
        let (log, report) = open(tmp.path());
        assert_eq!(report.snapshot_used, !rescan);
        assert_eq!(report.rescanned_records, if rescan { 20 } else { 0 });
        assert_eq!(report.records, 20);
        for (i, r) in recs.iter().enumerate() {
            let o = log
                .append("is-a", ExpectedRevision::NoStream, vec![r.clone()])
                .await
                .unwrap();
            assert!(o.records[0].duplicate, "rescan={rescan}");
            assert_eq!(o.records[0].position, i as u64);
        }
        let mut other = recs[7].clone();
        other.actor = "other".into();
        assert!(
            log.append("is-a", ExpectedRevision::Any, vec![other])
                .await
                .is_err()
        );
        assert_eq!(log.end_position().await.unwrap(), 20);
        log.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_loaded_snapshot_equals_a_rescan_and_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path());
    // Streams of several lengths, one long enough to need marks, and a multi-record
    // multi-stream unit.
    append_each(&log, "eq-long", 150).await;
    append_each(&log, "eq-short", 3).await;
    log.append_multi(vec![
        StreamWrite {
            stream: "eq-m1".into(),
            expected: ExpectedRevision::NoStream,
            records: vec![record("m"), record("m")],
        },
        StreamWrite {
            stream: "eq-long".into(),
            expected: ExpectedRevision::Exact(149),
            records: vec![record("m")],
        },
    ])
    .await
    .unwrap();
    log.close().await.unwrap();

    // Records appended after the snapshot, then a crash: the copy has the old snapshot.
    let (log, report) = open(tmp.path());
    assert!(report.snapshot_used);
    append_each(&log, "eq-after", 7).await;
    let crashed = tempfile::tempdir().unwrap();
    copy_dir(tmp.path(), crashed.path());
    log.close().await.unwrap();

    let (log, report) = open(crashed.path());
    assert!(report.snapshot_used);
    assert_eq!(report.rescanned_records, 7);
    assert_eq!(report.records, 163);
    let loaded = log.read_stream("eq-long", 60, 80).await.unwrap();
    assert_eq!(
        loaded.iter().map(|r| r.revision).collect::<Vec<_>>(),
        (60..140).collect::<Vec<_>>()
    );
    log.close().await.unwrap();
    let from_snapshot = std::fs::read(snapshot_path(crashed.path())).unwrap();

    std::fs::remove_file(snapshot_path(crashed.path())).unwrap();
    let (log, report) = open(crashed.path());
    assert!(!report.snapshot_used);
    assert_eq!(report.rescanned_records, 163);
    assert_eq!(log.read_stream("eq-long", 60, 80).await.unwrap(), loaded);
    log.close().await.unwrap();
    let from_rescan = std::fs::read(snapshot_path(crashed.path())).unwrap();
    assert_eq!(
        from_snapshot, from_rescan,
        "the index loaded from a snapshot differs from a rescan"
    );

    // Loading and writing it back changes nothing.
    let (log, _) = open(crashed.path());
    log.close().await.unwrap();
    assert_eq!(
        std::fs::read(snapshot_path(crashed.path())).unwrap(),
        from_rescan
    );
}

#[tokio::test]
async fn checkpoints_are_written_while_appending() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = LogConfig::new(tmp.path());
    cfg.index_checkpoint_records = 10;
    let (log, _) = Log::open(cfg).unwrap();
    append_each(&log, "cp-a", 25).await;
    // The checkpoint runs in the background; wait for one to land.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !snapshot_path(tmp.path()).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let crashed = tempfile::tempdir().unwrap();
    copy_dir(tmp.path(), crashed.path());
    log.close().await.unwrap();
    let (log, report) = open(crashed.path());
    assert!(report.snapshot_used);
    assert!(report.rescanned_records < 25, "{report:?}");
    assert_eq!(report.records, 25);
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();
}

#[tokio::test]
async fn segments_roll_and_a_large_unit_goes_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = LogConfig::new(tmp.path());
    cfg.segment_bytes = 4096;
    let (log, _) = Log::open(cfg.clone()).unwrap();
    let small = append_each(&log, "sr-a", 60).await;
    let big: Vec<_> = (0..40).map(|i| record(&format!("big{i}"))).collect();
    let o = log
        .append("sr-b", ExpectedRevision::NoStream, big.clone())
        .await
        .unwrap();
    append_each(&log, "sr-a", 5).await;
    let stats = log.stats();
    assert_eq!(stats.records, 105);
    assert!(stats.segments >= 4, "{stats:?}");
    assert!(stats.index_bytes > 0);

    let segs = segments(tmp.path());
    assert_eq!(segs.len() as u64, stats.segments);
    // Each segment is named after its first record; the big unit has one to itself.
    let big_first = o.records[0].position;
    let big_seg = segs
        .iter()
        .find(|p| p.file_name().unwrap().to_str().unwrap() == format!("{big_first:020}.seg"));
    let big_seg = big_seg.expect("the large unit starts a segment");
    assert_eq!(
        crate::common::frames(big_seg).len(),
        1,
        "the large unit is alone in its segment"
    );
    assert!(std::fs::metadata(big_seg).unwrap().len() > 4096);
    for p in &segs {
        let first: u64 = p.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let rec = log.read_all(first, 1).await.unwrap();
        assert_eq!(rec[0].position, first);
    }
    let all = log.read_all(0, 1000).await.unwrap();
    assert_eq!(all.len(), 105);
    assert_eq!(all[0].id, small[0].id);
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();

    for rescan in [false, true] {
        if rescan {
            std::fs::remove_file(snapshot_path(tmp.path())).unwrap();
        }
        let (log, report) = Log::open(cfg.clone()).unwrap();
        assert_eq!(report.segments as u64, stats.segments);
        assert_eq!(log.read_all(0, 1000).await.unwrap(), all);
        assert_eq!(log.read_stream("sr-b", 0, 100).await.unwrap().len(), 40);
        assert!(log.verify(&mut |_| {}).unwrap().is_ok());
        log.close().await.unwrap();
    }
}
