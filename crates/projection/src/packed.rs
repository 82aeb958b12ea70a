//! Several optional strings in one allocation.
//!
//! A ticket's buyer (customer id, email, names, phone) or seat (section, row, seat,
//! ...) is a handful of short optional strings. Kept as separate `Option<Box<str>>`
//! they cost sixteen bytes and one allocation each, for millions of tickets; packed,
//! they cost one pointer and one allocation in all, and fold faster.
//!
//! Layout: for each field in order, its length + 1 (0 = absent) in base-64 digits,
//! least significant first, each digit one ASCII byte (`0x40 | digit` when more
//! digits follow, `digit` for the last), then the bytes; trailing absent fields are
//! left out, so an all-absent value allocates nothing. The lengths being ASCII, the
//! whole is UTF-8 text: a field is a slice of it, found without checking its bytes
//! again (writing a state file lists every field of every ticket). Serialized as the
//! list of fields, so the encoding on disk does not depend on it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable tuple of optional strings.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Packed(Box<str>);

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
        let mut buf = String::with_capacity(kept);
        for field in fields {
            if buf.len() == kept {
                break;
            }
            match field {
                None => push_len(&mut buf, 0),
                Some(s) => {
                    push_len(&mut buf, s.len() as u64 + 1);
                    buf.push_str(s);
                }
            }
        }
        Self(buf.into_boxed_str())
    }

    /// Field `i`, `None` when absent (or beyond the packed fields).
    pub fn get(&self, i: usize) -> Option<&str> {
        self.fields().nth(i).flatten()
    }

    /// Every packed field in order (trailing absent fields are not listed).
    pub fn fields(&self) -> impl Iterator<Item = Option<&str>> {
        let mut rest: &str = &self.0;
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
            let (field, after) = (after.get(..n)?, after.get(n..)?);
            rest = after;
            Some(Some(field))
        })
    }

    /// True when every field is absent.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Bits of a length per digit.
const DIGIT_BITS: u32 = 6;
/// Set in every digit but the last.
const MORE: u8 = 0x40;

/// The digits [`push_len`] writes for `v`.
fn len_size(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(DIGIT_BITS as usize)
}

fn push_len(buf: &mut String, mut v: u64) {
    loop {
        let digit = (v & 0x3f) as u8;
        v >>= DIGIT_BITS;
        if v == 0 {
            buf.push(char::from(digit));
            return;
        }
        buf.push(char::from(digit | MORE));
    }
}

fn read_len(text: &str) -> Option<(u64, &str)> {
    let mut v = 0u64;
    for (i, &b) in text.as_bytes().iter().enumerate().take(11) {
        v |= u64::from(b & 0x3f) << (DIGIT_BITS as usize * i);
        if b & MORE == 0 {
            return Some((v, text.get(i + 1..)?));
        }
    }
    None
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.fields()).finish()
    }
}

impl Packed {
    /// Writes the fields as [`Serialize`] does through `rmp_serde`.
    pub fn write(&self, w: &mut crate::state_file::StateWriter) -> Result<(), String> {
        w.array_len(self.fields().count())?;
        for field in self.fields() {
            match field {
                Some(s) => w.str(s)?,
                None => w.nil()?,
            }
        }
        Ok(())
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
    fn fields_of_many_bytes_per_character_come_back_whole() {
        let fields = [Some("Zoë"), None, Some("東京 ドーム"), Some("🎟️")];
        let p = Packed::new(fields);
        assert_eq!(p.fields().collect::<Vec<_>>(), fields);
    }

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
    fn reference(fields: &[Option<&str>]) -> String {
        let mut buf = String::new();
        let mut kept = 0;
        for field in fields {
            match field {
                None => push_len(&mut buf, 0),
                Some(s) => {
                    push_len(&mut buf, s.len() as u64 + 1);
                    buf.push_str(s);
                    kept = buf.len();
                }
            }
        }
        buf.truncate(kept);
        buf
    }

    #[test]
    fn packs_the_layout_in_one_allocation_of_the_exact_size() {
        let sizes = [0usize, 1, 62, 63, 64, 4_095, 4_096, 20_000];
        let texts: Vec<String> = sizes.iter().map(|&n| "y".repeat(n)).collect();
        for a in [None, Some(0), Some(3), Some(5)] {
            for b in [None, Some(2), Some(7)] {
                for c in [None, Some(1), Some(4), Some(6)] {
                    let fields: Vec<Option<&str>> = [a, b, c]
                        .iter()
                        .map(|i| i.map(|i: usize| texts[i].as_str()))
                        .collect();
                    let p = Packed::new(fields.iter().copied());
                    assert_eq!(&*p.0, reference(&fields).as_str(), "{fields:?}");
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
        for v in [0u64, 1, 63, 64, 4_095, 4_096, 262_144, u64::MAX] {
            let mut buf = String::new();
            push_len(&mut buf, v);
            assert_eq!(len_size(v), buf.len(), "{v}");
            assert!(buf.is_ascii());
            assert_eq!(read_len(&buf), Some((v, "")), "{v}");
        }
    }
}
