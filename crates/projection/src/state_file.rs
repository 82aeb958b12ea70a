//! The state file `<NAME>.state`: a projector's state and its checkpoint in one file,
//! so that they are always persisted together, and replaced atomically.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! 0   8 bytes   magic "CFPSTATE"
//! 8   u32       header length H
//! 12  u32       crc32c of the header bytes
//! 16  H bytes   header: MessagePack map {format, name, version, settings, checkpoint,
//!               last_position, last_hash, body_len, body_crc32c}; `body_len` and
//!               `body_crc32c` at full width (`uint 64`, `uint 32`), so H is known
//!               before the body is (files with the smallest widths read the same)
//! 16+H          body: the projector's state, MessagePack (compact, positional)
//! ```
//!
//! `checkpoint` is the next log position to read: every record below it is folded
//! into the body, none at or above it. `last_position`/`last_hash` name the last record
//! folded, so a state file is not trusted against another log.
//!
//! Replacement: write `<NAME>.state.tmp`, fsync it, rename it over `<NAME>.state`,
//! fsync the folder. A crash leaves either the old file or the new one. A persist on
//! a folding thread writes the body while it is encoded and the head last
//! ([`persist_streaming`]); the bytes are the same.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use counterfoil_core::Hash;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The first eight bytes of every state file.
pub const MAGIC: &[u8; 8] = b"CFPSTATE";
/// Version of this layout (not of any projector).
pub const FORMAT: u32 = 1;

const PREFIX: usize = 16;

/// Everything about a state file except the state itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub name: String,
    pub version: u32,
    pub settings: String,
    /// Next position to read.
    pub checkpoint: u64,
    /// Position and hash of the last record folded; absent when none was.
    pub last_position: Option<u64>,
    pub last_hash: Option<String>,
    pub body_len: u64,
    pub body_crc32c: u32,
}

impl Header {
    /// The last record folded, if any, with its hash.
    pub fn last_record(&self) -> Option<(u64, Hash)> {
        let p = self.last_position?;
        let h = Hash::from_hex(self.last_hash.as_deref()?).ok()?;
        Some((p, h))
    }
}

/// An encoded state file, in the pieces it is written as.
#[derive(Debug)]
pub struct Encoded {
    /// Magic, lengths, checksum and header.
    pub head: Vec<u8>,
    /// The state, in chunks of up to [`MAX_CHUNK`] bytes.
    pub body: Vec<Vec<u8>>,
}

impl Encoded {
    /// The pieces in file order.
    pub fn parts(&self) -> Vec<&[u8]> {
        std::iter::once(self.head.as_slice())
            .chain(self.body.iter().map(Vec::as_slice))
            .collect()
    }

    /// The whole file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.parts().concat()
    }
}

/// The largest chunk of an encoded body. A state of hundreds of MB encoded into one
/// growing buffer was copied at each doubling, onto pages never touched before: a
/// twentieth of a 10,000,000-record rebuild. Chunks are written where they are.
pub const MAX_CHUNK: usize = 4 << 20;

/// Writes of up to this many bytes are copied without a call to `memcpy`.
const SMALL_WRITE: usize = 16;

/// The first chunk's size; each next one is twice the last, up to [`MAX_CHUNK`].
const FIRST_CHUNK: usize = 16 << 10;

/// Where a state's MessagePack is written: chunks that are never moved. A projector
/// with a large state can encode parts of it on several threads
/// ([`StateWriter::seq_parallel`]); the bytes are those of one `rmp_serde` encoding.
#[derive(Default)]
pub struct StateWriter {
    full: Vec<Vec<u8>>,
    open: Vec<u8>,
    len: u64,
    /// Where full chunks go instead of `full` when the file is written while it is
    /// encoded ([`persist_streaming`]).
    sink: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
}

impl std::fmt::Debug for StateWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateWriter")
            .field("len", &self.len)
            .field(
                "chunks",
                &(self.full.len() + usize::from(!self.open.is_empty())),
            )
            .finish()
    }
}

impl Write for StateWriter {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<usize> {
        let n = bytes.len();
        self.len += n as u64;
        if self.open.capacity() - self.open.len() >= n {
            if n <= SMALL_WRITE {
                // A marker or a number: copied byte by byte in place, not through a
                // call to `memcpy` (most of the encoding's writes are this small).
                self.open.extend(bytes.iter().copied());
            } else {
                self.open.extend_from_slice(bytes);
            }
            return Ok(n);
        }
        while !bytes.is_empty() {
            if self.open.len() == self.open.capacity() {
                let next = match self.open.capacity() {
                    0 => FIRST_CHUNK,
                    c => (c * 2).min(MAX_CHUNK),
                };
                let full = std::mem::replace(&mut self.open, Vec::with_capacity(next));
                if !full.is_empty() {
                    self.emit(full)?;
                }
            }
            let take = (self.open.capacity() - self.open.len()).min(bytes.len());
            self.open.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(n)
    }

    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write(bytes).map(drop)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl StateWriter {
    /// Appends `value` as `rmp_serde` encodes it (structs positional).
    pub fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), String> {
        rmp_serde::encode::write(self, value).map_err(|e| e.to_string())
    }

    /// Appends the header of an array (or of a positional struct) of `len` items.
    pub fn array_len(&mut self, len: usize) -> Result<(), String> {
        let len = u32::try_from(len).map_err(|_| format!("{len} items is too many"))?;
        match len {
            0..16 => self.fixed([0x90 | len as u8]),
            16..65_536 => self.marked(0xdc, (len as u16).to_be_bytes()),
            _ => self.marked(0xdd, len.to_be_bytes()),
        }
    }

    /// Appends an unsigned integer as `rmp_serde` encodes any unsigned type (the
    /// fewest bytes).
    pub fn uint(&mut self, v: u64) -> Result<(), String> {
        match v {
            0..128 => self.fixed([v as u8]),
            128..256 => self.fixed([0xcc, v as u8]),
            256..65_536 => self.marked(0xcd, (v as u16).to_be_bytes()),
            65_536..4_294_967_296 => self.marked(0xce, (v as u32).to_be_bytes()),
            _ => self.marked(0xcf, v.to_be_bytes()),
        }
    }

    /// Appends a signed integer as `rmp_serde` encodes any signed type.
    pub fn sint(&mut self, v: i64) -> Result<(), String> {
        match v {
            0.. => self.uint(v.unsigned_abs()),
            -32..=-1 => self.fixed((v as i8).to_be_bytes()),
            -128..=-33 => self.marked(0xd0, (v as i8).to_be_bytes()),
            -32_768..=-129 => self.marked(0xd1, (v as i16).to_be_bytes()),
            -2_147_483_648..=-32_769 => self.marked(0xd2, (v as i32).to_be_bytes()),
            _ => self.marked(0xd3, v.to_be_bytes()),
        }
    }

    /// Appends a string.
    pub fn str(&mut self, v: &str) -> Result<(), String> {
        match u32::try_from(v.len()) {
            Ok(n @ 0..32) => self.fixed([0xa0 | n as u8])?,
            Ok(n @ 32..256) => self.fixed([0xd9, n as u8])?,
            Ok(n @ 256..65_536) => self.marked(0xda, (n as u16).to_be_bytes())?,
            Ok(n) => self.marked(0xdb, n.to_be_bytes())?,
            Err(_) => return Err(format!("a string of {} bytes is too long", v.len())),
        }
        self.put(v.as_bytes())
    }

    /// Appends a byte string (`serialize_bytes`).
    pub fn bytes(&mut self, v: &[u8]) -> Result<(), String> {
        match u32::try_from(v.len()) {
            Ok(n @ 0..256) => self.fixed([0xc4, n as u8])?,
            Ok(n @ 256..65_536) => self.marked(0xc5, (n as u16).to_be_bytes())?,
            Ok(n) => self.marked(0xc6, n.to_be_bytes())?,
            Err(_) => return Err(format!("{} bytes are too many", v.len())),
        }
        self.put(v)
    }

    /// Appends `nil`: `None`, `()`.
    pub fn nil(&mut self) -> Result<(), String> {
        self.fixed([0xc0])
    }

    /// Appends a boolean.
    pub fn bool(&mut self, v: bool) -> Result<(), String> {
        self.fixed([if v { 0xc3 } else { 0xc2 }])
    }

    /// Appends `items` as a `Vec<u32>` encodes.
    pub fn u32s(&mut self, items: &[u32]) -> Result<(), String> {
        self.array_len(items.len())?;
        items.iter().try_for_each(|&v| self.uint(u64::from(v)))
    }

    /// Appends a ticket's lifecycle as its `Serialize` encodes it.
    pub fn life(&mut self, life: &crate::TicketLife) -> Result<(), String> {
        let (redemptions, flags) = life.to_parts();
        self.array_len(2)?;
        self.uint(u64::from(redemptions))?;
        self.uint(u64::from(flags))
    }

    /// A marker and the bytes after it. Every write here is of a length known when
    /// compiling, so it is a few moves, not a call to copy.
    fn marked<const N: usize>(&mut self, marker: u8, bytes: [u8; N]) -> Result<(), String> {
        self.fixed([marker])?;
        self.fixed(bytes)
    }

    #[inline]
    fn fixed<const N: usize>(&mut self, bytes: [u8; N]) -> Result<(), String> {
        if self.open.capacity() - self.open.len() >= N {
            self.open.extend_from_slice(&bytes);
            self.len += N as u64;
            return Ok(());
        }
        self.put(&bytes)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.write_all(bytes).map_err(|e| e.to_string())
    }

    /// Appends the items of `slices`, one after the other, as one sequence: the bytes
    /// `value` of them all in a `Vec` gives. The items are encoded in `parts` pieces
    /// of about the same count, on as many threads.
    pub fn seq_parallel<T: Serialize + Sync>(
        &mut self,
        slices: &[&[T]],
        parts: usize,
    ) -> Result<(), String> {
        self.seq_parallel_with(slices, parts, |item, w| w.value(item))
    }

    /// [`StateWriter::seq_parallel`] with each item written by `encode`, which must
    /// write the bytes [`StateWriter::value`] would (a projector's own encoder for the
    /// bulk of its state, without serde's calls per field).
    pub fn seq_parallel_with<T: Sync>(
        &mut self,
        slices: &[&[T]],
        parts: usize,
        encode_item: impl Fn(&T, &mut StateWriter) -> Result<(), String> + Sync,
    ) -> Result<(), String> {
        let total: usize = slices.iter().map(|s| s.len()).sum();
        self.array_len(total)?;
        let size = total.div_ceil(parts.max(1)).max(1);
        // Each piece is a run of (parts of) slices holding `size` items, the last fewer.
        let mut pieces: Vec<Vec<&[T]>> = Vec::new();
        let mut room = 0;
        for slice in slices {
            let mut rest: &[T] = slice;
            while !rest.is_empty() {
                if room == 0 {
                    pieces.push(Vec::new());
                    room = size;
                }
                let (head, tail) = rest.split_at(room.min(rest.len()));
                if let Some(piece) = pieces.last_mut() {
                    piece.push(head);
                }
                room -= head.len();
                rest = tail;
            }
        }
        let encode_item = &encode_item;
        let encode = |piece: &[&[T]]| -> Result<StateWriter, String> {
            let mut w = StateWriter::default();
            piece
                .iter()
                .flat_map(|s| s.iter())
                .try_for_each(|item| encode_item(item, &mut w))?;
            Ok(w)
        };
        if pieces.len() <= 1 {
            return pieces
                .iter()
                .flatten()
                .flat_map(|s| s.iter())
                .try_for_each(|item| encode_item(item, self));
        }
        let mut rest = pieces.iter().map(Vec::as_slice);
        let first = rest.next().unwrap_or_default();
        std::thread::scope(|scope| {
            // A piece whose thread cannot be started is encoded here instead.
            let handles: Vec<_> = rest
                .map(|piece| {
                    std::thread::Builder::new()
                        .name("encode state".into())
                        .spawn_scoped(scope, move || encode(piece))
                        .map_err(|_| piece)
                })
                .collect();
            // The first piece straight into this writer: a file written while it is
            // encoded gets it at once.
            first
                .iter()
                .flat_map(|s| s.iter())
                .try_for_each(|item| encode_item(item, self))?;
            for h in handles {
                let piece = match h {
                    Ok(h) => h
                        .join()
                        .unwrap_or_else(|_| Err("a state-encoding thread panicked".into())),
                    Err(piece) => encode(piece),
                };
                self.append(piece?)?;
            }
            Ok(())
        })
    }

    /// Appends another writer's bytes without copying them.
    fn append(&mut self, other: StateWriter) -> Result<(), String> {
        let other = other.finish_chunks();
        if other.is_empty() {
            return Ok(());
        }
        let open = std::mem::take(&mut self.open);
        if !open.is_empty() {
            self.emit(open).map_err(|e| e.to_string())?;
        }
        for chunk in other {
            self.len += chunk.len() as u64;
            self.emit(chunk).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// A full chunk: to the sink if there is one, else kept.
    fn emit(&mut self, chunk: Vec<u8>) -> std::io::Result<()> {
        match &self.sink {
            Some(sink) => sink
                .send(chunk)
                .map_err(|_| std::io::Error::other("the state file's writer stopped")),
            None => {
                self.full.push(chunk);
                Ok(())
            }
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sends the open chunk to the sink (a writer without one keeps it).
    fn flush_open(&mut self) -> Result<(), String> {
        if self.sink.is_none() || self.open.is_empty() {
            return Ok(());
        }
        let open = std::mem::take(&mut self.open);
        self.emit(open).map_err(|e| e.to_string())
    }

    pub(crate) fn finish_chunks(mut self) -> Vec<Vec<u8>> {
        if !self.open.is_empty() {
            self.full.push(self.open);
        }
        self.full
    }
}

/// What the file says where the caller must not trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Bad magic, a checksum mismatch, a short file or an undecodable state.
    Corrupt(String),
    /// A state of another projector.
    OtherName(String),
    /// A state of another version of this projector.
    OtherVersion(u32),
    /// A state built with other settings.
    OtherSettings(String),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Corrupt(r) => write!(f, "damaged: {r}"),
            Rejection::OtherName(n) => write!(f, "holds the state of projection {n:?}"),
            Rejection::OtherVersion(v) => write!(f, "holds version {v}"),
            Rejection::OtherSettings(s) => write!(f, "was built with settings {s:?}"),
        }
    }
}

/// Encodes a state and its checkpoint.
pub fn encode<P: Serialize>(
    name: &str,
    version: u32,
    settings: &str,
    checkpoint: u64,
    last: Option<(u64, Hash)>,
    state: &P,
) -> Result<Encoded, String> {
    encode_with(name, version, settings, checkpoint, last, |w| {
        w.value(state)
    })
}

/// The state file of a projector's state: its name, version and settings, the body
/// as its [`crate::Projector::encode_state`] writes it.
pub fn encode_projector<P: crate::Projector>(
    state: &P,
    checkpoint: u64,
    last: Option<(u64, Hash)>,
) -> Result<Encoded, String> {
    encode_with(
        P::NAME,
        P::VERSION,
        &state.settings(),
        checkpoint,
        last,
        |w| state.encode_state(w),
    )
}

/// [`encode`] with the body written by `body` (see [`crate::Projector::encode_state`]).
pub fn encode_with(
    name: &str,
    version: u32,
    settings: &str,
    checkpoint: u64,
    last: Option<(u64, Hash)>,
    body: impl FnOnce(&mut StateWriter) -> Result<(), String>,
) -> Result<Encoded, String> {
    let mut chunks = StateWriter::default();
    body(&mut chunks)?;
    let body_len = chunks.len;
    let body = chunks.finish_chunks();
    let body_crc32c = crc32c_of(&body, PARALLEL_WRITE_BYTES);
    let head = encode_head(
        name,
        version,
        settings,
        checkpoint,
        last,
        body_len,
        body_crc32c,
    )?;
    Ok(Encoded { head, body })
}

/// The magic, lengths, checksum and header of a state file. The header is the
/// MessagePack map [`Header`] reads, with `body_len` and `body_crc32c` written at their
/// full widths (9 and 5 bytes, which any MessagePack reader takes for those fields):
/// the head's length does not depend on the body, so a body can be written after it
/// while it is encoded ([`persist_streaming`]) and the head last.
pub fn encode_head(
    name: &str,
    version: u32,
    settings: &str,
    checkpoint: u64,
    last: Option<(u64, Hash)>,
    body_len: u64,
    body_crc32c: u32,
) -> Result<Vec<u8>, String> {
    use rmp::encode as mp;
    fn e<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, String> {
        r.map_err(|e| e.to_string())
    }
    let mut h = Vec::with_capacity(256);
    e(mp::write_map_len(&mut h, 9))?;
    e(mp::write_str(&mut h, "format"))?;
    e(mp::write_uint(&mut h, u64::from(FORMAT)))?;
    e(mp::write_str(&mut h, "name"))?;
    e(mp::write_str(&mut h, name))?;
    e(mp::write_str(&mut h, "version"))?;
    e(mp::write_uint(&mut h, u64::from(version)))?;
    e(mp::write_str(&mut h, "settings"))?;
    e(mp::write_str(&mut h, settings))?;
    e(mp::write_str(&mut h, "checkpoint"))?;
    e(mp::write_uint(&mut h, checkpoint))?;
    e(mp::write_str(&mut h, "last_position"))?;
    match last {
        Some((p, _)) => e(mp::write_uint(&mut h, p)).map(drop)?,
        None => e(mp::write_nil(&mut h))?,
    }
    e(mp::write_str(&mut h, "last_hash"))?;
    match last {
        Some((_, hash)) => e(mp::write_str(&mut h, &hash.to_hex()))?,
        None => e(mp::write_nil(&mut h))?,
    }
    e(mp::write_str(&mut h, "body_len"))?;
    e(mp::write_u64(&mut h, body_len))?;
    e(mp::write_str(&mut h, "body_crc32c"))?;
    e(mp::write_u32(&mut h, body_crc32c))?;
    let header_len = u32::try_from(h.len()).map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(PREFIX + h.len());
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&header_len.to_le_bytes());
    head.extend_from_slice(&crc32c::crc32c(&h).to_le_bytes());
    head.extend_from_slice(&h);
    Ok(head)
}

/// The CRC-32C of `chunks` one after the other; from `parallel_from` bytes on, its two
/// halves on two threads, combined (hundreds of megabytes of a state file took a
/// core about 40 ms at the end of a rebuild while the other idled).
fn crc32c_of(chunks: &[Vec<u8>], parallel_from: usize) -> u32 {
    let of = |chunks: &[Vec<u8>]| {
        chunks
            .iter()
            .fold(0, |crc, chunk| crc32c::crc32c_append(crc, chunk))
    };
    let total: usize = chunks.iter().map(Vec::len).sum();
    if total < parallel_from {
        return of(chunks);
    }
    let (split, before) = halfway(chunks);
    let (a, b) = chunks.split_at(split);
    let second_len = total - before;
    std::thread::scope(|s| {
        let theirs = std::thread::Builder::new()
            .name("state checksum".into())
            .spawn_scoped(s, || of(b));
        let mine = of(a);
        let theirs = match theirs {
            Ok(h) => h.join().unwrap_or_else(|_| of(b)),
            Err(_) => of(b),
        };
        crc32c::crc32c_combine(mine, theirs, second_len)
    })
}

/// Reads the header only, checking the magic and the header checksum.
pub fn decode_header(bytes: &[u8]) -> Result<(Header, &[u8]), Rejection> {
    let corrupt = |r: &str| Rejection::Corrupt(r.to_string());
    if bytes.len() < PREFIX {
        return Err(corrupt("shorter than its fixed prefix"));
    }
    if &bytes[..8] != MAGIC {
        return Err(corrupt("not a state file (bad magic)"));
    }
    let word = |at: usize| -> u32 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&bytes[at..at + 4]);
        u32::from_le_bytes(w)
    };
    let header_len = word(8) as usize;
    let header_crc = word(12);
    let Some(header_bytes) = bytes.get(PREFIX..PREFIX + header_len) else {
        return Err(corrupt("header runs past the end of the file"));
    };
    if crc32c::crc32c(header_bytes) != header_crc {
        return Err(corrupt("header checksum mismatch"));
    }
    let header: Header = rmp_serde::from_slice(header_bytes)
        .map_err(|e| Rejection::Corrupt(format!("header does not decode: {e}")))?;
    if header.format != FORMAT {
        return Err(Rejection::Corrupt(format!(
            "unknown layout format {}",
            header.format
        )));
    }
    Ok((header, &bytes[PREFIX + header_len..]))
}

/// Decodes a whole state file, trusting it only if every check passes: magic,
/// checksums, length, name, version and settings.
pub fn decode<P: DeserializeOwned>(
    bytes: &[u8],
    name: &str,
    version: u32,
    settings: &str,
) -> Result<(Header, P), Rejection> {
    let (header, body) = decode_header(bytes)?;
    if header.name != name {
        return Err(Rejection::OtherName(header.name));
    }
    if header.version != version {
        return Err(Rejection::OtherVersion(header.version));
    }
    if header.settings != settings {
        return Err(Rejection::OtherSettings(header.settings));
    }
    if body.len() as u64 != header.body_len {
        return Err(Rejection::Corrupt(format!(
            "body is {} bytes, header says {}",
            body.len(),
            header.body_len
        )));
    }
    if crc32c::crc32c(body) != header.body_crc32c {
        return Err(Rejection::Corrupt("body checksum mismatch".into()));
    }
    if header.last_position.is_some() != header.last_hash.is_some()
        || (header.last_position.is_some() && header.last_record().is_none())
    {
        return Err(Rejection::Corrupt("bad last-record fields".into()));
    }
    let state = counterfoil_core::msgpack::from_slice(body)
        .map_err(|e| Rejection::Corrupt(format!("state does not decode: {e}")))?;
    Ok((header, state))
}

/// The state file of projector `name` in `dir`.
pub fn path_in(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.state"))
}

/// Replaces `path` atomically with `parts` (temp file, fsync, rename, fsync folder).
/// On error, names the operation and the file it failed on.
pub(crate) fn write_atomic(path: &Path, parts: &[&[u8]]) -> Result<(), IoFailure> {
    write_atomic_split(path, parts, PARALLEL_WRITE_BYTES, EARLY_FLUSH_BYTES)
}

/// [`write_atomic`], with two writing threads from `parallel_from` bytes on and a
/// [`Flusher`] from `flush_from` bytes on.
fn write_atomic_split(
    path: &Path,
    parts: &[&[u8]],
    parallel_from: usize,
    flush_from: usize,
) -> Result<(), IoFailure> {
    let tmp = tmp_path(path);
    let f = File::create(&tmp).map_err(at("create", &tmp))?;
    let total: usize = parts.iter().map(|p| p.len()).sum();
    // Only a help: without a thread for it (or a second descriptor), the final sync
    // does it all as before.
    let flusher = (total >= flush_from)
        .then(|| Flusher::start(&f).ok())
        .flatten();
    let kick = flusher.as_ref().map(Flusher::kicker);
    let written = match split_for_writers(parts, parallel_from) {
        Some((first, second, offset)) => {
            // Two threads copy into the page cache at once: for a state of hundreds
            // of megabytes the copy is most of the write, and one core would do it
            // while the other waits.
            let f = &f;
            let theirs_kick = kick.clone();
            let (a, b) = std::thread::scope(|s| {
                let other = s.spawn(move || write_parts_at(f, second, offset, theirs_kick));
                let mine = write_parts_at(f, first, 0, kick);
                let theirs = other
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("the writing thread panicked")));
                (mine, theirs)
            });
            a.and(b)
        }
        None => write_parts_at(&f, parts, 0, kick),
    };
    // The flusher stops before anything else happens to the file, whatever the
    // writes gave; an error it met is the write's (a failed sync is never retried).
    let flushed = flusher.map_or(Ok(()), Flusher::finish);
    written.map_err(at("write", &tmp))?;
    flushed.map_err(at("fsync", &tmp))?;
    sync_into_place(f, &tmp, path)
}

/// What a replacement failed on: the operation, the file, the error.
type IoFailure = (&'static str, PathBuf, std::io::Error);

/// The error of `op` on `p`.
fn at(op: &'static str, p: &Path) -> impl FnOnce(std::io::Error) -> IoFailure {
    let p = p.to_path_buf();
    move |e| (op, p, e)
}

/// `<path>.tmp`, where a state file is written before it replaces `path`.
fn tmp_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// Syncs the written temporary file `f` (at `tmp`), renames it over `path`, and syncs
/// the folder: the end of every replacement.
fn sync_into_place(f: File, tmp: &Path, path: &Path) -> Result<(), IoFailure> {
    f.sync_all().map_err(at("fsync", tmp))?;
    drop(f);
    fs::rename(tmp, path).map_err(at("rename into place", path))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(at("fsync folder", &dir))
}

/// Where `parts` are cut in two of about the same size: the first part that starts
/// at or past half of all bytes (`parts.len()` if none does), and the bytes before it.
fn halfway<P: AsRef<[u8]>>(parts: &[P]) -> (usize, usize) {
    let total: usize = parts.iter().map(|p| p.as_ref().len()).sum();
    let mut before = 0usize;
    for (i, part) in parts.iter().enumerate() {
        if before >= total / 2 {
            return (i, before);
        }
        before += part.as_ref().len();
    }
    (parts.len(), before)
}

/// What [`persist_streaming`] failed on.
#[derive(Debug)]
pub enum PersistError {
    /// The state could not be encoded.
    Encode(String),
    /// The operation, the file it failed on, and the error.
    Io(&'static str, PathBuf, std::io::Error),
}

/// Chunks (of up to [`MAX_CHUNK`] bytes) encoded ahead of the writing thread.
const STREAM_QUEUE: usize = 8;

/// Encodes a state file and replaces `path` with it as [`write_atomic`] does (temp
/// file, fsync, rename, fsync folder), writing the body while it is encoded: each
/// chunk goes, as it fills, to a writing thread that checksums the chunks in order and
/// writes them after the head's place, and the head, whose length does not depend on
/// the body ([`encode_head`]), is written last. The file has the bytes [`encode_with`]
/// gives. At the end of a rebuild the owner report's 394 MB were encoded, then
/// checksummed, then written, then synced, one after the other, with a core idle for
/// much of it; now the disk has most of the file by the time the last part is encoded,
/// and no encoded copy of the whole state is held in memory.
pub fn persist_streaming(
    path: &Path,
    name: &str,
    version: u32,
    settings: &str,
    checkpoint: u64,
    last: Option<(u64, Hash)>,
    body: impl FnOnce(&mut StateWriter) -> Result<(), String>,
) -> Result<(), PersistError> {
    let head_len = encode_head(name, version, settings, checkpoint, last, 0, 0)
        .map_err(PersistError::Encode)?
        .len();
    let tmp = tmp_path(path);
    let io = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |e| PersistError::Io(op, p, e)
    };
    let f = File::create(&tmp).map_err(io("create", &tmp))?;
    let (sink, chunks) = std::sync::mpsc::sync_channel::<Vec<u8>>(STREAM_QUEUE);
    let sums = std::thread::scope(|s| {
        let file = &f;
        let writer = std::thread::Builder::new()
            .name("write state".into())
            .spawn_scoped(s, move || write_stream(file, chunks, head_len as u64))
            .map_err(io("start a writing thread for", &tmp))?;
        let mut w = StateWriter {
            sink: Some(sink),
            ..StateWriter::default()
        };
        let encoded = body(&mut w).and_then(|()| w.flush_open());
        // Closes the sink: the writer finishes what it was sent.
        drop(w);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the state-writing thread panicked")));
        // The writer's error explains an encoding that stopped because it did.
        match (encoded, written) {
            (_, Err(e)) => Err(PersistError::Io("write", tmp.clone(), e)),
            (Err(reason), Ok(_)) => Err(PersistError::Encode(reason)),
            (Ok(()), Ok(sums)) => Ok(sums),
        }
    })
    .inspect_err(|_| {
        // Nothing of it is worth keeping; the file in place is untouched.
        let _ = fs::remove_file(&tmp);
    })?;
    let (body_len, body_crc32c) = sums;
    let head = encode_head(
        name,
        version,
        settings,
        checkpoint,
        last,
        body_len,
        body_crc32c,
    )
    .map_err(PersistError::Encode)?;
    if head.len() != head_len {
        return Err(PersistError::Encode(format!(
            "the head is {} bytes, {head_len} were kept for it",
            head.len()
        )));
    }
    {
        use std::os::unix::fs::FileExt;
        f.write_all_at(&head, 0).map_err(io("write", &tmp))?;
    }
    sync_into_place(f, &tmp, path).map_err(|(op, p, e)| PersistError::Io(op, p, e))
}

/// The writing thread of [`persist_streaming`]: writes `chunks` one after the other
/// from `from` on, and returns their length and checksum. From [`EARLY_FLUSH_BYTES`]
/// on, a [`Flusher`] syncs what was written while the rest comes.
fn write_stream(
    f: &File,
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    from: u64,
) -> std::io::Result<(u64, u32)> {
    use std::os::unix::fs::FileExt;
    let mut at = from;
    let mut crc = 0u32;
    let mut flusher: Option<Flusher> = None;
    let mut outcome = Ok(());
    for chunk in chunks {
        if let Err(e) = f.write_all_at(&chunk, at) {
            outcome = Err(e);
            break;
        }
        crc = crc32c::crc32c_append(crc, &chunk);
        at += chunk.len() as u64;
        if flusher.is_none() && at - from >= EARLY_FLUSH_BYTES as u64 {
            // Only a help: without it the final sync does it all.
            flusher = Flusher::start(f).ok();
        }
        if let Some(flusher) = &flusher {
            // A flusher that stopped on an error reports it when it is finished.
            let _ = flusher.kick.send(());
        }
    }
    // The flusher stops before anything else happens to the file; an error it met is
    // the write's (a failed sync is never retried).
    let flushed = flusher.map_or(Ok(()), Flusher::finish);
    outcome?;
    flushed?;
    Ok((at - from, crc))
}

/// A file at least this large is written by two threads.
const PARALLEL_WRITE_BYTES: usize = 16 << 20;

/// A file at least this large has its written parts sent to the disk while the rest
/// is written ([`Flusher`]).
const EARLY_FLUSH_BYTES: usize = 16 << 20;

/// Syncs a file being written, on a thread of its own, each time a writer says it
/// wrote a part: the disk writes the first parts while the next are copied into the
/// page cache, and the final `fsync` finds little left to write. It was about 15 ms
/// of a 0.5 s rebuild of 1,000,000 records (the owner report's 39 MB) and 140 ms of
/// a 5 s rebuild of 10,000,000, with every core idle. It only starts the writes
/// early: the file is synced whole afterwards as before, and an error any of its
/// syncs meets fails the write (it would not be reported again).
struct Flusher {
    kick: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Flusher {
    fn start(f: &File) -> std::io::Result<Flusher> {
        let file = f.try_clone()?;
        let (kick, kicks) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("flush state".into())
            .spawn(move || {
                while kicks.recv().is_ok() {
                    // Parts written while the last sync ran are synced together.
                    while kicks.try_recv().is_ok() {}
                    file.sync_data()?;
                }
                Ok(())
            })?;
        Ok(Flusher { kick, thread })
    }

    /// What a writer kicks after each part (one each, for several writers).
    fn kicker(&self) -> std::sync::mpsc::Sender<()> {
        self.kick.clone()
    }

    /// Waits, once every writer has let go of its kicker, for the sync under way if
    /// any; the first error of any sync.
    fn finish(self) -> std::io::Result<()> {
        let Flusher { kick, thread } = self;
        drop(kick);
        thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the flushing thread panicked")))
    }
}

/// The parts before a split, the parts after it, and the offset of the second run.
type Split<'a, 'b> = (&'a [&'b [u8]], &'a [&'b [u8]], u64);

/// For a file of at least `parallel_from` bytes on a machine with more than one core:
/// the parts split where about half the bytes come before, and the offset in the file
/// where the second run starts. `None` when one thread should write it all.
fn split_for_writers<'a, 'b>(parts: &'a [&'b [u8]], parallel_from: usize) -> Option<Split<'a, 'b>> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if total < parallel_from || cores < 2 {
        return None;
    }
    let (i, before) = halfway(parts);
    if i == parts.len() {
        return None;
    }
    let (first, second) = parts.split_at(i);
    Some((first, second, before as u64))
}

/// Writes `parts` one after the other into `f` from `offset` on, kicking the
/// [`Flusher`] (if any) after each.
fn write_parts_at(
    f: &File,
    parts: &[&[u8]],
    mut offset: u64,
    kick: Option<std::sync::mpsc::Sender<()>>,
) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    for part in parts {
        f.write_all_at(part, offset)?;
        offset += part.len() as u64;
        if let Some(kick) = &kick {
            // A flusher that stopped on an error reports it when it is finished.
            let _ = kick.send(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_checksum_in_two_halves_is_the_checksum_of_the_whole() {
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = crc32c::crc32c(&bytes);
        for cuts in [
            vec![],
            vec![0],
            vec![1],
            vec![50_000],
            vec![99_999],
            vec![10, 10, 20_000, 70_000],
            vec![0, 0, 100_000],
        ] {
            let mut chunks = Vec::new();
            let mut at = 0;
            for cut in cuts.iter().copied().chain([bytes.len()]) {
                chunks.push(bytes[at..cut].to_vec());
                at = cut;
            }
            assert_eq!(super::crc32c_of(&chunks, 0), whole, "{cuts:?}");
            assert_eq!(super::crc32c_of(&chunks, usize::MAX), whole, "{cuts:?}");
        }
        assert_eq!(super::crc32c_of(&[], 0), 0);
    }

    use super::*;

    /// What `write` puts in a fresh writer, and what `reference` puts in a `Vec`.
    fn both(
        write: impl FnOnce(&mut StateWriter) -> Result<(), String>,
        reference: impl FnOnce(&mut Vec<u8>),
    ) -> (Vec<u8>, Vec<u8>) {
        let mut w = StateWriter::default();
        write(&mut w).unwrap();
        let mut expected = Vec::new();
        reference(&mut expected);
        (w.finish_chunks().concat(), expected)
    }

    #[test]
    fn each_value_is_written_as_rmp_writes_it_at_every_width() {
        let edges = |limit: u64| [limit.saturating_sub(1), limit, limit.saturating_add(1)];
        for v in [
            0,
            1,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u64::from(u32::MAX),
        ]
        .into_iter()
        .flat_map(edges)
        .chain([u64::MAX])
        {
            let (got, want) = both(
                |w| w.uint(v),
                |b| {
                    rmp::encode::write_uint(b, v).unwrap();
                },
            );
            assert_eq!(got, want, "uint {v}");
            for v in [v as i64, (v as i64).wrapping_neg(), -(v as i64 >> 1)] {
                let (got, want) = both(
                    |w| w.sint(v),
                    |b| {
                        rmp::encode::write_sint(b, v).unwrap();
                    },
                );
                assert_eq!(got, want, "sint {v}");
            }
        }
        for v in [i64::MIN, i64::MAX, -32, -33, -128, -129, -32_768, -32_769] {
            let (got, want) = both(
                |w| w.sint(v),
                |b| {
                    rmp::encode::write_sint(b, v).unwrap();
                },
            );
            assert_eq!(got, want, "sint {v}");
        }
        for len in [0, 1, 15, 16, 31, 32, 255, 256, 65_535, 65_536, 70_000] {
            let text = "x".repeat(len);
            let (got, want) = both(
                |w| w.str(&text),
                |b| rmp::encode::write_str(b, &text).unwrap(),
            );
            assert_eq!(got, want, "a string of {len} bytes");
            let (got, want) = both(
                |w| w.bytes(text.as_bytes()),
                |b| rmp::encode::write_bin(b, text.as_bytes()).unwrap(),
            );
            assert_eq!(got, want, "a byte string of {len}");
            let (got, want) = both(
                |w| w.array_len(len),
                |b| {
                    rmp::encode::write_array_len(b, len as u32).unwrap();
                },
            );
            assert_eq!(got, want, "an array of {len}");
        }
        let (got, want) = both(|w| w.nil(), |b| rmp::encode::write_nil(b).unwrap());
        assert_eq!(got, want);
        assert_eq!(got, rmp_serde::to_vec(&None::<u8>).unwrap());
    }

    fn sample() -> Vec<u8> {
        let e = encode(
            "n",
            3,
            "s",
            42,
            Some((41, Hash([7; 32]))),
            &vec![1u32, 2, 3],
        )
        .unwrap();
        e.to_bytes()
    }

    /// A body of about `mb` MB: a sequence of strings encoded in three pieces.
    fn big_body(mb: usize) -> impl Fn(&mut StateWriter) -> Result<(), String> {
        let items: Vec<String> = (0..mb * 50_000).map(|i| format!("item-{i:012}")).collect();
        move |w: &mut StateWriter| {
            w.array_len(2)?;
            w.str("before")?;
            w.seq_parallel_with(&[items.as_slice()], 3, |s, w| w.str(s))
        }
    }

    #[test]
    fn a_file_written_while_encoded_has_the_bytes_of_one_encoded_first() {
        let dir = tempfile::tempdir().unwrap();
        let last = Some((41, Hash([7; 32])));
        // 25 MB: several chunks, three pieces, and the flusher from 16 MiB on.
        for (mb, last) in [(0, None), (1, last), (25, last)] {
            let path = dir.path().join(format!("s{mb}.state"));
            let body = big_body(mb);
            persist_streaming(&path, "n", 3, "s", 42, last, &body).unwrap();
            let want = encode_with("n", 3, "s", 42, last, &body)
                .unwrap()
                .to_bytes();
            let got = fs::read(&path).unwrap();
            assert!(got == want, "{mb} MB");
            let (header, rest) = decode_header(&got).unwrap();
            assert_eq!(header.body_len, rest.len() as u64);
            assert_eq!(header.checkpoint, 42);
            assert_eq!(header.last_record(), last);
            assert!(!dir.path().join(format!("s{mb}.state.tmp")).exists());
        }
    }

    #[test]
    fn a_head_of_minimal_widths_is_read_as_well() {
        // Files written before the head had fixed widths for the body's length and
        // checksum (`rmp_serde`'s smallest encodings).
        let e = encode("n", 3, "s", 42, None, &vec![1u32, 2, 3]).unwrap();
        let bytes = e.to_bytes();
        let (header, body) = decode_header(&bytes).unwrap();
        let old = rmp_serde::to_vec_named(&header).unwrap();
        assert!(old.len() < e.head.len() - PREFIX);
        let mut file = Vec::new();
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&(old.len() as u32).to_le_bytes());
        file.extend_from_slice(&crc32c::crc32c(&old).to_le_bytes());
        file.extend_from_slice(&old);
        file.extend_from_slice(body);
        let (h, state) = decode::<Vec<u32>>(&file, "n", 3, "s").unwrap();
        assert_eq!(h, header);
        assert_eq!(state, vec![1, 2, 3]);
    }

    #[test]
    fn a_persist_that_cannot_encode_or_write_says_so_and_leaves_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.state");
        fs::write(&path, b"old").unwrap();
        let failing = |w: &mut StateWriter| {
            w.array_len(1)?;
            Err::<(), String>("no such value".into())
        };
        match persist_streaming(&path, "n", 1, "", 0, None, failing) {
            Err(PersistError::Encode(reason)) => assert_eq!(reason, "no such value"),
            other => panic!("expected an encoding error, got {other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert!(!dir.path().join("p.state.tmp").exists());
        // A folder where the new file is written first.
        fs::create_dir_all(dir.path().join("p.state.tmp").join("x")).unwrap();
        match persist_streaming(&path, "n", 1, "", 0, None, big_body(1)) {
            Err(PersistError::Io(op, p, _)) => {
                assert_eq!((op, p), ("create", dir.path().join("p.state.tmp")));
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn a_file_split_between_two_writers_has_the_parts_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("split.state");
        let parts: Vec<Vec<u8>> = (0..9u8)
            .map(|i| vec![i; 1000 + 777 * usize::from(i)])
            .collect();
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let whole = parts.concat();
        let (first, second, offset) = split_for_writers(&parts, 1).unwrap();
        assert!(!first.is_empty() && !second.is_empty());
        assert_eq!(first.len() + second.len(), parts.len());
        assert_eq!(
            offset as usize,
            first.iter().map(|p| p.len()).sum::<usize>()
        );
        assert!(offset as usize >= whole.len() / 2);
        // With a flusher syncing the parts as they are written, and without.
        for flush_from in [1, usize::MAX] {
            write_atomic_split(&path, &parts, 1, flush_from).unwrap();
            assert_eq!(fs::read(&path).unwrap(), whole);
            // Over an older, longer file: the new one replaces it whole.
            write_atomic_split(&path, &parts[..3], 1, flush_from).unwrap();
            assert_eq!(fs::read(&path).unwrap(), parts[..3].concat());
            // Below the threshold one thread writes it.
            assert!(split_for_writers(&parts, whole.len() + 1).is_none());
            write_atomic_split(&path, &parts, whole.len() + 1, flush_from).unwrap();
            assert_eq!(fs::read(&path).unwrap(), whole);
            assert!(!dir.path().join("split.state.tmp").exists());
        }
    }

    #[test]
    fn a_flusher_syncs_on_every_kick_and_stops_when_the_writers_are_done() {
        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("f")).unwrap();
        let flusher = Flusher::start(&f).unwrap();
        let kick = flusher.kicker();
        for i in 0..50u8 {
            write_parts_at(&f, &[&[i; 4096]], u64::from(i) * 4096, Some(kick.clone())).unwrap();
        }
        drop(kick);
        flusher.finish().unwrap();
        assert_eq!(fs::metadata(dir.path().join("f")).unwrap().len(), 50 * 4096);
        // Never kicked, it stops at once.
        Flusher::start(&f).unwrap().finish().unwrap();
    }

    #[test]
    fn a_sync_the_flusher_could_not_do_is_its_error() {
        // A character device cannot be synced (EINVAL).
        let null = File::open("/dev/null").unwrap();
        assert!(
            null.sync_data().is_err(),
            "the premise: /dev/null refuses a sync"
        );
        let flusher = Flusher::start(&null).unwrap();
        let kick = flusher.kicker();
        kick.send(()).unwrap();
        drop(kick);
        assert!(flusher.finish().is_err());
    }

    #[test]
    fn round_trips() {
        let (h, state): (Header, Vec<u32>) = decode(&sample(), "n", 3, "s").unwrap();
        assert_eq!(state, vec![1, 2, 3]);
        assert_eq!(h.checkpoint, 42);
        assert_eq!(h.last_record(), Some((41, Hash([7; 32]))));
    }

    #[test]
    fn a_large_state_is_encoded_in_chunks_with_the_bytes_of_one_buffer() {
        let state: Vec<u64> = (0..3_000_000u64).map(|i| i * 7_919).collect();
        let e = encode("n", 3, "s", 42, None, &state).unwrap();
        assert!(e.body.len() > 2, "{} chunk(s)", e.body.len());
        assert!(e.body.iter().all(|c| !c.is_empty() && c.len() <= MAX_CHUNK));
        let whole = rmp_serde::to_vec(&state).unwrap();
        assert_eq!(e.body.concat(), whole);
        let (h, back): (Header, Vec<u64>) = decode(&e.to_bytes(), "n", 3, "s").unwrap();
        assert_eq!(h.body_len, whole.len() as u64);
        assert_eq!(h.body_crc32c, crc32c::crc32c(&whole));
        assert_eq!(back, state);
    }

    #[test]
    fn a_sequence_encoded_in_parallel_has_the_bytes_of_one_encoding() {
        for len in [0usize, 1, 2, 3, 17, 100_000] {
            let items: Vec<(u64, String)> = (0..len as u64)
                .map(|i| (i * 104_729, format!("item-{i}")))
                .collect();
            let whole = rmp_serde::to_vec(&items).unwrap();
            // The items whole, in runs of 7, and in uneven runs with empty ones between.
            let sevens: Vec<&[(u64, String)]> = items.chunks(7).collect();
            let (a, b) = items.split_at(len / 3);
            let uneven: Vec<&[(u64, String)]> = vec![&[], a, &[], b, &[]];
            for slices in [vec![items.as_slice()], sevens, uneven] {
                for parts in [0, 1, 2, 3, 4] {
                    let mut w = StateWriter::default();
                    w.value(&7u8).unwrap();
                    w.seq_parallel(&slices, parts).unwrap();
                    w.value("end").unwrap();
                    let bytes = w.finish_chunks().concat();
                    let mut want = rmp_serde::to_vec(&7u8).unwrap();
                    want.extend_from_slice(&whole);
                    want.extend_from_slice(&rmp_serde::to_vec("end").unwrap());
                    let runs = slices.len();
                    assert_eq!(
                        bytes, want,
                        "{len} item(s) in {runs} run(s), {parts} part(s)"
                    );
                }
            }
        }
    }

    #[test]
    fn any_flipped_byte_or_cut_is_refused() {
        let good = sample();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            assert!(
                decode::<Vec<u32>>(&bad, "n", 3, "s").is_err(),
                "flip at {i}"
            );
        }
        for len in 0..good.len() {
            assert!(
                decode::<Vec<u32>>(&good[..len], "n", 3, "s").is_err(),
                "cut at {len}"
            );
        }
    }

    #[test]
    fn other_name_version_or_settings_are_refused() {
        let good = sample();
        assert_eq!(
            decode::<Vec<u32>>(&good, "m", 3, "s").unwrap_err(),
            Rejection::OtherName("n".into())
        );
        assert_eq!(
            decode::<Vec<u32>>(&good, "n", 4, "s").unwrap_err(),
            Rejection::OtherVersion(3)
        );
        assert_eq!(
            decode::<Vec<u32>>(&good, "n", 3, "t").unwrap_err(),
            Rejection::OtherSettings("s".into())
        );
    }
}
