//! String ids interned to dense `u32` indexes, so projector state can refer to a
//! ticket, a definition or a customer with four bytes and keep per-entity data in
//! plain vectors. Millions of tickets make this the difference between a compact fold
//! and a heap of `String` clones.
//!
//! The table serializes as the list of its ids in index order; the hash index is
//! rebuilt on load.

use std::fmt;
use std::hash::BuildHasher;

use counterfoil_core::Text;
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The index that means "none" in projector state (`u32::MAX` is never handed out).
pub const NONE: u32 = u32::MAX;

/// An append-only table of string ids with dense indexes from 0.
#[derive(Default, Clone)]
pub struct IdTable {
    /// Ids of up to 24 bytes (nearly all) are held inline: no allocation to intern
    /// one, and comparing one reads the table's own entry, not a second place.
    names: Vec<Text>,
    index: HashTable<Slot>,
    hasher: DefaultHashBuilder,
}

/// An entry of the hash index: the id's index and 32 bits of its hash. The table
/// places entries by a hash spread from those 32 bits, so growing it never reads an
/// id again, and a lookup compares ids only when the 32 bits agree.
#[derive(Clone, Copy)]
struct Slot {
    ix: u32,
    tag: u32,
}

/// The table hash of an entry whose id hashed to `tag` in its upper half.
fn spread(tag: u32) -> u64 {
    let t = u64::from(tag);
    t.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ t
}

impl IdTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `id`, if it was interned.
    pub fn get(&self, id: &str) -> Option<u32> {
        let tag = self.tag(id);
        self.index
            .find(spread(tag), |s| s.tag == tag && self.name_at(s.ix) == id)
            .map(|s| s.ix)
    }

    fn tag(&self, id: &str) -> u32 {
        (self.hasher.hash_one(id) >> 32) as u32
    }

    /// The index of `id`, interning it if new. Indexes are handed out in order from 0.
    /// A table is full at `u32::MAX - 1` ids; beyond that every new id answers
    /// [`NONE`], which projectors treat as unknown.
    pub fn intern(&mut self, id: &str) -> u32 {
        let tag = self.tag(id);
        let hash = spread(tag);
        if let Some(s) = self
            .index
            .find(hash, |s| s.tag == tag && self.name_at(s.ix) == id)
        {
            return s.ix;
        }
        let Ok(ix) = u32::try_from(self.names.len()) else {
            return NONE;
        };
        if ix == NONE {
            return NONE;
        }
        self.names.push(Text::from(id));
        self.index
            .insert_unique(hash, Slot { ix, tag }, |s| spread(s.tag));
        ix
    }

    /// The id at `ix`; empty for an index not handed out (including [`NONE`]).
    pub fn name(&self, ix: u32) -> &str {
        self.name_at(ix)
    }

    fn name_at(&self, ix: u32) -> &str {
        self.names.get(ix as usize).map_or("", Text::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// `(index, id)` in index order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32, s.as_str()))
    }
}

impl PartialEq for IdTable {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names
    }
}

impl Eq for IdTable {}

impl fmt::Debug for IdTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTable")
            .field("len", &self.names.len())
            .finish()
    }
}

impl Serialize for IdTable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names.iter().map(Text::as_str))
    }
}

impl<'de> Deserialize<'de> for IdTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IdTable;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of ids")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdTable, A::Error> {
                let mut t = IdTable::default();
                if let Some(n) = seq.size_hint() {
                    t.names.reserve(n);
                    t.index.reserve(n, |_| 0);
                }
                while let Some(name) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    let expected = t.names.len();
                    if t.intern(&name) as usize != expected {
                        return Err(serde::de::Error::custom(format!(
                            "id {name:?} appears twice in an id table"
                        )));
                    }
                }
                Ok(t)
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_dense_and_stable() {
        let mut t = IdTable::new();
        assert_eq!(t.intern("a"), 0);
        assert_eq!(t.intern("b"), 1);
        assert_eq!(t.intern("a"), 0);
        assert_eq!(t.get("b"), Some(1));
        assert_eq!(t.get("c"), None);
        assert_eq!(t.name(1), "b");
        assert_eq!(t.name(NONE), "");
        let bytes = rmp_serde::to_vec(&t).unwrap();
        let back: IdTable = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.get("b"), Some(1));
    }

    #[test]
    fn many_ids_survive_growth() {
        let mut t = IdTable::new();
        for i in 0..10_000 {
            assert_eq!(t.intern(&format!("id-{i}")), i);
        }
        for i in 0..10_000 {
            assert_eq!(t.get(&format!("id-{i}")), Some(i));
        }
    }

    #[test]
    fn a_table_with_duplicates_is_refused() {
        let bytes = rmp_serde::to_vec(&vec!["a", "a"]).unwrap();
        assert!(rmp_serde::from_slice::<IdTable>(&bytes).is_err());
    }
}
