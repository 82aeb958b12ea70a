//! File access behind a small trait, so that tests can inject the failures a real disk
//! produces (a failed `fdatasync`, a write cut short) into the real store. [`RealVfs`]
//! is the default; [`FaultyVfs`] wraps any other and fails on demand.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

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
    /// Writes all of `buf` at `offset` past the page cache (`O_DIRECT`), where the
    /// system and the file system allow it. `offset`, the length of `buf` and its
    /// address are multiples of [`DIRECT_ALIGN`]. `Ok(false)` means direct writes are
    /// not available for this file and nothing was written: the caller writes through
    /// [`VfsFile::write_all_at`] instead. The default has none.
    fn write_direct_at(&self, buf: &[u8], offset: u64) -> io::Result<bool> {
        let _ = (buf, offset);
        Ok(false)
    }
}

/// The alignment of offset, length and memory address that
/// [`VfsFile::write_direct_at`] asks for: the largest logical block size of the usual
/// disks, so that it suits 512-byte and 4 KiB sectors alike.
pub const DIRECT_ALIGN: usize = 4096;

/// An aligned buffer, reused from write to write, that stages bytes for
/// [`VfsFile::write_direct_at`].
#[derive(Debug, Default)]
pub(crate) struct DirectStage(Vec<u8>);

impl DirectStage {
    /// Writes `head` then `data` at `offset` (a multiple of [`DIRECT_ALIGN`]) past the
    /// page cache, with zeros after them up to the next [`DIRECT_ALIGN`] boundary.
    /// Returns the block written (`head`, `data`, the zeros), or `None` when the file
    /// has no direct writes and nothing was written.
    pub(crate) fn write(
        &mut self,
        file: &dyn VfsFile,
        offset: u64,
        head: &[u8],
        data: &[u8],
    ) -> io::Result<Option<&[u8]>> {
        let len = head.len() + data.len();
        let padded = len.next_multiple_of(DIRECT_ALIGN);
        if self.0.len() < padded + DIRECT_ALIGN {
            self.0 = vec![0; (padded + DIRECT_ALIGN).next_power_of_two()];
        }
        let at = self.0.as_ptr().align_offset(DIRECT_ALIGN);
        let Some(block) = self.0.get_mut(at..at + padded) else {
            return Ok(None);
        };
        block[..head.len()].copy_from_slice(head);
        block[head.len()..len].copy_from_slice(data);
        block[len..].fill(0);
        Ok(file.write_direct_at(block, offset)?.then_some(&*block))
    }
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
struct RealFile {
    file: File,
    /// Where it was opened, to open it again for direct writes.
    path: PathBuf,
    writable: bool,
    /// A second handle opened with `O_DIRECT` on the first direct write; `None` once
    /// direct writes turned out not to be available.
    direct: OnceLock<Option<File>>,
    /// Set when the file system refused a direct write as misaligned.
    direct_refused: std::sync::atomic::AtomicBool,
}

impl RealFile {
    fn direct(&self) -> Option<&File> {
        if !self.writable || self.direct_refused.load(Ordering::Relaxed) {
            return None;
        }
        self.direct
            .get_or_init(|| match open_direct(&self.path) {
                Ok(f) => f,
                Err(e) => {
                    tracing::debug!(
                        "{}: no direct writes ({e}); writing through the page cache",
                        self.path.display()
                    );
                    None
                }
            })
            .as_ref()
    }
}

/// Opens `path` for writing with `O_DIRECT`; `None` where the file system has no
/// direct I/O (it refuses the flag with `EINVAL`).
#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> io::Result<Option<File>> {
    Ok(None)
}

/// True for the error a direct write gets when the file system wants another alignment.
fn is_misaligned(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        e.raw_os_error() == Some(libc::EINVAL)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = e;
        false
    }
}

impl VfsFile for RealFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn write_direct_at(&self, buf: &[u8], offset: u64) -> io::Result<bool> {
        let aligned = |n: u64| n.is_multiple_of(DIRECT_ALIGN as u64);
        if !aligned(offset) || !aligned(buf.len() as u64) || !aligned(buf.as_ptr().addr() as u64) {
            return Ok(false);
        }
        let Some(f) = self.direct() else {
            return Ok(false);
        };
        let mut done = 0;
        while done < buf.len() {
            match f.write_at(&buf[done..], offset + done as u64) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Refused before anything was written: this file system wants
                // another alignment. Write through the page cache from now on.
                Err(e) if done == 0 && is_misaligned(&e) => {
                    self.direct_refused.store(true, Ordering::Relaxed);
                    tracing::debug!(
                        "{}: direct write refused ({e}); writing through the page cache",
                        self.path.display()
                    );
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(true)
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
        Ok(Arc::new(RealFile {
            file: o.open(path)?,
            path: path.to_path_buf(),
            writable: mode != OpenMode::Read,
            direct: OnceLock::new(),
            direct_refused: Default::default(),
        }))
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
    /// Direct writes answer that they are not available, as on a file system
    /// without direct I/O.
    no_direct: std::sync::atomic::AtomicBool,
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
                no_direct: Default::default(),
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

    /// From now on files behave as on a file system without direct I/O:
    /// [`VfsFile::write_direct_at`] writes nothing and says so.
    pub fn without_direct_writes(&self) {
        self.faults.no_direct.store(true, Ordering::SeqCst);
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
    fn write_direct_at(&self, buf: &[u8], offset: u64) -> io::Result<bool> {
        if self.faults.no_direct.load(Ordering::SeqCst) {
            return Ok(false);
        }
        if self.faults.write_budget.load(Ordering::SeqCst) == u64::MAX {
            return self.inner.write_direct_at(buf, offset);
        }
        // With a write limit set, the write goes through `write_all_at`, which cuts
        // it short at the limit the way a dying disk would.
        self.write_all_at(buf, offset).map(|()| true)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of `DIRECT_ALIGN` bytes at an aligned address, filled with `byte`.
    fn aligned_block(mem: &mut Vec<u8>, byte: u8) -> &[u8] {
        mem.clear();
        mem.resize(3 * DIRECT_ALIGN, byte);
        let at = mem.as_ptr().align_offset(DIRECT_ALIGN);
        &mem[at..at + DIRECT_ALIGN]
    }

    #[test]
    fn a_direct_write_lands_where_reads_find_it_or_is_declined_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        let f = RealVfs.open(&path, OpenMode::CreateNew).unwrap();
        f.write_all_at(&[7u8; 100], 0).unwrap();
        let mut mem = Vec::new();
        let block = aligned_block(&mut mem, 9);

        // Misaligned offset, length or address: declined, nothing written.
        assert!(!f.write_direct_at(block, 100).unwrap());
        assert!(!f.write_direct_at(&block[..512], 0).unwrap());
        let unaligned = &mem[1..=DIRECT_ALIGN];
        assert!(!f.write_direct_at(unaligned, 0).unwrap());
        assert_eq!(f.size().unwrap(), 100);

        let block = aligned_block(&mut mem, 9);
        let offset = DIRECT_ALIGN as u64;
        if f.write_direct_at(block, offset).unwrap() {
            // Read through the page cache, by this handle and a new one.
            let mut back = vec![0u8; DIRECT_ALIGN];
            f.read_exact_at(&mut back, offset).unwrap();
            assert!(back.iter().all(|&b| b == 9));
            let again = RealVfs.open(&path, OpenMode::Read).unwrap();
            let mut head = [0u8; 100];
            again.read_exact_at(&mut head, 0).unwrap();
            assert_eq!(head, [7u8; 100]);
            assert_eq!(again.size().unwrap(), 2 * DIRECT_ALIGN as u64);
        } else {
            // A file system without direct I/O: nothing was written.
            assert_eq!(f.size().unwrap(), 100);
        }
    }

    #[test]
    fn a_file_opened_to_read_has_no_direct_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        RealVfs.open(&path, OpenMode::CreateNew).unwrap();
        let f = RealVfs.open(&path, OpenMode::Read).unwrap();
        let mut mem = Vec::new();
        assert!(!f.write_direct_at(aligned_block(&mut mem, 1), 0).unwrap());
        assert_eq!(f.size().unwrap(), 0);
    }

    #[test]
    fn a_write_limit_cuts_a_direct_write_short_too() {
        let tmp = tempfile::tempdir().unwrap();
        let faulty = FaultyVfs::new(Arc::new(RealVfs));
        let f = faulty
            .open(&tmp.path().join("f"), OpenMode::CreateNew)
            .unwrap();
        faulty.fail_writes_after(1000);
        let mut mem = Vec::new();
        assert!(f.write_direct_at(aligned_block(&mut mem, 3), 0).is_err());
        assert_eq!(f.size().unwrap(), 1000);
        faulty.heal();
        let mut mem = Vec::new();
        let block = aligned_block(&mut mem, 4);
        let written = f.write_direct_at(block, 0).unwrap();
        let mut back = vec![0u8; 1000];
        f.read_exact_at(&mut back, 0).unwrap();
        assert!(back.iter().all(|&b| b == if written { 4 } else { 3 }));
    }
}
