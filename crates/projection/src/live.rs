//! Running a projection live, for the server: a [`LiveRunner`] task follows the log's
//! subscription, folds records as they become durable, persists periodically and on
//! shutdown; any number of [`LiveState`] handles read the current state.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Instant;

use counterfoil_core::{Hash, RecordBatch, Store, StoreError, StoredRecord};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::runner::{Projection, ProjectionConfig, write_file};
use crate::state_file;
use crate::{ProjectionError, Projector, Result};

/// Records folded under one write lock at most, so readers are never held off long.
const LIVE_BATCH: usize = 1024;

struct Shared<P> {
    state: RwLock<P>,
    position: watch::Sender<u64>,
}

/// A read handle on a live projection. Cheap to clone.
pub struct LiveState<P> {
    shared: Arc<Shared<P>>,
}

impl<P> Clone for LiveState<P> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<P: Projector> fmt::Debug for LiveState<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveState")
            .field("name", &P::NAME)
            .field("position", &self.position())
            .finish()
    }
}

impl<P: Projector> LiveState<P> {
    /// The current state. Hold the guard briefly: the runner waits for it to fold.
    pub fn read(&self) -> RwLockReadGuard<'_, P> {
        self.shared
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The next position to fold: the state includes every record below it.
    pub fn position(&self) -> u64 {
        *self.shared.position.borrow()
    }

    /// Notified whenever the position moves.
    pub fn watch_position(&self) -> watch::Receiver<u64> {
        self.shared.position.subscribe()
    }

    /// Waits until every record below `position` is folded (read-your-writes after an
    /// append: pass the appended record's position + 1). Returns the position reached,
    /// or `None` if the runner stopped first.
    pub async fn wait_for(&self, position: u64) -> Option<u64> {
        let mut rx = self.shared.position.subscribe();
        rx.wait_for(|&p| p >= position).await.ok().map(|p| *p)
    }
}

/// The task that keeps a live projection up to date. Run it with
/// [`LiveRunner::run`], typically under `tokio::spawn`.
pub struct LiveRunner<P: Projector> {
    shared: Arc<Shared<P>>,
    store: Arc<dyn Store>,
    path: PathBuf,
    position: u64,
    last: Option<(u64, Hash)>,
    config: ProjectionConfig,
    /// Records folded since the state was last encoded for its file.
    unsaved: u64,
    dirty: bool,
    saved_at: Instant,
    /// The state file being written in the background; folding goes on meanwhile.
    writing: Option<tokio::task::JoinHandle<Result<()>>>,
}

impl<P: Projector> fmt::Debug for LiveRunner<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveRunner")
            .field("name", &P::NAME)
            .field("path", &self.path)
            .field("position", &self.position)
            .finish()
    }
}

impl<P: Projector> LiveRunner<P> {
    pub(crate) fn new(projection: Projection<P>) -> (LiveState<P>, Self) {
        let parts = projection.into_parts();
        let (tx, _) = watch::channel(parts.position);
        let shared = Arc::new(Shared {
            state: RwLock::new(parts.state),
            position: tx,
        });
        let runner = Self {
            shared: shared.clone(),
            store: parts.store,
            path: parts.path,
            position: parts.position,
            last: parts.last,
            config: parts.config,
            unsaved: parts.unsaved,
            dirty: parts.dirty,
            saved_at: Instant::now(),
            writing: None,
        };
        (LiveState { shared }, runner)
    }

    /// Another read handle.
    pub fn state(&self) -> LiveState<P> {
        LiveState {
            shared: self.shared.clone(),
        }
    }

    /// Follows the log from the checkpoint until `shutdown` completes, then persists
    /// and returns the final position. Persists every
    /// [`ProjectionConfig::persist_every_records`] records and every
    /// [`ProjectionConfig::persist_every`] while records are unsaved. A store error
    /// ends the run after persisting what was folded.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<u64> {
        let batches = self
            .store
            .subscribe_batches(self.position)
            .await
            .map_err(|source| self.store_error(source))?
            .map(|item| match item {
                Ok(records) => (records, None),
                Err(e) => (RecordBatch::new(Vec::new()), Some(e)),
            });
        self.follow(batches, shutdown).await
    }

    /// Like [`LiveRunner::run`], but folds the batches a [`LiveFeed`] hands out
    /// instead of subscribing itself, so several projections share one read and one
    /// decode of the log. The feed must start at or before this projection's
    /// position; records below it are skipped.
    pub async fn run_fed(
        self,
        feed: mpsc::Receiver<FeedItem>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<u64> {
        let batches = tokio_stream_from(feed).map(|item| match item {
            FeedItem::Records(records) => (records, None),
            FeedItem::Failed(e) => (
                RecordBatch::new(Vec::new()),
                Some(StoreError::Backend(e.to_string())),
            ),
        });
        self.follow(batches, shutdown).await
    }

    /// Folds batches until `shutdown` completes, persisting along the way; a batch's
    /// error (or the end of the batches) ends the run after persisting.
    async fn follow(
        mut self,
        batches: impl futures::Stream<Item = (RecordBatch, Option<StoreError>)> + Send,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<u64> {
        let mut batches = std::pin::pin!(batches);
        let mut tick = tokio::time::interval(self.config.persist_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                batch = batches.next() => {
                    let Some((records, failure)) = batch else {
                        self.persist_if_needed().await?;
                        return Err(ProjectionError::SubscriptionEnded {
                            projection: P::NAME,
                            position: self.position,
                        });
                    };
                    for chunk in records.records().chunks(LIVE_BATCH) {
                        self.fold(chunk);
                    }
                    if let Some(source) = failure {
                        self.persist_if_needed().await?;
                        return Err(self.store_error(source));
                    }
                    if self.unsaved >= self.config.persist_every_records {
                        self.persist().await?;
                    } else if self.writing.as_ref().is_some_and(|w| w.is_finished()) {
                        self.written().await?;
                    }
                }
                _ = tick.tick() => {
                    if self.unsaved > 0 && self.saved_at.elapsed() >= self.config.persist_every {
                        self.persist().await?;
                    }
                }
            }
        }
        self.persist_if_needed().await?;
        Ok(self.position)
    }

    /// Folds a batch under one write lock.
    fn fold(&mut self, batch: &[StoredRecord]) {
        {
            let mut state = self
                .shared
                .state
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for record in batch {
                if record.position < self.position {
                    continue;
                }
                state.apply(record);
                self.position = record.position.saturating_add(1);
                self.last = Some((record.position, record.hash));
                self.unsaved += 1;
            }
        }
        self.shared.position.send_replace(self.position);
    }

    fn store_error(&self, source: StoreError) -> ProjectionError {
        ProjectionError::Store {
            projection: P::NAME,
            position: self.position,
            source,
        }
    }

    /// Persists what is unsaved and waits until the state file is written.
    async fn persist_if_needed(&mut self) -> Result<()> {
        if self.dirty || self.unsaved > 0 {
            self.persist().await?;
        }
        self.written().await
    }

    /// Waits for the state file being written, if any: its error, if it failed.
    async fn written(&mut self) -> Result<()> {
        match self.writing.take() {
            None => Ok(()),
            Some(task) => task.await.map_err(|e| ProjectionError::Task {
                projection: P::NAME,
                reason: e.to_string(),
            })?,
        }
    }

    /// Encodes under the read lock (the runner is the only writer, so the state
    /// matches the checkpoint) on a blocking thread, since a large state takes a while
    /// and would otherwise hold up an async worker and every request queued on it;
    /// then writes the file in the background while the folding goes on (one file
    /// written at a time: the next persist waits for the one before). Folding
    /// pauses only while the state is encoded; a failed write ends the run at the
    /// next persist, or at the next batch once it is known.
    async fn persist(&mut self) -> Result<()> {
        self.written().await?;
        let shared = self.shared.clone();
        let (position, last) = (self.position, self.last);
        let encoded = tokio::task::spawn_blocking(move || {
            let state = shared.state.read().unwrap_or_else(PoisonError::into_inner);
            state_file::encode_projector(&*state, position, last)
        })
        .await
        .map_err(|e| ProjectionError::Task {
            projection: P::NAME,
            reason: e.to_string(),
        })?
        .map_err(|reason| ProjectionError::Encode {
            projection: P::NAME,
            path: self.path.clone(),
            reason,
        })?;
        self.writing = Some(tokio::spawn(write_file::<P>(self.path.clone(), encoded)));
        self.unsaved = 0;
        self.dirty = false;
        self.saved_at = Instant::now();
        Ok(())
    }
}

/// What a [`LiveFeed`] hands each runner: a batch of records decoded once for all, or
/// the store error that ended the feed.
#[derive(Debug, Clone)]
pub enum FeedItem {
    Records(RecordBatch),
    Failed(Arc<StoreError>),
}

/// One batch subscription of the log shared by several live runners (see
/// [`LiveRunner::run_fed`]): each record is read and decoded at most once (on the
/// embedded log, at the end of the log, not at all: the writer's own records are
/// handed on), whatever the number of read models. The slowest runner sets the pace (each has a bounded queue).
pub struct LiveFeed {
    store: Arc<dyn Store>,
    from: u64,
    senders: Vec<mpsc::Sender<FeedItem>>,
}

impl fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveFeed")
            .field("from", &self.from)
            .field("receivers", &self.senders.len())
            .finish()
    }
}

/// Batches queued per runner before the feed waits for it.
const FEED_QUEUE: usize = 64;

impl LiveFeed {
    /// A feed that will follow the log from `from`: the lowest position among the
    /// runners it serves.
    pub fn new(store: Arc<dyn Store>, from: u64) -> Self {
        Self {
            store,
            from,
            senders: Vec::new(),
        }
    }

    /// A receiver for one more runner.
    pub fn receiver(&mut self) -> mpsc::Receiver<FeedItem> {
        let (tx, rx) = mpsc::channel(FEED_QUEUE);
        self.senders.push(tx);
        rx
    }

    /// Follows the log and hands every batch to every receiver until every receiver
    /// is gone (their runners stopped) or the store fails (the error is handed on,
    /// then the feed ends). The feed has no shutdown of its own: ending it before its
    /// runners would look to them like the end of the log, which is an error.
    pub async fn run(self) {
        let Self {
            store,
            from,
            mut senders,
        } = self;
        let mut batches = match store.subscribe_batches(from).await {
            Ok(s) => s,
            Err(e) => {
                let e = Arc::new(e);
                for tx in &senders {
                    let _ = tx.send(FeedItem::Failed(e.clone())).await;
                }
                return;
            }
        };
        loop {
            let gone = futures::future::join_all(senders.iter().map(mpsc::Sender::closed));
            let batch = tokio::select! {
                biased;
                _ = gone => return,
                batch = batches.next() => batch,
            };
            let Some(batch) = batch else {
                return;
            };
            let (item, failed) = match batch {
                Ok(records) => (FeedItem::Records(records), false),
                Err(e) => (FeedItem::Failed(Arc::new(e)), true),
            };
            let mut open = Vec::with_capacity(senders.len());
            for tx in senders {
                // A runner that stopped has dropped its receiver: serve the rest.
                if tx.send(item.clone()).await.is_ok() {
                    open.push(tx);
                }
            }
            senders = open;
            if failed || senders.is_empty() {
                return;
            }
        }
    }
}

/// A receiver as a stream.
fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
