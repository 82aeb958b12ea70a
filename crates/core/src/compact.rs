//! The compact MessagePack writer for the bytes the store keeps: a record's canonical
//! bytes (SPEC §8) are this writer's encoding of it.
//!
//! It writes what `rmp_serde`'s writer writes with its default settings (the smallest
//! encoding of every number, strings as `str`, byte strings as `bin`, enums as a
//! one-entry map or, for a unit variant, the variant's name), with structs as arrays of
//! their fields in declaration order, without field names. A field left out by
//! `skip_serializing_if` keeps its place: it is written as [`ABSENT`], the one marker
//! MessagePack leaves unused, and [`crate::msgpack`] reads it as "no value", so the
//! field takes its default exactly as if it had been left out of a map. (`nil` would
//! not do: an explicit `null` and an absent field mean different things for some
//! fields, e.g. `definition.updated`'s `capacity`.)
//!
//! Against field names this halves a demo record (about 384 bytes with names), and
//! every reader, hash and copy of a record goes through fewer bytes.

use serde::ser::{self, Serialize};

use crate::msgpack::Error;

/// The marker of a field left out (MessagePack's never-used byte `0xc1`).
pub const ABSENT: u8 = 0xc1;

type Result<T> = std::result::Result<T, Error>;

/// Appends the compact encoding of `value` to `buf`. On error `buf` may hold part of
/// it; callers discard the buffer (or cut it back) on error.
pub fn write<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) -> Result<()> {
    value.serialize(&mut Writer { buf })
}

/// The compact encoding of `value`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    write(&mut buf, value)?;
    Ok(buf)
}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        <Error as serde::de::Error>::custom(msg)
    }
}

fn too_long(what: &str, n: usize) -> Error {
    <Error as serde::de::Error>::custom(format!(
        "{what} of {n} is too long for MessagePack (at most {})",
        u32::MAX
    ))
}

/// The writer. Public only through [`write`] and [`to_vec`].
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn uint(&mut self, v: u64) {
        let b = &mut *self.buf;
        if v < 0x80 {
            b.push(v as u8);
        } else if v <= u64::from(u8::MAX) {
            b.extend_from_slice(&[0xcc, v as u8]);
        } else if v <= u64::from(u16::MAX) {
            b.push(0xcd);
            b.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= u64::from(u32::MAX) {
            b.push(0xce);
            b.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            b.push(0xcf);
            b.extend_from_slice(&v.to_be_bytes());
        }
    }

    fn sint(&mut self, v: i64) {
        if v >= 0 {
            return self.uint(v as u64);
        }
        let b = &mut *self.buf;
        if v >= -32 {
            b.push(v as i8 as u8);
        } else if v >= i64::from(i8::MIN) {
            b.extend_from_slice(&[0xd0, v as i8 as u8]);
        } else if v >= i64::from(i16::MIN) {
            b.push(0xd1);
            b.extend_from_slice(&(v as i16).to_be_bytes());
        } else if v >= i64::from(i32::MIN) {
            b.push(0xd2);
            b.extend_from_slice(&(v as i32).to_be_bytes());
        } else {
            b.push(0xd3);
            b.extend_from_slice(&v.to_be_bytes());
        }
    }

    fn len_header(&mut self, n: usize, fix: u8, fix_max: usize, m16: u8, m32: u8) -> Result<()> {
        let b = &mut *self.buf;
        if n <= fix_max {
            b.push(fix | n as u8);
        } else if let Ok(n) = u16::try_from(n) {
            b.push(m16);
            b.extend_from_slice(&n.to_be_bytes());
        } else if let Ok(n) = u32::try_from(n) {
            b.push(m32);
            b.extend_from_slice(&n.to_be_bytes());
        } else {
            return Err(too_long("a length", n));
        }
        Ok(())
    }

    fn str(&mut self, s: &str) -> Result<()> {
        let n = s.len();
        if n < 32 {
            self.buf.push(0xa0 | n as u8);
        } else if let Ok(n) = u8::try_from(n) {
            self.buf.extend_from_slice(&[0xd9, n]);
        } else {
            self.len_header(n, 0, 0, 0xda, 0xdb)?;
        }
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn bin(&mut self, v: &[u8]) -> Result<()> {
        let n = v.len();
        if let Ok(n) = u8::try_from(n) {
            self.buf.extend_from_slice(&[0xc4, n]);
        } else {
            self.len_header(n, 0, 0, 0xc5, 0xc6)?;
        }
        self.buf.extend_from_slice(v);
        Ok(())
    }

    fn array_len(&mut self, n: usize) -> Result<()> {
        self.len_header(n, 0x90, 15, 0xdc, 0xdd)
    }

    fn map_len(&mut self, n: usize) -> Result<()> {
        self.len_header(n, 0x80, 15, 0xde, 0xdf)
    }

    fn unknown_len(what: &str) -> Error {
        <Error as serde::de::Error>::custom(format!("{what} of unknown length"))
    }
}

/// A struct's fields: the array header is written when the count is known, since
/// fields left out still take a place.
#[derive(Debug)]
pub struct Fields<'w, 'a> {
    w: &'w mut Writer<'a>,
    header_at: usize,
    count: usize,
}

impl Fields<'_, '_> {
    fn finish(self) -> Result<()> {
        let Fields {
            w,
            header_at,
            count,
        } = self;
        if count <= 15 {
            w.buf[header_at] = 0x90 | count as u8;
            return Ok(());
        }
        let n = u16::try_from(count).map_err(|_| too_long("a struct", count))?;
        // Two more header bytes: the fields move up by two, in one copy.
        let end = w.buf.len();
        w.buf.extend_from_slice(&[0, 0]);
        w.buf.copy_within(header_at + 1..end, header_at + 3);
        w.buf[header_at] = 0xdc;
        w.buf[header_at + 1..header_at + 3].copy_from_slice(&n.to_be_bytes());
        Ok(())
    }
}

/// The items of an array or map whose length was written up front.
#[derive(Debug)]
pub struct Items<'w, 'a> {
    w: &'w mut Writer<'a>,
}

impl<'w, 'a> ser::Serializer for &'w mut Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Items<'w, 'a>;
    type SerializeTuple = Items<'w, 'a>;
    type SerializeTupleStruct = Items<'w, 'a>;
    type SerializeTupleVariant = Items<'w, 'a>;
    type SerializeMap = Items<'w, 'a>;
    type SerializeStruct = Fields<'w, 'a>;
    type SerializeStructVariant = Fields<'w, 'a>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.buf.push(if v { 0xc3 } else { 0xc2 });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<()> {
        self.sint(i64::from(v));
        Ok(())
    }

    fn serialize_i16(self, v: i16) -> Result<()> {
        self.sint(i64::from(v));
        Ok(())
    }

    fn serialize_i32(self, v: i32) -> Result<()> {
        self.sint(i64::from(v));
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result<()> {
        self.sint(v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<()> {
        self.uint(u64::from(v));
        Ok(())
    }

    fn serialize_u16(self, v: u16) -> Result<()> {
        self.uint(u64::from(v));
        Ok(())
    }

    fn serialize_u32(self, v: u32) -> Result<()> {
        self.uint(u64::from(v));
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result<()> {
        self.uint(v);
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<()> {
        self.buf.push(0xca);
        self.buf.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<()> {
        self.buf.push(0xcb);
        self.buf.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<()> {
        self.str(v.encode_utf8(&mut [0u8; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<()> {
        self.str(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.bin(v)
    }

    fn serialize_none(self) -> Result<()> {
        self.buf.push(0xc0);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<()> {
        self.buf.push(0xc0);
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.buf.push(0x90);
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.buf.push(0x81);
        self.str(variant)?;
        value.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Items<'w, 'a>> {
        let n = len.ok_or_else(|| Writer::unknown_len("a sequence"))?;
        self.array_len(n)?;
        Ok(Items { w: self })
    }

    fn serialize_tuple(self, len: usize) -> Result<Items<'w, 'a>> {
        self.array_len(len)?;
        Ok(Items { w: self })
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Items<'w, 'a>> {
        self.array_len(len)?;
        Ok(Items { w: self })
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Items<'w, 'a>> {
        self.buf.push(0x81);
        self.str(variant)?;
        self.array_len(len)?;
        Ok(Items { w: self })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Items<'w, 'a>> {
        let n = len.ok_or_else(|| Writer::unknown_len("a map"))?;
        self.map_len(n)?;
        Ok(Items { w: self })
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Fields<'w, 'a>> {
        let header_at = self.buf.len();
        self.buf.push(0x90);
        Ok(Fields {
            w: self,
            header_at,
            count: 0,
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Fields<'w, 'a>> {
        self.buf.push(0x81);
        self.str(variant)?;
        self.serialize_struct(variant, 0)
    }
}

/// The serde traits whose items are written one after the other, header written up
/// front: `$method` serializes the next one.
macro_rules! items {
    ($($trait:ident::$method:ident),*) => {$(
        impl ser::$trait for Items<'_, '_> {
            type Ok = ();
            type Error = Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                value.serialize(&mut *self.w)
            }

            fn end(self) -> Result<()> {
                Ok(())
            }
        }
    )*};
}

items!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Items<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        key.serialize(&mut *self.w)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.w)
    }

    fn end(self) -> Result<()> {
        Ok(())
    }
}

/// A struct's fields, by value or as [`ABSENT`] (a plain struct and an enum's struct
/// variant alike).
macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Fields<'_, '_> {
            type Ok = ();
            type Error = Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                _key: &'static str,
                value: &T,
            ) -> Result<()> {
                self.count += 1;
                value.serialize(&mut *self.w)
            }

            fn skip_field(&mut self, _key: &'static str) -> Result<()> {
                self.count += 1;
                self.w.buf.push(ABSENT);
                Ok(())
            }

            fn end(self) -> Result<()> {
                self.finish()
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);
