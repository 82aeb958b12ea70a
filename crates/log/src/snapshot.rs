//! `index.snap`: the indexes written to disk so that opening a large log does not
//! rescan it. A compact little-endian image of the index arrays with a crc32c trailer
//! (layout in `docs/format.md`). The hash tables are not stored; loading rebuilds
//! them from the arrays. The encoding is deterministic: the same index always gives
//! the same bytes.

use std::path::Path;

use counterfoil_core::StoreError;
use uuid::Uuid;

use crate::index::{Index, MARK_EVERY, SegmentMeta, StreamEntry};
use crate::vfs::{DIRECT_ALIGN, DirectStage, OpenMode, Vfs, VfsFile};

const MAGIC: &[u8; 8] = b"CFIDX001";
const VERSION: u32 = 1;

pub(crate) const SNAPSHOT_FILE: &str = "index.snap";
pub(crate) const SNAPSHOT_TEMP: &str = "index.snap.tmp";

/// Per-record arrays are copied this many positions at a time.
const CHUNK: usize = 1 << 20;

/// Everything in a snapshot but the per-record arrays, as of `n` records.
struct Captured {
    n: usize,
    segments: Vec<SegmentMeta>,
    far: Vec<(u64, u64)>,
    over: Vec<(u64, Uuid)>,
    streams: Vec<StreamEntry>,
    names: String,
    marks: Vec<(u32, Vec<u64>)>,
}

fn capture(idx: &Index) -> Captured {
    let mut far: Vec<(u64, u64)> = idx.prev_far.iter().map(|(&k, &v)| (k, v)).collect();
    far.sort_unstable();
    let mut over: Vec<(u64, Uuid)> = idx.id_overflow.iter().map(|(k, &v)| (v, *k)).collect();
    over.sort_unstable();
    let mut marks: Vec<(u32, Vec<u64>)> = idx.marks.iter().map(|(&k, v)| (k, v.clone())).collect();
    marks.sort_unstable_by_key(|(k, _)| *k);
    Captured {
        n: idx.fps.len(),
        segments: idx.segments.clone(),
        far,
        over,
        streams: idx.streams.clone(),
        names: idx.names.clone(),
        marks,
    }
}

/// Appends positions `range` of the three per-record arrays' `which` (0: frame
/// offsets, 1: fingerprints, 2: previous links).
fn put_arrays(b: &mut Vec<u8>, idx: &Index, which: u8, range: std::ops::Range<usize>) {
    match which {
        0 => idx.frame_off[range].iter().for_each(|&o| put32(b, o)),
        1 => idx.fps[range].iter().for_each(|&f| put64(b, f)),
        _ => idx.prev[range].iter().for_each(|&p| put32(b, p)),
    }
}

/// A snapshot is written out in pieces once this many bytes have gathered, so that
/// one of a large log never sits whole in memory (fresh memory costs a page fault per
/// 4 KiB).
const SPILL_AT: usize = 4 << 20;

/// Takes bytes and the file offset they go to.
type Spill<'s> = &'s mut dyn FnMut(&[u8], u64) -> std::io::Result<()>;

/// Where [`encode_captured`] puts the bytes as it goes: all kept in memory, or handed
/// to `spill` in whole 4 KiB blocks (with the offset they go to) once [`SPILL_AT`]
/// bytes have gathered. The checksum covers whatever was spilled.
struct Out<'s> {
    b: Vec<u8>,
    crc: u32,
    spilled: u64,
    spill: Option<Spill<'s>>,
    failed: Option<std::io::Error>,
}

impl<'s> Out<'s> {
    #[cfg(test)]
    fn memory(capacity: usize) -> Self {
        Out {
            b: Vec::with_capacity(capacity),
            crc: 0,
            spilled: 0,
            spill: None,
            failed: None,
        }
    }

    fn spilling(spill: Spill<'s>) -> Self {
        Out {
            b: Vec::with_capacity(SPILL_AT + (1 << 20)),
            crc: 0,
            spilled: 0,
            spill: Some(spill),
            failed: None,
        }
    }

    /// Spills the whole blocks gathered, if there are enough. After a failed spill
    /// nothing more is kept.
    fn check(&mut self) {
        let Some(spill) = self.spill.as_mut() else {
            return;
        };
        if self.failed.is_some() {
            self.b.clear();
            return;
        }
        if self.b.len() < SPILL_AT {
            return;
        }
        let k = self.b.len() - self.b.len() % DIRECT_ALIGN;
        self.crc = crc32c::crc32c_append(self.crc, &self.b[..k]);
        if let Err(e) = spill(&self.b[..k], self.spilled) {
            self.failed = Some(e);
        }
        self.spilled += k as u64;
        self.b.drain(..k);
    }

    /// Appends the checksum. What is left in `b` goes at offset `spilled`.
    fn finish(&mut self) {
        let crc = crc32c::crc32c_append(self.crc, &self.b);
        put32(&mut self.b, crc);
    }
}

/// Encodes a snapshot from `c` and the per-record arrays, which `arrays` appends
/// chunk by chunk.
fn encode_captured(
    c: &Captured,
    mut arrays: impl FnMut(&mut Vec<u8>, u8, std::ops::Range<usize>),
    out: &mut Out<'_>,
) {
    let n = c.n;
    let b = &mut out.b;
    b.extend_from_slice(MAGIC);
    put32(b, VERSION);
    put32(b, 0);
    put64(b, n as u64);
    put64(b, c.segments.len() as u64);
    for s in &c.segments {
        put64(b, s.first);
        put64(b, s.len);
    }
    for which in 0..3 {
        for start in (0..n).step_by(CHUNK) {
            arrays(&mut out.b, which, start..(start + CHUNK).min(n));
            out.check();
        }
    }
    let b = &mut out.b;
    put64(b, c.far.len() as u64);
    for &(k, v) in &c.far {
        put64(b, k);
        put64(b, v);
    }
    put64(b, c.over.len() as u64);
    for (pos, id) in &c.over {
        b.extend_from_slice(id.as_bytes());
        put64(b, *pos);
    }
    put64(b, c.streams.len() as u64);
    put64(b, c.names.len() as u64);
    out.check();
    for piece in c.names.as_bytes().chunks(SPILL_AT) {
        out.b.extend_from_slice(piece);
        out.check();
    }
    for (i, e) in c.streams.iter().enumerate() {
        let b = &mut out.b;
        put64(b, e.name);
        put64(b, e.last);
        put64(b, e.count);
        b.extend_from_slice(&e.hash);
        if i % 4096 == 4095 {
            out.check();
        }
    }
    put64(&mut out.b, c.marks.len() as u64);
    for (s, m) in &c.marks {
        let b = &mut out.b;
        put32(b, *s);
        put32(b, m.len() as u32);
        for &p in m {
            put64(b, p);
        }
        out.check();
    }
    out.finish();
}

/// The snapshot's bytes for `idx`, all in memory.
#[cfg(test)]
pub(crate) fn encode(idx: &Index) -> Vec<u8> {
    let c = capture(idx);
    let mut out = Out::memory(64 + c.n * 16 + c.streams.len() * 56 + c.names.len());
    encode_captured(
        &c,
        |b, which, range| put_arrays(b, idx, which, range),
        &mut out,
    );
    out.b
}

/// Encodes the index of a live log into `index.snap.tmp` without stopping the writer
/// for long, then replaces `index.snap` with it (see [`write`]). What changes (streams,
/// the small maps) is copied under one read lock, as of `n` records; the per-record
/// arrays only grow, so their first `n` entries are read a chunk at a time, releasing
/// the lock in between so the writer can publish. The bytes go to the file a few
/// megabytes at a time, past the page cache where the file system allows it.
pub(crate) fn write_live(
    vfs: &dyn Vfs,
    dir: &Path,
    lock: &std::sync::RwLock<Index>,
) -> Result<(), StoreError> {
    let read = || lock.read().unwrap_or_else(|e| e.into_inner());
    let captured = capture(&read());
    write(vfs, dir, |out| {
        encode_captured(
            &captured,
            |b, which, range| put_arrays(b, &read(), which, range),
            out,
        )
    })
}

fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}

/// Where a snapshot is decoded from: bytes in memory, or the file itself, read a chunk
/// at a time so that opening never holds the whole file and the index at once.
enum Source<'a> {
    #[cfg(test)]
    Bytes(&'a [u8]),
    File(&'a dyn VfsFile),
}

impl Source<'_> {
    fn read(&self, buf: &mut [u8], offset: u64) -> Result<(), String> {
        match self {
            #[cfg(test)]
            Source::Bytes(b) => {
                let start = usize::try_from(offset).map_err(|_| "offset too large")?;
                let src = b.get(start..start + buf.len()).ok_or("truncated")?;
                buf.copy_from_slice(src);
                Ok(())
            }
            Source::File(f) => f.read_exact_at(buf, offset).map_err(|e| e.to_string()),
        }
    }
}

/// Reads the snapshot body front to back, checksumming what it hands out.
struct Cursor<'a> {
    src: Source<'a>,
    /// Where the body ends (the checksum follows).
    end: u64,
    /// Offset of the next byte to hand out.
    pos: u64,
    buf: Vec<u8>,
    /// Offset of `buf[0]`.
    buf_at: u64,
    crc: u32,
}

impl<'a> Cursor<'a> {
    fn new(src: Source<'a>, len: u64) -> Result<Self, String> {
        if len < 20 {
            return Err("too short".into());
        }
        Ok(Self {
            src,
            end: len - 4,
            pos: 0,
            buf: Vec::new(),
            buf_at: 0,
            crc: 0,
        })
    }

    fn remaining(&self) -> u64 {
        self.end - self.pos
    }

    /// The next `n` bytes of the body.
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if (n as u64) > self.remaining() {
            return Err("truncated".into());
        }
        let buffered =
            self.pos >= self.buf_at && self.pos + n as u64 <= self.buf_at + self.buf.len() as u64;
        if !buffered {
            let want = (n as u64).max(READ_CHUNK as u64).min(self.remaining()) as usize;
            self.buf.resize(want, 0);
            self.src.read(&mut self.buf, self.pos)?;
            self.buf_at = self.pos;
        }
        let at = (self.pos - self.buf_at) as usize;
        self.pos += n as u64;
        let out = &self.buf[at..at + n];
        self.crc = crc32c::crc32c_append(self.crc, out);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(crate::format::le_u32(self.take(4)?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn count(&mut self, item_bytes: usize) -> Result<usize, String> {
        let n = self.u64()?;
        let n = usize::try_from(n).map_err(|_| "count too large".to_string())?;
        if (n.saturating_mul(item_bytes) as u64) > self.remaining() {
            return Err(format!("count {n} exceeds the file"));
        }
        Ok(n)
    }

    /// `n` items of `size` bytes, converted by `f`, read a chunk at a time.
    fn array<T>(
        &mut self,
        n: usize,
        size: usize,
        f: impl Fn(&[u8]) -> T,
    ) -> Result<Vec<T>, String> {
        let mut out = Vec::with_capacity(n);
        let per_chunk = (READ_CHUNK / size).max(1);
        while out.len() < n {
            let k = per_chunk.min(n - out.len());
            out.extend(self.take(k * size)?.chunks_exact(size).map(&f));
        }
        Ok(out)
    }

    fn array_u32(&mut self, n: usize) -> Result<Vec<u32>, String> {
        self.array(n, 4, crate::format::le_u32)
    }

    fn array_u64(&mut self, n: usize) -> Result<Vec<u64>, String> {
        self.array(n, 8, |c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            u64::from_le_bytes(a)
        })
    }

    /// Checks that the body was read to its end and matches the stored checksum.
    fn finish(mut self) -> Result<(), String> {
        if self.pos != self.end {
            return Err("trailing bytes".into());
        }
        let mut trailer = [0u8; 4];
        self.src.read(&mut trailer, self.end)?;
        self.pos = self.end;
        if crate::format::le_u32(&trailer) != self.crc {
            return Err("checksum mismatch".into());
        }
        Ok(())
    }
}

/// Bytes read from the file at a time.
const READ_CHUNK: usize = 4 << 20;

/// Decodes and sanity-checks a snapshot held in memory.
#[cfg(test)]
pub(crate) fn decode(bytes: &[u8]) -> Result<Index, String> {
    decode_from(Cursor::new(Source::Bytes(bytes), bytes.len() as u64)?)
}

/// Decodes and sanity-checks `index.snap` from the file. The error says why it cannot
/// be used.
pub(crate) fn decode_file(file: &dyn VfsFile) -> Result<Index, String> {
    let len = file.size().map_err(|e| e.to_string())?;
    decode_from(Cursor::new(Source::File(file), len)?)
}

fn decode_from(mut c: Cursor<'_>) -> Result<Index, String> {
    match decode_body(&mut c) {
        Ok(idx) => {
            c.finish()?;
            Ok(idx)
        }
        Err(e) => {
            // The checksum is only known at the end: when the checksum fails too, it is
            // the cause worth reporting.
            while c.remaining() > 0 {
                let n = (c.remaining() as usize).min(READ_CHUNK);
                c.take(n)?;
            }
            c.finish()?;
            Err(e)
        }
    }
}

fn decode_body(c: &mut Cursor<'_>) -> Result<Index, String> {
    if c.take(8)? != MAGIC {
        return Err("bad magic".into());
    }
    let version = c.u32()?;
    if version != VERSION {
        return Err(format!("version {version}, this build reads {VERSION}"));
    }
    c.u32()?;
    let n = c.count(16)?;
    let mut idx = Index::new();
    let k = c.count(16)?;
    for _ in 0..k {
        let first = c.u64()?;
        let len = c.u64()?;
        idx.segments.push(SegmentMeta { first, len });
    }
    if idx.segments.windows(2).any(|w| w[0].first > w[1].first)
        || idx.segments.iter().any(|s| s.first > n as u64)
    {
        return Err("segments out of order".into());
    }
    if n > 0 && idx.segments.first().map(|s| s.first) != Some(0) {
        return Err("records without a segment".into());
    }
    idx.frame_off = c.array_u32(n)?;
    idx.fps = c.array_u64(n)?;
    idx.prev = c.array_u32(n)?;
    let m = c.count(16)?;
    for _ in 0..m {
        let pos = c.u64()?;
        let prev = c.u64()?;
        if pos >= n as u64 || prev >= pos {
            return Err("bad far link".into());
        }
        idx.prev_far.insert(pos, prev);
    }
    let o = c.count(24)?;
    for _ in 0..o {
        let id = Uuid::from_slice(c.take(16)?).map_err(|e| e.to_string())?;
        let pos = c.u64()?;
        if pos >= n as u64 {
            return Err("bad overflow id".into());
        }
        idx.id_overflow.insert(id, pos);
    }
    let s = c.count(56)?;
    let names_len = c.count(1)?;
    let names = c.array(names_len, 1, |b| b[0])?;
    idx.names = String::from_utf8(names).map_err(|e| e.to_string())?;
    idx.streams.reserve_exact(s);
    for _ in 0..s {
        let name = c.u64()?;
        let last = c.u64()?;
        let count = c.u64()?;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(c.take(32)?);
        let (off, len) = ((name >> 16) as usize, (name & 0xffff) as usize);
        if idx.names.get(off..off + len).is_none() {
            return Err("bad stream name".into());
        }
        if count == 0 || last >= n as u64 {
            return Err("bad stream entry".into());
        }
        idx.streams.push(StreamEntry {
            name,
            last,
            count,
            hash,
        });
    }
    let g = c.count(8)?;
    for _ in 0..g {
        let stream = c.u32()?;
        let len = c.u32()? as usize;
        let marks = c.array_u64(len)?;
        let e = idx
            .streams
            .get(stream as usize)
            .ok_or("marks of an unknown stream")?;
        if (e.count - 1) / MARK_EVERY != len as u64 || marks.iter().any(|&p| p >= n as u64) {
            return Err("bad marks".into());
        }
        idx.marks.insert(stream, marks);
    }
    if c.remaining() != 0 {
        return Err("trailing bytes".into());
    }
    idx.rebuild_tables();
    Ok(idx)
}

/// Writes the snapshot `encode` produces to `index.snap.tmp`, syncs it and renames it
/// over `index.snap` (`docs/format.md`, sync 5). The pieces go past the page cache
/// where the file system allows it, through a small aligned buffer reused for each.
fn write(vfs: &dyn Vfs, dir: &Path, encode: impl FnOnce(&mut Out<'_>)) -> Result<(), StoreError> {
    let tmp = dir.join(SNAPSHOT_TEMP);
    let dst = dir.join(SNAPSHOT_FILE);
    let io = |op: &'static str, path: &Path| {
        let path = path.display().to_string();
        move |source| StoreError::Io { op, path, source }
    };
    let f = vfs
        .open(&tmp, OpenMode::Truncate)
        .map_err(io("create", &tmp))?;
    let mut stage = DirectStage::default();
    let mut direct = true;
    let mut padded_end = false;
    let mut put = |bytes: &[u8], at: u64| -> std::io::Result<()> {
        if direct {
            if let Some(block) = stage.write(&*f, at, &[], bytes)? {
                padded_end = block.len() > bytes.len();
                return Ok(());
            }
            direct = false;
        }
        padded_end = false;
        f.write_all_at(bytes, at)
    };
    let mut out = Out::spilling(&mut put);
    encode(&mut out);
    let rest = std::mem::take(&mut out.b);
    let at = out.spilled;
    let failed = out.failed.take();
    drop(out);
    if let Some(e) = failed {
        return Err(io("write", &tmp)(e));
    }
    put(&rest, at).map_err(io("write", &tmp))?;
    if padded_end {
        // The last block went out whole: cut the zeros after the checksum.
        f.set_len(at + rest.len() as u64)
            .map_err(io("truncate", &tmp))?;
    }
    f.sync_data().map_err(io("fdatasync", &tmp))?;
    drop(f);
    vfs.rename(&tmp, &dst).map_err(io("rename", &tmp))?;
    vfs.sync_dir(dir).map_err(io("fsync", dir))?;
    Ok(())
}

/// Opens `index.snap`, `None` when absent.
pub(crate) fn open(
    vfs: &dyn Vfs,
    dir: &Path,
) -> Result<Option<std::sync::Arc<dyn VfsFile>>, StoreError> {
    let path = dir.join(SNAPSHOT_FILE);
    let io = |op: &'static str| {
        let path = path.display().to_string();
        move |source| StoreError::Io { op, path, source }
    };
    if !vfs.exists(&path).map_err(io("stat"))? {
        return Ok(None);
    }
    vfs.open(&path, OpenMode::Read)
        .map(Some)
        .map_err(io("open"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trips_and_rejects_damage() {
        let mut idx = Index::new();
        idx.segments.push(SegmentMeta { first: 0, len: 0 });
        let a = idx.add_stream("a");
        let b = idx.add_stream("b");
        for i in 0..200u32 {
            let id = Uuid::from_u128(u128::from(i) + 1);
            let s = if i % 3 == 0 { b } else { a };
            idx.push_record(
                &id,
                crate::format::id_fingerprint(&id),
                s,
                16 + i,
                [i as u8; 32],
                None,
            );
        }
        idx.segments[0].len = 216;
        let bytes = encode(&idx);
        let back = decode(&bytes).unwrap();
        assert_eq!(encode(&back), bytes);
        assert_eq!(back.find_stream("b"), Some(b));
        assert_eq!(
            back.stream_positions(a, 100, 3),
            idx.stream_positions(a, 100, 3)
        );
        let mut bad = bytes.clone();
        bad[40] ^= 1;
        assert!(decode(&bad).unwrap_err().contains("checksum mismatch"));
    }

    /// An index whose snapshot is several times [`SPILL_AT`], over many streams.
    fn large_index() -> Index {
        let mut idx = Index::new();
        idx.segments.push(SegmentMeta { first: 0, len: 0 });
        let streams: Vec<u32> = (0..40_000)
            .map(|i| idx.add_stream(&format!("stream-with-a-longer-name-{i}")))
            .collect();
        for i in 0..600_000u32 {
            let id = Uuid::from_u128(u128::from(i) * 7919 + 1);
            idx.push_record(
                &id,
                crate::format::id_fingerprint(&id),
                streams[(i as usize * 13) % streams.len()],
                16 + i,
                [i as u8; 32],
                None,
            );
        }
        idx
    }

    #[test]
    fn a_large_snapshot_written_in_pieces_is_the_same_bytes() {
        let idx = large_index();
        let bytes = encode(&idx);
        assert!(bytes.len() > 3 * SPILL_AT, "{}", bytes.len());
        let tmp = tempfile::tempdir().unwrap();
        let lock = std::sync::RwLock::new(idx);
        // Through the page cache (a file system without direct I/O), then past it.
        let cached = crate::vfs::FaultyVfs::new(std::sync::Arc::new(crate::vfs::RealVfs));
        cached.without_direct_writes();
        let vfs: [&dyn Vfs; 2] = [&cached, &crate::vfs::RealVfs];
        for vfs in vfs {
            write_live(vfs, tmp.path(), &lock).unwrap();
            let on_disk = std::fs::read(tmp.path().join(SNAPSHOT_FILE)).unwrap();
            assert_eq!(on_disk.len(), bytes.len());
            assert!(
                on_disk == bytes,
                "the file differs from the bytes encoded in memory"
            );
        }
        assert!(!tmp.path().join(SNAPSHOT_TEMP).exists());
        let file = crate::vfs::RealVfs
            .open(&tmp.path().join(SNAPSHOT_FILE), OpenMode::Read)
            .unwrap();
        let back = decode_file(file.as_ref()).unwrap();
        assert_eq!(encode(&back), bytes);
    }

    #[test]
    fn a_snapshot_write_that_fails_midway_leaves_the_old_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let vfs = crate::vfs::FaultyVfs::new(std::sync::Arc::new(crate::vfs::RealVfs));
        let small = {
            let mut idx = Index::new();
            idx.segments.push(SegmentMeta { first: 0, len: 16 });
            std::sync::RwLock::new(idx)
        };
        write_live(&vfs, tmp.path(), &small).unwrap();
        let before = std::fs::read(tmp.path().join(SNAPSHOT_FILE)).unwrap();

        vfs.fail_writes_after(SPILL_AT as u64 + 100);
        let lock = std::sync::RwLock::new(large_index());
        match write_live(&vfs, tmp.path(), &lock) {
            Err(StoreError::Io { op, path, .. }) => {
                assert_eq!(op, "write");
                assert!(path.ends_with(SNAPSHOT_TEMP), "{path}");
            }
            other => panic!("a write that failed: {other:?}"),
        }
        assert_eq!(
            std::fs::read(tmp.path().join(SNAPSHOT_FILE)).unwrap(),
            before
        );
    }
}
