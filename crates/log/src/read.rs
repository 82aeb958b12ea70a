//! Reading records back: positional reads of whole frames, with every frame's checksum
//! checked on the way. Callers plan which frames to read while holding the index lock
//! ([`Index::locate`]) and read after releasing it, so readers never block the writer
//! for the length of an I/O.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use counterfoil_core::{Hash, StoreError, StoredRecord};

use crate::format::{FrameCheck, Payload, check_frame, segment_file_name};
use crate::index::{FrameLoc, Index};
use crate::vfs::{OpenMode, Vfs, VfsFile};

/// Open segment files are kept; past this many, one is closed to make room.
const MAX_OPEN_FILES: usize = 64;
/// Adjacent frames are read with one `pread` up to this many bytes.
const MAX_READ: u64 = 8 << 20;
/// A thread keeps its read buffer up to this size: a chunk of 4,096 demo records is
/// about 1.7 MB. A larger read (up to [`MAX_READ`], or one large frame) lets its
/// buffer go, so idle threads of the blocking pool hold little.
const KEEP_READ_BUF: usize = 4 << 20;

thread_local! {
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Handles on segment files for reading, shared by every reader.
#[derive(Debug)]
pub(crate) struct Files {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    open: Mutex<HashMap<u64, Arc<dyn VfsFile>>>,
}

/// `segments/<name>`, as errors and reports name a segment.
pub(crate) fn segment_label(first: u64) -> String {
    format!("segments/{}", segment_file_name(first))
}

pub(crate) fn corrupt(
    segment: u64,
    offset: u64,
    position: Option<u64>,
    reason: String,
) -> StoreError {
    StoreError::Corrupt {
        segment: segment_label(segment),
        offset,
        position,
        reason,
    }
}

impl Files {
    pub(crate) fn new(vfs: Arc<dyn Vfs>, segments_dir: PathBuf) -> Self {
        Self {
            vfs,
            dir: segments_dir,
            open: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, segment: u64) -> Result<Arc<dyn VfsFile>, StoreError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = open.get(&segment) {
            return Ok(f.clone());
        }
        let path = self.dir.join(segment_file_name(segment));
        let f = self
            .vfs
            .open(&path, OpenMode::Read)
            .map_err(|source| StoreError::Io {
                op: "open",
                path: path.display().to_string(),
                source,
            })?;
        if open.len() >= MAX_OPEN_FILES
            && let Some(&k) = open.keys().find(|&&k| k != segment)
        {
            open.remove(&k);
        }
        open.insert(segment, f.clone());
        Ok(f)
    }

    fn read_at(&self, segment: u64, buf: &mut [u8], offset: u64) -> Result<(), StoreError> {
        self.get(segment)?
            .read_exact_at(buf, offset)
            .map_err(|source| StoreError::Io {
                op: "read",
                path: segment_label(segment),
                source,
            })
    }

    /// Reads `frames` (in log order) and decodes the records whose position `want`
    /// accepts, appending them to `out` in position order.
    pub(crate) fn read_frames(
        &self,
        frames: &[FrameLoc],
        want: impl FnMut(u64) -> bool,
        out: &mut Vec<StoredRecord>,
    ) -> Result<(), StoreError> {
        // The thread's buffer, kept from one read to the next: a fresh one of a few MB
        // per chunk was zeroed and faulted in page by page every time.
        READ_BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                let result = self.read_frames_into(&mut buf, frames, want, out);
                if buf.capacity() > KEEP_READ_BUF {
                    *buf = Vec::new();
                }
                result
            }
            Err(_) => self.read_frames_into(&mut Vec::new(), frames, want, out),
        })
    }

    fn read_frames_into(
        &self,
        buf: &mut Vec<u8>,
        frames: &[FrameLoc],
        mut want: impl FnMut(u64) -> bool,
        out: &mut Vec<StoredRecord>,
    ) -> Result<(), StoreError> {
        let mut i = 0;
        while i < frames.len() {
            // Coalesce adjacent frames of one segment into one read.
            let start = frames[i];
            let mut j = i + 1;
            while j < frames.len()
                && frames[j].segment == start.segment
                && frames[j].offset == frames[j - 1].end
                && frames[j].end - start.offset <= MAX_READ
            {
                j += 1;
            }
            let end = frames[j - 1].end;
            let n = (end - start.offset) as usize;
            if buf.len() < n {
                buf.resize(n, 0);
            }
            let buf = &mut buf[..n];
            self.read_at(start.segment, buf, start.offset)?;
            for f in &frames[i..j] {
                let bytes =
                    &buf[(f.offset - start.offset) as usize..(f.end - start.offset) as usize];
                decode_frame(f, bytes, &mut want, out)?;
            }
            i = j;
        }
        Ok(())
    }
}

/// Checks one frame read from disk against what the index says of it, and decodes the
/// wanted records.
fn decode_frame(
    f: &FrameLoc,
    bytes: &[u8],
    want: &mut impl FnMut(u64) -> bool,
    out: &mut Vec<StoredRecord>,
) -> Result<(), StoreError> {
    let bad = |reason: String| corrupt(f.segment, f.offset, Some(f.first_pos), reason);
    match check_frame(bytes) {
        FrameCheck::Good { total } if total == bytes.len() => {}
        FrameCheck::Good { total } => {
            return Err(bad(format!(
                "frame is {total} bytes, the index expects {}",
                bytes.len()
            )));
        }
        FrameCheck::Short => return Err(bad("frame length runs past its end".into())),
        FrameCheck::BadCrc { .. } => return Err(bad("frame checksum mismatch".into())),
    }
    let mut p = Payload::parse(&bytes[crate::format::FRAME_HEADER_LEN..]).map_err(bad)?;
    if p.first_position != f.first_pos || u64::from(p.count) != f.next_pos - f.first_pos {
        return Err(bad(format!(
            "frame holds positions {}..{}, the index expects {}..{}",
            p.first_position,
            p.first_position + u64::from(p.count),
            f.first_pos,
            f.next_pos
        )));
    }
    let mut pos = f.first_pos;
    while let Some(raw) = p.next_record().map_err(bad)? {
        if want(pos) {
            let rec =
                StoredRecord::decode_canonical(raw.canonical, Hash(raw.hash)).map_err(|e| {
                    corrupt(
                        f.segment,
                        f.offset,
                        Some(pos),
                        format!("record does not decode: {e}"),
                    )
                })?;
            if rec.position != pos {
                return Err(corrupt(
                    f.segment,
                    f.offset,
                    Some(pos),
                    format!("record says position {}", rec.position),
                ));
            }
            out.push(rec);
        }
        pos += 1;
    }
    Ok(())
}

/// The frames holding positions `from..to` (clamped to the index).
pub(crate) fn plan_range(idx: &Index, from: u64, to: u64) -> Vec<FrameLoc> {
    idx.frames_in(from, to)
}

/// The frames holding `positions` (ascending), each once.
pub(crate) fn plan_positions(idx: &Index, positions: &[u64]) -> Vec<FrameLoc> {
    let mut out: Vec<FrameLoc> = Vec::new();
    for &p in positions {
        if out.last().is_some_and(|l| p < l.next_pos) {
            continue;
        }
        if let Some(loc) = idx.locate(p) {
            out.push(loc);
        }
    }
    out
}

/// Reads the records at `positions` (ascending).
pub(crate) fn read_positions(
    files: &Files,
    idx: &Index,
    positions: &[u64],
) -> Result<Vec<StoredRecord>, StoreError> {
    let plan = plan_positions(idx, positions);
    let mut out = Vec::with_capacity(positions.len());
    files.read_frames(&plan, |p| positions.binary_search(&p).is_ok(), &mut out)?;
    Ok(out)
}
