//! The embedded default store of Counterfoil (SPEC §5): an append-only log of segment
//! files holding checksummed frames, written by one thread with group commit and
//! `fdatasync`, with in-memory indexes persisted to `index.snap`.
//!
//! Layout of a data folder (bytes in `docs/format.md`):
//! ```text
//! LOCK                         exclusive lock while open
//! segments/<20 digits>.seg     frames; the name is the position of the first record
//! index.snap                   the indexes as of some position (index.snap.tmp while replaced)
//! ```
//!
//! Module map: `format` owns the bytes, `canonical` assembles records' canonical bytes
//! from parts, `index` the in-memory indexes, `snapshot` their image on disk, `open`
//! recovery, `writer` the write path (group commit),
//! `read` the read path, `store` the [`Store`](counterfoil_core::Store) trait,
//! `verify` the full check, [`vfs`] file access.
//!
//! Invariants: only the writer thread changes the log and the indexes; the indexes
//! hold only records that are durable (`Strict`), so every reader sees a prefix of the
//! log with no gaps; a frame is an append unit and is never split.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, mpsc};
use std::time::Duration;

use counterfoil_core::StoreError;
use tokio::sync::{oneshot, watch};

mod canonical;
mod format;
mod index;
mod open;
mod read;
mod snapshot;
mod store;
mod tail;
mod verify;
pub mod vfs;
mod writer;

pub use verify::{Mismatch, VerifyReport};
pub use vfs::{FaultyVfs, RealVfs, Vfs};

use crate::index::Index;
use crate::read::Files;
use crate::writer::{Request, Writer};

/// When an append counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Acknowledged after `fdatasync`: an acknowledged record survives a crash or
    /// power loss. The default.
    #[default]
    Strict,
    /// No sync per append (bulk import): the segment is synced when it rolls, before
    /// an index snapshot and on close. A crash may lose the latest acknowledged
    /// records, which readers may already have seen. Never the default.
    Relaxed,
}

/// How to open a log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The data folder; created if missing.
    pub dir: PathBuf,
    pub durability: Durability,
    /// A segment rolls when the next frame would take it past this size (a frame
    /// larger than this goes alone into its own segment). Default 256 MiB; clamped to
    /// 4 KiB ..= 4 GiB.
    pub segment_bytes: u64,
    /// Write an index snapshot after this many new records (or after the log grew by
    /// a quarter, if that is more), bounding what a reopen after a crash rescans.
    /// Default 1,000,000.
    pub index_checkpoint_records: u64,
    /// File access; the real file system by default.
    pub vfs: Arc<dyn Vfs>,
}

impl LogConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            durability: Durability::Strict,
            segment_bytes: 256 << 20,
            index_checkpoint_records: 1_000_000,
            vfs: Arc::new(RealVfs),
        }
    }
}

/// What opening found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    pub records: u64,
    pub segments: usize,
    /// The incomplete last append that was cut off, if any.
    pub torn_tail: Option<TornTail>,
    /// True when `index.snap` was loaded instead of scanning the whole log.
    pub snapshot_used: bool,
    /// Records read from segments (those after the snapshot, or all).
    pub rescanned_records: u64,
    pub elapsed: Duration,
}

/// A torn tail cut off on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// `segments/<name>.seg`
    pub segment: String,
    /// Where the file now ends.
    pub offset: u64,
    /// Bytes of the unacknowledged append that were cut: up to its last byte that is
    /// not zero (zeros after it are padding the writer wrote ahead, also cut).
    pub bytes_dropped: u64,
}

impl fmt::Display for TornTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "torn tail in {} at offset {}: {} bytes dropped",
            self.segment, self.offset, self.bytes_dropped
        )
    }
}

/// Size figures of an open log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStats {
    pub records: u64,
    pub streams: u64,
    pub segments: u64,
    /// Bytes of durable frames and headers in the segments.
    pub bytes: u64,
    /// Estimated bytes of memory the in-memory indexes hold.
    pub index_bytes: u64,
}

/// State shared by the handles, the writer thread and the snapshot thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub vfs: Arc<dyn Vfs>,
    pub durability: Durability,
    pub segment_bytes: u64,
    pub checkpoint_records: u64,
    pub index: RwLock<Index>,
    pub files: Files,
    pub snapshot_busy: AtomicBool,
    /// Set by [`Log::close`]: reads and appends answer [`StoreError::Closed`].
    pub closed: AtomicBool,
    /// The latest written records, for followers at the end of the log.
    pub tail: RwLock<tail::Tail>,
    /// Batch subscriptions open now: without any, the writer keeps no tail.
    pub followers: std::sync::atomic::AtomicUsize,
    /// Encoding buffers of answered appends, for the next ones.
    pub buffers: canonical::Buffers,
}

#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Request>,
    watermark: watch::Receiver<u64>,
}

/// The embedded log. Cheap to clone; every clone is the same store.
#[derive(Clone)]
pub struct Log {
    inner: Arc<Handle>,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.inner.shared.dir)
            .field("end", &*self.inner.watermark.borrow())
            .finish()
    }
}

impl Log {
    /// Opens (or creates) the log in `config.dir`, taking an exclusive lock on it
    /// (else [`StoreError::Locked`]). Loads the index snapshot, rescans what it does not
    /// cover and cuts off a torn tail; damage before the tail is
    /// [`StoreError::Corrupt`].
    pub fn open(config: LogConfig) -> Result<(Log, OpenReport), StoreError> {
        let files = Files::new(config.vfs.clone(), config.dir.join("segments"));
        let opened = open::open_folder(&config.vfs, &config.dir, &files)?;
        if let Some(t) = &opened.report.torn_tail {
            tracing::warn!("{t}");
        }
        let end = opened.index.end();
        // Positions keep non-decreasing `recorded_at` across restarts too.
        let last_recorded = match end.checked_sub(1) {
            Some(last) => read::read_positions(&files, &opened.index, &[last])?
                .pop()
                .map(|r| r.recorded_at),
            None => None,
        };
        let shared = Arc::new(Shared {
            dir: config.dir.clone(),
            vfs: config.vfs.clone(),
            durability: config.durability,
            segment_bytes: config.segment_bytes.clamp(4096, u64::from(u32::MAX)),
            checkpoint_records: config.index_checkpoint_records.max(1),
            index: RwLock::new(opened.index),
            files,
            snapshot_busy: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            tail: RwLock::new(tail::Tail::default()),
            followers: std::sync::atomic::AtomicUsize::new(0),
            buffers: canonical::Buffers::default(),
        });
        let (tx, rx) = mpsc::channel();
        let (wtx, wrx) = watch::channel(end);
        let writer = Writer {
            shared: shared.clone(),
            rx,
            active: opened.active,
            next_pos: end,
            watermark: Some(wtx),
            lock: Some(opened.lock),
            poisoned: None,
            since_snapshot: opened.report.rescanned_records,
            unsynced: false,
            snapshot_thread: None,
            buf: Vec::new(),
            scratch: Vec::new(),
            direct: Default::default(),
            looked: Default::default(),
            taken: Vec::new(),
            undo: Vec::new(),
            group: writer::Group::resuming(last_recorded),
        };
        std::thread::Builder::new()
            .name("counterfoil-log-writer".into())
            .spawn(move || writer.run())
            .map_err(|source| StoreError::Io {
                op: "spawn writer thread for",
                path: config.dir.display().to_string(),
                source,
            })?;
        let log = Log {
            inner: Arc::new(Handle {
                shared,
                tx,
                watermark: wrx,
            }),
        };
        Ok((log, opened.report))
    }

    /// Finishes pending appends, syncs, writes the index snapshot and releases the
    /// folder. Later calls on any clone answer [`StoreError::Closed`]. Closing twice
    /// is fine.
    pub async fn close(&self) -> Result<(), StoreError> {
        if self.inner.shared.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        if self.send(Request::Close { reply }).is_err() {
            return Ok(());
        }
        rx.await.unwrap_or(Ok(()))
    }

    /// Rechecks the whole log: every frame checksum, every record, contiguous
    /// positions, every stream's revisions and hash chain, and that the in-memory
    /// indexes and `index.snap` agree with it. Returns the first mismatch found.
    /// `progress` is called with the number of records checked so far.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport, StoreError> {
        self.check_open()?;
        verify::verify(&self.inner.shared, progress)
    }

    pub fn stats(&self) -> LogStats {
        let idx = self.index();
        LogStats {
            records: idx.end(),
            streams: idx.stream_count(),
            segments: idx.segments.len() as u64,
            bytes: idx.segments.iter().map(|s| s.len).sum(),
            index_bytes: idx.memory_bytes(),
        }
    }

    fn send(&self, req: Request) -> Result<(), StoreError> {
        self.inner.tx.send(req).map_err(|_| StoreError::Closed)
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.inner.shared.closed.load(Ordering::SeqCst) {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.inner
            .shared
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }
}
