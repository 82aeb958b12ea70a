//! Several optional strings in one allocation.
//!
//! A ticket's buyer (customer id, email, names, phone) or seat (section, row, seat,
//! ...) is a handful of short optional strings. Kept as separate `Option<Box<str>>`
//! they cost sixteen bytes and one allocation each, for millions of tickets; packed,
//! they cost one pointer and one allocation in all, and fold faster.
//!
//! Layout: for each field in order, a LEB128 length + 1 (0 = absent) then the bytes;
//! trailing absent fields are left out, so an all-absent value allocates nothing.
//! Serialized as the list of fields, so the encoding on disk does not depend on it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable tuple of optional strings.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Packed(Box<[u8]>);

impl Packed {
    /// Packs the fields in order, into one allocation of the exact size (a rebuild
    /// packs a buyer and a seat for every ticket).
    pub fn new<'a, I>(fields: I) -> Self
    where
        I: IntoIterator<Item = Option<&'a str>>,
        I::IntoIter: Clone,
    {
        let fields = fields.into_iter();
        let mut size = 0;
        let mut kept = 0;
        for field in fields.clone() {
            if let Some(s) = field {
                size += len_size(s.len() as u64 + 1) + s.len();
                kept = size;
            } else {
                size += 1;
            }
        }
        let mut buf = Vec::with_capacity(kept);
        for field in fields {
            if buf.len() == kept {
                break;
            }
            match field {
                None => push_len(&mut buf, 0),
                Some(s) => {
                    push_len(&mut buf, s.len() as u64 + 1);
                    buf.extend_from_slice(s.as_bytes());
                }
            }
        }
        Self(buf.into_boxed_slice())
    }

    /// Field `i`, `None` when absent (or beyond the packed fields).
    pub fn get(&self, i: usize) -> Option<&str> {
        self.fields().nth(i).flatten()
    }

    /// Every packed field in order (trailing absent fields are not listed).
    pub fn fields(&self) -> impl Iterator<Item = Option<&str>> {
        let mut rest: &[u8] = &self.0;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let (len, after) = read_len(rest)?;
            if len == 0 {
                rest = after;
                return Some(None);
            }
            let n = usize::try_from(len - 1).ok()?;
            let (bytes, after) = (after.get(..n)?, after.get(n..)?);
            rest = after;
            Some(std::str::from_utf8(bytes).ok())
        })
    }

    /// True when every field is absent.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The bytes [`push_len`] writes for `v`.
fn len_size(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn push_len(buf: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

fn read_len(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, bytes.get(i + 1..)?));
        }
    }
    None
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.fields()).finish()
    }
}

impl Serialize for Packed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The length first: a sequence of unknown length is buffered and copied by
        // `rmp_serde` (twice per ticket when a large state file is written).
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.fields().count()))?;
        for field in self.fields() {
            seq.serialize_element(&field)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Packed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fields = Vec::<Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        Ok(Packed::new(fields.iter().map(|f| f.as_deref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks() {
        let long = "x".repeat(300);
        let p = Packed::new([Some("a"), None, Some(""), Some(long.as_str()), None]);
        assert_eq!(p.get(0), Some("a"));
        assert_eq!(p.get(1), None);
        assert_eq!(p.get(2), Some(""));
        assert_eq!(p.get(3), Some(long.as_str()));
        assert_eq!(p.get(4), None);
        assert_eq!(p.get(9), None);
        let back: Packed = rmp_serde::from_slice(&rmp_serde::to_vec(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert!(Packed::new([None, None]).is_empty());
        assert_eq!(Packed::new([None, None]), Packed::default());
    }

    /// The layout written field by field into a growing buffer, as the module
    /// describes it: what `Packed::new` must give in one exact allocation.
    fn reference(fields: &[Option<&str>]) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut kept = 0;
        for field in fields {
            match field {
                None => push_len(&mut buf, 0),
                Some(s) => {
                    push_len(&mut buf, s.len() as u64 + 1);
                    buf.extend_from_slice(s.as_bytes());
                    kept = buf.len();
                }
            }
        }
        buf.truncate(kept);
        buf
    }

    #[test]
    fn packs_the_layout_in_one_allocation_of_the_exact_size() {
        let sizes = [0usize, 1, 126, 127, 128, 16_383, 16_384, 20_000];
        let texts: Vec<String> = sizes.iter().map(|&n| "y".repeat(n)).collect();
        for a in [None, Some(0), Some(3), Some(5)] {
            for b in [None, Some(2), Some(7)] {
                for c in [None, Some(1), Some(4), Some(6)] {
                    let fields: Vec<Option<&str>> = [a, b, c]
                        .iter()
                        .map(|i| i.map(|i: usize| texts[i].as_str()))
                        .collect();
                    let p = Packed::new(fields.iter().copied());
                    assert_eq!(&*p.0, reference(&fields).as_slice(), "{fields:?}");
                    // Serialized as the list of its fields up to the last present one.
                    let listed: Vec<Option<&str>> = p.fields().collect();
                    let last = fields
                        .iter()
                        .rposition(Option::is_some)
                        .map_or(0, |i| i + 1);
                    assert_eq!(listed, fields[..last]);
                    assert_eq!(
                        rmp_serde::to_vec(&p).unwrap(),
                        rmp_serde::to_vec(&listed).unwrap()
                    );
                    for (i, f) in fields.iter().enumerate() {
                        assert_eq!(p.get(i), *f);
                    }
                }
            }
        }
        for v in [1u64, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut buf = Vec::new();
            push_len(&mut buf, v);
            assert_eq!(len_size(v), buf.len(), "{v}");
        }
    }
}
