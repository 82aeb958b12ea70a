//! A vector kept in chunks of a fixed size: growing it never moves what it holds.
//!
//! A read model's largest table (the owner report's tickets: 3.2 million at
//! 10,000,000 records, hundreds of MB) grew as a `Vec`, which at every doubling copies
//! everything into fresh memory and, for a moment, holds both copies. Chunks are
//! allocated once at their full size and never copied; memory grows by one chunk at a
//! time. Encoded (serde) as one plain sequence, the bytes a `Vec` gives.

use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Items per chunk.
const CHUNK: usize = 1 << 14;

/// A growable sequence in chunks of [`CHUNK`] items, indexed like a `Vec`.
#[derive(Clone, PartialEq, Eq)]
pub struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> ChunkedVec<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(item),
            _ => {
                // The first chunk grows as a `Vec` does, so a small table stays
                // small; every later one is allocated whole.
                let mut chunk = if self.chunks.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                chunk.push(item);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK)
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.chunks.get_mut(index / CHUNK)?.get_mut(index % CHUNK)
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// The items, a chunk at a time, in order.
    pub fn slices(&self) -> Vec<&[T]> {
        self.chunks.iter().map(Vec::as_slice).collect()
    }
}

impl<'a, T> IntoIterator for &'a ChunkedVec<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<T>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

impl<T> FromIterator<T> for ChunkedVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = Self::new();
        for item in iter {
            v.push(item);
        }
        v
    }
}

impl<T: fmt::Debug> fmt::Debug for ChunkedVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Serialize> Serialize for ChunkedVec<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len))?;
        for item in self.iter() {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ChunkedVec<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Items<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
            type Value = ChunkedVec<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut v = ChunkedVec::new();
                while let Some(item) = seq.next_element()? {
                    v.push(item);
                }
                Ok(v)
            }
        }
        d.deserialize_seq(Items(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_pushes_and_iterates_like_a_vec_across_chunks() {
        let n = 2 * CHUNK + 7;
        let plain: Vec<u64> = (0..n as u64).map(|i| i * 3).collect();
        let mut chunked = ChunkedVec::new();
        for &x in &plain {
            chunked.push(x);
        }
        assert_eq!(chunked.len(), n);
        assert!(chunked.iter().eq(plain.iter()));
        assert!((&chunked).into_iter().eq(plain.iter()));
        for i in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, n - 1] {
            assert_eq!(chunked.get(i), plain.get(i), "{i}");
        }
        assert_eq!(chunked.get(n), None);
        *chunked.get_mut(CHUNK).unwrap() = 1;
        assert_eq!(chunked.get(CHUNK), Some(&1));
        assert_eq!(chunked.get_mut(n), None);
        let slices = chunked.slices();
        assert_eq!(
            slices.iter().map(|s| s.len()).collect::<Vec<_>>(),
            [CHUNK, CHUNK, 7]
        );
        // Whole chunks are never reallocated: the second one holds its full size.
        assert_eq!(chunked.chunks[1].capacity(), CHUNK);
    }

    #[test]
    fn encodes_as_the_vec_it_holds() {
        let plain: Vec<String> = (0..CHUNK + 3).map(|i| i.to_string()).collect();
        let chunked: ChunkedVec<String> = plain.iter().cloned().collect();
        let bytes = rmp_serde::to_vec(&chunked).unwrap();
        assert_eq!(bytes, rmp_serde::to_vec(&plain).unwrap());
        let back: ChunkedVec<String> = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, chunked);
        assert_eq!(
            serde_json::to_string(&chunked).unwrap(),
            serde_json::to_string(&plain).unwrap()
        );
        let none: Vec<u8> = Vec::new();
        let empty: ChunkedVec<u8> =
            rmp_serde::from_slice(&rmp_serde::to_vec(&none).unwrap()).unwrap();
        assert!(empty.is_empty());
        assert!(
            rmp_serde::from_slice::<ChunkedVec<u8>>(&rmp_serde::to_vec(&7u8).unwrap()).is_err()
        );
    }
}
