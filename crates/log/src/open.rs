//! Opening a log folder: take the lock, load the index snapshot if it still matches
//! the segments, rescan only what it does not cover, and repair a torn tail.
//!
//! The rule for damage: in the last segment, a frame that is short or fails its
//! checksum is a torn tail (an append that never completed, so never acknowledged)
//! when no valid frame follows it; it is cut off, logged and reported. Damage anywhere
//! else, or a bad frame with a valid frame after it, is [`StoreError::Corrupt`] naming
//! the segment file, the offset and the position expected there. Nothing is skipped.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use counterfoil_core::StoreError;

use crate::format::{
    FRAME_HEADER_LEN, FrameCheck, HEADER_LEN, Payload, check_frame, check_header, id_fingerprint,
    le_u32, parse_segment_name, record_head, segment_header,
};
use crate::index::{Index, SegmentMeta};
use crate::read::{Files, corrupt, read_positions, segment_label};
use crate::vfs::{LockGuard, OpenMode, Vfs, VfsFile};
use crate::writer::{Active, segment_path};
use crate::{OpenReport, TornTail, snapshot};

/// Bytes read at a time while scanning a segment.
const SCAN_CHUNK: usize = 8 << 20;
/// Extra attempts at a busy folder lock, 20 ms apart.
const LOCK_TRIES: u32 = 10;

pub(crate) struct Opened {
    pub index: Index,
    pub active: Active,
    pub report: OpenReport,
    pub lock: LockGuard,
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { op, path, source }
}

pub(crate) fn open_folder(
    vfs: &Arc<dyn Vfs>,
    dir: &Path,
    files: &Files,
) -> Result<Opened, StoreError> {
    let started = Instant::now();
    let seg_dir = dir.join("segments");
    vfs.create_dir_all(&seg_dir)
        .map_err(io("create", &seg_dir))?;
    let lock_path = dir.join("LOCK");
    // A lock just released can stay held for a moment: a child process being started
    // shares the lock's open file until it executes. So a busy lock is tried again
    // for a short while before the folder is reported in use.
    let mut tries = 0;
    let lock = loop {
        match vfs.try_lock(&lock_path).map_err(io("lock", &lock_path))? {
            Some(lock) => break lock,
            None if tries < LOCK_TRIES => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            None => {
                return Err(StoreError::Locked {
                    path: dir.display().to_string(),
                });
            }
        }
    };

    let mut on_disk = Vec::new();
    for name in vfs.list(&seg_dir).map_err(io("list", &seg_dir))? {
        match parse_segment_name(&name) {
            Some(first) => on_disk.push(first),
            None => tracing::warn!(
                "ignoring {name} in {}: not a segment file",
                seg_dir.display()
            ),
        }
    }
    on_disk.sort_unstable();
    let mut lens = HashMap::new();
    let mut handles: HashMap<u64, Arc<dyn VfsFile>> = HashMap::new();
    for &first in &on_disk {
        let path = segment_path(dir, first);
        let f = vfs
            .open(&path, OpenMode::ReadWrite)
            .map_err(io("open", &path))?;
        let len = f.size().map_err(io("stat", &path))?;
        // Every segment's header is checked, also where the index snapshot covers the
        // segment: a log of another format version is refused before anything reads
        // or appends to it. (A header cut short is the torn tail handled below.)
        if len >= HEADER_LEN {
            let mut h = [0u8; HEADER_LEN as usize];
            f.read_exact_at(&mut h, 0).map_err(io("read", &path))?;
            check_header(&h)
                .map_err(|e| corrupt(first, 0, None, format!("bad segment header: {e}")))?;
        }
        lens.insert(first, len);
        handles.insert(first, f);
    }

    let (mut index, snapshot_used) = match load_snapshot(vfs, dir, &on_disk, &lens, files)? {
        Some(idx) => (idx, true),
        None => {
            // A snapshot that does not match the log is of no use: remove it, so that
            // it is neither tried again nor taken for damage by `verify`.
            let path = dir.join(snapshot::SNAPSHOT_FILE);
            if vfs.exists(&path).map_err(io("stat", &path))? {
                vfs.remove(&path).map_err(io("remove", &path))?;
                vfs.sync_dir(dir).map_err(io("fsync", dir))?;
            }
            (Index::new(), false)
        }
    };
    let covered = index.end();

    // Where the rescan starts: after the snapshot's last covered frame, or at the
    // start of the first segment.
    let resume = index.segments.last().map(|s| (s.first, s.len));
    let mut torn_tail = None;
    let start_at = match resume {
        Some((first, _)) => on_disk.iter().position(|&f| f == first).unwrap_or(0),
        None => 0,
    };
    for (i, &first) in on_disk.iter().enumerate().skip(start_at) {
        let last = i + 1 == on_disk.len();
        let Some(file) = handles.get(&first) else {
            continue;
        };
        let file_len = lens.get(&first).copied().unwrap_or(0);
        let offset = match resume {
            Some((f, len)) if f == first => len,
            _ => {
                if first != index.end() {
                    return Err(corrupt(
                        first,
                        0,
                        Some(index.end()),
                        format!(
                            "segment starts at position {first}, but the log before it ends at {}",
                            index.end()
                        ),
                    ));
                }
                if file_len < HEADER_LEN && last {
                    // A segment created just before a crash, its header not all written.
                    tracing::warn!(
                        "torn segment header in {}: {file_len} bytes; rewriting it",
                        segment_label(first)
                    );
                    rewrite_header(file.as_ref(), &segment_path(dir, first))?;
                    torn_tail = Some(TornTail {
                        segment: segment_label(first),
                        offset: 0,
                        bytes_dropped: file_len,
                    });
                    index.segments.push(SegmentMeta {
                        first,
                        len: HEADER_LEN,
                    });
                    continue;
                }
                if file_len < HEADER_LEN {
                    // Cut short, but not the last segment: damage. (Every whole header
                    // was checked when the segments were opened.)
                    let mut h = [0u8; HEADER_LEN as usize];
                    let n = file_len as usize;
                    file.read_exact_at(&mut h[..n], 0)
                        .map_err(io("read", &segment_path(dir, first)))?;
                    check_header(&h[..n])
                        .map_err(|e| corrupt(first, 0, None, format!("bad segment header: {e}")))?;
                }
                index.segments.push(SegmentMeta {
                    first,
                    len: HEADER_LEN,
                });
                HEADER_LEN
            }
        };
        let end = scan_segment(
            &mut index,
            first,
            file.as_ref(),
            offset,
            file_len,
            last,
            &mut torn_tail,
        )?;
        if let Some(s) = index.segments.last_mut() {
            s.len = end;
        }
    }

    let active = match index.segments.last() {
        Some(s) => Active {
            first: s.first,
            file: handles
                .remove(&s.first)
                .ok_or_else(|| corrupt(s.first, 0, None, "segment file vanished".into()))?,
            len: s.len,
            allocated: s.len,
        },
        None => {
            let path = segment_path(dir, 0);
            let file = vfs
                .open(&path, OpenMode::CreateNew)
                .map_err(io("create", &path))?;
            file.write_all_at(&segment_header(), 0)
                .map_err(io("write", &path))?;
            file.sync_data().map_err(io("fdatasync", &path))?;
            vfs.sync_dir(&seg_dir).map_err(io("fsync", &seg_dir))?;
            index.segments.push(SegmentMeta {
                first: 0,
                len: HEADER_LEN,
            });
            Active {
                first: 0,
                file,
                len: HEADER_LEN,
                allocated: HEADER_LEN,
            }
        }
    };
    let report = OpenReport {
        records: index.end(),
        segments: index.segments.len(),
        torn_tail,
        snapshot_used,
        rescanned_records: index.end() - covered,
        elapsed: started.elapsed(),
    };
    Ok(Opened {
        index,
        active,
        report,
        lock,
    })
}

fn rewrite_header(file: &dyn VfsFile, path: &Path) -> Result<(), StoreError> {
    file.set_len(0).map_err(io("truncate", path))?;
    file.write_all_at(&segment_header(), 0)
        .map_err(io("write", path))?;
    file.sync_data().map_err(io("fdatasync", path))
}

/// Loads `index.snap` when it is valid and agrees with the segments on disk.
fn load_snapshot(
    vfs: &Arc<dyn Vfs>,
    dir: &Path,
    on_disk: &[u64],
    lens: &HashMap<u64, u64>,
    files: &Files,
) -> Result<Option<Index>, StoreError> {
    let Some(file) = snapshot::open(vfs.as_ref(), dir)? else {
        return Ok(None);
    };
    let idx = match snapshot::decode_file(file.as_ref()) {
        Ok(idx) => idx,
        Err(why) => {
            tracing::warn!("index snapshot not used ({why}); rescanning the log");
            return Ok(None);
        }
    };
    drop(file);
    let n = idx.segments.len();
    for (i, s) in idx.segments.iter().enumerate() {
        if on_disk.get(i) != Some(&s.first) {
            return Err(corrupt(
                s.first,
                0,
                None,
                "segment file missing: index.snap lists it, the segments folder does not have it"
                    .into(),
            ));
        }
        let len = lens.get(&s.first).copied().unwrap_or(0);
        let fits = if i + 1 == n {
            len >= s.len
        } else {
            len == s.len
        };
        if !fits {
            tracing::warn!(
                "index snapshot not used ({} is {len} bytes, the snapshot expects {}); rescanning the log",
                segment_label(s.first),
                s.len
            );
            return Ok(None);
        }
    }
    // The last covered record must be on disk where the snapshot says.
    if let Some(last) = idx.end().checked_sub(1) {
        let ok = match read_positions(files, &idx, &[last]) {
            Ok(mut r) => r
                .pop()
                .is_some_and(|r| id_fingerprint(&r.id) == idx.fps[last as usize]),
            Err(_) => false,
        };
        if !ok {
            tracing::warn!(
                "index snapshot not used (its last record does not match the log); rescanning the log"
            );
            return Ok(None);
        }
    }
    Ok(Some(idx))
}

/// Reads a segment sequentially in large chunks.
pub(crate) struct Scanner<'a> {
    file: &'a dyn VfsFile,
    len: u64,
    buf: Vec<u8>,
    at: u64,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(file: &'a dyn VfsFile, len: u64) -> Self {
        Self {
            file,
            len,
            buf: Vec::new(),
            at: 0,
        }
    }

    /// Up to `need` bytes from `off` (fewer at the end of the file).
    pub(crate) fn window(&mut self, off: u64, need: usize) -> std::io::Result<&[u8]> {
        let avail = (self.len - off.min(self.len)) as usize;
        let need = need.min(avail);
        let in_buf = off >= self.at && off + need as u64 <= self.at + self.buf.len() as u64;
        if !in_buf {
            let n = need.max(SCAN_CHUNK).min(avail);
            self.buf.resize(n, 0);
            self.file.read_exact_at(&mut self.buf, off)?;
            self.at = off;
        }
        let s = (off - self.at) as usize;
        Ok(&self.buf[s..s + need])
    }
}

/// Indexes the frames of one segment from `offset`; returns where its good frames end.
fn scan_segment(
    index: &mut Index,
    first: u64,
    file: &dyn VfsFile,
    mut offset: u64,
    file_len: u64,
    last: bool,
    torn: &mut Option<TornTail>,
) -> Result<u64, StoreError> {
    let mut sc = Scanner::new(file, file_len);
    let read_err = |source| StoreError::Io {
        op: "read",
        path: segment_label(first),
        source,
    };
    while offset < file_len {
        let head = sc.window(offset, FRAME_HEADER_LEN).map_err(read_err)?;
        let total = if head.len() < FRAME_HEADER_LEN {
            usize::MAX
        } else {
            FRAME_HEADER_LEN.saturating_add(le_u32(&head[..4]) as usize)
        };
        let bytes = sc.window(offset, total).map_err(read_err)?;
        let problem = match check_frame(bytes) {
            FrameCheck::Good { total } => {
                index_frame(index, first, offset, &bytes[FRAME_HEADER_LEN..total])?;
                offset += total as u64;
                continue;
            }
            FrameCheck::Short => "frame runs past the end of the file",
            FrameCheck::BadCrc { .. } => "frame checksum mismatch",
        };
        let expected = index.end();
        if !last {
            return Err(corrupt(first, offset, Some(expected), problem.into()));
        }
        let rest = sc
            .window(offset, (file_len - offset) as usize)
            .map_err(read_err)?;
        if rest.iter().all(|&b| b == 0) {
            // Zeros the writer wrote ahead of its appends (or an append none of whose
            // bytes reached the disk): the log ends here. Cut them, so the segment
            // ends with its last frame as a closed one does.
            truncate_at(file, first, offset)?;
            tracing::debug!(
                "{}: {} zero bytes after the last frame cut",
                segment_label(first),
                file_len - offset
            );
            return Ok(offset);
        }
        if let Some(at) = later_frame(rest, expected) {
            return Err(corrupt(
                first,
                offset,
                Some(expected),
                format!(
                    "{problem}, and a valid frame follows at offset {}: damage before the tail",
                    offset + at as u64
                ),
            ));
        }
        // What the unacknowledged append left: up to its last byte that is not zero
        // (the zeros after it were written ahead of it).
        let dropped = rest.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1) as u64;
        tracing::warn!(
            "torn tail in {} at offset {offset}: {problem}; cutting {} bytes, {dropped} of them an unacknowledged append",
            segment_label(first),
            file_len - offset
        );
        truncate_at(file, first, offset)?;
        *torn = Some(TornTail {
            segment: segment_label(first),
            offset,
            bytes_dropped: dropped,
        });
        return Ok(offset);
    }
    Ok(offset)
}

/// Cuts segment `first` at `offset`, durably.
fn truncate_at(file: &dyn VfsFile, first: u64, offset: u64) -> Result<(), StoreError> {
    file.set_len(offset).map_err(|source| StoreError::Io {
        op: "truncate",
        path: segment_label(first),
        source,
    })?;
    file.sync_data().map_err(|source| StoreError::Io {
        op: "fdatasync",
        path: segment_label(first),
        source,
    })
}

/// Where a plausible, valid frame starts after the first byte of `bytes`, if anywhere.
fn later_frame(bytes: &[u8], expected: u64) -> Option<usize> {
    let limit = bytes.len().saturating_sub(FRAME_HEADER_LEN);
    (1..limit).find(|&i| {
        let len = le_u32(&bytes[i..i + 4]) as usize;
        let Some(payload) = bytes.get(i + FRAME_HEADER_LEN..i + FRAME_HEADER_LEN + len) else {
            return false;
        };
        // Cheap filters before the checksum: the payload's shape and first position.
        if payload.first() != Some(&0x92) {
            return false;
        }
        let mut rd = &payload[1..];
        let Ok(first) = rmp::decode::read_int::<u64, _>(&mut rd) else {
            return false;
        };
        if first < expected || first > expected + bytes.len() as u64 {
            return false;
        }
        matches!(check_frame(&bytes[i..]), FrameCheck::Good { .. })
    })
}

/// Adds the records of one good frame to the index, checking that positions and
/// revisions follow on.
fn index_frame(
    index: &mut Index,
    segment: u64,
    offset: u64,
    payload: &[u8],
) -> Result<(), StoreError> {
    let expected = index.end();
    let bad = |pos: u64, reason: String| corrupt(segment, offset, Some(pos), reason);
    let mut p = Payload::parse(payload).map_err(|e| bad(expected, e))?;
    if p.first_position != expected {
        return Err(bad(
            expected,
            format!(
                "frame starts at position {}, expected {expected}: positions are not contiguous",
                p.first_position
            ),
        ));
    }
    let frame_off =
        u32::try_from(offset).map_err(|_| bad(expected, "frame offset beyond 4 GiB".into()))?;
    loop {
        let pos = index.end();
        let Some(raw) = p.next_record().map_err(|e| bad(pos, e))? else {
            break;
        };
        let head = record_head(raw.canonical)
            .map_err(|e| bad(pos, format!("record does not decode: {e}")))?;
        if head.position != pos {
            return Err(bad(pos, format!("record says position {}", head.position)));
        }
        let stream = match index.find_stream(head.stream) {
            Some(s) => s,
            None => index.add_stream(head.stream),
        };
        let count = index.stream(stream).count;
        if head.revision != count {
            return Err(bad(
                pos,
                format!(
                    "record of stream {} has revision {}, expected {count}",
                    head.stream, head.revision
                ),
            ));
        }
        index.push_record(
            &head.id,
            id_fingerprint(&head.id),
            stream,
            frame_off,
            raw.hash,
            None,
        );
    }
    Ok(())
}
