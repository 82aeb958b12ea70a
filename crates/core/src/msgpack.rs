//! A MessagePack reader for serde, for the bytes the store writes.
//!
//! Reading the log decodes every record, and `rmp_serde`'s general reader was most of
//! the cost of a rebuild. This one reads a borrowed slice only, so every string and
//! byte string is handed to the visitor borrowed; it keeps no marker between calls and
//! hands field names over as bytes. It reads what [`crate::compact`] writes (structs as
//! arrays, a field left out as [`crate::compact::ABSENT`]) and what `rmp_serde`'s
//! writer writes with the default settings (structs as maps or arrays, enums as a
//! one-entry map or, for a unit variant, the variant's name, binary data as `bin`), and
//! answers every other request the way `rmp_serde`'s reader does: a test decodes the
//! same bytes with both.
//!
//! It is stricter in two ways: bytes left over after the value are an error, and so are
//! extension types, which the store never writes.

use std::fmt;

use serde::de::{self, DeserializeSeed, Visitor};

/// Why bytes could not be read as the value asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

type Result<T> = std::result::Result<T, Error>;

/// Nesting deeper than this is refused (the store's records nest a few levels).
const MAX_DEPTH: u16 = 64;

/// Decodes one value that fills `bytes` exactly.
pub fn from_slice<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    let mut de = Reader {
        input: bytes,
        at: 0,
        depth: 0,
    };
    let value = T::deserialize(&mut de)?;
    if de.at != bytes.len() {
        return Err(Error(format!(
            "{} byte(s) left over after the value, at offset {}",
            bytes.len() - de.at,
            de.at
        )));
    }
    Ok(value)
}

/// A reader for callers that know the exact layout they expect (the canonical
/// envelope of a stored record, whose fields always come in one order). Each read
/// answers `None` when the bytes are not what it asks for, without saying why: the
/// caller then hands the whole value to [`from_slice`], which accepts and refuses
/// exactly as before and says why. So this path can only be faster, never different.
pub(crate) struct Cursor<'de>(Reader<'de>);

impl<'de> Cursor<'de> {
    pub(crate) fn new(bytes: &'de [u8]) -> Self {
        Cursor(Reader {
            input: bytes,
            at: 0,
            depth: 0,
        })
    }

    /// The item count of an array that starts here.
    pub(crate) fn array_len(&mut self) -> Option<usize> {
        let r = &mut self.0;
        let n = match r.byte().ok()? {
            m @ 0x90..=0x9f => usize::from(m & 0x0f),
            0xdc => usize::from(r.u16().ok()?),
            0xdd => r.u32().ok()? as usize,
            _ => return None,
        };
        Some(n)
    }

    /// A string's bytes, not checked as UTF-8.
    pub(crate) fn str_bytes(&mut self) -> Option<&'de [u8]> {
        let m = self.0.byte().ok()?;
        let len = self.0.str_len(m).ok()??;
        self.0.take(len).ok()
    }

    pub(crate) fn str(&mut self) -> Option<&'de str> {
        let bytes = self.str_bytes()?;
        match printable_ascii(bytes) {
            Some(s) => Some(s),
            None => text(bytes).ok(),
        }
    }

    /// A stored record's envelope time, read as
    /// [`crate::values::deserialize_timestamp_nanos`] reads it: an integer of
    /// nanoseconds since the Unix epoch, or text. The usual text form
    /// `YYYY-MM-DDTHH:MM:SSZ` is parsed from the bytes (it can only be ASCII), so it
    /// needs no UTF-8 check first.
    pub(crate) fn timestamp(&mut self) -> Option<crate::values::Timestamp> {
        let m = self.0.peek().ok()?;
        if !(0xa0..=0xbf).contains(&m) && !(0xd9..=0xdb).contains(&m) {
            let r = &mut self.0;
            let nanos = match r.byte().ok()? {
                m @ (0x00..=0x7f | 0xe0..=0xff) => i64::from(m as i8),
                0xcc => i64::from(r.byte().ok()?),
                0xcd => i64::from(r.u16().ok()?),
                0xce => i64::from(r.u32().ok()?),
                0xcf => i64::try_from(u64::from_be_bytes(r.array().ok()?)).ok()?,
                0xd0 => i64::from(i8::from_be_bytes(r.array().ok()?)),
                0xd1 => i64::from(i16::from_be_bytes(r.array().ok()?)),
                0xd2 => i64::from(i32::from_be_bytes(r.array().ok()?)),
                0xd3 => i64::from_be_bytes(r.array().ok()?),
                _ => return None,
            };
            return Some(crate::values::timestamp_from_nanos(nanos));
        }
        let bytes = self.str_bytes()?;
        if let Some(t) = crate::values::parse_utc_fast(bytes) {
            return Some(t);
        }
        crate::values::parse_timestamp(text(bytes).ok()?, false).ok()
    }

    /// `nil` as `Some(None)`, a string as `Some(Some(..))`.
    pub(crate) fn opt_str(&mut self) -> Option<Option<&'de str>> {
        if self.0.peek().ok()? == 0xc0 {
            self.0.at += 1;
            return Some(None);
        }
        self.str().map(Some)
    }

    /// An unsigned integer in any of MessagePack's unsigned forms.
    pub(crate) fn uint(&mut self) -> Option<u64> {
        let r = &mut self.0;
        Some(match r.byte().ok()? {
            m @ 0x00..=0x7f => u64::from(m),
            0xcc => u64::from(r.byte().ok()?),
            0xcd => u64::from(r.u16().ok()?),
            0xce => u64::from(r.u32().ok()?),
            0xcf => u64::from_be_bytes(r.array().ok()?),
            _ => return None,
        })
    }

    /// A `bin` of exactly `N` bytes.
    pub(crate) fn bin<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bin_bytes()?.try_into().ok()
    }

    /// Any value through serde, read as [`from_slice`] would read it at nesting
    /// `depth` (the envelope's own map is one level).
    pub(crate) fn value<T: de::Deserialize<'de>>(&mut self, depth: u16) -> Option<T> {
        self.0.depth = depth;
        T::deserialize(&mut self.0).ok()
    }

    /// Where the next read starts, for [`Cursor::seek`].
    pub(crate) fn offset(&self) -> usize {
        self.0.at
    }

    /// Reads next from `offset` (one [`Cursor::offset`] gave).
    pub(crate) fn seek(&mut self, offset: usize) {
        self.0.at = offset;
    }

    /// Steps over `marker` (such as [`crate::compact::ABSENT`] for a field left out, or
    /// `nil`) if it is next: true when it was.
    pub(crate) fn skip(&mut self, marker: u8) -> Option<bool> {
        if self.0.peek().ok()? == marker {
            self.0.at += 1;
            return Some(true);
        }
        Some(false)
    }

    /// A boolean.
    pub(crate) fn bool(&mut self) -> Option<bool> {
        match self.0.byte().ok()? {
            0xc2 => Some(false),
            0xc3 => Some(true),
            _ => None,
        }
    }

    /// The bytes of a `bin`.
    pub(crate) fn bin_bytes(&mut self) -> Option<&'de [u8]> {
        let r = &mut self.0;
        let len = match r.byte().ok()? {
            0xc4 => usize::from(r.byte().ok()?),
            0xc5 => usize::from(r.u16().ok()?),
            0xc6 => r.u32().ok()? as usize,
            _ => return None,
        };
        r.take(len).ok()
    }

    /// True when every byte was read.
    pub(crate) fn at_end(&self) -> bool {
        self.0.at == self.0.input.len()
    }
}

struct Reader<'de> {
    input: &'de [u8],
    at: usize,
    depth: u16,
}

/// `bytes` as text when every byte is printable ASCII (a space to `~`, no control
/// character): nearly every string of a record, whose UTF-8 check, byte by byte, was
/// a sixth of reading the log. Eight bytes are checked at a time.
pub(crate) fn printable_ascii(bytes: &[u8]) -> Option<&str> {
    if !all_printable(bytes) {
        return None;
    }
    #[expect(
        unsafe_code,
        reason = "printable ASCII is valid UTF-8, and checking it again doubled the cost"
    )]
    // SAFETY: every byte is below 0x80 (checked just above), so the bytes are ASCII,
    // and ASCII is valid UTF-8.
    let s = unsafe { std::str::from_utf8_unchecked(bytes) };
    Some(s)
}

/// Whether every byte is in `0x20..=0x7e`. The bytes after the last whole word are
/// checked as the last eight bytes (overlapping words already checked), or one by
/// one in a string shorter than a word: no copy of a variable length.
fn all_printable(bytes: &[u8]) -> bool {
    let word = |at: &[u8]| <[u8; 8]>::try_from(at).map(u64::from_le_bytes);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        match word(w) {
            Ok(w) if printable_word(w) => {}
            _ => return false,
        }
    }
    if words.remainder().is_empty() {
        return true;
    }
    match bytes
        .len()
        .checked_sub(8)
        .and_then(|from| bytes.get(from..))
    {
        Some(last) => word(last).is_ok_and(printable_word),
        None => bytes.iter().all(|b| (0x20..=0x7e).contains(b)),
    }
}

/// Whether each of the eight bytes of `w` is in `0x20..=0x7e`. With `t` a byte's low
/// seven bits, `t + 0x60` reaches 0x80 exactly when `t >= 0x20`, and `t + 1` reaches
/// it exactly when `t` is 0x7f; neither carries into the next byte.
fn printable_word(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let t = w & !HIGH;
    let from_space = t.wrapping_add(0x60 * ONES) & HIGH;
    let del_or_high = (t.wrapping_add(ONES) | w) & HIGH;
    from_space == HIGH && del_or_high == 0
}

/// Text from bytes, checked as UTF-8.
fn text(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| Error(format!("a string is not UTF-8: {e}")))
}

impl<'de> Reader<'de> {
    fn eof(&self) -> Error {
        Error(format!(
            "the data ends early, at offset {} of {}",
            self.at,
            self.input.len()
        ))
    }

    fn peek(&self) -> Result<u8> {
        self.input.get(self.at).copied().ok_or_else(|| self.eof())
    }

    fn byte(&mut self) -> Result<u8> {
        let b = self.peek()?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'de [u8]> {
        let input = self.input;
        let end = self.at.checked_add(n).ok_or_else(|| self.eof())?;
        let bytes = input.get(self.at..end).ok_or_else(|| self.eof())?;
        self.at = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// The length of a string whose marker `m` was read; `None` when `m` is no string.
    fn str_len(&mut self, m: u8) -> Result<Option<usize>> {
        Ok(Some(match m {
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => usize::from(self.byte()?),
            0xda => usize::from(self.u16()?),
            0xdb => self.u32()? as usize,
            _ => return Ok(None),
        }))
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= MAX_DEPTH {
            return Err(Error(format!(
                "values nest deeper than {MAX_DEPTH} levels, at offset {}",
                self.at
            )));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn seq<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        self.items(
            len,
            false,
            |access| visitor.visit_seq(access),
            || format!("an array of {len} item(s)"),
        )
    }

    /// A struct written as the array of its fields.
    fn fields<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        self.items(
            len,
            true,
            |access| visitor.visit_seq(access),
            || format!("an array of {len} field(s)"),
        )
    }

    fn map<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        self.items(
            len,
            false,
            |access| visitor.visit_map(access),
            || format!("a map of {len} entries"),
        )
    }

    /// A struct: the array of its fields, or a map of them by name.
    fn strukt<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let len = match self.peek()? {
            m @ 0x90..=0x9f => {
                self.at += 1;
                usize::from(m & 0x0f)
            }
            0xdc => {
                self.at += 1;
                usize::from(self.u16()?)
            }
            0xdd => {
                self.at += 1;
                self.u32()? as usize
            }
            _ => return self.any(visitor),
        };
        self.fields(len, visitor)
    }

    /// Visits the `len` items of an array or map (`what` names it in the error when
    /// the visitor stops before the last).
    fn items<T>(
        &mut self,
        len: usize,
        fields: bool,
        visit: impl FnOnce(&mut Items<'_, 'de>) -> Result<T>,
        what: impl FnOnce() -> String,
    ) -> Result<T> {
        self.nested(|de| {
            let mut access = Items {
                de,
                left: len,
                fields,
            };
            let value = visit(&mut access)?;
            match access.left {
                0 => Ok(value),
                left => Err(Error(format!(
                    "{} was read only {} far",
                    what(),
                    len - left
                ))),
            }
        })
    }

    fn any<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let m = self.byte()?;
        if let Some(len) = self.str_len(m)? {
            let bytes = self.take(len)?;
            return match text(bytes) {
                Ok(s) => visitor.visit_borrowed_str(s),
                // As rmp_serde does: a visitor that takes bytes may have them.
                Err(e) => visitor.visit_borrowed_bytes(bytes).map_err(|_: Error| e),
            };
        }
        match m {
            0x00..=0x7f => visitor.visit_u8(m),
            0x80..=0x8f => self.map(usize::from(m & 0x0f), visitor),
            0x90..=0x9f => self.seq(usize::from(m & 0x0f), visitor),
            0xc0 => visitor.visit_unit(),
            0xc2 => visitor.visit_bool(false),
            0xc3 => visitor.visit_bool(true),
            0xc4 => {
                let n = usize::from(self.byte()?);
                visitor.visit_borrowed_bytes(self.take(n)?)
            }
            0xc5 => {
                let n = usize::from(self.u16()?);
                visitor.visit_borrowed_bytes(self.take(n)?)
            }
            0xc6 => {
                let n = self.u32()? as usize;
                visitor.visit_borrowed_bytes(self.take(n)?)
            }
            0xca => visitor.visit_f32(f32::from_be_bytes(self.array()?)),
            0xcb => visitor.visit_f64(f64::from_be_bytes(self.array()?)),
            0xcc => visitor.visit_u8(self.byte()?),
            0xcd => visitor.visit_u16(self.u16()?),
            0xce => visitor.visit_u32(self.u32()?),
            0xcf => visitor.visit_u64(u64::from_be_bytes(self.array()?)),
            0xd0 => visitor.visit_i8(i8::from_be_bytes(self.array()?)),
            0xd1 => visitor.visit_i16(i16::from_be_bytes(self.array()?)),
            0xd2 => visitor.visit_i32(i32::from_be_bytes(self.array()?)),
            0xd3 => visitor.visit_i64(i64::from_be_bytes(self.array()?)),
            0xdc => {
                let n = usize::from(self.u16()?);
                self.seq(n, visitor)
            }
            0xdd => {
                let n = self.u32()? as usize;
                self.seq(n, visitor)
            }
            0xde => {
                let n = usize::from(self.u16()?);
                self.map(n, visitor)
            }
            0xdf => {
                let n = self.u32()? as usize;
                self.map(n, visitor)
            }
            0xe0..=0xff => visitor.visit_i8(m as i8),
            0xc7..=0xc9 | 0xd4..=0xd8 => Err(Error(format!(
                "a MessagePack extension type at offset {}, which the store never writes",
                self.at - 1
            ))),
            _ => Err(Error(format!(
                "the marker of a field left out (0xc1) where a value must be, at offset {}",
                self.at - 1
            ))),
        }
    }
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek()? == 0xc0 {
            self.at += 1;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Field and variant names are handed over as bytes: serde's identifier visitors
        // match them as bytes as well as text, so they need no UTF-8 check (about a
        // third of the strings of a record are field names).
        let m = self.peek()?;
        if (0xa0..=0xbf).contains(&m) {
            self.at += 1;
            let bytes = self.take(usize::from(m & 0x1f))?;
            return visitor.visit_borrowed_bytes(bytes);
        }
        self.any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek()? {
            0x81 => {
                self.at += 1;
                self.nested(|de| {
                    visitor.visit_enum(Variant {
                        de,
                        with_data: true,
                    })
                })
            }
            0x80..=0x8f | 0xde | 0xdf => Err(Error(format!(
                "an enum written as a map must have one entry, at offset {}",
                self.at
            ))),
            _ => visitor.visit_enum(Variant {
                de: self,
                with_data: false,
            }),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek()? {
            0xc0 | 0x90 => {
                self.at += 1;
                visitor.visit_unit()
            }
            _ => self.any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.strukt(visitor)
    }

    fn deserialize_i128<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Error("128-bit integers are not stored".into()))
    }

    fn deserialize_u128<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Error("128-bit integers are not stored".into()))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string
        bytes byte_buf unit seq tuple tuple_struct map ignored_any
    }
}

/// The items of an array, or the entries of a map.
struct Items<'a, 'de> {
    de: &'a mut Reader<'de>,
    left: usize,
    /// The array is a struct's fields, which may hold the marker of a field left out.
    fields: bool,
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        // A struct field left out (see `crate::compact`): no value, so a field with
        // a default takes it and any other is refused as missing. Anywhere else the
        // marker is refused as no value at all.
        if self.fields && self.de.peek()? == crate::compact::ABSENT {
            self.de.at += 1;
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        // Never more than the bytes left could hold, whatever a damaged length says.
        Some(self.left.min(self.de.input.len() - self.de.at))
    }
}

impl<'de> de::MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left.min(self.de.input.len() - self.de.at))
    }
}

/// An enum written as `{variant: value}` (`with_data`) or as its variant's name alone.
struct Variant<'a, 'de> {
    de: &'a mut Reader<'de>,
    with_data: bool,
}

impl<'a, 'de> Variant<'a, 'de> {
    /// The reader at the variant's data; a variant written by name alone has none.
    fn data(self, expected: &'static str) -> Result<&'a mut Reader<'de>> {
        if self.with_data {
            Ok(self.de)
        } else {
            Err(de::Error::invalid_type(
                de::Unexpected::UnitVariant,
                &expected,
            ))
        }
    }
}

impl<'a, 'de> de::EnumAccess<'de> for Variant<'a, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let v = seed.deserialize(&mut *self.de)?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        match self.with_data {
            true => de::Deserialize::deserialize(self.de),
            false => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self.data("a variant with data")?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_any(self.data("a tuple variant")?, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.data("a struct variant")?.strukt(visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::printable_ascii;

    /// What `printable_ascii` must answer: the text when it is valid UTF-8 made of
    /// bytes 0x20..=0x7e only.
    fn expected(bytes: &[u8]) -> Option<&str> {
        std::str::from_utf8(bytes)
            .ok()
            .filter(|s| s.bytes().all(|b| (0x20..=0x7e).contains(&b)))
    }

    #[test]
    fn every_byte_at_every_place_of_short_and_long_strings() {
        for len in 0..=25 {
            let base = vec![b'a'; len];
            assert_eq!(printable_ascii(&base), Some(&*"a".repeat(len)));
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut bytes = base.clone();
                    bytes[at] = byte;
                    assert_eq!(
                        printable_ascii(&bytes),
                        expected(&bytes),
                        "byte {byte:#04x} at {at} of {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_edges_of_the_printable_range_next_to_each_other() {
        for (a, b) in [(0x1f, 0x20), (0x7e, 0x7f), (0x7f, 0x80), (0xff, 0x00)] {
            let bytes = [b' ', a, b, b'~', b' ', b' ', b' ', b' ', a, b];
            assert_eq!(printable_ascii(&bytes), expected(&bytes));
        }
        assert_eq!(printable_ascii(b" ~"), Some(" ~"));
        assert_eq!(printable_ascii("caf\u{e9}".as_bytes()), None, "not ASCII");
        assert_eq!(printable_ascii(b"tab\there"), None, "a control character");
    }
}
