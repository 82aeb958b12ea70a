//! Opening after a crash: a torn tail is cut off and reported; damage before the tail
//! is an exact error, never a skip.

use std::fs::OpenOptions;
use std::io::Write;

use counterfoil_core::{ExpectedRevision, Store, StoreError};
use counterfoil_log::{Log, LogConfig};

use crate::common::{append_each, frames, open, record, segments, snapshot_path};

/// Appends `bytes` to a closed log's segment file.
fn append_to(seg: &std::path::Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(seg)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

/// The length of `bytes` without its trailing zeros: what a torn tail reports dropped.
fn up_to_last_nonzero(bytes: &[u8]) -> u64 {
    bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1) as u64
}

async fn log_with_frames(dir: &std::path::Path, n: usize) {
    let (log, _) = open(dir);
    append_each(&log, "rec-a", n).await;
    log.close().await.unwrap();
}

#[tokio::test]
async fn a_frame_cut_in_half_is_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    log_with_frames(tmp.path(), 5).await;
    let seg = &segments(tmp.path())[0];
    let (off, total) = *frames(seg).last().unwrap();
    let kept = &std::fs::read(seg).unwrap()[off as usize..(off + total / 2) as usize];
    let expected_dropped = up_to_last_nonzero(kept);
    assert!(expected_dropped > 8, "the cut keeps the frame's header");
    let f = OpenOptions::new().write(true).open(seg).unwrap();
    f.set_len(off + total / 2).unwrap();
    drop(f);

    let (log, report) = open(tmp.path());
    let torn = report.torn_tail.expect("torn tail reported");
    assert_eq!(torn.segment, "segments/00000000000000000000.seg");
    assert_eq!(torn.offset, off);
    assert_eq!(torn.bytes_dropped, expected_dropped);
    assert_eq!(report.records, 4);
    assert_eq!(
        std::fs::metadata(seg).unwrap().len(),
        off,
        "the file is cut at the tail"
    );
    assert_eq!(log.read_all(0, 10).await.unwrap().len(), 4);
    let o = log
        .append("rec-a", ExpectedRevision::Exact(3), vec![record("next")])
        .await
        .unwrap();
    assert_eq!(o.records[0].position, 4);
    let v = log.verify(&mut |_| {}).unwrap();
    assert!(v.is_ok(), "{:?}", v.first_mismatch);
    log.close().await.unwrap();
}

#[tokio::test]
async fn garbage_after_the_last_frame_is_a_torn_tail() {
    for garbage in [
        (0..200u32)
            .map(|i| (i * 37 % 251) as u8)
            .collect::<Vec<u8>>(),
        [vec![0u8; 100], vec![7u8], vec![0u8; 4000]].concat(),
        vec![0xffu8; 3],
    ] {
        let tmp = tempfile::tempdir().unwrap();
        log_with_frames(tmp.path(), 3).await;
        let seg = &segments(tmp.path())[0];
        let len = std::fs::metadata(seg).unwrap().len();
        append_to(seg, &garbage);

        let (log, report) = open(tmp.path());
        let torn = report.torn_tail.expect("garbage reported as a torn tail");
        assert_eq!(
            (torn.offset, torn.bytes_dropped),
            (len, up_to_last_nonzero(&garbage))
        );
        assert_eq!(report.records, 3);
        assert!(log.verify(&mut |_| {}).unwrap().is_ok());
        log.close().await.unwrap();
    }
}

/// Zeros after the last frame are what the writer writes ahead of its appends (see
/// `docs/format.md`), or an append none of whose bytes reached the disk: the log ends
/// at the last frame, the zeros are cut, and no torn tail is reported.
#[tokio::test]
async fn zeros_after_the_last_frame_are_cut_without_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    log_with_frames(tmp.path(), 3).await;
    let seg = &segments(tmp.path())[0];
    let len = std::fs::metadata(seg).unwrap().len();
    append_to(seg, &vec![0u8; 1 << 20]);
    let (log, report) = open(tmp.path());
    assert!(report.torn_tail.is_none(), "{:?}", report.torn_tail);
    assert_eq!(report.records, 3);
    assert_eq!(std::fs::metadata(seg).unwrap().len(), len);
    let o = log
        .append("rec-a", ExpectedRevision::Exact(2), vec![record("next")])
        .await
        .unwrap();
    assert_eq!(o.records[0].position, 3);
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());
    log.close().await.unwrap();
    assert_eq!(log_records(tmp.path()).await, 4);
}

/// With strict durability the writer keeps zeros ahead of its small appends, so a
/// sync does not have to write back the file's size. What a crash leaves (the zeros
/// included) opens with every record; a closed segment, and a log closed cleanly,
/// end exactly with their last frame.
#[tokio::test]
async fn the_zeros_written_ahead_open_cleanly_and_never_outlive_a_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = LogConfig::new(tmp.path());
    config.segment_bytes = 64 << 10;
    let (log, _) = Log::open(config).unwrap();
    append_each(&log, "zz", 800).await;
    let segs = segments(tmp.path());
    let active = segs.last().unwrap();
    let data_end =
        |path: &std::path::Path| frames(path).last().map_or(16, |(off, total)| off + total);
    assert!(
        std::fs::metadata(active).unwrap().len() > data_end(active),
        "the active segment has zeros ahead of its last frame"
    );
    let (segments_written, records) = (segs.len(), 800);
    assert!(segments_written >= 2, "the test needs a closed segment");
    for closed in &segs[..segs.len() - 1] {
        assert_eq!(std::fs::metadata(closed).unwrap().len(), data_end(closed));
    }
    assert!(log.verify(&mut |_| {}).unwrap().is_ok());

    // A crash now: the folder as it is on disk, zeros and all.
    let crashed = tempfile::tempdir().unwrap();
    crate::common::copy_dir(tmp.path(), crashed.path());
    let (copy, report) = open(crashed.path());
    assert!(report.torn_tail.is_none(), "{:?}", report.torn_tail);
    assert_eq!(report.records, records);
    let copied = segments(crashed.path());
    let last = copied.last().unwrap();
    assert_eq!(std::fs::metadata(last).unwrap().len(), data_end(last));
    assert!(copy.verify(&mut |_| {}).unwrap().is_ok());
    copy.close().await.unwrap();

    log.close().await.unwrap();
    assert_eq!(
        std::fs::metadata(active).unwrap().len(),
        data_end(active),
        "closing cuts the zeros"
    );
    assert_eq!(log_records(tmp.path()).await, records);
}

/// Records in a closed log, reopened.
async fn log_records(dir: &std::path::Path) -> u64 {
    let (log, report) = open(dir);
    assert!(report.torn_tail.is_none());
    log.close().await.unwrap();
    report.records
}

#[tokio::test]
async fn a_flipped_byte_before_the_tail_is_reported_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    log_with_frames(tmp.path(), 6).await;
    let seg = &segments(tmp.path())[0];
    let (off, total) = frames(seg)[2];
    let mut bytes = std::fs::read(seg).unwrap();
    bytes[(off + total - 40) as usize] ^= 0x10;
    std::fs::write(seg, &bytes).unwrap();

    // With the snapshot, open trusts the covered frames; verify finds the damage.
    let (log, report) = open(tmp.path());
    assert!(report.snapshot_used);
    let v = log.verify(&mut |_| {}).unwrap();
    let m = v.first_mismatch.expect("verify finds the flipped byte");
    assert_eq!(m.segment, "segments/00000000000000000000.seg");
    assert_eq!(m.offset, off);
    assert_eq!(m.position, Some(2));
    assert!(m.what.contains("checksum"), "{m}");
    assert!(m.to_string().contains(&format!("offset {off}")));
    // Reading it reports it too, never skips it.
    match log.read_all(0, 10).await {
        Err(StoreError::Corrupt {
            segment, offset, ..
        }) => {
            assert_eq!(
                (segment.as_str(), offset),
                ("segments/00000000000000000000.seg", off)
            );
        }
        other => panic!("reading a damaged frame: {other:?}"),
    }
    log.close().await.unwrap();

    // Without it, open scans and refuses.
    std::fs::remove_file(snapshot_path(tmp.path())).unwrap();
    match Log::open(LogConfig::new(tmp.path())) {
        Err(StoreError::Corrupt {
            segment,
            offset,
            position,
            reason,
        }) => {
            assert_eq!(segment, "segments/00000000000000000000.seg");
            assert_eq!(offset, off);
            assert_eq!(position, Some(2));
            assert!(reason.contains("valid frame follows"), "{reason}");
        }
        other => panic!("open of a damaged log: {other:?}"),
    }
}

#[tokio::test]
async fn a_flipped_length_before_the_tail_is_not_taken_for_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    log_with_frames(tmp.path(), 6).await;
    std::fs::remove_file(snapshot_path(tmp.path())).unwrap();
    let seg = &segments(tmp.path())[0];
    let (off, _) = frames(seg)[1];
    let mut bytes = std::fs::read(seg).unwrap();
    bytes[off as usize + 2] ^= 0x40; // the frame now claims to run past the file
    std::fs::write(seg, &bytes).unwrap();
    match Log::open(LogConfig::new(tmp.path())) {
        Err(StoreError::Corrupt {
            offset, position, ..
        }) => {
            assert_eq!((offset, position), (off, Some(1)));
        }
        other => panic!("open of a damaged log: {other:?}"),
    }
}

#[tokio::test]
async fn damage_in_a_segment_before_the_last_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = LogConfig::new(tmp.path());
    cfg.segment_bytes = 4096;
    let (log, _) = Log::open(cfg.clone()).unwrap();
    append_each(&log, "rec-s", 100).await;
    log.close().await.unwrap();
    std::fs::remove_file(snapshot_path(tmp.path())).unwrap();
    let segs = segments(tmp.path());
    assert!(segs.len() > 2);
    // Cut the first segment short: its last frame is now torn, but it is not the last
    // segment, so this is damage.
    let (off, total) = *frames(&segs[0]).last().unwrap();
    OpenOptions::new()
        .write(true)
        .open(&segs[0])
        .unwrap()
        .set_len(off + total - 1)
        .unwrap();
    match Log::open(cfg) {
        Err(StoreError::Corrupt {
            segment, offset, ..
        }) => {
            assert_eq!(segment, "segments/00000000000000000000.seg");
            assert_eq!(offset, off);
        }
        other => panic!("open with a damaged earlier segment: {other:?}"),
    }
}

#[tokio::test]
async fn a_second_open_of_the_same_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path());
    assert!(matches!(
        Log::open(LogConfig::new(tmp.path())),
        Err(StoreError::Locked { .. })
    ));
    log.close().await.unwrap();
    let (again, _) = open(tmp.path());
    again.close().await.unwrap();
}

#[tokio::test]
async fn a_log_of_the_format_before_the_compact_encoding_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    log_with_frames(tmp.path(), 3).await;
    // The index snapshot stays: it covers the segment, whose header is checked anyway.
    assert!(snapshot_path(tmp.path()).exists());
    let seg = &segments(tmp.path())[0];
    let mut bytes = std::fs::read(seg).unwrap();
    // The header's format version (bytes 8..12, little-endian) as the first format.
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(seg, &bytes).unwrap();
    match Log::open(LogConfig::new(tmp.path())) {
        Err(e @ StoreError::Corrupt { .. }) => {
            let text = e.to_string();
            assert!(text.contains("format version 1"), "{text}");
            assert!(text.contains("00000000000000000000.seg"), "{text}");
        }
        other => panic!("open of a format-1 log: {other:?}"),
    }
    // Nothing was changed: the file is as it was.
    assert_eq!(std::fs::read(seg).unwrap(), bytes);
}
