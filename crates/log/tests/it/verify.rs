//! `verify` passes on a healthy log and catches a tampered hash chain even when every
//! frame checksum is valid.

use counterfoil_core::{ExpectedRevision, Store};

use crate::common::{append_each, frames, open, record, segments};

#[tokio::test]
async fn verify_passes_on_a_healthy_log() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path());
    append_each(&log, "v-a", 30).await;
    log.append(
        "v-b",
        ExpectedRevision::NoStream,
        (0..10).map(|i| record(&format!("b{i}"))).collect(),
    )
    .await
    .unwrap();
    let mut calls = Vec::new();
    let report = log.verify(&mut |n| calls.push(n)).unwrap();
    assert!(report.is_ok(), "{:?}", report.first_mismatch);
    assert_eq!(
        (
            report.records,
            report.streams,
            report.frames,
            report.segments
        ),
        (40, 2, 31, 1)
    );
    assert_eq!(calls.last(), Some(&40));
    log.close().await.unwrap();
    // And with the snapshot written at close.
    let (log, _) = open(tmp.path());
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();
}

/// Rewrites one record's canonical bytes (same length) and fixes the frame checksum,
/// as a tamperer would.
fn tamper(path: &std::path::Path, frame: (u64, u64)) {
    let mut bytes = std::fs::read(path).unwrap();
    let (off, total) = (frame.0 as usize, frame.1 as usize);
    let payload = &mut bytes[off + 8..off + total];
    let at = payload
        .windows(5)
        .position(|w| w == b"suite")
        .expect("actor in canonical bytes");
    payload[at..at + 5].copy_from_slice(b"SUITE");
    let crc = crc32c::crc32c_append(
        crc32c::crc32c(&bytes[off..off + 4]),
        &bytes[off + 8..off + total],
    );
    bytes[off + 4..off + 8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn verify_catches_a_tampered_hash_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path());
    append_each(&log, "t-a", 10).await;
    log.close().await.unwrap();
    let seg = &segments(tmp.path())[0];
    let frame = frames(seg)[4];
    tamper(seg, frame);

    let (log, _) = open(tmp.path());
    let report = log.verify(&mut |_| {}).unwrap();
    let m = report.first_mismatch.expect("tampering found");
    assert_eq!(m.segment, "segments/00000000000000000000.seg");
    assert_eq!(m.offset, frame.0);
    assert_eq!(m.position, Some(4));
    assert_eq!(m.stream.as_deref(), Some("t-a"));
    assert!(m.what.contains("hash chain"), "{m}");
    // The record still reads (its checksum is valid), but it no longer chains.
    let r = log.read_stream("t-a", 4, 1).await.unwrap();
    assert_eq!(r[0].actor, "SUITE");
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_while_appends_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = counterfoil_log::LogConfig::new(tmp.path());
    cfg.segment_bytes = 8192;
    let (log, _) = counterfoil_log::Log::open(cfg).unwrap();
    append_each(&log, "vc-a", 200).await;
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                let stream = if i % 2 == 0 { "vc-a" } else { "vc-b" };
                log.append(stream, ExpectedRevision::Any, vec![record("more")])
                    .await
                    .unwrap();
            }
        })
    };
    for _ in 0..5 {
        let log = log.clone();
        let report = tokio::task::spawn_blocking(move || log.verify(&mut |_| {}).unwrap())
            .await
            .unwrap();
        assert!(report.is_ok(), "{:?}", report.first_mismatch);
        assert!(report.records >= 200);
    }
    writer.await.unwrap();
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();
}
