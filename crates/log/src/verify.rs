//! `verify`: rereads the whole log and rechecks everything that could have gone wrong
//! on disk or in memory (SPEC §8): every frame checksum, every record, contiguous
//! positions, each stream's revisions and hash chain, the in-memory indexes, and
//! `index.snap`. It stops at the first mismatch and says exactly where it is.

use std::collections::HashMap;
use std::fmt;

use counterfoil_core::{Hash, StoreError, StoredRecord};

use crate::Shared;
use crate::format::{
    FRAME_HEADER_LEN, FrameCheck, HEADER_LEN, Payload, check_frame, check_header, id_fingerprint,
    le_u32, parse_segment_name,
};
use crate::index::Index;
use crate::open::Scanner;
use crate::read::segment_label;
use crate::snapshot;
use crate::vfs::OpenMode;
use crate::writer::segment_path;

/// Progress is reported every this many records.
const PROGRESS_EVERY: u64 = 1 << 16;

/// What `verify` checked, and the first mismatch if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub records: u64,
    pub streams: u64,
    pub frames: u64,
    pub segments: u64,
    pub first_mismatch: Option<Mismatch>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.first_mismatch.is_none()
    }
}

/// Where the log and what it should be first disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `segments/<name>.seg`, or `index.snap`.
    pub segment: String,
    /// Offset of the frame (or header) in that file.
    pub offset: u64,
    pub position: Option<u64>,
    pub stream: Option<String>,
    pub what: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.segment, self.offset)?;
        if let Some(p) = self.position {
            write!(f, ", position {p}")?;
        }
        if let Some(s) = &self.stream {
            write!(f, ", stream {s}")?;
        }
        write!(f, ": {}", self.what)
    }
}

/// A stream as rebuilt from the log.
struct Chain {
    count: u64,
    last: u64,
    hash: Hash,
}

struct Run<'a> {
    shared: &'a Shared,
    snap: Option<Index>,
    streams: HashMap<String, Chain>,
    report: VerifyReport,
    pos: u64,
    progress: &'a mut dyn FnMut(u64),
    scratch: Vec<u8>,
}

type Found = Result<(), Mismatch>;

fn mismatch(
    segment: u64,
    offset: u64,
    position: Option<u64>,
    stream: Option<&str>,
    what: String,
) -> Mismatch {
    Mismatch {
        segment: segment_label(segment),
        offset,
        position,
        stream: stream.map(str::to_string),
        what,
    }
}

fn snap_mismatch(position: Option<u64>, stream: Option<&str>, what: String) -> Mismatch {
    Mismatch {
        segment: snapshot::SNAPSHOT_FILE.into(),
        offset: 0,
        position,
        stream: stream.map(str::to_string),
        what,
    }
}

pub(crate) fn verify(
    shared: &Shared,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    let (segments, end) = {
        let idx = shared.index.read().unwrap_or_else(|e| e.into_inner());
        (idx.segments.clone(), idx.end())
    };
    let mut run = Run {
        shared,
        snap: None,
        streams: HashMap::new(),
        report: VerifyReport {
            records: 0,
            streams: 0,
            frames: 0,
            segments: segments.len() as u64,
            first_mismatch: None,
        },
        pos: 0,
        progress,
        scratch: Vec::new(),
    };
    let found = run.all(&segments, end);
    let mut report = run.report;
    report.streams = run.streams.len() as u64;
    (run.progress)(report.records);
    match found {
        Ok(Ok(())) => Ok(report),
        Ok(Err(m)) => {
            report.first_mismatch = Some(m);
            Ok(report)
        }
        Err(e) => Err(e),
    }
}

impl Run<'_> {
    fn all(
        &mut self,
        segments: &[crate::index::SegmentMeta],
        end: u64,
    ) -> Result<Found, StoreError> {
        let seg_dir = self.shared.dir.join("segments");
        let mut on_disk: Vec<u64> = self
            .shared
            .vfs
            .list(&seg_dir)
            .map_err(|source| StoreError::Io {
                op: "list",
                path: seg_dir.display().to_string(),
                source,
            })?
            .iter()
            .filter_map(|n| parse_segment_name(n))
            .collect();
        on_disk.sort_unstable();
        let known: Vec<u64> = segments.iter().map(|s| s.first).collect();
        // A segment created by a roll since `verify` started begins at or after `end`.
        if let Some(extra) = on_disk.iter().find(|&&f| !known.contains(&f) && f < end) {
            return Ok(Err(mismatch(
                *extra,
                0,
                None,
                None,
                "segment file not in the index".into(),
            )));
        }
        if let Some(missing) = known.iter().find(|f| !on_disk.contains(f)) {
            return Ok(Err(mismatch(
                *missing,
                0,
                None,
                None,
                "segment file missing".into(),
            )));
        }
        if let Some(file) = snapshot::open(self.shared.vfs.as_ref(), &self.shared.dir)? {
            match snapshot::decode_file(file.as_ref()) {
                Ok(s) => self.snap = Some(s),
                Err(why) => {
                    return Ok(Err(snap_mismatch(None, None, format!("unreadable: {why}"))));
                }
            }
        }
        for (i, seg) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if let Err(m) = self.segment(seg.first, seg.len, last)? {
                return Ok(Err(m));
            }
        }
        if self.pos != end {
            return Ok(Err(mismatch(
                segments.last().map_or(0, |s| s.first),
                segments.last().map_or(0, |s| s.len),
                Some(self.pos),
                None,
                format!("the log holds {} records, the index {end}", self.pos),
            )));
        }
        if let Some(s) = &self.snap {
            let resume = s.segments.last().map(|l| (segment_label(l.first), l.len));
            return Ok(Err(snap_mismatch(
                Some(s.end()),
                None,
                format!(
                    "covers {} records and resumes at {resume:?}, which is not a frame boundary of the log",
                    s.end()
                ),
            )));
        }
        Ok(self.streams_agree(end))
    }

    fn segment(&mut self, first: u64, len: u64, last: bool) -> Result<Found, StoreError> {
        let path = segment_path(&self.shared.dir, first);
        let io = |op: &'static str| {
            let path = path.display().to_string();
            move |source| StoreError::Io { op, path, source }
        };
        let file = self
            .shared
            .vfs
            .open(&path, OpenMode::Read)
            .map_err(io("open"))?;
        let file_len = file.size().map_err(io("stat"))?;
        if file_len < len {
            return Ok(Err(mismatch(
                first,
                file_len,
                Some(self.pos),
                None,
                format!("file is {file_len} bytes, the index says {len}"),
            )));
        }
        if !last && file_len != len {
            return Ok(Err(mismatch(
                first,
                len,
                None,
                None,
                format!("{} bytes after the last frame", file_len - len),
            )));
        }
        if first != self.pos {
            return Ok(Err(mismatch(
                first,
                0,
                Some(self.pos),
                None,
                format!("segment starts at position {first}, expected {}", self.pos),
            )));
        }
        let mut sc = Scanner::new(file.as_ref(), len);
        let header = sc.window(0, HEADER_LEN as usize).map_err(io("read"))?;
        if let Err(e) = check_header(header) {
            return Ok(Err(mismatch(
                first,
                0,
                None,
                None,
                format!("bad segment header: {e}"),
            )));
        }
        let mut offset = HEADER_LEN;
        while offset < len {
            if let Err(m) = self.snapshot_boundary(first, offset) {
                return Ok(Err(m));
            }
            let head = sc.window(offset, FRAME_HEADER_LEN).map_err(io("read"))?;
            let total = if head.len() < FRAME_HEADER_LEN {
                usize::MAX
            } else {
                FRAME_HEADER_LEN.saturating_add(le_u32(&head[..4]) as usize)
            };
            let bytes = sc.window(offset, total).map_err(io("read"))?;
            let total = match check_frame(bytes) {
                FrameCheck::Good { total } => total,
                FrameCheck::Short => {
                    return Ok(Err(mismatch(
                        first,
                        offset,
                        Some(self.pos),
                        None,
                        "frame runs past the end of the segment".into(),
                    )));
                }
                FrameCheck::BadCrc { .. } => {
                    return Ok(Err(mismatch(
                        first,
                        offset,
                        Some(self.pos),
                        None,
                        "frame checksum mismatch".into(),
                    )));
                }
            };
            let payload = bytes[FRAME_HEADER_LEN..total].to_vec();
            if let Err(m) = self.frame(first, offset, &payload) {
                return Ok(Err(m));
            }
            self.report.frames += 1;
            offset += total as u64;
        }
        Ok(self.snapshot_boundary(first, offset))
    }

    fn frame(&mut self, seg: u64, offset: u64, payload: &[u8]) -> Found {
        let shared = self.shared;
        let bad = |pos: u64, stream: Option<&str>, what: String| {
            mismatch(seg, offset, Some(pos), stream, what)
        };
        let mut p = Payload::parse(payload).map_err(|e| bad(self.pos, None, e))?;
        if p.first_position != self.pos {
            return Err(bad(
                self.pos,
                None,
                format!(
                    "frame starts at position {}, expected {}: positions are not contiguous",
                    p.first_position, self.pos
                ),
            ));
        }
        let idx = shared.index.read().unwrap_or_else(|e| e.into_inner());
        while let Some(raw) = p.next_record().map_err(|e| bad(self.pos, None, e))? {
            let pos = self.pos;
            let rec = StoredRecord::decode_canonical(raw.canonical, Hash(raw.hash))
                .map_err(|e| bad(pos, None, format!("record does not decode: {e}")))?;
            let stream = Some(rec.stream.as_str());
            if rec.position != pos {
                return Err(bad(
                    pos,
                    stream,
                    format!("record says position {}", rec.position),
                ));
            }
            // What was hashed must be the record's one canonical encoding.
            self.scratch.clear();
            rec.encode_canonical(&mut self.scratch)
                .map_err(|e| bad(pos, stream, format!("record does not encode: {e}")))?;
            if self.scratch != raw.canonical {
                return Err(bad(
                    pos,
                    stream,
                    "stored bytes are not the record's canonical encoding".into(),
                ));
            }
            let chain = self.streams.get(rec.stream.as_str());
            let (count, previous, prev_pos) = match chain {
                Some(c) => (c.count, c.hash, Some(c.last)),
                None => (0, Hash::GENESIS, None),
            };
            if rec.revision != count {
                return Err(bad(
                    pos,
                    stream,
                    format!("revision {}, expected {count}", rec.revision),
                ));
            }
            let computed = Hash::chain(&previous, raw.canonical);
            if computed.0 != raw.hash {
                return Err(bad(
                    pos,
                    stream,
                    format!(
                        "hash chain broken: stored {}, computed {computed}",
                        Hash(raw.hash)
                    ),
                ));
            }
            // The in-memory indexes.
            let fp = id_fingerprint(&rec.id);
            if idx.fps.get(pos as usize) != Some(&fp) {
                return Err(bad(
                    pos,
                    stream,
                    "id index: fingerprint differs from the record's id".into(),
                ));
            }
            if idx.frame_off.get(pos as usize).map(|&o| u64::from(o)) != Some(offset) {
                return Err(bad(pos, stream, "frame table: offset differs".into()));
            }
            if idx.prev_of(pos) != prev_pos {
                return Err(bad(
                    pos,
                    stream,
                    format!(
                        "stream index: previous record {:?}, the log says {prev_pos:?}",
                        idx.prev_of(pos)
                    ),
                ));
            }
            if idx.find_fp(fp) != Some(pos) && idx.overflow(&rec.id) != Some(pos) {
                return Err(bad(
                    pos,
                    stream,
                    format!("id index: {} does not lead to this record", rec.id),
                ));
            }
            if idx.find_stream(&rec.stream).is_none() {
                return Err(bad(pos, stream, "stream index: stream missing".into()));
            }
            // index.snap, for the records it covers.
            if let Some(s) = &self.snap
                && pos < s.end()
            {
                if s.fps[pos as usize] != fp
                    || u64::from(s.frame_off[pos as usize]) != offset
                    || s.prev_of(pos) != prev_pos
                {
                    return Err(snap_mismatch(
                        Some(pos),
                        stream,
                        "entry differs from the log".into(),
                    ));
                }
                if s.find_fp(fp) != Some(pos) && s.overflow(&rec.id) != Some(pos) {
                    return Err(snap_mismatch(
                        Some(pos),
                        stream,
                        format!("id {} does not lead to this record", rec.id),
                    ));
                }
            }
            match self.streams.get_mut(rec.stream.as_str()) {
                Some(c) => {
                    c.count += 1;
                    c.last = pos;
                    c.hash = computed;
                }
                None => {
                    self.streams.insert(
                        rec.stream.to_string(),
                        Chain {
                            count: 1,
                            last: pos,
                            hash: computed,
                        },
                    );
                }
            }
            self.pos += 1;
            self.report.records += 1;
            if self.report.records.is_multiple_of(PROGRESS_EVERY) {
                (self.progress)(self.report.records);
            }
        }
        Ok(())
    }

    /// When the scan reaches the position `index.snap` was taken at, its streams must
    /// be the ones rebuilt so far, and it must resume exactly here.
    fn snapshot_boundary(&mut self, seg: u64, offset: u64) -> Found {
        let Some(s) = &self.snap else {
            return Ok(());
        };
        if s.end() != self.pos {
            return Ok(());
        }
        // The position may be reached at the end of one segment and the start of the
        // next; the snapshot names one of the two.
        if s.segments.last().map(|l| (l.first, l.len)) != Some((seg, offset)) {
            return Ok(());
        }
        if s.stream_count() != self.streams.len() as u64 {
            return Err(snap_mismatch(
                Some(self.pos),
                None,
                format!(
                    "{} streams, the log has {}",
                    s.stream_count(),
                    self.streams.len()
                ),
            ));
        }
        for i in 0..s.stream_count() as u32 {
            let name = s.stream_name(i);
            let e = s.stream(i);
            let ok = self
                .streams
                .get(name)
                .is_some_and(|c| c.count == e.count && c.last == e.last && c.hash.0 == e.hash);
            if !ok {
                return Err(snap_mismatch(
                    Some(e.last),
                    Some(name),
                    "stream entry differs from the log".into(),
                ));
            }
        }
        self.snap = None;
        Ok(())
    }

    /// Every stream of the log is in the index as rebuilt, allowing for records
    /// appended since `verify` started.
    fn streams_agree(&self, end: u64) -> Found {
        let idx = self.shared.index.read().unwrap_or_else(|e| e.into_inner());
        let mut seen = 0u64;
        for i in 0..idx.stream_count() as u32 {
            let name = idx.stream_name(i);
            let e = idx.stream(i);
            let (mut last, mut count) = (e.last, e.count);
            while last >= end && count > 0 {
                count -= 1;
                match idx.prev_of(last) {
                    Some(p) => last = p,
                    None => break,
                }
            }
            if count == 0 {
                continue;
            }
            seen += 1;
            let here = Some(name);
            let Some(c) = self.streams.get(name) else {
                return Err(snap_or_index(
                    last,
                    here,
                    "stream in the index has no records in the log",
                ));
            };
            if c.count != count || c.last != last || (e.last < end && c.hash.0 != e.hash) {
                return Err(snap_or_index(
                    c.last,
                    here,
                    &format!(
                        "stream index says {count} records ending at {last}, the log {} ending at {}",
                        c.count, c.last
                    ),
                ));
            }
        }
        if seen != self.streams.len() as u64 {
            return Err(snap_or_index(
                end,
                None,
                &format!(
                    "the index has {seen} streams, the log {}",
                    self.streams.len()
                ),
            ));
        }
        Ok(())
    }
}

fn snap_or_index(position: u64, stream: Option<&str>, what: &str) -> Mismatch {
    Mismatch {
        segment: "(index)".into(),
        offset: 0,
        position: Some(position),
        stream: stream.map(str::to_string),
        what: what.to_string(),
    }
}
