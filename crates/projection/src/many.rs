//! Feeding several projections from one read of the log: `rebuild` of all four read
//! models reads (and decodes) each record once, not four times.

use std::collections::VecDeque;

use async_trait::async_trait;
use counterfoil_core::{Store, StoredRecord};

use crate::state_file::Encoded;
use crate::{ProjectionError, Result};

/// Records read per `read_all` call.
pub(crate) const READ_CHUNK: usize = 4096;

/// A [`Projection`](crate::Projection) with its projector type erased, so projections
/// of different read models can be driven together.
#[async_trait]
pub trait DynProjection: Send + Sync {
    fn name(&self) -> &'static str;
    /// Next position to read.
    fn position(&self) -> u64;
    /// Folds the record unless it is below the checkpoint; returns whether it did.
    fn apply(&mut self, record: &StoredRecord) -> bool;
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
}

/// Brings every projection up to the log's end, reading from the lowest checkpoint
/// among them; each record is folded only into the projections that have not seen
/// it. Persists along the way and, for each projection that changed, at the end.
/// `progress(done, total)` counts positions from the lowest checkpoint to the end
/// position observed at the start. Returns the number of records read.
pub async fn catch_up_all(
    store: &dyn Store,
    projections: &mut [&mut dyn DynProjection],
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<u64> {
    let Some(start) = projections.iter().map(|p| p.position()).min() else {
        return Ok(0);
    };
    let first_name = projections.first().map_or("", |p| p.name());
    let store_error = |position: u64, source| ProjectionError::Store {
        projection: first_name,
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
    // fold. With dense positions the chunk after next can start at once, so decoding
    // runs on two threads; otherwise one chunk is read ahead.
    let depth = if store.dense_positions() { 2 } else { 1 };
    let mut ahead: VecDeque<(u64, Reading<'_>)> = VecDeque::new();
    if next < end {
        ahead.push_back((next, Reading::start(store, next)));
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
            let mut reading = Reading::start(store, from);
            reading.kick().await;
            ahead.push_back((from, reading));
        }
        fold_chunk(projections, &batch);
        read += batch.len() as u64;
        next = after;
        progress(next.saturating_sub(start).min(total), total);
        for p in projections.iter_mut() {
            p.persist_if_due().await?;
        }
    }
    persist_all(projections).await?;
    Ok(read)
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
    fn start(store: &'a dyn Store, from: u64) -> Self {
        Self {
            future: store.read_all(from, READ_CHUNK),
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
