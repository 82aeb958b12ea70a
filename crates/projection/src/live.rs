//! Running a projection live, for the server: a [`LiveRunner`] task follows the log's
//! subscription, folds records as they become durable, persists periodically and on
//! shutdown; any number of [`LiveState`] handles read the current state.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Instant;

use counterfoil_core::{Hash, Store};
use futures::StreamExt;
use tokio::sync::watch;

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
    unsaved: u64,
    dirty: bool,
    saved_at: Instant,
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
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) -> Result<u64> {
        let subscription = self
            .store
            .subscribe(self.position)
            .await
            .map_err(|source| self.store_error(source))?;
        let mut batches = subscription.ready_chunks(LIVE_BATCH);
        let mut tick = tokio::time::interval(self.config.persist_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                batch = batches.next() => {
                    let Some(batch) = batch else {
                        self.persist_if_needed().await?;
                        return Err(ProjectionError::SubscriptionEnded {
                            projection: P::NAME,
                            position: self.position,
                        });
                    };
                    let failure = self.fold(batch);
                    if let Some(source) = failure {
                        self.persist_if_needed().await?;
                        return Err(self.store_error(source));
                    }
                    if self.unsaved >= self.config.persist_every_records {
                        self.persist().await?;
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

    /// Folds a batch under one write lock; stops at the first error and returns it.
    fn fold(
        &mut self,
        batch: Vec<
            std::result::Result<counterfoil_core::StoredRecord, counterfoil_core::StoreError>,
        >,
    ) -> Option<counterfoil_core::StoreError> {
        let mut failure = None;
        {
            let mut state = self
                .shared
                .state
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for item in batch {
                match item {
                    Ok(record) => {
                        if record.position < self.position {
                            continue;
                        }
                        state.apply(&record);
                        self.position = record.position.saturating_add(1);
                        self.last = Some((record.position, record.hash));
                        self.unsaved += 1;
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        self.shared.position.send_replace(self.position);
        failure
    }

    fn store_error(&self, source: counterfoil_core::StoreError) -> ProjectionError {
        ProjectionError::Store {
            projection: P::NAME,
            position: self.position,
            source,
        }
    }

    async fn persist_if_needed(&mut self) -> Result<()> {
        if self.dirty || self.unsaved > 0 {
            self.persist().await?;
        }
        Ok(())
    }

    /// Encodes under the read lock (the runner is the only writer, so the state
    /// matches the checkpoint), then writes off the async threads.
    async fn persist(&mut self) -> Result<()> {
        let encoded = {
            let state = self
                .shared
                .state
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            state_file::encode(
                P::NAME,
                P::VERSION,
                &state.settings(),
                self.position,
                self.last,
                &*state,
            )
        }
        .map_err(|reason| ProjectionError::Encode {
            projection: P::NAME,
            path: self.path.clone(),
            reason,
        })?;
        write_file::<P>(self.path.clone(), encoded).await?;
        self.unsaved = 0;
        self.dirty = false;
        self.saved_at = Instant::now();
        Ok(())
    }
}
