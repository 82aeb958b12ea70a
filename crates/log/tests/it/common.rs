//! Helpers shared by the tests: opening logs in temporary folders, making records,
//! and reading the frame layout of a segment file the way `docs/format.md` describes.

use std::path::{Path, PathBuf};

use counterfoil_core::{AppendUnit, ExpectedRevision, NewRecord, Store, StreamWrite};
use counterfoil_log::{Log, LogConfig, OpenReport};

pub use counterfoil_conformance::record;

pub fn open(dir: &Path) -> (Log, OpenReport) {
    Log::open(LogConfig::new(dir)).expect("log opens")
}

pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// (offset, total length) of every frame of a segment file, up to the zeros the
/// writer keeps ahead of an open log's data (no frame has length 0).
pub fn frames(path: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut off = 16usize;
    while off + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        if len == 0 || off + 8 + len > bytes.len() {
            break;
        }
        out.push((off as u64, 8 + len as u64));
        off += 8 + len;
    }
    out
}

/// Appends `n` records, one append each, to `stream`; returns them.
pub async fn append_each(log: &Log, stream: &str, n: usize) -> Vec<NewRecord> {
    let mut out = Vec::new();
    for i in 0..n {
        let r = record(&format!("{stream}-{i}"));
        log.append(stream, ExpectedRevision::Any, vec![r.clone()])
            .await
            .unwrap();
        out.push(r);
    }
    out
}

pub fn snapshot_path(dir: &Path) -> PathBuf {
    dir.join("index.snap")
}

/// Copies a data folder as it is on disk now (what a crash would leave).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("segments")).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let e = entry.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    for entry in std::fs::read_dir(from.join("segments")).unwrap() {
        let e = entry.unwrap();
        std::fs::copy(e.path(), to.join("segments").join(e.file_name())).unwrap();
    }
}

/// `n` units of one record each (ticket `{tag}-{i}`), spread over `streams` streams
/// named `{tag}-{i % streams}`: one `append_batch` of them is one bulk group.
pub fn bulk_units(tag: &str, n: usize, streams: usize) -> Vec<AppendUnit> {
    (0..n)
        .map(|i| {
            vec![StreamWrite {
                stream: format!("{tag}-{}", i % streams),
                expected: ExpectedRevision::Any,
                records: vec![record(&format!("{tag}-{i}"))],
            }]
        })
        .collect()
}

/// The ids of the records of each unit, in order.
pub fn unit_ids(units: &[AppendUnit]) -> Vec<uuid::Uuid> {
    units
        .iter()
        .flatten()
        .flat_map(|w| w.records.iter().map(|r| r.id))
        .collect()
}

/// Asserts that `stream` holds exactly `records`, in order (compared by id).
pub async fn assert_stream_holds(log: &Log, stream: &str, records: &[NewRecord]) {
    let back = log
        .read_stream(stream, 0, records.len() + 1)
        .await
        .expect("stream reads");
    assert_eq!(
        back.iter().map(|r| r.id).collect::<Vec<_>>(),
        records.iter().map(|r| r.id).collect::<Vec<_>>(),
        "records of {stream}"
    );
}
