//! The bytes on disk: segment header, frames and frame payloads, exactly as
//! `docs/format.md` describes them. Everything that encodes or parses those bytes lives
//! here so the layout has one owner.

use counterfoil_core::StoreError;
use uuid::Uuid;

/// First 8 bytes of every segment file.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"CFLOG001";
/// Version of the segment and frame layout.
pub(crate) const FORMAT_VERSION: u32 = 2;
/// Bytes before the first frame of a segment.
pub(crate) const HEADER_LEN: u64 = 16;
/// `len: u32 | crc32c: u32` before each payload.
pub(crate) const FRAME_HEADER_LEN: usize = 8;
/// Largest payload a frame may carry. One append unit must fit.
pub(crate) const MAX_FRAME_PAYLOAD: usize = 1 << 30;
/// Longest stream name accepted, in bytes.
pub(crate) const MAX_STREAM_NAME: usize = 1024;

/// The 16-byte segment header.
pub(crate) fn segment_header() -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// Checks a segment header; the error says what is wrong with it.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < HEADER_LEN as usize {
        return Err(format!("header is {} bytes, expected 16", bytes.len()));
    }
    if &bytes[..8] != SEGMENT_MAGIC {
        return Err(format!("bad magic {:02x?}", &bytes[..8]));
    }
    let version = le_u32(&bytes[8..12]);
    if version == 1 {
        return Err(format!(
            "format version 1 (records with their field names, before the compact \
             encoding), this build reads version {FORMAT_VERSION} only"
        ));
    }
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, this build reads {FORMAT_VERSION}"
        ));
    }
    Ok(())
}

/// `segments/<first position, 20 digits>.seg`: names sort like positions.
pub(crate) fn segment_file_name(first: u64) -> String {
    format!("{first:020}.seg")
}

/// The first position a segment file name stands for.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The checksum of a frame: crc32c over the four length bytes, then the payload.
pub(crate) fn frame_crc(len_bytes: &[u8], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(len_bytes), payload)
}

/// A 64-bit fingerprint of a record id, for the id index. Fixed forever: `index.snap`
/// stores it. (murmur3's 64-bit finalizer over both halves.)
pub(crate) fn id_fingerprint(id: &Uuid) -> u64 {
    let (hi, lo) = id.as_u64_pair();
    fmix64(hi ^ fmix64(lo ^ 0x9e37_79b9_7f4a_7c15))
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

pub(crate) fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn encoding(e: impl std::fmt::Display) -> StoreError {
    StoreError::Encoding(e.to_string())
}

/// Writes frames into a reused buffer: [`FrameWriter::begin`], one
/// [`FrameWriter::record`] per record, then [`FrameWriter::finish`].
#[derive(Debug)]
pub(crate) struct FrameWriter;

impl FrameWriter {
    /// Starts a frame of `count` records at `first_position`; returns the frame's start
    /// in `buf`.
    pub(crate) fn begin(buf: &mut Vec<u8>, first_position: u64, count: u32) -> usize {
        let start = buf.len();
        buf.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
        // Writing MessagePack into a Vec cannot fail.
        let _ = rmp::encode::write_array_len(buf, 2);
        let _ = rmp::encode::write_uint(buf, first_position);
        let _ = rmp::encode::write_array_len(buf, count);
        start
    }

    /// Appends one record whose canonical bytes are the concatenation of `parts`, and
    /// its hash, computed by `hash` over those bytes once in place. Returns where the
    /// canonical bytes sit in `buf`, and the hash.
    pub(crate) fn record_parts(
        buf: &mut Vec<u8>,
        parts: [&[u8]; 4],
        hash: impl FnOnce(&[u8]) -> counterfoil_core::Hash,
    ) -> Result<((usize, usize), counterfoil_core::Hash), StoreError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let _ = rmp::encode::write_array_len(buf, 2);
        let _ = rmp::encode::write_bin_len(buf, u32::try_from(len).map_err(encoding)?);
        let at = buf.len();
        for p in parts {
            buf.extend_from_slice(p);
        }
        let h = hash(&buf[at..]);
        let _ = rmp::encode::write_bin_len(buf, 32);
        buf.extend_from_slice(&h.0);
        Ok(((at, at + len), h))
    }

    /// Fills in the length and checksum of the frame that starts at `start`.
    pub(crate) fn finish(buf: &mut [u8], start: usize) -> Result<(), StoreError> {
        let payload_len = buf.len() - start - FRAME_HEADER_LEN;
        if payload_len > MAX_FRAME_PAYLOAD {
            return Err(StoreError::InvalidAppend(format!(
                "the append is {payload_len} bytes encoded; at most {MAX_FRAME_PAYLOAD} fit in one frame"
            )));
        }
        let len_bytes = (payload_len as u32).to_le_bytes();
        let crc = frame_crc(&len_bytes, &buf[start + FRAME_HEADER_LEN..]);
        buf[start..start + 4].copy_from_slice(&len_bytes);
        buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    }
}

/// What is found at a frame boundary.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameCheck {
    /// A whole frame with a good checksum: the payload is `bytes[8..total]`.
    Good { total: usize },
    /// The frame's declared length runs past the bytes available.
    Short,
    /// The checksum does not match.
    BadCrc { total: usize },
}

/// Checks the frame at the start of `bytes` (which may hold more after it).
pub(crate) fn check_frame(bytes: &[u8]) -> FrameCheck {
    if bytes.len() < FRAME_HEADER_LEN {
        return FrameCheck::Short;
    }
    let len = le_u32(&bytes[0..4]) as usize;
    let total = FRAME_HEADER_LEN + len;
    if len > MAX_FRAME_PAYLOAD || total > bytes.len() {
        return FrameCheck::Short;
    }
    let stored = le_u32(&bytes[4..8]);
    if frame_crc(&bytes[0..4], &bytes[FRAME_HEADER_LEN..total]) == stored {
        FrameCheck::Good { total }
    } else {
        FrameCheck::BadCrc { total }
    }
}

/// A parsed frame payload: the first position and an iterator over its records.
#[derive(Debug)]
pub(crate) struct Payload<'a> {
    pub first_position: u64,
    pub count: u32,
    rest: &'a [u8],
    left: u32,
}

/// One record of a payload, not yet decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRecord<'a> {
    pub canonical: &'a [u8],
    pub hash: [u8; 32],
}

impl<'a> Payload<'a> {
    /// Parses the payload header. Records are parsed by [`Payload::next_record`].
    pub(crate) fn parse(payload: &'a [u8]) -> Result<Self, String> {
        let mut rd = payload;
        let outer = rmp::decode::read_array_len(&mut rd).map_err(|e| format!("payload: {e}"))?;
        if outer != 2 {
            return Err(format!("payload array has {outer} items, expected 2"));
        }
        let first_position: u64 =
            rmp::decode::read_int(&mut rd).map_err(|e| format!("first position: {e}"))?;
        let count = rmp::decode::read_array_len(&mut rd).map_err(|e| format!("records: {e}"))?;
        if count == 0 {
            return Err("frame holds no records".into());
        }
        Ok(Payload {
            first_position,
            count,
            rest: rd,
            left: count,
        })
    }

    /// The next record, `None` after the last. Fails on malformed bytes, and when bytes
    /// are left over after the last record.
    pub(crate) fn next_record(&mut self) -> Result<Option<RawRecord<'a>>, String> {
        if self.left == 0 {
            if !self.rest.is_empty() {
                return Err(format!(
                    "{} stray bytes after the last record",
                    self.rest.len()
                ));
            }
            return Ok(None);
        }
        let index = self.count - self.left;
        let mut rd = self.rest;
        let pair =
            rmp::decode::read_array_len(&mut rd).map_err(|e| format!("record {index}: {e}"))?;
        if pair != 2 {
            return Err(format!("record {index} has {pair} items, expected 2"));
        }
        let len = rmp::decode::read_bin_len(&mut rd).map_err(|e| format!("record {index}: {e}"))?
            as usize;
        if rd.len() < len {
            return Err(format!("record {index} runs past the frame"));
        }
        let (canonical, after) = rd.split_at(len);
        let mut rd = after;
        let hlen =
            rmp::decode::read_bin_len(&mut rd).map_err(|e| format!("record {index} hash: {e}"))?;
        if hlen != 32 || rd.len() < 32 {
            return Err(format!("record {index} hash is not 32 bytes"));
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&rd[..32]);
        self.rest = &rd[32..];
        self.left -= 1;
        Ok(Some(RawRecord { canonical, hash }))
    }
}

/// The fields of a record the indexes need, read from the head of its canonical bytes
/// without decoding the whole record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RecordHead<'a> {
    pub position: u64,
    pub stream: &'a str,
    pub revision: u64,
    pub id: Uuid,
}

/// Reads `position`, `stream`, `revision` and `id`, the first four fields of the
/// canonical array. Falls back to a full decode if the bytes are laid out otherwise.
pub(crate) fn record_head(canonical: &[u8]) -> Result<RecordHead<'_>, String> {
    fast_head(canonical).ok_or(()).or_else(|()| {
        let rec = counterfoil_core::StoredRecord::decode_canonical(
            canonical,
            counterfoil_core::Hash::GENESIS,
        )
        .map_err(|e| e.to_string())?;
        // The fast path failed on a record that decodes: its stream name is owned, so
        // find it in the bytes to borrow it.
        let stream = find_str(canonical, &rec.stream)
            .ok_or_else(|| "stream name not found in canonical bytes".to_string())?;
        Ok(RecordHead {
            position: rec.position,
            stream,
            revision: rec.revision,
            id: rec.id,
        })
    })
}

fn find_str<'a>(hay: &'a [u8], needle: &str) -> Option<&'a str> {
    let n = needle.as_bytes();
    let at = hay.windows(n.len().max(1)).position(|w| w == n)?;
    std::str::from_utf8(&hay[at..at + n.len()]).ok()
}

fn fast_head(canonical: &[u8]) -> Option<RecordHead<'_>> {
    let mut rd = canonical;
    let _ = rmp::decode::read_array_len(&mut rd).ok()?;
    let position = rmp::decode::read_int::<u64, _>(&mut rd).ok()?;
    let stream = read_str(&mut rd)?;
    let revision = rmp::decode::read_int::<u64, _>(&mut rd).ok()?;
    let id = match rd.first()? {
        0xc4 => {
            let n = rmp::decode::read_bin_len(&mut rd).ok()? as usize;
            Uuid::from_slice(rd.get(..n)?).ok()?
        }
        _ => Uuid::parse_str(read_str(&mut rd)?).ok()?,
    };
    Some(RecordHead {
        position,
        stream,
        revision,
        id,
    })
}

fn read_str<'a>(rd: &mut &'a [u8]) -> Option<&'a str> {
    let n = rmp::decode::read_str_len(rd).ok()? as usize;
    let s = rd.get(..n)?;
    *rd = &rd[n..];
    std::str::from_utf8(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_detect_damage() {
        let mut buf = Vec::new();
        let start = FrameWriter::begin(&mut buf, 7, 2);
        let h = |b: u8| move |_: &[u8]| counterfoil_core::Hash([b; 32]);
        FrameWriter::record_parts(&mut buf, [b"a", b"", b"bc", b""], h(1)).unwrap();
        FrameWriter::record_parts(&mut buf, [b"", b"", b"", b""], h(2)).unwrap();
        FrameWriter::finish(&mut buf, start).unwrap();
        let FrameCheck::Good { total } = check_frame(&buf) else {
            panic!("frame should check")
        };
        assert_eq!(total, buf.len());
        let mut p = Payload::parse(&buf[8..total]).unwrap();
        assert_eq!(p.first_position, 7);
        let a = p.next_record().unwrap().unwrap();
        assert_eq!(a.canonical, b"abc");
        assert_eq!(a.hash, [1; 32]);
        let b = p.next_record().unwrap().unwrap();
        assert_eq!(b.hash, [2; 32]);
        assert!(p.next_record().unwrap().is_none());

        assert_eq!(check_frame(&buf[..buf.len() - 1]), FrameCheck::Short);
        let mut bad = buf.clone();
        bad[12] ^= 1;
        assert_eq!(check_frame(&bad), FrameCheck::BadCrc { total });
    }

    #[test]
    fn segment_names_sort_like_positions() {
        assert_eq!(segment_file_name(42), "00000000000000000042.seg");
        assert_eq!(parse_segment_name("00000000000000000042.seg"), Some(42));
        assert_eq!(parse_segment_name("42.seg"), None);
        assert_eq!(parse_segment_name("00000000000000000042.tmp"), None);
    }

    #[test]
    fn header_checks_magic_and_version() {
        assert!(check_header(&segment_header()).is_ok());
        let mut h = segment_header();
        h[8] = 9;
        assert!(check_header(&h).unwrap_err().contains("version"));
        // A log written before the compact record encoding is named as such.
        h[8] = 1;
        let err = check_header(&h).unwrap_err();
        assert!(
            err.contains("format version 1") && err.contains("compact"),
            "{err}"
        );
        h[0] = b'X';
        assert!(check_header(&h).unwrap_err().contains("magic"));
    }
}

#[cfg(test)]
mod canonical_tests {
    use counterfoil_core::catalog::TicketRef;
    use counterfoil_core::{Hash, Id, NewRecord, RecordBody, StoredRecord};
    use uuid::Uuid;

    #[test]
    fn the_record_head_is_read_without_a_full_decode() {
        let new = NewRecord {
            id: Uuid::now_v7(),
            occurred_at: chrono::Utc::now(),
            source: "s".into(),
            actor: "a".into(),
            correlation_id: None,
            body: RecordBody::TicketDelivered(TicketRef {
                ticket_id: Id::new("T1").unwrap(),
            }),
        };
        let id = new.id;
        let mut scratch = Vec::new();
        let rec = StoredRecord::seal(
            new,
            "ticket-T1",
            3,
            42,
            chrono::Utc::now(),
            &Hash::GENESIS,
            &mut scratch,
        )
        .unwrap();
        let head = super::fast_head(&scratch).expect("the fast path reads canonical bytes");
        assert_eq!(
            (head.position, head.stream, head.revision, head.id),
            (42, "ticket-T1", 3, id)
        );
        assert_eq!(super::record_head(&scratch).unwrap(), head);
        assert_eq!(rec.id, id);
    }
}
