//! Feeding several projections from one read of the log: `rebuild` of all four read
//! models reads (and decodes) each record once, not four times.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use counterfoil_core::{Store, StoredRecord};

use crate::keys::{Keyer, Keys};
use crate::state_file::Encoded;
use crate::{ProjectionError, Result};

/// Records read per `read_all` call. Every chunk is handed between threads several
/// times (to a reading thread, back, to each folding thread), and a thread woken on a
/// virtual machine's idle core starts tens of microseconds later: chunks of 8,192
/// rather than 4,096 records halved those hand-offs, and the idle moments with them
/// (a rebuild of 10,000,000 records about 3 % sooner, 17 MB more at its peak for
/// 1,000,000).
pub(crate) const READ_CHUNK: usize = 8192;

/// Chunk vectors kept for reuse: as many as can be in flight (read ahead, queued for
/// the projections, being folded).
const KEEP_CHUNKS: usize = 10;

/// Chunk vectors folded into every projection and handed back for the next reads to
/// fill ([`Store::read_all_into`]): a chunk of 8,192 records is about 2.2 MB, and
/// fresh memory for every chunk costs a page fault per 4 KiB. A vector comes back
/// with its records, which the read that reuses it drops: freeing them was a tenth
/// of the owner report's folding thread, the one a rebuild waits for. The chunks'
/// key vectors come back the same way.
#[derive(Clone, Default)]
struct Recycler(Arc<Mutex<Kept>>);

#[derive(Default)]
struct Kept {
    records: Vec<Vec<StoredRecord>>,
    keys: Vec<Vec<Keys>>,
}

impl Recycler {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self) -> Vec<StoredRecord> {
        self.kept().records.pop().unwrap_or_default()
    }

    /// An empty key vector.
    fn take_keys(&self) -> Vec<Keys> {
        let mut keys = self.kept().keys.pop().unwrap_or_default();
        keys.clear();
        keys
    }

    /// Keeps the chunk's vectors, up to [`KEEP_CHUNKS`] of each.
    fn give(&self, chunk: Chunk) {
        let Chunk { records, keys } = chunk;
        let mut kept = self.kept();
        if kept.keys.len() < KEEP_CHUNKS {
            kept.keys.push(keys);
        }
        if kept.records.len() < KEEP_CHUNKS {
            kept.records.push(records);
            return;
        }
        // Its records are dropped after the lock is let go.
        drop(kept);
        drop(records);
    }

    /// Drops every kept vector and its records, on the calling thread.
    fn release(&self) {
        let kept = std::mem::take(&mut *self.kept());
        drop(kept);
    }
}

/// A chunk of records and, when a [`Keyer`] keyed them, their keys (one per record).
struct Chunk {
    records: Vec<StoredRecord>,
    keys: Vec<Keys>,
}

impl Chunk {
    /// Folds the chunk into `p`, with the keys when there are.
    fn fold_into(&self, p: &mut dyn DynProjection) {
        if self.keys.len() == self.records.len() {
            for (record, keys) in self.records.iter().zip(&self.keys) {
                p.apply_keyed(record, keys);
            }
        } else {
            for record in &self.records {
                p.apply(record);
            }
        }
    }
}

/// A [`Projection`](crate::Projection) with its projector type erased, so projections
/// of different read models can be driven together.
#[async_trait]
pub trait DynProjection: Send + Sync {
    fn name(&self) -> &'static str;
    /// The state file.
    fn path(&self) -> &Path;
    /// Next position to read.
    fn position(&self) -> u64;
    /// Folds the record unless it is below the checkpoint; returns whether it did.
    fn apply(&mut self, record: &StoredRecord) -> bool;
    /// [`DynProjection::apply`] with the record's keys from a [`Keyer`].
    fn apply_keyed(&mut self, record: &StoredRecord, keys: &Keys) -> bool;
    /// Back to an empty state at position 0.
    fn reset(&mut self);
    /// True when the state file is behind the state.
    fn needs_persist(&self) -> bool;
    /// The state file's bytes for the state as it is now (CPU only, no I/O), so several
    /// projections can encode theirs at once.
    fn encode(&self) -> Result<Encoded>;
    /// Writes what [`DynProjection::encode`] gave, state and checkpoint together.
    async fn write_encoded(&mut self, encoded: Encoded) -> Result<()>;
    async fn persist_if_due(&mut self) -> Result<()>;
    /// Encodes and writes the state file on the calling thread.
    fn persist_blocking(&mut self) -> Result<()>;
    /// [`DynProjection::persist_blocking`] when the persistence policy calls for it.
    fn persist_if_due_blocking(&mut self) -> Result<()>;
}

/// Brings every projection up to the log's end, reading from the lowest checkpoint
/// among them; each record is folded only into the projections that have not seen
/// it. Persists along the way and, for each projection that changed, at the end.
/// `progress(done, total)` counts positions from the lowest checkpoint to the end
/// position observed at the start. Returns the number of records read.
///
/// Every chunk is folded into all of them before the next: see
/// [`catch_up_threaded`] for the pipelined way, which takes the projections over.
pub async fn catch_up_all(
    store: &dyn Store,
    projections: &mut [&mut dyn DynProjection],
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<u64> {
    let Some(start) = projections.iter().map(|p| p.position()).min() else {
        return Ok(0);
    };
    let name = projections.first().map_or("", |p| p.name());
    let (read, _) = read_into(
        store,
        start,
        name,
        &mut Folding::Here(projections),
        &Recycler::default(),
        progress,
    )
    .await?;
    persist_all(projections).await?;
    Ok(read)
}

/// [`catch_up_all`] with each projection folding on a thread of its own, fed the
/// decoded chunks through a queue: a projection that is slower on some chunks does
/// not hold the others up, and the reading goes on meanwhile. Each thread persists
/// its projection along the way and at the end, then frees it (freeing a large state
/// takes a while; a process that exits right after does not wait for it). Returns
/// the number of records read once every projection is persisted.
pub async fn catch_up_threaded(
    store: &dyn Store,
    projections: Vec<Box<dyn DynProjection>>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<u64> {
    let Some(start) = projections.iter().map(|p| p.position()).min() else {
        return Ok(0);
    };
    let name = projections.first().map_or("", |p| p.name());
    let recycler = Recycler::default();
    let mut pool = Pool::start(projections, &recycler)?;
    let read = read_into(
        store,
        start,
        name,
        &mut Folding::Threads(&mut pool),
        &recycler,
        progress,
    )
    .await;
    // Here rather than on whichever folding thread lets go of the recycler last.
    recycler.release();
    // A projection's own failure says more than the reading's end it caused.
    pool.finish().await?;
    let (read, total) = read?;
    progress(total, total);
    Ok(read)
}

/// [`catch_up_threaded`] from an empty state: resets every projection first and
/// discards their state files at the start, not at the end: each is moved aside and
/// removed on a thread of its own while the log is read. Replacing a state file of
/// hundreds of megabytes made the file system free its blocks in the final rename,
/// about 70 ms at the end of a 10,000,000-record rebuild with every core idle. A
/// rebuild that fails therefore leaves no state file, and the next open folds from
/// zero, which is what the rebuild was asked to do.
pub async fn rebuild_threaded(
    store: &dyn Store,
    mut projections: Vec<Box<dyn DynProjection>>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<u64> {
    for p in projections.iter_mut() {
        p.reset();
    }
    let discarding = discard_files(projections.iter().map(|p| p.path()));
    let read = catch_up_threaded(store, projections, progress).await;
    if let Some(removing) = discarding {
        // Long done by now; a failure leaves a `.discarded` file, nothing worse.
        let _ = removing.await;
    }
    read
}

/// Moves each existing state file among `paths` aside (`<NAME>.state.discarded`, a
/// rename within the folder) and removes them on a blocking thread.
fn discard_files<'a>(paths: impl Iterator<Item = &'a Path>) -> Option<tokio::task::JoinHandle<()>> {
    let aside: Vec<PathBuf> = paths
        .filter(|path| std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()))
        .filter_map(|path| {
            let mut discarded = path.as_os_str().to_owned();
            discarded.push(".discarded");
            let discarded = PathBuf::from(discarded);
            // A file that cannot be moved aside is replaced at the end as before.
            std::fs::rename(path, &discarded).ok()?;
            Some(discarded)
        })
        .collect();
    if aside.is_empty() {
        return None;
    }
    Some(tokio::task::spawn_blocking(move || {
        for path in aside {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "removing a discarded state file");
            }
        }
    }))
}

/// Where the reading loop hands the chunks.
enum Folding<'a, 'p> {
    /// Into every projection, a chunk at a time (a thread each per chunk).
    Here(&'a mut [&'p mut dyn DynProjection]),
    /// Onto each projection's queue.
    Threads(&'a mut Pool),
}

/// Reads from `start` to the end position observed now and hands every chunk on.
/// Returns the records read and the positions to the end.
async fn read_into(
    store: &dyn Store,
    start: u64,
    name: &'static str,
    folding: &mut Folding<'_, '_>,
    recycler: &Recycler,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<(u64, u64)> {
    let store_error = |position: u64, source| ProjectionError::Store {
        projection: name,
        position,
        source,
    };
    let end = store
        .end_position()
        .await
        .map_err(|e| store_error(start, e))?;
    let total = end.saturating_sub(start);
    progress(0, total);
    let mut next = start;
    let mut read = 0u64;
    // Chunks are read (and decoded, on the store's reading threads) while earlier ones
    // fold. With dense positions the chunks after next can start at once, so decoding
    // runs on up to four threads: the oldest chunk is the one waited for, and with
    // three the two after it were often done first, leaving one core to decode it
    // alone (four: a rebuild 1-3 % sooner, 10 MB more at its peak). Otherwise one
    // chunk is read ahead.
    let depth = if store.dense_positions() { 4 } else { 1 };
    let mut ahead: VecDeque<(u64, Reading<'_>)> = VecDeque::new();
    if next < end {
        ahead.push_back((next, Reading::start(store, next, recycler.take())));
    }
    while let Some((_, reading)) = ahead.pop_front() {
        let batch = reading.finish().await.map_err(|e| store_error(next, e))?;
        let Some(last) = batch.last() else {
            break;
        };
        let after = last.position.saturating_add(1);
        if ahead.front().is_some_and(|(from, _)| *from != after) {
            // A short chunk: the guess of where the next one starts was wrong.
            ahead.clear();
        }
        while ahead.len() < depth {
            let from = ahead
                .back()
                .map_or(after, |(from, _)| from.saturating_add(READ_CHUNK as u64));
            if from >= end {
                break;
            }
            let mut reading = Reading::start(store, from, recycler.take());
            reading.kick().await;
            ahead.push_back((from, reading));
        }
        read += batch.len() as u64;
        next = after;
        match folding {
            Folding::Here(projections) => {
                fold_chunk(projections, &batch);
                recycler.give(Chunk {
                    records: batch,
                    keys: Vec::new(),
                });
                progress(next.saturating_sub(start).min(total), total);
                for p in projections.iter_mut() {
                    p.persist_if_due().await?;
                }
            }
            Folding::Threads(pool) => {
                let mut keys = Vec::new();
                if let Some(keyer) = pool.keyer.as_mut() {
                    keys = recycler.take_keys();
                    keyer.extend(&batch, &mut keys);
                }
                let chunk = Chunk {
                    records: batch,
                    keys,
                };
                if !pool.send(chunk).await {
                    // A projection stopped (its error comes from `Pool::finish`).
                    break;
                }
                progress(pool.folded_to().saturating_sub(start).min(total), total);
            }
        }
    }
    Ok((read, total))
}

/// Chunks queued per projection thread beyond the one it folds.
const QUEUED_CHUNKS: usize = 4;

/// One thread per projection, each folding the chunks of its queue in order.
struct Pool {
    workers: Vec<Worker>,
    /// Keys the chunks when there are several projections to share the lookups.
    keyer: Option<Keyer>,
}

struct Worker {
    name: &'static str,
    queue: tokio::sync::mpsc::Sender<Arc<Chunk>>,
    /// The next position the projection folds: every chunk below it is folded.
    folded: Arc<AtomicU64>,
    done: tokio::sync::oneshot::Receiver<Result<()>>,
}

impl Pool {
    fn start(projections: Vec<Box<dyn DynProjection>>, recycler: &Recycler) -> Result<Pool> {
        let mut workers = Vec::with_capacity(projections.len());
        let keyer = (projections.len() > 1).then(Keyer::new);
        for p in projections {
            workers.push(Worker::start(p, recycler.clone())?);
        }
        Ok(Pool { workers, keyer })
    }

    /// Queues a chunk for every projection; false when one of them has stopped.
    async fn send(&self, chunk: Chunk) -> bool {
        let chunk = Arc::new(chunk);
        for w in &self.workers {
            if w.queue.send(chunk.clone()).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Positions below this are folded into every projection.
    fn folded_to(&self) -> u64 {
        self.workers
            .iter()
            .map(|w| w.folded.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    }

    /// Closes the queues and waits until every projection has folded what was queued
    /// and persisted; the first failure, if any.
    async fn finish(self) -> Result<()> {
        // Every queue closes before the first wait, so the final persists run at once.
        let waiting: Vec<_> = self.workers.into_iter().map(|w| (w.name, w.done)).collect();
        let mut outcome = Ok(());
        for (name, done) in waiting {
            let result = done.await.unwrap_or_else(|_| {
                Err(ProjectionError::Task {
                    projection: name,
                    reason: "the folding thread panicked".into(),
                })
            });
            if outcome.is_ok() {
                outcome = result;
            }
        }
        outcome
    }
}

impl Worker {
    fn start(mut p: Box<dyn DynProjection>, recycler: Recycler) -> Result<Worker> {
        let name = p.name();
        let (queue, mut chunks) = tokio::sync::mpsc::channel::<Arc<Chunk>>(QUEUED_CHUNKS);
        let (finished, done) = tokio::sync::oneshot::channel();
        let folded = Arc::new(AtomicU64::new(p.position()));
        let progress = folded.clone();
        std::thread::Builder::new()
            .name(format!("fold {name}"))
            .spawn(move || {
                let mut outcome = Ok(());
                while let Some(chunk) = chunks.blocking_recv() {
                    chunk.fold_into(&mut *p);
                    progress.store(p.position(), Ordering::Relaxed);
                    // The last projection to fold the chunk hands its vector back.
                    if let Ok(chunk) = Arc::try_unwrap(chunk) {
                        recycler.give(chunk);
                    }
                    if let Err(e) = p.persist_if_due_blocking() {
                        outcome = Err(e);
                        break;
                    }
                }
                drop(chunks);
                if outcome.is_ok() && p.needs_persist() {
                    outcome = p.persist_blocking();
                }
                let _ = finished.send(outcome);
                drop(p);
            })
            .map_err(|e| ProjectionError::Task {
                projection: name,
                reason: format!("starting a folding thread: {e}"),
            })?;
        Ok(Worker {
            name,
            queue,
            folded,
            done,
        })
    }
}

/// Persists every projection that needs it: the states are encoded on a thread each
/// (a large read model takes a good share of a rebuild to encode), then written one
/// after the other.
async fn persist_all(projections: &mut [&mut dyn DynProjection]) -> Result<()> {
    let due: Vec<usize> = (0..projections.len())
        .filter(|&i| projections[i].needs_persist())
        .collect();
    let encoded: Vec<Result<Encoded>> = match due.as_slice() {
        [] => return Ok(()),
        [one] => vec![projections[*one].encode()],
        _ => {
            let shared: Vec<&dyn DynProjection> = due.iter().map(|&i| &*projections[i]).collect();
            std::thread::scope(|s| {
                let handles: Vec<_> = shared.iter().map(|p| s.spawn(move || p.encode())).collect();
                handles
                    .into_iter()
                    .zip(&shared)
                    .map(|(h, p)| {
                        h.join().unwrap_or_else(|_| {
                            Err(ProjectionError::Task {
                                projection: p.name(),
                                reason: "encoding the state panicked".into(),
                            })
                        })
                    })
                    .collect()
            })
        }
    };
    for (i, encoded) in due.into_iter().zip(encoded) {
        projections[i].write_encoded(encoded?).await?;
    }
    Ok(())
}

type ReadResult = std::result::Result<Vec<StoredRecord>, counterfoil_core::StoreError>;

/// A `read_all` under way: polled once to start it, finished later.
struct Reading<'a> {
    future: futures::future::BoxFuture<'a, ReadResult>,
    done: Option<ReadResult>,
}

impl<'a> Reading<'a> {
    fn start(store: &'a dyn Store, from: u64, buf: Vec<StoredRecord>) -> Self {
        Self {
            future: store.read_all_into(from, READ_CHUNK, buf),
            done: None,
        }
    }

    /// Polls once, so a store that reads on another thread starts now.
    async fn kick(&mut self) {
        if let std::task::Poll::Ready(r) = futures::poll!(&mut self.future) {
            self.done = Some(r);
        }
    }

    async fn finish(self) -> ReadResult {
        match self.done {
            Some(r) => r,
            None => self.future.await,
        }
    }
}

/// Folds a chunk into every projection. Projections are independent, so with several
/// each folds the chunk on its own thread: a rebuild of all read models takes about as
/// long as the slowest one, given the cores.
fn fold_chunk(projections: &mut [&mut dyn DynProjection], batch: &[StoredRecord]) {
    match projections {
        [] => {}
        [one] => {
            for record in batch {
                one.apply(record);
            }
        }
        [first, rest @ ..] => std::thread::scope(|s| {
            for p in rest.iter_mut() {
                s.spawn(move || {
                    for record in batch {
                        p.apply(record);
                    }
                });
            }
            for record in batch {
                first.apply(record);
            }
        }),
    }
}

/// Resets every projection and folds the whole log into all of them in one pass.
pub async fn rebuild_all(
    store: &dyn Store,
    projections: &mut [&mut dyn DynProjection],
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<u64> {
    for p in projections.iter_mut() {
        p.reset();
    }
    catch_up_all(store, projections, progress).await
}
