//! String ids interned to dense `u32` indexes, so projector state can refer to a
//! ticket, a definition or a customer with four bytes and keep per-entity data in
//! plain vectors. Millions of tickets make this the difference between a compact fold
//! and a heap of `String` clones.
//!
//! The table serializes as the list of its ids in index order; the hash index is
//! rebuilt on load.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use counterfoil_core::Text;
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chunked::ChunkedVec;
use crate::keys::IdKey;

/// The index that means "none" in projector state (`u32::MAX` is never handed out).
pub const NONE: u32 = u32::MAX;

/// An append-only table of string ids with dense indexes from 0.
///
/// Besides lookups by id, a table can be filled through the keys of a
/// [`Keyer`](crate::Keyer) (`intern_keyed`, `get_keyed`): when several read models are
/// rebuilt together, each record's ticket is looked up once, by the keyer, and a
/// table that started empty finds its own index from the key without hashing the id.
/// Such a table builds its hash index only when first asked by id.
#[derive(Default, Clone)]
pub struct IdTable {
    /// Ids of up to 24 bytes (nearly all) are held inline: no allocation to intern
    /// one, and comparing one reads the table's own entry, not a second place. In
    /// chunks: growing a table of millions of ids never copies them.
    names: ChunkedVec<Text>,
    /// Built on first need, from `names`.
    index: OnceLock<HashTable<Slot>>,
    hasher: DefaultHashBuilder,
    keyed: Keyed,
}

/// How a table filled through keys relates to its keyer's table.
#[derive(Default, Clone)]
enum Keyed {
    /// Not filled through keys (or no longer): lookups go by id.
    #[default]
    No,
    /// The table's ids are the keyer's first ids, in its order: an id's index is its
    /// key.
    Prefix { run: u32 },
    /// Every id of the table was interned with a key of the keyer: `by_key[k]` is the
    /// index of the keyer's id `k`, or [`NONE`].
    Mapped { run: u32, by_key: Vec<u32> },
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

fn tag_of(hasher: &DefaultHashBuilder, id: &str) -> u32 {
    (hasher.hash_one(id) >> 32) as u32
}

/// The hash index of `names`, whose indexes are their places.
fn index_of(names: &ChunkedVec<Text>, hasher: &DefaultHashBuilder) -> HashTable<Slot> {
    let mut index = HashTable::with_capacity(names.len());
    for (ix, name) in (0u32..).zip(names) {
        let tag = tag_of(hasher, name.as_str());
        index.insert_unique(spread(tag), Slot { ix, tag }, |s| spread(s.tag));
    }
    index
}

impl IdTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `id`, if it was interned.
    pub fn get(&self, id: &str) -> Option<u32> {
        let tag = tag_of(&self.hasher, id);
        self.index()
            .find(spread(tag), |s| s.tag == tag && self.name_at(s.ix) == id)
            .map(|s| s.ix)
    }

    fn index(&self) -> &HashTable<Slot> {
        self.index
            .get_or_init(|| index_of(&self.names, &self.hasher))
    }

    /// The index of `id`, interning it if new. Indexes are handed out in order from 0.
    /// A table is full at `u32::MAX - 1` ids; beyond that every new id answers
    /// [`NONE`], which projectors treat as unknown.
    pub fn intern(&mut self, id: &str) -> u32 {
        // An id interned without its key ends what keys could tell.
        self.keyed = Keyed::No;
        let tag = tag_of(&self.hasher, id);
        let hash = spread(tag);
        if let Some(s) = self
            .index()
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
        match self.index.get_mut() {
            Some(index) => {
                index.insert_unique(hash, Slot { ix, tag }, |s| spread(s.tag));
            }
            None => {
                let _ = self.index.set(index_of(&self.names, &self.hasher));
            }
        }
        ix
    }

    /// [`IdTable::intern`] of `id`, whose key from the keyer is `key`. A table that is
    /// empty when first given a key, and given every id afterwards with its key from
    /// the same keyer, answers from the key alone; anything else (another keyer's key,
    /// an id the keyer does not know, an id interned without a key, a lookup by id
    /// alone) goes by id from then on. Either way the answer is the index `intern`
    /// gives.
    pub fn intern_keyed(&mut self, id: &str, key: IdKey) -> u32 {
        let len = self.names.len();
        let unindexed = self.index.get().is_none();
        match &mut self.keyed {
            Keyed::Prefix { run } if *run == key.run && key.ix != NONE && unindexed => {
                let k = key.ix as usize;
                if k < len {
                    return key.ix;
                }
                if k > len {
                    // The keyer knows ids this table does not: keep a map from keys.
                    let run = *run;
                    let mut by_key: Vec<u32> = (0..key.ix).take(len).collect();
                    by_key.resize(k + 1, NONE);
                    self.keyed = Keyed::Mapped { run, by_key };
                    return self.push_keyed(id, k);
                }
                self.names.push(Text::from(id));
                key.ix
            }
            Keyed::Mapped { run, by_key } if *run == key.run && key.ix != NONE && unindexed => {
                let k = key.ix as usize;
                match by_key.get(k) {
                    Some(&ix) if ix != NONE => ix,
                    _ => self.push_keyed(id, k),
                }
            }
            Keyed::No if len == 0 && key.run != 0 && key.ix != NONE => {
                // An empty table: from now on filled through this keyer's keys.
                self.index = OnceLock::new();
                if key.ix == 0 {
                    self.keyed = Keyed::Prefix { run: key.run };
                    self.names.push(Text::from(id));
                    0
                } else {
                    self.keyed = Keyed::Mapped {
                        run: key.run,
                        by_key: Vec::new(),
                    };
                    self.push_keyed(id, key.ix as usize)
                }
            }
            _ => self.intern(id),
        }
    }

    /// Appends `id`, the keyer's id `k`, to a mapped table.
    fn push_keyed(&mut self, id: &str, k: usize) -> u32 {
        let Keyed::Mapped { by_key, .. } = &mut self.keyed else {
            return self.intern(id);
        };
        // At most one id per key of the keyer, whose own indexes stay below NONE.
        let ix = u32::try_from(self.names.len()).unwrap_or(NONE);
        if by_key.len() <= k {
            by_key.resize(k + 1, NONE);
        }
        if let Some(slot) = by_key.get_mut(k) {
            *slot = ix;
        }
        self.names.push(Text::from(id));
        ix
    }

    /// [`IdTable::get`] of `id`, whose key from the keyer is `key` (see
    /// [`IdTable::intern_keyed`]).
    pub fn get_keyed(&self, id: &str, key: IdKey) -> Option<u32> {
        match &self.keyed {
            Keyed::Prefix { run } if *run == key.run => {
                (key.ix < NONE && (key.ix as usize) < self.names.len()).then_some(key.ix)
            }
            Keyed::Mapped { run, by_key } if *run == key.run => by_key
                .get(key.ix as usize)
                .copied()
                .filter(|&ix| ix != NONE),
            _ => self.get(id),
        }
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

    /// Writes the table as its `Serialize` does through `rmp_serde` (the list of its
    /// ids): tables of millions of ids are much of a state file.
    pub fn write(&self, w: &mut crate::state_file::StateWriter) -> Result<(), String> {
        w.array_len(self.names.len())?;
        self.names.iter().try_for_each(|name| w.str(name.as_str()))
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
                    let _ = t.index.set(HashTable::with_capacity(n));
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

    /// A keyer's table for the tests: interns like the [`Keyer`](crate::Keyer) does at
    /// purchases and answers keys.
    struct TestKeyer {
        run: u32,
        ids: IdTable,
    }

    impl TestKeyer {
        fn new(run: u32) -> Self {
            Self {
                run,
                ids: IdTable::new(),
            }
        }

        /// The key of `id`, interning it.
        fn intern(&mut self, id: &str) -> IdKey {
            IdKey {
                run: self.run,
                ix: self.ids.intern(id),
            }
        }

        /// The key of `id` if the keyer knows it, else a key saying it does not.
        fn get(&self, id: &str) -> IdKey {
            IdKey {
                run: self.run,
                ix: self.ids.get(id).unwrap_or(NONE),
            }
        }
    }

    #[test]
    fn a_table_fed_every_key_answers_from_the_keys() {
        let mut keyer = TestKeyer::new(7);
        let mut t = IdTable::new();
        for id in ["a", "b", "c"] {
            let key = keyer.intern(id);
            assert_eq!(t.intern_keyed(id, key), key.ix);
        }
        assert!(matches!(t.keyed, Keyed::Prefix { run: 7 }));
        // No hash index was needed so far.
        assert!(t.index.get().is_none());
        let key_b = keyer.get("b");
        assert_eq!(t.intern_keyed("b", key_b), 1);
        assert_eq!(t.get_keyed("b", key_b), Some(1));
        assert_eq!(t.get_keyed("z", keyer.get("z")), None);
        // A lookup by id builds the index and finds the same.
        assert_eq!(t.get("c"), Some(2));
        assert_eq!(t.get("z"), None);
        assert_eq!(t.name(2), "c");
        // Once indexed, keys no longer append behind the index's back.
        let key_d = keyer.intern("d");
        assert_eq!(t.intern_keyed("d", key_d), 3);
        assert_eq!(t.get("d"), Some(3));
        assert!(matches!(t.keyed, Keyed::No));
    }

    #[test]
    fn a_table_given_some_of_the_keyers_ids_maps_their_keys() {
        let mut keyer = TestKeyer::new(3);
        let mut t = IdTable::new();
        keyer.intern("skipped-0");
        let k1 = keyer.intern("x");
        assert_eq!(t.intern_keyed("x", k1), 0);
        keyer.intern("skipped-2");
        let k3 = keyer.intern("y");
        assert_eq!(t.intern_keyed("y", k3), 1);
        assert!(matches!(t.keyed, Keyed::Mapped { run: 3, .. }));
        assert_eq!(t.get_keyed("x", k1), Some(0));
        assert_eq!(t.get_keyed("y", k3), Some(1));
        assert_eq!(t.get_keyed("skipped-2", keyer.get("skipped-2")), None);
        assert_eq!(t.get_keyed("new", keyer.get("new")), None);
        assert_eq!(t.intern_keyed("x", k1), 0);
        assert_eq!(t.get("y"), Some(1));
        assert_eq!(t.get("skipped-0"), None);
    }

    #[test]
    fn a_prefix_table_skipping_an_id_turns_to_a_map() {
        let mut keyer = TestKeyer::new(5);
        let mut t = IdTable::new();
        for id in ["a", "b"] {
            t.intern_keyed(id, keyer.intern(id));
        }
        keyer.intern("not-here");
        let kc = keyer.intern("c");
        assert_eq!(t.intern_keyed("c", kc), 2);
        assert!(matches!(t.keyed, Keyed::Mapped { run: 5, .. }));
        assert_eq!(t.get_keyed("a", keyer.get("a")), Some(0));
        assert_eq!(t.get_keyed("b", keyer.get("b")), Some(1));
        assert_eq!(t.get_keyed("c", kc), Some(2));
        assert_eq!(t.get_keyed("not-here", keyer.get("not-here")), None);
    }

    #[test]
    fn keys_of_another_keyer_or_of_no_keyer_go_by_id() {
        let mut first = TestKeyer::new(1);
        let mut second = TestKeyer::new(2);
        let mut t = IdTable::new();
        t.intern_keyed("a", first.intern("a"));
        t.intern_keyed("b", first.intern("b"));
        // The second keyer gives "z" the key 0, which is "a" for the first.
        let z = second.intern("z");
        assert_eq!(z.ix, 0);
        assert_eq!(t.get_keyed("z", z), None);
        assert_eq!(t.intern_keyed("z", z), 2);
        assert!(matches!(t.keyed, Keyed::No));
        assert_eq!(t.get_keyed("a", first.get("a")), Some(0));
        // An id the keyer does not know is interned by id, and ends the keys.
        let mut u = IdTable::new();
        u.intern_keyed("a", first.get("a"));
        assert_eq!(u.intern_keyed("q", first.get("q")), 1);
        assert!(matches!(u.keyed, Keyed::No));
        assert_eq!(u.get("q"), Some(1));
        // A table with ids before its first key never takes keys.
        let mut v = IdTable::new();
        v.intern("b");
        assert_eq!(v.intern_keyed("a", first.get("a")), 1);
        assert_eq!(v.get_keyed("a", first.get("a")), Some(1));
        assert!(matches!(v.keyed, Keyed::No));
        // No key at all.
        let mut w = IdTable::new();
        assert_eq!(w.intern_keyed("a", IdKey::NONE), 0);
        assert_eq!(w.get_keyed("a", IdKey::NONE), Some(0));
    }

    #[test]
    fn a_keyed_table_serializes_and_clones_as_its_ids() {
        let mut keyer = TestKeyer::new(9);
        let mut t = IdTable::new();
        for id in ["k1", "k2", "k3"] {
            t.intern_keyed(id, keyer.intern(id));
        }
        let bytes = rmp_serde::to_vec(&t).unwrap();
        let back: IdTable = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.get("k2"), Some(1));
        let copy = t.clone();
        assert_eq!(copy.get_keyed("k3", keyer.get("k3")), Some(2));
        assert_eq!(copy.get("k1"), Some(0));
    }

    /// One operation of the property test on ids `i0`..`i9`, keyed by one of two
    /// keyers (or none).
    #[derive(Debug, Clone)]
    enum Op {
        /// The keyer interns the id without the table (a purchase a read model skips).
        KeyerOnly {
            keyer: u8,
            id: u8,
        },
        /// The table interns the id with the key the keyer gives it at a purchase.
        Purchase {
            keyer: u8,
            id: u8,
        },
        /// The table interns the id with the key the keyer has for it, if any.
        Step {
            keyer: u8,
            id: u8,
        },
        Intern {
            id: u8,
        },
        GetKeyed {
            keyer: u8,
            id: u8,
        },
        Get {
            id: u8,
        },
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let keyer = prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)];
        let id = 0u8..10;
        prop_oneof![
            2 => (keyer.clone(), id.clone()).prop_map(|(keyer, id)| Op::KeyerOnly { keyer, id }),
            6 => (keyer.clone(), id.clone()).prop_map(|(keyer, id)| Op::Purchase { keyer, id }),
            2 => (keyer.clone(), id.clone()).prop_map(|(keyer, id)| Op::Step { keyer, id }),
            1 => id.clone().prop_map(|id| Op::Intern { id }),
            4 => (keyer, id.clone()).prop_map(|(keyer, id)| Op::GetKeyed { keyer, id }),
            1 => id.prop_map(|id| Op::Get { id }),
        ]
    }

    proptest::proptest! {
        /// Whatever keys it is given (each the true key of its id from its keyer, or
        /// none), a table answers exactly as a table used by id alone.
        #[test]
        fn a_keyed_table_answers_as_a_plain_one(ops in proptest::collection::vec(op(), 0..80)) {
            let mut keyers = [TestKeyer::new(11), TestKeyer::new(12)];
            let mut t = IdTable::new();
            let mut plain = IdTable::new();
            for op in ops {
                let name = |id: u8| format!("i{id}");
                // Keyer 2 stands for no keyer.
                let key_of = |keyers: &mut [TestKeyer; 2], k: u8, id: &str, intern: bool| match k {
                    0 | 1 if intern => keyers[usize::from(k)].intern(id),
                    0 | 1 => keyers[usize::from(k)].get(id),
                    _ => IdKey::NONE,
                };
                match op {
                    Op::KeyerOnly { keyer, id } => {
                        key_of(&mut keyers, keyer, &name(id), true);
                    }
                    Op::Purchase { keyer, id } => {
                        let key = key_of(&mut keyers, keyer, &name(id), true);
                        proptest::prop_assert_eq!(t.intern_keyed(&name(id), key), plain.intern(&name(id)));
                    }
                    Op::Step { keyer, id } => {
                        let key = key_of(&mut keyers, keyer, &name(id), false);
                        proptest::prop_assert_eq!(t.intern_keyed(&name(id), key), plain.intern(&name(id)));
                    }
                    Op::Intern { id } => {
                        proptest::prop_assert_eq!(t.intern(&name(id)), plain.intern(&name(id)));
                    }
                    Op::GetKeyed { keyer, id } => {
                        let key = key_of(&mut keyers, keyer, &name(id), false);
                        proptest::prop_assert_eq!(t.get_keyed(&name(id), key), plain.get(&name(id)));
                    }
                    Op::Get { id } => {
                        proptest::prop_assert_eq!(t.get(&name(id)), plain.get(&name(id)));
                    }
                }
            }
            proptest::prop_assert_eq!(&t, &plain);
            for (ix, id) in plain.iter() {
                proptest::prop_assert_eq!(t.get(id), Some(ix));
            }
        }
    }

    #[test]
    fn a_table_writes_the_bytes_of_its_serde_form() {
        let mut t = IdTable::new();
        let mut w = crate::state_file::StateWriter::default();
        t.write(&mut w).unwrap();
        assert_eq!(w.finish_chunks().concat(), rmp_serde::to_vec(&t).unwrap());
        for len in [0, 1, 31, 32, 255, 256, 70_000] {
            t.intern(&"é".repeat(len / 2 + 1)[..len / 2 * 2]);
            t.intern(&"x".repeat(len));
        }
        for i in 0..20 {
            t.intern(&format!("T-{i}"));
        }
        let mut w = crate::state_file::StateWriter::default();
        t.write(&mut w).unwrap();
        assert_eq!(w.finish_chunks().concat(), rmp_serde::to_vec(&t).unwrap());
    }

    #[test]
    fn a_table_with_duplicates_is_refused() {
        let bytes = rmp_serde::to_vec(&vec!["a", "a"]).unwrap();
        assert!(rmp_serde::from_slice::<IdTable>(&bytes).is_err());
    }
}
