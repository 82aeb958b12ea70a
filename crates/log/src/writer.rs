//! The writer: one OS thread owns the active segment and is the only one that
//! changes the log and its indexes.
//!
//! Group commit: it takes every request waiting on its channel, checks each append
//! unit in order against the index plus what this group already accepted, seals the
//! accepted records (positions, revisions, hash chain; the costly part of their
//! canonical bytes was encoded by the caller, see `canonical`) into frames in one
//! buffer, then
//! does ONE write and ONE `fdatasync` for the whole group. Only then does it publish
//! the records to the index, advance the durable watermark and answer, so nothing is
//! acknowledged or visible before it is durable. A failed write or sync poisons the
//! store: it refuses every later append until reopened and never retries the sync.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use counterfoil_core::{
    AppendOutcome, AppendUnit, Hash, RecordOutcome, StoreError, StoredRecord, UnitOutcome,
    chain::{Resolver, Verdict},
};
use hashbrown::HashTable;
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::canonical::{self, Prepared};
use crate::format::{
    FrameWriter, HEADER_LEN, MAX_STREAM_NAME, id_fingerprint, segment_file_name, segment_header,
};
use crate::index::Index;
use crate::read::{read_positions, segment_label};
use crate::vfs::{DIRECT_ALIGN, DirectStage, LockGuard, OpenMode, VfsFile};
use crate::{Durability, Shared, snapshot};

/// The writer stops gathering requests into a group past this many records.
const MAX_GROUP_RECORDS: usize = 1 << 16;

pub(crate) type AppendReply = oneshot::Sender<Reply>;

/// A chained batch's link ([`counterfoil_core::Chain`]).
pub(crate) type Link = (Option<Verdict>, Resolver);

/// The answer to an append request.
#[derive(Debug)]
pub(crate) struct Reply {
    pub result: Result<Vec<UnitOutcome>, StoreError>,
    /// The caller's records and their encoded parts, handed back so that the caller's
    /// thread, which allocated them, frees them instead of the writer.
    pub spent: Spent,
}

#[derive(Debug, Default)]
pub(crate) struct Spent {
    #[expect(dead_code, reason = "held only to be dropped by the caller")]
    units: Vec<AppendUnit>,
    /// The request's encoding buffer, for the caller to hand back for reuse.
    pub parts: Prepared,
    /// Batches that fell out of the in-memory tail.
    #[expect(dead_code, reason = "held only to be dropped by the caller")]
    tail: Vec<Arc<Vec<StoredRecord>>>,
}

pub(crate) enum Request {
    Append {
        units: Vec<AppendUnit>,
        /// The caller's parts of the records' canonical bytes.
        parts: Prepared,
        /// `append_batch`: after the first failed unit, the rest are not attempted.
        batch: bool,
        /// A chained batch: the verdict of the batch before it, and its own resolver.
        chain: Option<Link>,
        reply: AppendReply,
    },
    Close {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// The segment appends go to.
#[derive(Debug)]
pub(crate) struct Active {
    pub first: u64,
    pub file: Arc<dyn VfsFile>,
    /// Where its last frame ends.
    pub len: u64,
    /// How far the file goes: `len`, or further when zeros were written ahead.
    pub allocated: u64,
}

/// With strict durability, small groups are written into zeros the writer wrote
/// ahead of them, up to this much past the data. `fdatasync` after a write that
/// neither extends the file nor fills a hole has no inode to write back: on ext4 that
/// is one device round trip fewer per sync (about 0.3 ms down to 0.2 ms on the
/// reference machine). The padding costs one longer sync per megabyte.
const ZERO_AHEAD: u64 = 1 << 20;

/// A group larger than this is a bulk group (an import's). It just extends the file:
/// one inode write is little beside it, and zeroing ahead of it would write every
/// byte twice. And it is written past the page cache
/// ([`VfsFile::write_direct_at`]): copying it into the cache was a third of the
/// writer's time, and a log written that fast is not read back soon by the same
/// process. Small groups, which readers following the log may read right away, go
/// through the cache.
const BULK_GROUP: u64 = 128 << 10;

/// The zeros written ahead, a slice at a time.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    pub rx: mpsc::Receiver<Request>,
    pub active: Active,
    pub next_pos: u64,
    pub watermark: Option<watch::Sender<u64>>,
    pub lock: Option<LockGuard>,
    pub poisoned: Option<String>,
    pub since_snapshot: u64,
    pub unsynced: bool,
    pub snapshot_thread: Option<std::thread::JoinHandle<()>>,
    pub buf: Vec<u8>,
    pub scratch: Vec<u8>,
    pub group: Group,
    pub direct: DirectWrites,
    /// Reused for each request's index lookups.
    pub looked: Looked,
    /// Reused for each unit: whether another id holds each record's fingerprint.
    pub taken: Vec<bool>,
    /// Reused for each unit: the group's stream states it changed, to restore if it
    /// is refused.
    pub undo: Vec<(u32, GroupStream)>,
}

/// Where a unit's records and stream writes start among its request's.
#[derive(Clone, Copy)]
struct Start {
    record: usize,
    write: usize,
}

/// What writing past the page cache needs: such a write starts and ends on a
/// [`DIRECT_ALIGN`] boundary, so it rewrites the start of the block the data before it
/// ends in, and pads the end of its last block with zeros (the zeros the active
/// segment may have after its last frame, see `docs/format.md`).
#[derive(Debug, Default)]
pub(crate) struct DirectWrites {
    /// False once the file system refused a direct write: the page cache it is.
    pub off: bool,
    stage: DirectStage,
    /// The bytes of the active segment from the start of its last block to `len`,
    /// when `tail_of` is `(first, len)` of the active segment; read again otherwise.
    tail: Vec<u8>,
    tail_of: Option<(u64, u64)>,
}

/// The durable index's answers for one request, looked up before its units are
/// sealed: for each record (in order) its id's fingerprint and the position the id
/// table holds for it, and for each stream write (in order) the stream's entry.
/// Looked up in one tight loop, the lookups' cache misses overlap; between the
/// hashing and framing of each record they came one at a time.
#[derive(Default)]
pub(crate) struct Looked {
    fps: Vec<(u64, Option<u64>)>,
    streams: Vec<Option<u32>>,
}

impl Looked {
    /// The `k`-th record's fingerprint and the position the id table holds for it
    /// (looked up now if `fill` did not cover it).
    fn fp(&self, k: usize, idx: &Index, id: &Uuid) -> (u64, Option<u64>) {
        self.fps.get(k).copied().unwrap_or_else(|| {
            let fp = id_fingerprint(id);
            (fp, idx.find_fp(fp))
        })
    }

    /// The `w`-th stream write's stream in the index.
    fn stream(&self, w: usize, idx: &Index, name: &str) -> Option<u32> {
        self.streams
            .get(w)
            .copied()
            .unwrap_or_else(|| idx.find_stream(name))
    }

    fn fill(&mut self, idx: &Index, units: &[AppendUnit]) {
        self.fps.clear();
        self.streams.clear();
        let writes = units.iter().flatten();
        self.streams
            .extend(writes.clone().map(|w| idx.find_stream(&w.stream)));
        self.fps.extend(writes.flat_map(|w| &w.records).map(|r| {
            let fp = id_fingerprint(&r.id);
            (fp, idx.find_fp(fp))
        }));
    }
}

/// An append request waiting in the current group.
pub(crate) struct Pending {
    units: Vec<AppendUnit>,
    parts: Prepared,
    batch: bool,
    chain: Option<Link>,
    reply: AppendReply,
}

impl Pending {
    fn answer(self, result: Result<Vec<UnitOutcome>, StoreError>) {
        self.answer_dropping(result, Vec::new());
    }

    /// Answers, handing the caller `dropped` tail batches to free as well.
    fn answer_dropping(
        self,
        result: Result<Vec<UnitOutcome>, StoreError>,
        dropped: Vec<Arc<Vec<StoredRecord>>>,
    ) {
        let spent = Spent {
            units: self.units,
            parts: self.parts,
            tail: dropped,
        };
        let _ = self.reply.send(Reply { result, spent });
    }
}

/// The records a group wrote, moved out of the callers' units (which only go back to
/// be freed), as stored records in position order.
fn written_records(g: &Group, answers: &mut [(Vec<UnitOutcome>, Pending)]) -> Vec<StoredRecord> {
    let recorded_at = g.last_recorded.unwrap_or_default();
    let mut written = Vec::with_capacity(g.records.len());
    for (out, p) in answers.iter_mut() {
        for (unit, outcome) in p.units.iter_mut().zip(out.iter()) {
            let UnitOutcome::Appended(o) = outcome else {
                continue;
            };
            let mut outcomes = o.records.iter();
            for w in unit.iter_mut() {
                for record in std::mem::take(&mut w.records) {
                    let Some(oc) = outcomes.next() else {
                        break;
                    };
                    if oc.duplicate || oc.id != record.id {
                        continue;
                    }
                    written.push(StoredRecord::written(
                        record,
                        oc.stream.clone(),
                        oc.revision,
                        oc.position,
                        recorded_at,
                        oc.hash,
                    ));
                }
            }
        }
    }
    written
}

/// A failed write or sync, kept so each waiting caller gets its own copy.
#[derive(Debug, Clone)]
struct IoFailure {
    op: &'static str,
    path: String,
    kind: std::io::ErrorKind,
    message: String,
}

impl IoFailure {
    fn new(op: &'static str, path: String, e: &std::io::Error) -> Self {
        Self {
            op,
            path,
            kind: e.kind(),
            message: e.to_string(),
        }
    }
    fn error(&self) -> StoreError {
        StoreError::Io {
            op: self.op,
            path: self.path.clone(),
            source: std::io::Error::new(self.kind, self.message.clone()),
        }
    }
    fn cause(&self) -> String {
        format!("{} {}: {}", self.op, self.path, self.message)
    }
}

/// A record accepted in the current group.
struct GroupRecord {
    id: Uuid,
    fp: u64,
    /// Another id already has this fingerprint: the id goes to the overflow map.
    fp_taken: bool,
    slot: u32,
    hash: [u8; 32],
    canonical: (usize, usize),
}

/// A stream as the current group sees it: the index's state plus what the group added.
#[derive(Clone)]
pub(crate) struct GroupStream {
    /// Its name in the group's `names`.
    name: (usize, usize),
    idx: Option<u32>,
    count: u64,
    last: u64,
    hash: Hash,
}

struct GroupFrame {
    start: usize,
    end: usize,
    first_pos: u64,
    count: u64,
}

/// What the current group has accepted. Kept by the writer and cleared between groups,
/// so a group allocates nothing once the writer has warmed up.
#[derive(Default)]
pub(crate) struct Group {
    first_pos: u64,
    /// The `recorded_at` field of every record of the group, encoded: one clock
    /// reading per group.
    recorded: Vec<u8>,
    /// The latest `recorded_at` handed out: a clock that steps back never makes a
    /// later position older than an earlier one ("as of T" folds stop at the first
    /// record after T).
    last_recorded: Option<chrono::DateTime<chrono::Utc>>,
    records: Vec<GroupRecord>,
    frames: Vec<GroupFrame>,
    streams: Vec<GroupStream>,
    /// The names of `streams`, one after the other.
    names: String,
    slots: HashTable<u32>,
    hasher: RandomState,
    /// Records of this group by id fingerprint (index into `records`).
    ids: HashTable<u32>,
}

impl Group {
    /// A group whose clock starts no earlier than the log's last `recorded_at`.
    pub(crate) fn resuming(last_recorded: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        Self {
            last_recorded,
            ..Default::default()
        }
    }

    fn reset(&mut self, first_pos: u64, records: usize) -> Result<(), StoreError> {
        self.first_pos = first_pos;
        let now = chrono::Utc::now().max(self.last_recorded.unwrap_or_default());
        self.last_recorded = Some(now);
        canonical::recorded_at(&mut self.recorded, &now)?;
        self.records.clear();
        self.frames.clear();
        self.streams.clear();
        self.names.clear();
        self.slots.clear();
        self.ids.clear();
        self.records.reserve(records);
        self.ids.reserve(records, |_| 0);
        Ok(())
    }

    fn name(&self, slot: usize) -> &str {
        let (a, b) = self.streams[slot].name;
        self.names.get(a..b).unwrap_or("")
    }

    fn find_id(&self, fp: u64, id: &Uuid) -> Option<u32> {
        self.ids
            .find(fp, |&i| self.records[i as usize].id == *id)
            .copied()
    }

    fn has_fp(&self, fp: u64) -> bool {
        self.ids
            .find(fp, |&i| self.records[i as usize].fp == fp)
            .is_some()
    }

    fn remove_id(&mut self, fp: u64, index: u32) {
        if let Ok(e) = self.ids.find_entry(fp, |&i| i == index) {
            e.remove();
        }
    }

    fn next_pos(&self) -> u64 {
        self.first_pos + self.records.len() as u64
    }

    /// The group's slot for stream `name`, which the index holds as `found`.
    fn slot(&mut self, idx: &Index, name: &str, found: Option<u32>) -> u32 {
        let h = self.hasher.hash_one(name);
        if let Some(&s) = self.slots.find(h, |&s| self.name(s as usize) == name) {
            return s;
        }
        let s = self.streams.len() as u32;
        let start = self.names.len();
        self.names.push_str(name);
        let range = (start, self.names.len());
        let st = match found {
            Some(i) => {
                let e = idx.stream(i);
                GroupStream {
                    name: range,
                    idx: Some(i),
                    count: e.count,
                    last: e.last,
                    hash: Hash(e.hash),
                }
            }
            None => GroupStream {
                name: range,
                idx: None,
                count: 0,
                last: 0,
                hash: Hash::GENESIS,
            },
        };
        self.streams.push(st);
        let Group {
            slots,
            streams,
            names,
            hasher,
            ..
        } = self;
        slots.insert_unique(h, s, |&t| {
            let (a, b) = streams[t as usize].name;
            hasher.hash_one(names.get(a..b).unwrap_or(""))
        });
        s
    }
}

impl Writer {
    /// The thread's body: serve groups until closed or every handle is dropped.
    pub(crate) fn run(mut self) {
        loop {
            let Ok(first) = self.rx.recv() else {
                if let Err(e) = self.finish() {
                    tracing::error!("closing the log: {e}");
                }
                return;
            };
            let mut appends = Vec::new();
            let mut close = None;
            let mut records = 0usize;
            let mut next = Some(first);
            while let Some(req) = next.take() {
                match req {
                    Request::Append {
                        units,
                        parts,
                        batch,
                        chain,
                        reply,
                    } => {
                        records += units
                            .iter()
                            .flatten()
                            .map(|w| w.records.len())
                            .sum::<usize>();
                        appends.push(Pending {
                            units,
                            parts,
                            batch,
                            chain,
                            reply,
                        });
                    }
                    Request::Close { reply } => {
                        close = Some(reply);
                        break;
                    }
                }
                if records < MAX_GROUP_RECORDS {
                    next = self.rx.try_recv().ok();
                }
            }
            if !appends.is_empty() {
                self.group(appends);
            }
            if let Some(reply) = close {
                let result = self.finish();
                let _ = reply.send(result);
                return;
            }
        }
    }

    /// Syncs, writes the index snapshot and releases the folder lock.
    fn finish(&mut self) -> Result<(), StoreError> {
        self.watermark = None;
        if let Some(t) = self.snapshot_thread.take() {
            let _ = t.join();
        }
        // Nothing new since the last snapshot (say, a log opened only to read): the
        // one on disk is current.
        let result = if self.poisoned.is_some() {
            Ok(())
        } else if let Err(f) = self.trim_active() {
            self.poisoned = Some(f.cause());
            Err(f.error())
        } else if self.since_snapshot == 0 {
            self.sync_if_needed()
        } else {
            self.sync_if_needed()
                .and_then(|()| write_snapshot(&self.shared))
        };
        self.lock = None;
        result
    }

    fn sync_if_needed(&mut self) -> Result<(), StoreError> {
        if self.unsynced {
            if let Err(e) = self.active.file.sync_data() {
                let f = IoFailure::new("fdatasync", segment_label(self.active.first), &e);
                self.poisoned = Some(f.cause());
                return Err(f.error());
            }
            self.unsynced = false;
        }
        Ok(())
    }

    fn group(&mut self, appends: Vec<Pending>) {
        if let Some(cause) = &self.poisoned {
            for p in appends {
                let e = StoreError::Poisoned {
                    cause: cause.clone(),
                };
                p.answer(Err(e));
            }
            return;
        }
        let pending = appends
            .iter()
            .flat_map(|p| p.units.iter().flatten())
            .map(|w| w.records.len())
            .sum();
        let mut g = std::mem::take(&mut self.group);
        match g.reset(self.next_pos, pending) {
            Ok(()) => self.run_group(&mut g, appends),
            Err(e) => {
                for p in appends {
                    let e = StoreError::Encoding(e.to_string());
                    p.answer(Err(e));
                }
            }
        }
        self.group = g;
    }

    fn run_group(&mut self, g: &mut Group, appends: Vec<Pending>) {
        let shared = self.shared.clone();
        self.buf.clear();
        let mut answers = Vec::with_capacity(appends.len());
        {
            let idx = shared.index.read().unwrap_or_else(|e| e.into_inner());
            for mut p in appends {
                let mut out = Vec::with_capacity(p.units.len());
                // A chained batch goes only after the batch before it was sealed
                // whole (that one came earlier in this group or in one before).
                let chain = p.chain.take();
                let mut failed = chain
                    .as_ref()
                    .and_then(|(after, _)| after.as_ref())
                    .is_some_and(|after| after.get() != Some(true));
                let mut at = Start {
                    record: 0,
                    write: 0,
                };
                let mut looked = std::mem::take(&mut self.looked);
                looked.fill(&idx, &p.units);
                for unit in &p.units {
                    if failed {
                        out.push(UnitOutcome::NotAttempted);
                    } else {
                        match self.unit(g, &idx, unit, &p.parts, &looked, at) {
                            Ok(o) => out.push(UnitOutcome::Appended(o)),
                            Err(e) => {
                                failed = p.batch;
                                out.push(UnitOutcome::Failed(e));
                            }
                        }
                    }
                    at.record += unit.iter().map(|w| w.records.len()).sum::<usize>();
                    at.write += unit.len();
                }
                self.looked = looked;
                if let Some((_, own)) = chain {
                    // Sealed as it will be written; a failed write fails every
                    // batch of the group and poisons the log, so nothing after it
                    // is written either.
                    own.resolve_from(&out, p.units.len());
                }
                answers.push((out, p));
            }
        }
        if g.records.is_empty() {
            for (out, p) in answers {
                p.answer(Ok(out));
            }
            return;
        }
        match self.write(g) {
            Ok((placements, new_segments)) => {
                // Durable: the written records become the tail's newest batch before
                // the watermark moves past them.
                // Nobody to hand them to: the callers free the records.
                let written = (self.shared.followers.load(Ordering::Relaxed) > 0)
                    .then(|| written_records(g, &mut answers));
                let mut dropped = {
                    let mut tail = self.shared.tail.write().unwrap_or_else(|e| e.into_inner());
                    match written {
                        Some(records) => tail.push(records),
                        None => tail.clear(),
                    }
                };
                self.publish(g, &placements, &new_segments);
                for (out, p) in answers {
                    p.answer_dropping(Ok(out), std::mem::take(&mut dropped));
                }
                self.maybe_checkpoint(g.records.len() as u64);
            }
            Err(f) => {
                tracing::error!("{}; the log refuses writes until reopened", f.cause());
                self.poisoned = Some(f.cause());
                for (_, p) in answers {
                    p.answer(Err(f.error()));
                }
            }
        }
    }

    /// Checks and seals one unit into the group, or refuses it leaving the group as it
    /// was. `parts` holds the caller's encoded parts of the request's records; this
    /// unit's start at `first`.
    fn unit(
        &mut self,
        g: &mut Group,
        idx: &Index,
        unit: &AppendUnit,
        parts: &Prepared,
        looked: &Looked,
        at: Start,
    ) -> Result<AppendOutcome, StoreError> {
        let total: usize = unit.iter().map(|w| w.records.len()).sum();
        if total == 0 {
            return Err(StoreError::InvalidAppend(
                "an append needs at least one record".into(),
            ));
        }
        for w in unit {
            check_stream_name(&w.stream)?;
        }
        if total > 1 {
            let mut seen = std::collections::HashSet::with_capacity(total);
            for r in unit.iter().flat_map(|w| w.records.iter()) {
                if !seen.insert(r.id) {
                    return Err(StoreError::InvalidAppend(format!(
                        "record id {} appears twice in one append",
                        r.id
                    )));
                }
            }
        }
        // Idempotency first: a retried append answers what it got the first time, even
        // if the streams have moved on since.
        let mut duplicates = counterfoil_core::store::OutcomeRecords::new();
        let mut taken = std::mem::take(&mut self.taken);
        taken.clear();
        for w in unit {
            for r in &w.records {
                let found = looked.fp(at.record + taken.len(), idx, &r.id);
                let (stored, fp_taken) = self.existing(g, idx, &r.id, found)?;
                taken.push(fp_taken);
                if let Some(stored) = stored {
                    if stored.stream != w.stream || !r.same_content(&stored) {
                        return Err(StoreError::IdConflict {
                            id: r.id,
                            position: stored.position,
                        });
                    }
                    duplicates.push(RecordOutcome {
                        id: stored.id,
                        stream: stored.stream,
                        revision: stored.revision,
                        position: stored.position,
                        hash: stored.hash,
                        duplicate: true,
                    });
                }
            }
        }
        if duplicates.len() == total {
            return Ok(AppendOutcome {
                records: duplicates,
            });
        }
        if !duplicates.is_empty() {
            return Err(StoreError::PartialDuplicate {
                duplicates: duplicates.len(),
            });
        }
        let mark_buf = self.buf.len();
        let mark_records = g.records.len();
        let mut undo = std::mem::take(&mut self.undo);
        undo.clear();
        let result = self.seal_unit(g, idx, unit, parts, looked, at, &taken, &mut undo);
        if result.is_err() {
            self.buf.truncate(mark_buf);
            let dropped: Vec<(u64, u32)> = (mark_records..g.records.len())
                .map(|i| (g.records[i].fp, i as u32))
                .collect();
            for (fp, i) in dropped {
                g.remove_id(fp, i);
            }
            g.records.truncate(mark_records);
            for (slot, st) in undo.drain(..).rev() {
                g.streams[slot as usize] = st;
            }
        }
        self.taken = taken;
        self.undo = undo;
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn seal_unit(
        &mut self,
        g: &mut Group,
        idx: &Index,
        unit: &AppendUnit,
        parts: &Prepared,
        looked: &Looked,
        at: Start,
        taken: &[bool],
        undo: &mut Vec<(u32, GroupStream)>,
    ) -> Result<AppendOutcome, StoreError> {
        let total = taken.len();
        let first_pos = g.next_pos();
        let start = FrameWriter::begin(&mut self.buf, first_pos, total as u32);
        let mut records = counterfoil_core::store::OutcomeRecords::with_capacity(total);
        let mut k = at.record;
        for (i, w) in unit.iter().enumerate() {
            let found = looked.stream(at.write + i, idx, &w.stream);
            let slot = g.slot(idx, &w.stream, found);
            let st = &g.streams[slot as usize];
            w.expected.check(&w.stream, st.count.checked_sub(1))?;
            if w.records.is_empty() {
                continue;
            }
            undo.push((slot, st.clone()));
            for new in &w.records {
                let (middle, tail) = parts.parts(k).ok_or_else(|| {
                    StoreError::Encoding(format!("no encoded parts for record {}", new.id))
                })?;
                let fp_taken = taken.get(k - at.record).copied().unwrap_or(true);
                k += 1;
                let position = g.next_pos();
                let st = &mut g.streams[slot as usize];
                let revision = st.count;
                canonical::head(&mut self.scratch, position, &w.stream, revision);
                let previous = st.hash;
                let (range, hash) = FrameWriter::record_parts(
                    &mut self.buf,
                    [&self.scratch, middle, &g.recorded, tail],
                    |bytes| Hash::chain(&previous, bytes),
                )?;
                st.count += 1;
                st.last = position;
                st.hash = hash;
                let fp = id_fingerprint(&new.id);
                let fp_taken = fp_taken || g.has_fp(fp);
                let i = g.records.len() as u32;
                g.records.push(GroupRecord {
                    id: new.id,
                    fp,
                    fp_taken,
                    slot,
                    hash: hash.0,
                    canonical: range,
                });
                let Group {
                    ids, records: rs, ..
                } = &mut *g;
                ids.insert_unique(fp, i, |&j| rs[j as usize].fp);
                records.push(RecordOutcome {
                    id: new.id,
                    stream: w.stream.as_str().into(),
                    revision,
                    position,
                    hash,
                    duplicate: false,
                });
            }
        }
        FrameWriter::finish(&mut self.buf, start)?;
        g.frames.push(GroupFrame {
            start,
            end: self.buf.len(),
            first_pos,
            count: total as u64,
        });
        Ok(AppendOutcome { records })
    }

    /// The record already stored (or accepted earlier in this group) with this id,
    /// and whether the index already holds another id with its fingerprint.
    fn existing(
        &self,
        g: &Group,
        idx: &Index,
        id: &Uuid,
        (fp, found): (u64, Option<u64>),
    ) -> Result<(Option<StoredRecord>, bool), StoreError> {
        if let Some(i) = g.find_id(fp, id) {
            let r = &g.records[i as usize];
            let bytes = &self.buf[r.canonical.0..r.canonical.1];
            return Ok((
                Some(StoredRecord::decode_canonical(bytes, Hash(r.hash))?),
                true,
            ));
        }
        let Some(p) = found else {
            return Ok((None, false));
        };
        for p in [Some(p), idx.overflow(id)].into_iter().flatten() {
            if let Some(rec) = read_positions(&self.shared.files, idx, &[p])?.pop()
                && rec.id == *id
            {
                return Ok((Some(rec), true));
            }
        }
        Ok((None, true))
    }

    /// Writes the group's frames, rolling segments as needed, and syncs. Returns where
    /// each frame went (segment, offset) and the segments created.
    #[allow(clippy::type_complexity)]
    fn write(&mut self, g: &Group) -> Result<(Vec<(u64, u32)>, Vec<(u64, u64)>), IoFailure> {
        let limit = self.shared.segment_bytes;
        let mut placements = Vec::with_capacity(g.frames.len());
        let mut touched = vec![(self.active.first, 0u64)];
        let mut run: Option<(usize, u64)> = None;
        for f in &g.frames {
            let flen = (f.end - f.start) as u64;
            if self.active.len > HEADER_LEN && self.active.len + flen > limit {
                if let Some((start, off)) = run.take() {
                    self.write_run(start, f.start, off)?;
                }
                if let Some(last) = touched.last_mut() {
                    last.1 = self.active.len;
                }
                self.roll(f.first_pos)?;
                touched.push((self.active.first, 0));
            }
            if run.is_none() {
                run = Some((f.start, self.active.len));
            }
            placements.push((self.active.first, self.active.len as u32));
            self.active.len += flen;
        }
        if let Some((start, off)) = run {
            self.write_run(start, self.buf.len(), off)?;
        }
        if self.shared.durability == Durability::Strict {
            self.zero_ahead(self.buf.len() as u64)?;
            self.sync_active()?;
        } else {
            self.unsynced = true;
        }
        if let Some(last) = touched.last_mut() {
            last.1 = self.active.len;
        }
        Ok((placements, touched))
    }

    fn write_run(&mut self, start: usize, end: usize, offset: u64) -> Result<(), IoFailure> {
        if !self.direct.off
            && self.buf.len() as u64 > BULK_GROUP
            && self.write_run_direct(start, end, offset)?
        {
            return Ok(());
        }
        self.active
            .file
            .write_all_at(&self.buf[start..end], offset)
            .map_err(|e| IoFailure::new("write", segment_label(self.active.first), &e))
    }

    /// [`Writer::write_run`] past the page cache, from `offset`, the active segment's
    /// `len`. Returns false, having written nothing, when the file has no direct
    /// writes.
    fn write_run_direct(
        &mut self,
        start: usize,
        end: usize,
        offset: u64,
    ) -> Result<bool, IoFailure> {
        const A: u64 = DIRECT_ALIGN as u64;
        let a = &mut self.active;
        let DirectWrites {
            off,
            stage,
            tail,
            tail_of,
        } = &mut self.direct;
        let fail = |op, e: &std::io::Error| IoFailure::new(op, segment_label(a.first), e);
        let block = offset - offset % A;
        let head = (offset - block) as usize;
        if *tail_of != Some((a.first, offset)) || tail.len() != head {
            tail.clear();
            tail.resize(head, 0);
            a.file
                .read_exact_at(tail, block)
                .map_err(|e| fail("read", &e))?;
        }
        let data = &self.buf[start..end];
        let Some(written) = stage
            .write(&*a.file, block, tail, data)
            .map_err(|e| fail("write", &e))?
        else {
            *off = true;
            return Ok(false);
        };
        let len = head + data.len();
        let last = len - len % DIRECT_ALIGN;
        let padded = written.len() as u64;
        let new_tail = &written[last..len];
        tail.clear();
        tail.extend_from_slice(new_tail);
        *tail_of = Some((a.first, offset + data.len() as u64));
        a.allocated = a.allocated.max(block + padded);
        Ok(true)
    }

    /// Keeps zeros written ahead of the data (see [`ZERO_AHEAD`]), within the
    /// segment's size limit, after a group of `group_bytes`.
    fn zero_ahead(&mut self, group_bytes: u64) -> Result<(), IoFailure> {
        let limit = self.shared.segment_bytes;
        let a = &mut self.active;
        a.allocated = a.allocated.max(a.len);
        if group_bytes > BULK_GROUP || a.allocated >= a.len + ZERO_AHEAD / 2 {
            return Ok(());
        }
        let target = a.len.saturating_add(ZERO_AHEAD).min(limit);
        while a.allocated < target {
            let n = (target - a.allocated).min(ZEROS.len() as u64) as usize;
            a.file
                .write_all_at(&ZEROS[..n], a.allocated)
                .map_err(|e| IoFailure::new("write", segment_label(a.first), &e))?;
            a.allocated += n as u64;
        }
        Ok(())
    }

    /// Cuts the zeros written ahead off the active segment, so that it ends with its
    /// last frame (a closed segment, or a log closed cleanly). Not synced here.
    fn trim_active(&mut self) -> Result<(), IoFailure> {
        let a = &mut self.active;
        if a.allocated > a.len {
            a.file
                .set_len(a.len)
                .map_err(|e| IoFailure::new("truncate", segment_label(a.first), &e))?;
            a.allocated = a.len;
            self.unsynced = true;
        }
        Ok(())
    }

    fn sync_active(&mut self) -> Result<(), IoFailure> {
        self.active
            .file
            .sync_data()
            .map_err(|e| IoFailure::new("fdatasync", segment_label(self.active.first), &e))?;
        self.unsynced = false;
        Ok(())
    }

    /// Closes the active segment (synced, whatever the durability) and starts a new
    /// one whose first record will be `first`.
    fn roll(&mut self, first: u64) -> Result<(), IoFailure> {
        self.trim_active()?;
        self.sync_active()?;
        let dir = self.shared.dir.join("segments");
        let path = dir.join(segment_file_name(first));
        let label = segment_label(first);
        let file = self
            .shared
            .vfs
            .open(&path, OpenMode::CreateNew)
            .map_err(|e| IoFailure::new("create", label.clone(), &e))?;
        file.write_all_at(&segment_header(), 0)
            .map_err(|e| IoFailure::new("write", label.clone(), &e))?;
        self.shared
            .vfs
            .sync_dir(&dir)
            .map_err(|e| IoFailure::new("fsync", dir.display().to_string(), &e))?;
        self.active = Active {
            first,
            file,
            len: HEADER_LEN,
            allocated: HEADER_LEN,
        };
        Ok(())
    }

    /// Makes the group's records visible: index, then watermark.
    fn publish(&mut self, g: &Group, placements: &[(u64, u32)], segments: &[(u64, u64)]) {
        let shared = self.shared.clone();
        let mut idx = shared.index.write().unwrap_or_else(|e| e.into_inner());
        let mut stream_idx: Vec<Option<u32>> = g.streams.iter().map(|s| s.idx).collect();
        for &(first, len) in segments {
            match idx.segments.iter_mut().rev().find(|s| s.first == first) {
                Some(s) => s.len = len,
                None => idx.segments.push(crate::index::SegmentMeta { first, len }),
            }
        }
        // Touch first, in one tight loop, what indexing each record writes to (its
        // stream's entry, its place in the id table): the cache misses overlap
        // instead of coming one per record below.
        for r in &g.records {
            if let Some(s) = stream_idx[r.slot as usize] {
                std::hint::black_box(idx.stream(s).count);
            }
            std::hint::black_box(idx.find_fp(r.fp));
        }
        let mut records = g.records.iter();
        for (f, &(_, off)) in g.frames.iter().zip(placements) {
            for r in records.by_ref().take(f.count as usize) {
                let slot = r.slot as usize;
                let s = match stream_idx[slot] {
                    Some(s) => s,
                    None => {
                        let s = idx.add_stream(g.name(slot));
                        stream_idx[slot] = Some(s);
                        s
                    }
                };
                idx.push_record(&r.id, r.fp, s, off, r.hash, Some(r.fp_taken));
            }
        }
        let end = idx.end();
        drop(idx);
        self.next_pos = end;
        if let Some(w) = &self.watermark {
            w.send_replace(end);
        }
    }

    fn maybe_checkpoint(&mut self, added: u64) {
        self.since_snapshot += added;
        // A snapshot rewrites the whole index, so on a large log wait for it to grow by
        // a quarter: snapshot writes then stay a fraction of log writes.
        let due = self.shared.checkpoint_records.max(self.next_pos / 4);
        if self.since_snapshot < due || self.shared.snapshot_busy.load(Ordering::SeqCst) {
            return;
        }
        if self.shared.durability == Durability::Relaxed
            && let Err(e) = self.sync_if_needed()
        {
            tracing::error!("{e}; the log refuses writes until reopened");
            return;
        }
        if let Some(t) = self.snapshot_thread.take() {
            let _ = t.join();
        }
        self.since_snapshot = 0;
        self.shared.snapshot_busy.store(true, Ordering::SeqCst);
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("counterfoil-log-snapshot".into())
            .spawn(move || {
                if let Err(e) = write_snapshot(&shared) {
                    tracing::warn!("index snapshot not written: {e}");
                }
                shared.snapshot_busy.store(false, Ordering::SeqCst);
            });
        match spawned {
            Ok(t) => self.snapshot_thread = Some(t),
            Err(e) => {
                tracing::warn!("index snapshot thread not started: {e}");
                self.shared.snapshot_busy.store(false, Ordering::SeqCst);
            }
        }
    }
}

/// Encodes the index into a new `index.snap` (see [`snapshot::write_live`]).
pub(crate) fn write_snapshot(shared: &Shared) -> Result<(), StoreError> {
    snapshot::write_live(&*shared.vfs, &shared.dir, &shared.index)
}

fn check_stream_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::InvalidAppend("the stream name is empty".into()));
    }
    if name.len() > MAX_STREAM_NAME {
        return Err(StoreError::InvalidAppend(format!(
            "the stream name is {} bytes; at most {MAX_STREAM_NAME}",
            name.len()
        )));
    }
    if counterfoil_core::values::has_control_chars(name) {
        return Err(StoreError::InvalidAppend(format!(
            "the stream name {name:?} contains control characters"
        )));
    }
    Ok(())
}

/// Path of a segment file.
pub(crate) fn segment_path(dir: &Path, first: u64) -> std::path::PathBuf {
    dir.join("segments").join(segment_file_name(first))
}
