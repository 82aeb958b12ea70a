//! The in-memory indexes over the log: where each record's frame is, which position
//! holds a record id, and each stream's records, last revision and last hash.
//!
//! They are laid out for memory, not convenience, because they hold every record of
//! the log (target: at most 64 bytes per record). Positions are dense, so most of the
//! index is plain arrays indexed by position:
//! - `frame_off[p]`: offset of the frame holding `p` in its segment (frames never
//!   span segments and start below 4 GiB);
//! - `fps[p]`: a 64-bit fingerprint of the record id; the id table holds positions
//!   hashed by it, so a lookup is a fingerprint match confirmed against the stored
//!   record; ids whose fingerprint was taken go to a small exact overflow map;
//! - `prev[p]`: distance back to the previous record of the same stream, so a stream
//!   is a chain through the log; long streams keep a mark every 64 revisions so that
//!   reading any part of them walks at most 64 links.
//!
//! Streams are a table of fixed-size entries with their names in one string arena.

use std::collections::HashMap;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;

use hashbrown::HashTable;
use uuid::Uuid;

/// A long stream keeps the position of every `MARK_EVERY`-th revision.
pub(crate) const MARK_EVERY: u64 = 64;
/// `prev` value meaning "too far back for 32 bits; see `prev_far`".
const FAR: u32 = u32::MAX;

/// A segment file as the index knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentMeta {
    /// Position of its first record; also its file name.
    pub first: u64,
    /// Bytes of it holding durable frames.
    pub len: u64,
}

/// One stream. 56 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamEntry {
    /// Offset of the name in the arena (high 48 bits) and its length (low 16 bits).
    pub name: u64,
    /// Position of its last record.
    pub last: u64,
    /// Number of records; the last revision is `count - 1`.
    pub count: u64,
    /// Hash of its last record.
    pub hash: [u8; 32],
}

/// Where a frame is, and which positions it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameLoc {
    pub segment: u64,
    pub offset: u64,
    pub end: u64,
    pub first_pos: u64,
    /// One past its last position.
    pub next_pos: u64,
}

#[derive(Debug)]
pub(crate) struct Index {
    pub(crate) segments: Vec<SegmentMeta>,
    pub(crate) frame_off: Vec<u32>,
    pub(crate) fps: Vec<u64>,
    pub(crate) prev: Vec<u32>,
    pub(crate) prev_far: HashMap<u64, u64>,
    pub(crate) id_overflow: HashMap<Uuid, u64>,
    pub(crate) streams: Vec<StreamEntry>,
    pub(crate) names: String,
    pub(crate) marks: HashMap<u32, Vec<u64>>,
    ids: HashTable<u32>,
    ids_wide: HashTable<u64>,
    by_name: HashTable<u32>,
    hasher: RandomState,
}

fn name_of<'a>(names: &'a str, e: &StreamEntry) -> &'a str {
    let off = (e.name >> 16) as usize;
    let len = (e.name & 0xffff) as usize;
    names.get(off..off + len).unwrap_or("")
}

/// The stream-name table's hash of stream `i` (what it is placed by, and moved by
/// when the table grows).
fn stream_hash(hasher: &RandomState, names: &str, streams: &[StreamEntry], i: u32) -> u64 {
    hasher.hash_one(name_of(names, &streams[i as usize]))
}

impl Index {
    pub(crate) fn new() -> Self {
        Self {
            segments: Vec::new(),
            frame_off: Vec::new(),
            fps: Vec::new(),
            prev: Vec::new(),
            prev_far: HashMap::new(),
            id_overflow: HashMap::new(),
            streams: Vec::new(),
            names: String::new(),
            marks: HashMap::new(),
            ids: HashTable::new(),
            ids_wide: HashTable::new(),
            by_name: HashTable::new(),
            hasher: RandomState::default(),
        }
    }

    /// One past the last indexed position: every durable record is below it.
    pub(crate) fn end(&self) -> u64 {
        self.fps.len() as u64
    }

    pub(crate) fn stream_count(&self) -> u64 {
        self.streams.len() as u64
    }

    pub(crate) fn stream(&self, idx: u32) -> &StreamEntry {
        &self.streams[idx as usize]
    }

    pub(crate) fn stream_name(&self, idx: u32) -> &str {
        name_of(&self.names, &self.streams[idx as usize])
    }

    pub(crate) fn find_stream(&self, name: &str) -> Option<u32> {
        let h = self.hasher.hash_one(name);
        self.by_name
            .find(h, |&i| {
                name_of(&self.names, &self.streams[i as usize]) == name
            })
            .copied()
    }

    /// Room for `records` more records and `streams` more streams, so that appending
    /// them does not grow (rehash, copy) the tables along the way. Names are
    /// reckoned at the current mean length, at least 24 bytes. A hint: memory that
    /// cannot be had now is left to be asked for as the tables grow.
    pub(crate) fn reserve(&mut self, records: usize, streams: usize) {
        let _ = self.fps.try_reserve(records);
        let _ = self.prev.try_reserve(records);
        let _ = self.frame_off.try_reserve(records);
        let fps = &self.fps;
        if fps.len().saturating_add(records) <= u32::MAX as usize {
            let _ = self.ids.try_reserve(records, |&p| fps[p as usize]);
        }
        let mean_name = match self.streams.len() {
            0 => 24,
            n => (self.names.len() / n).max(24),
        };
        let _ = self.names.try_reserve(streams.saturating_mul(mean_name));
        let _ = self.streams.try_reserve(streams);
        let Index {
            by_name,
            streams: entries,
            names,
            hasher,
            ..
        } = self;
        let _ = by_name.try_reserve(streams, |&i| stream_hash(hasher, names, entries, i));
    }

    /// Adds an empty stream; the caller checked it is new.
    pub(crate) fn add_stream(&mut self, name: &str) -> u32 {
        let idx = self.streams.len() as u32;
        let off = self.names.len() as u64;
        self.names.push_str(name);
        self.streams.push(StreamEntry {
            name: (off << 16) | (name.len() as u64 & 0xffff),
            last: 0,
            count: 0,
            hash: [0; 32],
        });
        let Index {
            by_name,
            streams,
            names,
            hasher,
            ..
        } = self;
        let h = hasher.hash_one(name);
        by_name.insert_unique(h, idx, |&i| stream_hash(hasher, names, streams, i));
        idx
    }

    /// The position the id table holds for this fingerprint. The record there may
    /// have another id with the same fingerprint: callers confirm it, then look in
    /// [`Index::overflow`].
    pub(crate) fn find_fp(&self, fp: u64) -> Option<u64> {
        let fps = &self.fps;
        if let Some(&p) = self.ids.find(fp, |&p| fps[p as usize] == fp) {
            return Some(u64::from(p));
        }
        self.ids_wide.find(fp, |&p| fps[p as usize] == fp).copied()
    }

    /// Ids whose fingerprint was already taken by another id.
    pub(crate) fn overflow(&self, id: &Uuid) -> Option<u64> {
        self.id_overflow.get(id).copied()
    }

    /// Indexes the record at position [`Index::end`]. The segment holding it must
    /// already be in `segments`. `taken` says whether another id already has this
    /// fingerprint, when the caller knows (`None`: look it up).
    pub(crate) fn push_record(
        &mut self,
        id: &Uuid,
        fp: u64,
        stream: u32,
        frame_off: u32,
        hash: [u8; 32],
        taken: Option<bool>,
    ) {
        let pos = self.end();
        let e = &mut self.streams[stream as usize];
        let prev = if e.count == 0 {
            0
        } else {
            let d = pos - e.last;
            if d < u64::from(FAR) {
                d as u32
            } else {
                self.prev_far.insert(pos, e.last);
                FAR
            }
        };
        let revision = e.count;
        e.count += 1;
        e.last = pos;
        e.hash = hash;
        if revision > 0 && revision.is_multiple_of(MARK_EVERY) {
            self.marks.entry(stream).or_default().push(pos);
        }
        let taken = taken.unwrap_or_else(|| self.find_fp(fp).is_some());
        if taken {
            self.id_overflow.insert(*id, pos);
        } else {
            self.insert_id(pos, fp);
        }
        self.prev.push(prev);
        self.fps.push(fp);
        self.frame_off.push(frame_off);
    }

    fn insert_id(&mut self, pos: u64, fp: u64) {
        let fps = &self.fps;
        let hash_of = |p: u64| if p == pos { fp } else { fps[p as usize] };
        match u32::try_from(pos) {
            Ok(p) => {
                self.ids.insert_unique(fp, p, |&q| hash_of(u64::from(q)));
            }
            Err(_) => {
                self.ids_wide.insert_unique(fp, pos, |&q| hash_of(q));
            }
        }
    }

    /// Rebuilds the hash tables from the arrays (after loading a snapshot). The id
    /// table and the stream-name table are built on two threads: this is most of the
    /// time it takes to open a large log.
    pub(crate) fn rebuild_tables(&mut self) {
        let Index {
            fps,
            id_overflow,
            ids,
            ids_wide,
            by_name,
            streams,
            names,
            hasher,
            ..
        } = self;
        let build_names = || {
            let mut table = HashTable::with_capacity(streams.len());
            for i in 0..streams.len() as u32 {
                let h = stream_hash(hasher, names, streams, i);
                table.insert_unique(h, i, |&j: &u32| stream_hash(hasher, names, streams, j));
            }
            table
        };
        let build_ids = || {
            let overflow: std::collections::HashSet<u64> = id_overflow.values().copied().collect();
            let mut narrow = HashTable::with_capacity(fps.len().min(u32::MAX as usize));
            let mut wide = HashTable::new();
            for (p, &fp) in fps.iter().enumerate() {
                if !overflow.is_empty() && overflow.contains(&(p as u64)) {
                    continue;
                }
                match u32::try_from(p) {
                    Ok(q) => {
                        narrow.insert_unique(fp, q, |&q: &u32| fps[q as usize]);
                    }
                    Err(_) => {
                        wide.insert_unique(fp, p as u64, |&q: &u64| fps[q as usize]);
                    }
                }
            }
            (narrow, wide)
        };
        let (tables, names_table) = std::thread::scope(|scope| {
            let names = std::thread::Builder::new()
                .name("counterfoil-log-open".into())
                .spawn_scoped(scope, build_names);
            let tables = build_ids();
            let names_table = match names {
                Ok(h) => h.join().ok(),
                Err(_) => None,
            };
            (tables, names_table)
        });
        (*ids, *ids_wide) = tables;
        *by_name = names_table.unwrap_or_else(build_names);
    }

    /// The previous position of the stream holding `pos`.
    pub(crate) fn prev_of(&self, pos: u64) -> Option<u64> {
        match *self.prev.get(pos as usize)? {
            0 => None,
            FAR => self.prev_far.get(&pos).copied(),
            d => Some(pos - u64::from(d)),
        }
    }

    /// Positions of revisions `from..from + max` of a stream, in revision order.
    pub(crate) fn stream_positions(&self, stream: u32, from: u64, max: usize) -> Vec<u64> {
        let e = self.stream(stream);
        if from >= e.count || max == 0 {
            return Vec::new();
        }
        let last_rev = e.count.min(from.saturating_add(max as u64)) - 1;
        let (mut pos, mut rev) = self.walk_start(stream, last_rev);
        while rev > last_rev {
            match self.prev_of(pos) {
                Some(p) => pos = p,
                None => return Vec::new(),
            }
            rev -= 1;
        }
        let mut out = Vec::with_capacity((last_rev - from + 1) as usize);
        out.push(pos);
        while rev > from {
            match self.prev_of(pos) {
                Some(p) => pos = p,
                None => break,
            }
            rev -= 1;
            out.push(pos);
        }
        out.reverse();
        out
    }

    /// A known (position, revision) of the stream at or after `revision`, at most
    /// `MARK_EVERY` links away from it.
    fn walk_start(&self, stream: u32, revision: u64) -> (u64, u64) {
        let e = self.stream(stream);
        let k = revision.div_ceil(MARK_EVERY).max(1);
        if let Some(&p) = self
            .marks
            .get(&stream)
            .and_then(|m| m.get((k - 1) as usize))
        {
            return (p, k * MARK_EVERY);
        }
        (e.last, e.count - 1)
    }

    /// The frame holding `pos`.
    pub(crate) fn locate(&self, pos: u64) -> Option<FrameLoc> {
        if pos >= self.end() {
            return None;
        }
        let i = self
            .segments
            .partition_point(|s| s.first <= pos)
            .checked_sub(1)?;
        let seg = self.segments[i];
        let seg_end = self
            .segments
            .get(i + 1)
            .map_or(self.end(), |s| s.first.min(self.end()));
        let offs = &self.frame_off[seg.first as usize..seg_end as usize];
        let off = self.frame_off[pos as usize];
        let first = seg.first + offs.partition_point(|&x| x < off) as u64;
        let next = seg.first + offs.partition_point(|&x| x <= off) as u64;
        let end = if next < seg_end {
            u64::from(self.frame_off[next as usize])
        } else {
            seg.len
        };
        Some(FrameLoc {
            segment: seg.first,
            offset: u64::from(off),
            end,
            first_pos: first,
            next_pos: next,
        })
    }

    /// The frames holding positions `from..to`, in order: the first one located, the
    /// rest walked through the per-position offsets (each frame's positions share
    /// one offset), without a search per frame.
    pub(crate) fn frames_in(&self, from: u64, to: u64) -> Vec<FrameLoc> {
        let to = to.min(self.end());
        let mut out = Vec::new();
        let mut p = from;
        while p < to {
            let Some(first) = self.locate(p) else {
                break;
            };
            let i = self.segments.partition_point(|s| s.first <= first.segment);
            let Some(seg) = i.checked_sub(1).and_then(|k| self.segments.get(k)) else {
                break;
            };
            let seg_end = self
                .segments
                .get(i)
                .map_or(self.end(), |s| s.first.min(self.end()));
            p = first.next_pos;
            out.push(first);
            // The rest of this segment's frames up to `to`.
            while p < to && p < seg_end {
                let off = self.frame_off[p as usize];
                let mut next = p + 1;
                while next < seg_end && self.frame_off[next as usize] == off {
                    next += 1;
                }
                let end = if next < seg_end {
                    u64::from(self.frame_off[next as usize])
                } else {
                    seg.len
                };
                out.push(FrameLoc {
                    segment: first.segment,
                    offset: u64::from(off),
                    end,
                    first_pos: p,
                    next_pos: next,
                });
                p = next;
            }
        }
        out
    }

    /// Rough bytes of memory the index holds.
    pub(crate) fn memory_bytes(&self) -> u64 {
        let map_entry = |k: usize, v: usize| (k + v + 1) as u64;
        let mut b = 0u64;
        b += (self.segments.capacity() * std::mem::size_of::<SegmentMeta>()) as u64;
        b += (self.frame_off.capacity() * 4) as u64;
        b += (self.fps.capacity() * 8) as u64;
        b += (self.prev.capacity() * 4) as u64;
        b += self.prev_far.capacity() as u64 * map_entry(8, 8);
        b += self.id_overflow.capacity() as u64 * map_entry(16, 8);
        b += (self.streams.capacity() * std::mem::size_of::<StreamEntry>()) as u64;
        b += self.names.capacity() as u64;
        b += self.marks.capacity() as u64 * map_entry(4, 24);
        b += self
            .marks
            .values()
            .map(|m| m.capacity() as u64 * 8)
            .sum::<u64>();
        b += self.ids.allocation_size() as u64;
        b += self.ids_wide.allocation_size() as u64;
        b += self.by_name.allocation_size() as u64;
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_with(streams: &[&str], records: &[usize]) -> Index {
        let mut idx = Index::new();
        idx.segments.push(SegmentMeta { first: 0, len: 0 });
        let ids: Vec<u32> = streams.iter().map(|s| idx.add_stream(s)).collect();
        for (i, &s) in records.iter().enumerate() {
            let id = Uuid::from_u128(i as u128 + 1);
            idx.push_record(
                &id,
                crate::format::id_fingerprint(&id),
                ids[s],
                16 + i as u32 * 10,
                [i as u8; 32],
                None,
            );
        }
        idx.segments[0].len = 16 + records.len() as u64 * 10;
        idx
    }

    #[test]
    fn reserving_sizes_the_tables_and_keeps_what_they_hold() {
        let records: Vec<usize> = (0..500).map(|i| i % 3).collect();
        let mut idx = index_with(&["ticket-a", "ticket-b", "ticket-c"], &records);
        idx.reserve(100_000, 20_000);
        assert!(idx.fps.capacity() >= 100_500);
        assert!(idx.prev.capacity() >= 100_500 && idx.frame_off.capacity() >= 100_500);
        assert!(idx.ids.capacity() >= 100_500);
        assert!(idx.streams.capacity() >= 20_003 && idx.by_name.capacity() >= 20_003);
        assert!(idx.names.capacity() >= 20_000 * 24);
        // Everything indexed before is still found, and more goes in after.
        for (i, name) in ["ticket-a", "ticket-b", "ticket-c"].iter().enumerate() {
            let s = idx.find_stream(name).unwrap();
            assert_eq!(s as usize, i);
            assert_eq!(idx.stream(s).count, if i < 2 { 167 } else { 166 });
        }
        for p in [0u64, 1, 250, 499] {
            let id = Uuid::from_u128(u128::from(p) + 1);
            assert_eq!(idx.find_fp(crate::format::id_fingerprint(&id)), Some(p));
        }
        let d = idx.add_stream("ticket-d");
        let id = Uuid::from_u128(10_000);
        let fp = crate::format::id_fingerprint(&id);
        idx.push_record(&id, fp, d, 16, [9; 32], None);
        assert_eq!(idx.find_stream("ticket-d"), Some(d));
        assert_eq!(idx.find_fp(fp), Some(500));
        // More than memory could ever hold: refused quietly, the tables as they were.
        idx.reserve(usize::MAX, usize::MAX);
        assert_eq!(idx.find_stream("ticket-d"), Some(d));
        assert_eq!(idx.end(), 501);
    }

    #[test]
    fn stream_chains_answer_any_range() {
        // Stream 0 gets 300 records interleaved with stream 1.
        let records: Vec<usize> = (0..600).map(|i| i % 2).collect();
        let idx = index_with(&["a", "b"], &records);
        let a = idx.find_stream("a").unwrap();
        assert_eq!(idx.stream(a).count, 300);
        for (from, max) in [
            (0, 1),
            (0, 300),
            (63, 2),
            (64, 1),
            (65, 70),
            (299, 5),
            (300, 1),
            (128, 64),
        ] {
            let got = idx.stream_positions(a, from, max);
            let want: Vec<u64> = (from..300.min(from + max as u64)).map(|r| r * 2).collect();
            assert_eq!(got, want, "from {from} max {max}");
        }
    }

    #[test]
    fn ids_and_frames_are_found() {
        let idx = index_with(&["a"], &[0, 0, 0]);
        let id = Uuid::from_u128(2);
        assert_eq!(idx.find_fp(crate::format::id_fingerprint(&id)), Some(1));
        let loc = idx.locate(2).unwrap();
        assert_eq!(
            (loc.offset, loc.end, loc.first_pos, loc.next_pos),
            (36, 46, 2, 3)
        );
        assert!(idx.locate(3).is_none());
    }

    #[test]
    fn a_range_walks_the_same_frames_as_locating_each() {
        // Three segments; frames of 1 to 4 records; the last segment's last frame
        // ends at the segment's length.
        let mut idx = Index::new();
        let s = idx.add_stream("a");
        let frames_per_segment = [vec![1, 3, 2], vec![4, 1], vec![2, 1, 1, 3]];
        let mut pos = 0u64;
        for frames in &frames_per_segment {
            idx.segments.push(SegmentMeta { first: pos, len: 0 });
            let mut off = 16u32;
            for &n in frames {
                for _ in 0..n {
                    let id = Uuid::from_u128(u128::from(pos) + 1);
                    let fp = crate::format::id_fingerprint(&id);
                    idx.push_record(&id, fp, s, off, [0; 32], None);
                    pos += 1;
                }
                off += 100;
            }
            if let Some(last) = idx.segments.last_mut() {
                last.len = u64::from(off);
            }
        }
        let end = idx.end();
        assert_eq!(end, 18);
        let by_locate = |from: u64, to: u64| {
            let mut out = Vec::new();
            let mut p = from;
            while p < to.min(end) {
                let loc = idx.locate(p).unwrap();
                p = loc.next_pos;
                out.push(loc);
            }
            out
        };
        for from in 0..=end + 1 {
            for to in from..=end + 2 {
                assert_eq!(idx.frames_in(from, to), by_locate(from, to), "{from}..{to}");
            }
        }
        let all = idx.frames_in(0, end);
        assert_eq!(all.len(), 9);
        assert_eq!(
            all.iter()
                .map(|f| (f.segment, f.first_pos, f.next_pos))
                .collect::<Vec<_>>()[..4],
            [(0, 0, 1), (0, 1, 4), (0, 4, 6), (6, 6, 10)]
        );
        assert_eq!(all.last().map(|f| (f.end, f.next_pos)), Some((416, 18)));
    }
}
