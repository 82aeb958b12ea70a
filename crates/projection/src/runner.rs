//! [`Projection`]: one projector run from its persisted checkpoint.
//!
//! Opening loads `DIR/<NAME>.state` and decides whether to trust it (see
//! [`OpenOutcome`]); catching up folds the records after the checkpoint; persisting
//! writes state and checkpoint together in one atomically replaced file. Because the
//! checkpoint lives inside the file that holds the state it describes, a crash at any
//! moment leaves a state file whose body is exactly the fold of the records below its
//! checkpoint: reopening resumes there, never applying a record twice or skipping one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use counterfoil_core::{Hash, Store, StoredRecord};

use crate::keys::Keys;
use crate::live::{LiveRunner, LiveState};
use crate::many::{DynProjection, catch_up_all};
use crate::state_file::{self, Rejection};
use crate::{ProjectionError, Projector, Result};

/// How often a running projection persists.
#[derive(Debug, Clone)]
pub struct ProjectionConfig {
    /// Persist after this many records folded since the last persist. Default 2,000,000.
    pub persist_every_records: u64,
    /// Persist when this long has passed since the last persist and something is
    /// unsaved. Default 30 s.
    pub persist_every: Duration,
    /// A catch-up's persist along the way also waits until this many times the last
    /// one's duration has passed since it. Default 9: persisting a large state (with
    /// the folding held meanwhile) takes at most a tenth of the time. 0 persists
    /// exactly as the two settings above say.
    pub persist_spacing: u32,
}

impl Default for ProjectionConfig {
    fn default() -> Self {
        Self {
            persist_every_records: 2_000_000,
            persist_every: Duration::from_secs(30),
            persist_spacing: 9,
        }
    }
}

/// A period that never ends, yet can be added to any instant without overflow.
const NEVER: Duration = Duration::from_secs(1 << 32);

impl ProjectionConfig {
    /// Persists only when a catch-up ends: for a rebuild, which replaces the state
    /// file once, whole. Until then the old file stays as it was (state and checkpoint
    /// together), so a rebuild cut short leaves it and starts over when run again.
    /// Persisting a large state along the way costs a rebuild a fifth of its time.
    pub fn at_end() -> Self {
        Self {
            persist_every_records: u64::MAX,
            persist_every: NEVER,
            persist_spacing: 0,
        }
    }
}

/// What opening found in the state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    /// The file was trusted: folding resumes at `checkpoint`.
    Resumed { checkpoint: u64 },
    /// No state file: the projection starts from zero.
    Missing,
    /// The file was not trusted (damaged, another version, other settings) and the
    /// projection starts from zero.
    Rejected(Rejection),
    /// The file was intact but does not describe this log (its checkpoint is past the
    /// log's end, or its last record is not in the log): the projection starts from zero.
    OtherLog(String),
    /// Opened to be rebuilt ([`Projection::fresh`]): any state file was not read.
    Fresh,
}

impl OpenOutcome {
    /// True when the projection starts from zero.
    pub fn rebuilds(&self) -> bool {
        !matches!(self, OpenOutcome::Resumed { .. })
    }
}

impl fmt::Display for OpenOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenOutcome::Resumed { checkpoint } => write!(f, "resumed at position {checkpoint}"),
            OpenOutcome::Missing => f.write_str("no state file; building from zero"),
            OpenOutcome::Rejected(r) => write!(f, "state file {r}; rebuilding from zero"),
            OpenOutcome::OtherLog(r) => write!(f, "state file {r}; rebuilding from zero"),
            OpenOutcome::Fresh => f.write_str("rebuilding from zero"),
        }
    }
}

/// A projector run from its persisted checkpoint against a store.
pub struct Projection<P: Projector> {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) path: PathBuf,
    pub(crate) state: P,
    /// Next position to read.
    pub(crate) position: u64,
    pub(crate) last: Option<(u64, Hash)>,
    pub(crate) config: ProjectionConfig,
    pub(crate) unsaved: u64,
    /// The file on disk does not match the state (new, reset or rejected).
    pub(crate) dirty: bool,
    pub(crate) saved_at: Instant,
    /// How long the last persist took (encoding and writing).
    persist_took: Duration,
    opened: OpenOutcome,
}

impl<P: Projector> fmt::Debug for Projection<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Projection")
            .field("name", &P::NAME)
            .field("path", &self.path)
            .field("position", &self.position)
            .field("unsaved", &self.unsaved)
            .field("opened", &self.opened)
            .finish()
    }
}

impl<P: Projector> Projection<P> {
    /// Opens `DIR/<NAME>.state` with the default settings and persistence policy.
    pub async fn open(dir: impl AsRef<Path>, store: Arc<dyn Store>) -> Result<Self> {
        Self::open_with(dir, store, P::default(), ProjectionConfig::default()).await
    }

    /// Opens `DIR/<NAME>.state`, creating `DIR` if needed. `initial` gives the settings
    /// (e.g. an attribution window); a persisted state with other settings, another
    /// version, damage, or from another log is ignored and the projection starts from
    /// `initial.fresh()`. Nothing is folded yet: call [`Projection::catch_up`].
    pub async fn open_with(
        dir: impl AsRef<Path>,
        store: Arc<dyn Store>,
        initial: P,
        config: ProjectionConfig,
    ) -> Result<Self> {
        let settings = initial.settings();
        let mut this = Self::fresh(dir, store, initial, config)?;
        this.opened = OpenOutcome::Missing;
        let read_path = this.path.clone();
        let loaded = tokio::task::spawn_blocking(move || -> Result<Option<_>> {
            let bytes = match std::fs::read(&read_path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => {
                    return Err(ProjectionError::Io {
                        projection: P::NAME,
                        op: "read",
                        path: read_path,
                        source,
                    });
                }
            };
            Ok(Some(state_file::decode::<P>(
                &bytes,
                P::NAME,
                P::VERSION,
                &settings,
            )))
        })
        .await
        .map_err(|e| ProjectionError::Task {
            projection: P::NAME,
            reason: e.to_string(),
        })??;

        match loaded {
            None => {}
            Some(Err(rejection)) => {
                tracing::warn!(projection = P::NAME, path = %this.path.display(), "state file {rejection}; rebuilding from zero");
                this.opened = OpenOutcome::Rejected(rejection);
            }
            Some(Ok((header, state))) => match this.check_log(&header).await? {
                Some(reason) => {
                    tracing::warn!(projection = P::NAME, path = %this.path.display(), "state file {reason}; rebuilding from zero");
                    this.opened = OpenOutcome::OtherLog(reason);
                }
                None => {
                    this.state = state;
                    this.position = header.checkpoint;
                    this.last = header.last_record();
                    this.dirty = false;
                    this.opened = OpenOutcome::Resumed {
                        checkpoint: header.checkpoint,
                    };
                }
            },
        }
        Ok(this)
    }

    /// A projection at position 0 whose state file, if any, is not read: for a
    /// rebuild, which would throw the loaded state away (loading a large one costs a
    /// good share of the rebuild). The file is replaced when the rebuilt state is
    /// persisted.
    pub fn fresh(
        dir: impl AsRef<Path>,
        store: Arc<dyn Store>,
        initial: P,
        config: ProjectionConfig,
    ) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|source| ProjectionError::Io {
            projection: P::NAME,
            op: "create folder",
            path: dir.clone(),
            source,
        })?;
        Ok(Self {
            store,
            path: state_file::path_in(&dir, P::NAME),
            state: initial.fresh(),
            position: 0,
            last: None,
            config,
            unsaved: 0,
            dirty: true,
            saved_at: Instant::now(),
            persist_took: Duration::ZERO,
            opened: OpenOutcome::Fresh,
        })
    }

    /// `Some(reason)` when an intact state file does not describe this store's log.
    async fn check_log(&self, header: &state_file::Header) -> Result<Option<String>> {
        let end = self
            .store
            .end_position()
            .await
            .map_err(|source| self.store_error(header.checkpoint, source))?;
        if header.checkpoint > end {
            return Ok(Some(format!(
                "has checkpoint {} past the log's end {end}",
                header.checkpoint
            )));
        }
        if let Some((position, hash)) = header.last_record() {
            let found = self
                .store
                .read_all(position, 1)
                .await
                .map_err(|source| self.store_error(position, source))?;
            match found.first() {
                Some(r) if r.position == position && r.hash == hash => {}
                _ => {
                    return Ok(Some(format!(
                        "names record {position} with hash {hash}, which this log does not hold"
                    )));
                }
            }
        }
        Ok(None)
    }

    fn store_error(&self, position: u64, source: counterfoil_core::StoreError) -> ProjectionError {
        ProjectionError::Store {
            projection: P::NAME,
            position,
            source,
        }
    }

    /// What opening found.
    pub fn opened(&self) -> &OpenOutcome {
        &self.opened
    }

    /// The folded state.
    pub fn state(&self) -> &P {
        &self.state
    }

    /// The next position to read: every record below it is folded, none above.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store the projection reads.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Records folded since the last persist.
    pub fn unsaved(&self) -> u64 {
        self.unsaved
    }

    /// Folds one record if it is at or after the checkpoint; records below it were
    /// folded already and are ignored. Returns whether it was folded.
    pub fn apply(&mut self, record: &StoredRecord) -> bool {
        self.apply_keyed(record, &Keys::NONE)
    }

    /// [`Projection::apply`] with the record's keys from a [`Keyer`](crate::Keyer).
    pub fn apply_keyed(&mut self, record: &StoredRecord, keys: &Keys) -> bool {
        if record.position < self.position {
            return false;
        }
        self.state.apply_keyed(record, keys);
        self.position = record.position.saturating_add(1);
        self.last = Some((record.position, record.hash));
        self.unsaved += 1;
        true
    }

    /// Folds every durable record after the checkpoint, persisting along the way (per
    /// [`ProjectionConfig`]) and at the end. `progress(done, total)` is called after
    /// each chunk, in positions. Returns the number of records folded.
    pub async fn catch_up(&mut self, progress: &mut (dyn FnMut(u64, u64) + Send)) -> Result<u64> {
        let store = self.store.clone();
        catch_up_all(&*store, &mut [self as &mut dyn DynProjection], progress).await
    }

    /// Forgets the state and folds the whole log from zero (then persists).
    pub async fn rebuild(&mut self, progress: &mut (dyn FnMut(u64, u64) + Send)) -> Result<u64> {
        self.reset();
        self.catch_up(progress).await
    }

    /// Back to an empty state at position 0; the state file is replaced at the next
    /// persist.
    pub fn reset(&mut self) {
        self.state = self.state.fresh();
        self.position = 0;
        self.last = None;
        self.unsaved = 0;
        self.dirty = true;
    }

    /// Writes state and checkpoint together (temp file, fsync, rename, fsync folder).
    pub async fn persist(&mut self) -> Result<()> {
        let started = Instant::now();
        let encoded = self.encode()?;
        self.write_encoded(encoded).await?;
        self.persist_took = started.elapsed();
        Ok(())
    }

    /// The state file's bytes for the state as it is now.
    fn encode(&self) -> Result<state_file::Encoded> {
        state_file::encode_projector(&self.state, self.position, self.last).map_err(|reason| {
            ProjectionError::Encode {
                projection: P::NAME,
                path: self.path.clone(),
                reason,
            }
        })
    }

    /// Writes bytes from [`Projection::encode`], taken with nothing folded since.
    async fn write_encoded(&mut self, encoded: state_file::Encoded) -> Result<()> {
        write_file::<P>(self.path.clone(), encoded).await?;
        self.saved();
        Ok(())
    }

    /// [`Projection::persist`] on the calling thread, for a thread of its own.
    /// Encodes and writes the state file on the calling thread, the file written while
    /// it is encoded ([`state_file::persist_streaming`]).
    fn persist_blocking(&mut self) -> Result<()> {
        let started = Instant::now();
        let state = &self.state;
        state_file::persist_streaming(
            &self.path,
            P::NAME,
            P::VERSION,
            &state.settings(),
            self.position,
            self.last,
            |w| state.encode_state(w),
        )
        .map_err(|e| match e {
            state_file::PersistError::Encode(reason) => ProjectionError::Encode {
                projection: P::NAME,
                path: self.path.clone(),
                reason,
            },
            state_file::PersistError::Io(op, path, source) => ProjectionError::Io {
                projection: P::NAME,
                op,
                path,
                source,
            },
        })?;
        self.saved();
        self.persist_took = started.elapsed();
        Ok(())
    }

    fn saved(&mut self) {
        self.unsaved = 0;
        self.dirty = false;
        self.saved_at = Instant::now();
    }

    /// Whether the record count or the time since the last persist calls for one,
    /// and the last persist is far enough behind ([`ProjectionConfig::persist_spacing`]):
    /// a large state (hundreds of MB, a second or more to encode and write) is
    /// persisted less often than the record count says.
    fn persist_due(&self) -> bool {
        let since = self.saved_at.elapsed();
        self.unsaved > 0
            && (self.unsaved >= self.config.persist_every_records
                || since >= self.config.persist_every)
            && since
                >= self
                    .persist_took
                    .saturating_mul(self.config.persist_spacing)
    }

    /// Persists if the record count or the time since the last persist calls for it.
    pub async fn persist_if_due(&mut self) -> Result<()> {
        if self.persist_due() {
            self.persist().await?;
        }
        Ok(())
    }

    /// Turns the projection into a live one: the [`LiveRunner`] follows the log's
    /// subscription from the checkpoint and publishes the state through the
    /// [`LiveState`] handle (cheap to clone, for request handlers).
    pub fn live(self) -> (LiveState<P>, LiveRunner<P>) {
        LiveRunner::new(self)
    }

    /// Spawns the live runner on the current tokio runtime (see [`Projection::live`]):
    /// it runs until `shutdown` completes, then persists. Fails with
    /// [`ProjectionError::Task`] when called outside a tokio runtime.
    pub fn run_live(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(LiveState<P>, tokio::task::JoinHandle<Result<u64>>)> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| ProjectionError::Task {
            projection: P::NAME,
            reason: e.to_string(),
        })?;
        let (state, runner) = self.live();
        Ok((state, handle.spawn(runner.run(shutdown))))
    }

    /// The folded state, giving up the projection (unsaved records stay unsaved).
    pub fn into_state(self) -> P {
        self.state
    }

    pub(crate) fn into_parts(self) -> Parts<P> {
        Parts {
            store: self.store,
            path: self.path,
            state: self.state,
            position: self.position,
            last: self.last,
            config: self.config,
            unsaved: self.unsaved,
            dirty: self.dirty,
        }
    }
}

/// The pieces of a [`Projection`] a live runner takes over.
pub(crate) struct Parts<P> {
    pub store: Arc<dyn Store>,
    pub path: PathBuf,
    pub state: P,
    pub position: u64,
    pub last: Option<(u64, Hash)>,
    pub config: ProjectionConfig,
    pub unsaved: u64,
    pub dirty: bool,
}

/// Writes an encoded state file off the async threads.
pub(crate) async fn write_file<P: Projector>(
    path: PathBuf,
    encoded: state_file::Encoded,
) -> Result<()> {
    tokio::task::spawn_blocking(move || write_now::<P>(&path, &encoded))
        .await
        .map_err(|e| ProjectionError::Task {
            projection: P::NAME,
            reason: e.to_string(),
        })?
}

/// Writes a state file on the calling thread (temp file, fsync, rename, fsync folder).
fn write_now<P: Projector>(path: &Path, encoded: &state_file::Encoded) -> Result<()> {
    state_file::write_atomic(path, &encoded.parts()).map_err(|(op, path, source)| {
        ProjectionError::Io {
            projection: P::NAME,
            op,
            path,
            source,
        }
    })
}

#[async_trait]
impl<P: Projector> DynProjection for Projection<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn path(&self) -> &Path {
        Projection::path(self)
    }

    fn position(&self) -> u64 {
        self.position
    }

    fn apply(&mut self, record: &StoredRecord) -> bool {
        Projection::apply(self, record)
    }

    fn apply_keyed(&mut self, record: &StoredRecord, keys: &Keys) -> bool {
        Projection::apply_keyed(self, record, keys)
    }

    fn reset(&mut self) {
        Projection::reset(self)
    }

    fn needs_persist(&self) -> bool {
        self.dirty || self.unsaved > 0
    }

    fn encode(&self) -> Result<state_file::Encoded> {
        Projection::encode(self)
    }

    async fn write_encoded(&mut self, encoded: state_file::Encoded) -> Result<()> {
        Projection::write_encoded(self, encoded).await
    }

    async fn persist_if_due(&mut self) -> Result<()> {
        Projection::persist_if_due(self).await
    }

    fn persist_blocking(&mut self) -> Result<()> {
        Projection::persist_blocking(self)
    }

    fn persist_if_due_blocking(&mut self) -> Result<()> {
        if self.persist_due() {
            Projection::persist_blocking(self)?;
        }
        Ok(())
    }
}
