//! [`Store`] for [`Log`]: appends go to the writer thread and wait for its answer;
//! reads consult the index (which holds only durable records) and read frames
//! directly; subscriptions follow the durable watermark.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use counterfoil_core::{
    AppendOutcome, AppendUnit, BatchSubscription, Chain, Position, RecordBatch, Store, StoreError,
    StoredRecord, Subscription, UnitOutcome,
};
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::canonical;
use crate::format::id_fingerprint;
use crate::read::{plan_positions, plan_range, read_positions};
use crate::writer::Request;
use crate::{Log, Shared};

/// Records a subscription reads at a time while catching up.
const CATCH_UP_CHUNK: usize = 1024;
/// A subscription this close to the durable end reads on its own task instead of the
/// blocking pool.
const FOLLOW_INLINE: u64 = 128;
/// Appends of more records than this are encoded on a blocking thread.
const PREPARE_INLINE: usize = 256;

impl Shared {
    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::SeqCst) {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, crate::index::Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Durable records `from..from + max`.
    pub(crate) fn read_range(
        &self,
        from: u64,
        max: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.read_range_into(from, max, Vec::new())
    }

    /// [`Shared::read_range`] into `out`, emptied first.
    fn read_range_into(
        &self,
        from: u64,
        max: usize,
        mut out: Vec<StoredRecord>,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.check_open()?;
        out.clear();
        let to = from.saturating_add(max as u64);
        let plan = plan_range(&self.index(), from, to);
        out.reserve(max.min(1 << 16));
        self.files
            .read_frames(&plan, |p| p >= from && p < to, &mut out)?;
        Ok(out)
    }

    /// [`Shared::read_range_into`] on the blocking pool.
    async fn read_range_blocking(
        self: &Arc<Self>,
        from: u64,
        max: usize,
        out: Vec<StoredRecord>,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || shared.read_range_into(from, max, out))
            .await
            .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }

    /// The next records from `from` for a subscription that saw the durable end at
    /// `end`. Near the end they are a few records just written, still in the page
    /// cache: reading them on the caller's task costs less than a hop to the blocking
    /// pool and back. An empty answer below `end` means the index lost a record.
    async fn follow_read(
        self: &Arc<Self>,
        from: u64,
        end: u64,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let records = if end - from <= FOLLOW_INLINE {
            self.read_range(from, CATCH_UP_CHUNK)?
        } else {
            self.read_range_blocking(from, CATCH_UP_CHUNK, Vec::new())
                .await?
        };
        if records.first().map(|r| r.position) != Some(from) {
            return Err(StoreError::Corrupt {
                segment: String::from("(index)"),
                offset: 0,
                position: Some(from),
                reason: "the index has no record at a durable position".into(),
            });
        }
        Ok(records)
    }
}

impl Log {
    async fn submit(
        &self,
        units: Vec<AppendUnit>,
        batch: bool,
    ) -> Result<Vec<UnitOutcome>, StoreError> {
        self.submit_chained(units, batch, None).await
    }

    /// Encodes `units` and hands them to the writer. A chained batch waits until the
    /// batch before it reached the writer (so the writer sees them in chain order) and
    /// is not sent at all when that one is already known not written whole; the
    /// writer checks the link again when it gets to it.
    async fn submit_chained(
        &self,
        units: Vec<AppendUnit>,
        batch: bool,
        chain: Option<Chain>,
    ) -> Result<Vec<UnitOutcome>, StoreError> {
        self.check_open()?;
        // The costly part of each record's canonical bytes is encoded here, on the
        // caller's side, rather than on the writer thread that every append shares;
        // off the async worker when there is much of it.
        let records: usize = units.iter().flatten().map(|w| w.records.len()).sum();
        let shared = &self.inner.shared;
        let (units, parts) = if records > PREPARE_INLINE {
            let encoding = shared.clone();
            tokio::task::spawn_blocking(move || {
                let parts = canonical::prepare(&units, &encoding.buffers);
                (units, parts)
            })
            .await
            .map_err(|e| StoreError::Backend(format!("encoding task failed: {e}")))?
        } else {
            let parts = canonical::prepare(&units, &shared.buffers);
            (units, parts)
        };
        let parts = parts?;
        let (chain, marker) = match chain {
            None => (None, None),
            Some(chain) => {
                let (after, own) = chain.into_parts();
                if let Some(after) = &after {
                    after.handed_over().await;
                    if after.get() == Some(false) {
                        shared.buffers.give(parts);
                        return Ok(UnitOutcome::none_attempted(units.len()));
                    }
                }
                let marker = own.hand_over_marker();
                (Some((after, own)), Some(marker))
            }
        };
        // The store may have closed while the batch waited.
        self.check_open()?;
        let (reply, rx) = oneshot::channel();
        self.send(Request::Append {
            units,
            parts,
            batch,
            chain,
            reply,
        })?;
        if let Some(marker) = marker {
            marker.mark();
        }
        let reply = rx.await.map_err(|_| StoreError::Closed)?;
        // The rest of what the writer handed back is dropped here, off its thread.
        shared.buffers.give(reply.spent.parts);
        reply.result
    }
}

#[async_trait]
impl Store for Log {
    async fn append_multi(&self, unit: AppendUnit) -> Result<AppendOutcome, StoreError> {
        match self.submit(vec![unit], false).await?.pop() {
            Some(UnitOutcome::Appended(o)) => Ok(o),
            Some(UnitOutcome::Failed(e)) => Err(e),
            Some(UnitOutcome::NotAttempted) | None => Err(StoreError::Closed),
        }
    }

    async fn append_batch(&self, units: Vec<AppendUnit>) -> Result<Vec<UnitOutcome>, StoreError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        self.submit(units, true).await
    }

    async fn append_batch_chained(
        &self,
        units: Vec<AppendUnit>,
        chain: Chain,
    ) -> Result<Vec<UnitOutcome>, StoreError> {
        // Even an empty batch goes through the writer: its verdict is that of the
        // batch before it.
        self.submit_chained(units, true, Some(chain)).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let shared = &self.inner.shared;
        shared.check_open()?;
        let (plan, positions) = {
            let idx = shared.index();
            let Some(s) = idx.find_stream(stream) else {
                return Ok(Vec::new());
            };
            let positions = idx.stream_positions(s, from_revision, max);
            (plan_positions(&idx, &positions), positions)
        };
        let mut out = Vec::with_capacity(positions.len());
        shared
            .files
            .read_frames(&plan, |p| positions.binary_search(&p).is_ok(), &mut out)?;
        for (i, r) in out.iter().enumerate() {
            if r.stream != stream || r.revision != from_revision + i as u64 {
                return Err(StoreError::Corrupt {
                    segment: String::from("(index)"),
                    offset: 0,
                    position: Some(r.position),
                    reason: format!(
                        "the stream index says {stream} revision {}, the record is {} revision {}",
                        from_revision + i as u64,
                        r.stream,
                        r.revision
                    ),
                });
            }
        }
        Ok(out)
    }

    async fn stream_revision(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let shared = &self.inner.shared;
        shared.check_open()?;
        let idx = shared.index();
        Ok(idx
            .find_stream(stream)
            .and_then(|s| idx.stream(s).count.checked_sub(1)))
    }

    fn dense_positions(&self) -> bool {
        true
    }

    /// Sizes the in-memory indexes for `records` more records and half as many new
    /// streams (a ticket's stream holds several records: the demo workload has about
    /// a third). A log that already has the room is left as it is.
    fn reserve(&self, records: u64) {
        let records = usize::try_from(records).unwrap_or(usize::MAX);
        let mut idx = self
            .inner
            .shared
            .index
            .write()
            .unwrap_or_else(|e| e.into_inner());
        idx.reserve(records, records / 2);
    }

    async fn read_all(&self, from: Position, max: usize) -> Result<Vec<StoredRecord>, StoreError> {
        self.read_all_into(from, max, Vec::new()).await
    }

    async fn read_all_into(
        &self,
        from: Position,
        max: usize,
        buf: Vec<StoredRecord>,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.inner.shared.read_range_blocking(from, max, buf).await
    }

    async fn find_by_id(&self, id: Uuid) -> Result<Option<StoredRecord>, StoreError> {
        let shared = &self.inner.shared;
        shared.check_open()?;
        let idx = shared.index();
        let Some(p) = idx.find_fp(id_fingerprint(&id)) else {
            return Ok(None);
        };
        for p in [Some(p), idx.overflow(&id)].into_iter().flatten() {
            if let Some(rec) = read_positions(&shared.files, &idx, &[p])?.pop()
                && rec.id == id
            {
                return Ok(Some(rec));
            }
        }
        Ok(None)
    }

    /// One index lookup for the whole batch, then one ordered read of the candidate
    /// positions (a re-import finds every id stored, so this read is the hot path).
    async fn find_ids(&self, ids: &[Uuid]) -> Result<Vec<StoredRecord>, StoreError> {
        let shared = &self.inner.shared;
        shared.check_open()?;
        let idx = shared.index();
        let mut positions = Vec::new();
        for id in ids {
            if let Some(p) = idx.find_fp(id_fingerprint(id)) {
                positions.push(p);
                positions.extend(idx.overflow(id));
            }
        }
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        positions.sort_unstable();
        positions.dedup();
        let wanted: std::collections::HashSet<&Uuid> = ids.iter().collect();
        // A fingerprint can match another id's record: keep only the ids asked for.
        let mut found = read_positions(&shared.files, &idx, &positions)?;
        found.retain(|r| wanted.contains(&r.id));
        Ok(found)
    }

    async fn end_position(&self) -> Result<Position, StoreError> {
        let shared = &self.inner.shared;
        shared.check_open()?;
        Ok(shared.index().end())
    }

    /// Followers at the end of the log share the writer's own batches (see
    /// [`crate::tail`]); behind it they read the files as [`Store::subscribe`] does.
    async fn subscribe_batches(&self, from: Position) -> Result<BatchSubscription, StoreError> {
        self.check_open()?;
        let shared = self.inner.shared.clone();
        shared.followers.fetch_add(1, Ordering::Relaxed);
        let state = FollowBatches {
            shared,
            watermark: self.inner.watermark.clone(),
            next: from,
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(
            state,
            FollowBatches::next,
        )))
    }

    async fn subscribe(&self, from: Position) -> Result<Subscription, StoreError> {
        self.check_open()?;
        let state = Follow {
            shared: self.inner.shared.clone(),
            watermark: self.inner.watermark.clone(),
            next: from,
            buf: VecDeque::new(),
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(state, Follow::next)))
    }
}

/// A batch subscription's state: the next position to hand out. Counted in
/// `Shared::followers` while it exists, so the writer keeps the tail for it.
struct FollowBatches {
    shared: Arc<Shared>,
    watermark: watch::Receiver<u64>,
    next: u64,
    done: bool,
}

impl Drop for FollowBatches {
    fn drop(&mut self) {
        self.shared.followers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl FollowBatches {
    async fn next(mut self) -> Option<(Result<RecordBatch, StoreError>, Self)> {
        loop {
            if self.done {
                return None;
            }
            let end = *self.watermark.borrow_and_update();
            if self.next < end {
                let from = self.next;
                let held = self
                    .shared
                    .tail
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .batch(from, end);
                let read = match held {
                    Some(batch) => Ok(batch),
                    None => self
                        .shared
                        .follow_read(from, end)
                        .await
                        .map(RecordBatch::new),
                };
                match read {
                    Ok(batch) => {
                        if let Some(last) = batch.records().last() {
                            self.next = last.position + 1;
                        }
                        return Some((Ok(batch), self));
                    }
                    Err(e) => return self.fail(e),
                }
            }
            if self.shared.closed.load(Ordering::SeqCst) || self.watermark.changed().await.is_err()
            {
                return self.fail(StoreError::Closed);
            }
        }
    }

    fn fail(mut self, e: StoreError) -> Option<(Result<RecordBatch, StoreError>, Self)> {
        self.done = true;
        Some((Err(e), self))
    }
}

/// A subscription's state: the next position to hand out and the records read ahead.
struct Follow {
    shared: Arc<Shared>,
    watermark: watch::Receiver<u64>,
    next: u64,
    buf: VecDeque<StoredRecord>,
    done: bool,
}

impl Follow {
    async fn next(mut self) -> Option<(Result<StoredRecord, StoreError>, Self)> {
        loop {
            if self.done {
                return None;
            }
            if let Some(r) = self.buf.pop_front() {
                self.next = r.position + 1;
                return Some((Ok(r), self));
            }
            let end = *self.watermark.borrow_and_update();
            if self.next < end {
                let from = self.next;
                match self.shared.follow_read(from, end).await {
                    Ok(records) => self.buf.extend(records),
                    Err(e) => return self.fail(e),
                }
                continue;
            }
            if self.shared.closed.load(Ordering::SeqCst) || self.watermark.changed().await.is_err()
            {
                return self.fail(StoreError::Closed);
            }
        }
    }

    fn fail(mut self, e: StoreError) -> Option<(Result<StoredRecord, StoreError>, Self)> {
        self.done = true;
        Some((Err(e), self))
    }
}
