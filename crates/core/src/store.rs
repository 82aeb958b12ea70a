//! The storage trait (SPEC §2) that every backend implements, and the shapes of its
//! requests and answers. The embedded log (`counterfoil-log`) is the default backend.
//!
//! Guarantees every implementation gives, checked by the shared conformance suite:
//! - an append unit (one or several streams) is all-or-nothing;
//! - expected revisions are checked against the stream as it is at write time;
//! - a record id already stored with the same content is a no-op that answers the
//!   original position; the same id with other content is [`StoreError::IdConflict`];
//!   this holds for records of any age and after a restart;
//! - readers and subscribers never see position `p + 1` before every position up to
//!   `p` is durable.

use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Stream;

use crate::chain::Chain;
use crate::error::StoreError;
use crate::record::{Hash, NewRecord, StoredRecord};

/// A record's place in the whole log. Strictly increasing; the embedded log makes it
/// dense from 0, other backends need not.
pub type Position = u64;

/// What the caller believes about a stream before appending to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectedRevision {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must exist.
    StreamExists,
    /// The stream's last record must have exactly this revision.
    Exact(u64),
}

impl ExpectedRevision {
    /// Checks the expectation against a stream's current last revision.
    pub fn check(self, stream: &str, current: Option<u64>) -> Result<(), StoreError> {
        let ok = match (self, current) {
            (ExpectedRevision::Any, _) => true,
            (ExpectedRevision::NoStream, None) => true,
            (ExpectedRevision::StreamExists, Some(_)) => true,
            (ExpectedRevision::Exact(e), Some(c)) => e == c,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(StoreError::WrongExpectedRevision {
                stream: stream.to_string(),
                expected: self.to_string(),
                actual: match current {
                    Some(c) => format!("revision {c}"),
                    None => "no stream".into(),
                },
            })
        }
    }

    /// The expectation that matches a stream whose last revision is `current`.
    pub fn from_current(current: Option<u64>) -> Self {
        match current {
            Some(r) => ExpectedRevision::Exact(r),
            None => ExpectedRevision::NoStream,
        }
    }
}

impl fmt::Display for ExpectedRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedRevision::Any => f.write_str("any"),
            ExpectedRevision::NoStream => f.write_str("no stream"),
            ExpectedRevision::StreamExists => f.write_str("stream exists"),
            ExpectedRevision::Exact(r) => write!(f, "revision {r}"),
        }
    }
}

/// Records for one stream, with the expectation about that stream.
#[derive(Debug, Clone)]
pub struct StreamWrite {
    pub stream: String,
    pub expected: ExpectedRevision,
    pub records: Vec<NewRecord>,
}

/// One atomic append: one or several streams, all written or none.
pub type AppendUnit = Vec<StreamWrite>;

/// Where one record of an append ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOutcome {
    pub id: uuid::Uuid,
    /// Held inline up to 24 bytes, as the demo's stream names are: the store answers
    /// every record of an import with one, on the writer's thread.
    pub stream: crate::Text,
    pub revision: u64,
    pub position: Position,
    pub hash: Hash,
    /// True when the record was already stored (idempotent re-append): nothing new was
    /// written and `position` is the original one.
    pub duplicate: bool,
}

/// The answer to one atomic append: an outcome per record, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppendOutcome {
    /// Inline for the usual append of one record (an import answers one unit per
    /// line): no allocation on the writer's thread, and none freed on another.
    pub records: OutcomeRecords,
}

/// The outcomes of one append's records, in request order.
pub type OutcomeRecords = smallvec::SmallVec<[RecordOutcome; 1]>;

impl AppendOutcome {
    /// True when every record was already stored.
    pub fn all_duplicates(&self) -> bool {
        !self.records.is_empty() && self.records.iter().all(|r| r.duplicate)
    }
}

/// The answer to one unit of [`Store::append_batch`].
#[derive(Debug)]
pub enum UnitOutcome {
    Appended(AppendOutcome),
    Failed(StoreError),
    /// An earlier unit of the batch failed, so this one was not tried.
    NotAttempted,
}

impl UnitOutcome {
    /// The answers to `units` units none of which was tried.
    pub fn none_attempted(units: usize) -> Vec<UnitOutcome> {
        (0..units).map(|_| UnitOutcome::NotAttempted).collect()
    }

    /// True when a batch of `units` units was written whole: one outcome per unit,
    /// each appended, with no record a duplicate (see [`Store::append_batch_chained`]).
    pub fn written_whole(outcomes: &[UnitOutcome], units: usize) -> bool {
        outcomes.len() == units
            && outcomes.iter().all(|o| match o {
                UnitOutcome::Appended(a) => a.records.iter().all(|r| !r.duplicate),
                UnitOutcome::Failed(_) | UnitOutcome::NotAttempted => false,
            })
    }
}

/// Records from a position on: first the stored ones (catch-up), then new ones as they
/// become durable. Ends only with an error or when the store closes.
pub type Subscription = Pin<Box<dyn Stream<Item = Result<StoredRecord, StoreError>> + Send>>;

/// Like [`Subscription`], but in batches that several followers may share without
/// copying (see [`Store::subscribe_batches`]).
pub type BatchSubscription = Pin<Box<dyn Stream<Item = Result<RecordBatch, StoreError>> + Send>>;

/// Consecutive records, in position order, possibly a window of a larger shared
/// vector: cloning a batch clones a pointer, not the records.
#[derive(Debug, Clone)]
pub struct RecordBatch {
    records: Arc<Vec<StoredRecord>>,
    range: Range<usize>,
}

impl RecordBatch {
    /// A batch owning `records`.
    pub fn new(records: Vec<StoredRecord>) -> Self {
        let range = 0..records.len();
        Self {
            records: Arc::new(records),
            range,
        }
    }

    /// The window `range` of a shared vector; `None` when the window does not fit.
    pub fn window(records: Arc<Vec<StoredRecord>>, range: Range<usize>) -> Option<Self> {
        (range.start <= range.end && range.end <= records.len()).then_some(Self { records, range })
    }

    /// The records, in position order.
    pub fn records(&self) -> &[StoredRecord] {
        self.records.get(self.range.clone()).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.range.len()
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
}

/// Records per batch when [`Store::subscribe_batches`] groups a plain subscription.
const DEFAULT_BATCH: usize = 1024;

/// The storage trait every backend implements.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Appends to one stream.
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        records: Vec<NewRecord>,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_multi(vec![StreamWrite {
            stream: stream.to_string(),
            expected,
            records,
        }])
        .await
    }

    /// Appends to several streams atomically: every expectation holds and every record
    /// is written, or nothing is.
    async fn append_multi(&self, unit: AppendUnit) -> Result<AppendOutcome, StoreError>;

    /// Appends several independent atomic units in order, sharing durability work
    /// (one write and one sync for all where the backend can). After the first unit
    /// that fails, the rest are [`UnitOutcome::NotAttempted`], so a caller that decided
    /// later units assuming earlier ones can retry them in order.
    async fn append_batch(&self, units: Vec<AppendUnit>) -> Result<Vec<UnitOutcome>, StoreError> {
        let mut out = Vec::with_capacity(units.len());
        let mut failed = false;
        for unit in units {
            if failed {
                out.push(UnitOutcome::NotAttempted);
                continue;
            }
            match self.append_multi(unit).await {
                Ok(o) => out.push(UnitOutcome::Appended(o)),
                Err(
                    e @ (StoreError::Poisoned { .. } | StoreError::Closed | StoreError::Io { .. }),
                ) => {
                    return Err(e);
                }
                Err(e) => {
                    failed = true;
                    out.push(UnitOutcome::Failed(e));
                }
            }
        }
        Ok(out)
    }

    /// [`Store::append_batch`] for a batch chained after another ([`Chain`]): it is
    /// written after the batch before it, and only if that one was written whole
    /// (every unit appended, no record a duplicate). Otherwise nothing of it is written
    /// and every unit is [`UnitOutcome::NotAttempted`]. Either way this batch's own
    /// verdict is given, for the batch chained after it.
    ///
    /// This default waits for the verdict of the batch before before it starts; a
    /// store may instead queue the batch right behind the one before and check the
    /// link when it writes (the embedded log does, so both share a sync).
    async fn append_batch_chained(
        &self,
        units: Vec<AppendUnit>,
        chain: Chain,
    ) -> Result<Vec<UnitOutcome>, StoreError> {
        chain
            .write_after(units.len(), || self.append_batch(units))
            .await
    }

    /// Reads up to `max` records of a stream from `from_revision` on, in revision order.
    /// A stream that does not exist reads as empty.
    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<StoredRecord>, StoreError>;

    /// The last revision of a stream, `None` when it does not exist.
    async fn stream_revision(&self, stream: &str) -> Result<Option<u64>, StoreError>;

    /// Reads up to `max` durable records of the whole log at or after `from`, in
    /// position order.
    async fn read_all(&self, from: Position, max: usize) -> Result<Vec<StoredRecord>, StoreError>;

    /// [`Store::read_all`] into `buf`, emptied first: a reader going through the log
    /// chunk by chunk hands the same vectors round instead of filling fresh memory
    /// (a page fault per 4 KiB) for every chunk. The default reads with `read_all` and
    /// lets `buf` go.
    async fn read_all_into(
        &self,
        from: Position,
        max: usize,
        buf: Vec<StoredRecord>,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        drop(buf);
        self.read_all(from, max).await
    }

    /// The stored record with this id, if any.
    async fn find_by_id(&self, id: uuid::Uuid) -> Result<Option<StoredRecord>, StoreError>;

    /// The stored records among `ids` (in any order; ids not stored are left out).
    /// Backends answer a whole batch under one index lookup; the default asks
    /// [`Store::find_by_id`] once per id.
    async fn find_ids(&self, ids: &[uuid::Uuid]) -> Result<Vec<StoredRecord>, StoreError> {
        let mut found = Vec::new();
        for &id in ids {
            if let Some(r) = self.find_by_id(id).await? {
                found.push(r);
            }
        }
        Ok(found)
    }

    /// The position the next record will get: every durable record is below it.
    async fn end_position(&self) -> Result<Position, StoreError>;

    /// Catch-up from `from`, then live, without gaps or duplicates.
    async fn subscribe(&self, from: Position) -> Result<Subscription, StoreError>;

    /// [`Store::subscribe`] in batches: the same records in the same order, each
    /// batch's records consecutive, an error last. A backend that keeps its latest
    /// records in memory hands the same batch to every follower instead of reading and
    /// decoding them once per follower; the default groups [`Store::subscribe`].
    async fn subscribe_batches(&self, from: Position) -> Result<BatchSubscription, StoreError> {
        use futures::StreamExt;
        let batches = self
            .subscribe(from)
            .await?
            .ready_chunks(DEFAULT_BATCH)
            .flat_map(|chunk| {
                let mut out = Vec::with_capacity(2);
                let mut records = Vec::with_capacity(chunk.len());
                for item in chunk {
                    match item {
                        Ok(r) => records.push(r),
                        Err(e) => {
                            if !records.is_empty() {
                                out.push(Ok(RecordBatch::new(std::mem::take(&mut records))));
                            }
                            out.push(Err(e));
                            return futures::stream::iter(out);
                        }
                    }
                }
                if !records.is_empty() {
                    out.push(Ok(RecordBatch::new(records)));
                }
                futures::stream::iter(out)
            });
        Ok(Box::pin(batches))
    }

    /// True when [`Store::append_multi`] writes a unit spanning several streams
    /// atomically. A backend that cannot (KurrentDB) answers `false` and refuses such a
    /// unit with [`StoreError::Unsupported`] instead of writing part of it.
    fn atomic_multi_stream(&self) -> bool {
        true
    }

    /// True when positions are dense (every position from 0 to the end holds a
    /// record), so a reader can start the chunk after next before the next one
    /// arrives. Backends with gaps (KurrentDB commit positions) answer `false`.
    fn dense_positions(&self) -> bool {
        false
    }

    /// A hint that about `records` more records are coming (a bulk import): a backend
    /// with in-memory indexes sizes them now, instead of growing them (and moving what
    /// they hold) several times while the records arrive. Nothing else changes; the
    /// default ignores it.
    fn reserve(&self, records: u64) {
        let _ = records;
    }
}
