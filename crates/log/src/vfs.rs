//! File access behind a small trait, so that tests can inject the failures a real disk
//! produces (a failed `fdatasync`, a write cut short) into the real store. [`RealVfs`]
//! is the default; [`FaultyVfs`] wraps any other and fails on demand.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How [`Vfs::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// An existing file, read only.
    Read,
    /// An existing file, read and write.
    ReadWrite,
    /// A new file, read and write; fails if it exists.
    CreateNew,
    /// Creates the file or empties it, read and write.
    Truncate,
}

/// An open file. Reads and writes are positional so one handle serves many threads.
pub trait VfsFile: Send + Sync + fmt::Debug {
    /// Fills `buf` from `offset`; fails if the file ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// `fdatasync`: the file's data and the metadata needed to read it are durable.
    fn sync_data(&self) -> io::Result<()>;
    /// Truncates or extends the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The file's current length.
    fn size(&self) -> io::Result<u64>;
}

/// A held exclusive lock on the data folder; dropping it releases the lock.
pub type LockGuard = Box<dyn fmt::Debug + Send + Sync>;

/// The file operations the log uses.
pub trait Vfs: Send + Sync + fmt::Debug {
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The names of the entries of a folder.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    fn exists(&self, path: &Path) -> io::Result<bool>;
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// `fsync` on a folder, making created, renamed and removed entries durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on `path` (created if missing). `None` when another
    /// holder has it.
    fn try_lock(&self, path: &Path) -> io::Result<Option<LockGuard>>;
}

/// The operating system's files.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealVfs;

#[derive(Debug)]
struct RealFile(File);

impl VfsFile for RealFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl Vfs for RealVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            out.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let mut o = OpenOptions::new();
        match mode {
            OpenMode::Read => o.read(true),
            OpenMode::ReadWrite => o.read(true).write(true),
            OpenMode::CreateNew => o.read(true).write(true).create_new(true),
            OpenMode::Truncate => o.read(true).write(true).create(true).truncate(true),
        };
        Ok(Arc::new(RealFile(o.open(path)?)))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<LockGuard>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match f.try_lock() {
            Ok(()) => Ok(Some(Box::new(f))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// The faults a [`FaultyVfs`] injects, shared by every file it opened.
#[derive(Debug)]
struct Faults {
    /// How many of the next `sync_data` calls fail.
    failing_syncs: AtomicU64,
    /// Bytes that may still be written before writes fail; `u64::MAX` is unlimited.
    write_budget: AtomicU64,
}

/// Wraps another [`Vfs`] and fails on demand, the way a dying disk does: an `fdatasync`
/// that reports an error, a write cut short after some bytes.
#[derive(Debug, Clone)]
pub struct FaultyVfs {
    inner: Arc<dyn Vfs>,
    faults: Arc<Faults>,
}

impl FaultyVfs {
    pub fn new(inner: Arc<dyn Vfs>) -> Self {
        Self {
            inner,
            faults: Arc::new(Faults {
                failing_syncs: AtomicU64::new(0),
                write_budget: AtomicU64::new(u64::MAX),
            }),
        }
    }

    /// The next `sync_data` on any file fails with an I/O error.
    pub fn fail_next_sync(&self) {
        self.faults.failing_syncs.fetch_add(1, Ordering::SeqCst);
    }

    /// After `bytes` more bytes, writes fail; the write that crosses the limit writes
    /// only the bytes up to it (a torn write).
    pub fn fail_writes_after(&self, bytes: u64) {
        self.faults.write_budget.store(bytes, Ordering::SeqCst);
    }

    /// Stops injecting faults.
    pub fn heal(&self) {
        self.faults.failing_syncs.store(0, Ordering::SeqCst);
        self.faults.write_budget.store(u64::MAX, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn VfsFile>,
    faults: Arc<Faults>,
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected fault: {what}"))
}

impl VfsFile for FaultyFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let want = buf.len() as u64;
        let budget = &self.faults.write_budget;
        let mut left = budget.load(Ordering::SeqCst);
        loop {
            if left == u64::MAX {
                return self.inner.write_all_at(buf, offset);
            }
            let take = left.min(want);
            match budget.compare_exchange(left, left - take, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => {
                    if take > 0 {
                        self.inner.write_all_at(&buf[..take as usize], offset)?;
                    }
                    if take < want {
                        return Err(injected("write failed"));
                    }
                    return Ok(());
                }
                Err(now) => left = now,
            }
        }
    }
    fn sync_data(&self) -> io::Result<()> {
        let fail = self
            .faults
            .failing_syncs
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Err(injected("fdatasync failed"));
        }
        self.inner.sync_data()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn size(&self) -> io::Result<u64> {
        self.inner.size()
    }
}

impl Vfs for FaultyVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        Ok(Arc::new(FaultyFile {
            inner: self.inner.open(path, mode)?,
            faults: self.faults.clone(),
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<LockGuard>> {
        self.inner.try_lock(path)
    }
}
