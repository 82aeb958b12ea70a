//! A performance's tickets in purchase order, kept as two sorted lists of ticket
//! indexes: those not deleted and those deleted. A page of "all tickets" is the merge
//! of both; the merge's k-th element is found by binary search, so a page at any
//! offset costs O(log n + limit), never a scan.

use serde::{Deserialize, Serialize};

/// Ticket indexes are handed out in purchase order, so sorting by index is sorting by
/// purchase.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PerfTickets {
    pub live: Vec<u32>,
    pub deleted: Vec<u32>,
}

impl PerfTickets {
    pub fn insert(&mut self, ticket: u32, deleted: bool) {
        insert_sorted(self.list_mut(deleted), ticket);
    }

    pub fn remove(&mut self, ticket: u32, deleted: bool) {
        let list = self.list_mut(deleted);
        if let Ok(i) = list.binary_search(&ticket) {
            list.remove(i);
        }
    }

    /// Moves a ticket from the live list to the deleted one.
    pub fn mark_deleted(&mut self, ticket: u32) {
        if let Ok(i) = self.live.binary_search(&ticket) {
            self.live.remove(i);
            insert_sorted(&mut self.deleted, ticket);
        }
    }

    pub fn len(&self, include_deleted: bool) -> usize {
        self.live.len()
            + if include_deleted {
                self.deleted.len()
            } else {
                0
            }
    }

    /// The tickets in purchase order from rank `skip` on.
    pub fn iter_from(&self, include_deleted: bool, skip: usize) -> impl Iterator<Item = u32> + '_ {
        let empty: &[u32] = &[];
        let b = if include_deleted {
            &self.deleted[..]
        } else {
            empty
        };
        let (i, j) = split(&self.live, b, skip.min(self.live.len() + b.len()));
        Merge {
            a: self.live.get(i..).unwrap_or(empty),
            b: b.get(j..).unwrap_or(empty),
        }
    }

    fn list_mut(&mut self, deleted: bool) -> &mut Vec<u32> {
        if deleted {
            &mut self.deleted
        } else {
            &mut self.live
        }
    }
}

fn insert_sorted(list: &mut Vec<u32>, ticket: u32) {
    // Purchases append at the end; only reschedules insert in the middle.
    match list.last() {
        Some(&last) if last >= ticket => {
            if let Err(i) = list.binary_search(&ticket) {
                list.insert(i, ticket);
            }
        }
        _ => list.push(ticket),
    }
}

/// `(i, j)` with `i + j = k` such that `a[..i]` and `b[..j]` are the `k` smallest of
/// the union (the lists are sorted and share no element).
fn split(a: &[u32], b: &[u32], k: usize) -> (usize, usize) {
    let (mut lo, mut hi) = (k.saturating_sub(b.len()), k.min(a.len()));
    // Find the smallest i whose a[i] is not among the k smallest: a[i] > b[k - i - 1].
    while lo < hi {
        let i = lo + (hi - lo) / 2;
        let j = k - i;
        match (a.get(i), j.checked_sub(1).and_then(|j| b.get(j))) {
            (Some(x), Some(y)) if x < y => lo = i + 1,
            _ => hi = i,
        }
    }
    (lo, k - lo)
}

struct Merge<'a> {
    a: &'a [u32],
    b: &'a [u32],
}

impl Iterator for Merge<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(x), Some(y)) => x < y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let (head, rest) = if take_a {
            self.a.split_first()?
        } else {
            self.b.split_first()?
        };
        if take_a {
            self.a = rest;
        } else {
            self.b = rest;
        }
        Some(*head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_the_merge_match_a_sorted_union() {
        let mut p = PerfTickets::default();
        for t in 0..200u32 {
            p.insert(t, t % 3 == 0);
        }
        let all: Vec<u32> = (0..200).collect();
        for skip in 0..=201 {
            let got: Vec<u32> = p.iter_from(true, skip).take(7).collect();
            let want: Vec<u32> = all.iter().copied().skip(skip).take(7).collect();
            assert_eq!(got, want, "skip {skip}");
            let live: Vec<u32> = all
                .iter()
                .copied()
                .filter(|t| t % 3 != 0)
                .skip(skip)
                .take(7)
                .collect();
            assert_eq!(p.iter_from(false, skip).take(7).collect::<Vec<_>>(), live);
        }
    }

    #[test]
    fn deleting_and_moving_keep_order() {
        let mut p = PerfTickets::default();
        for t in [1, 5, 9] {
            p.insert(t, false);
        }
        p.insert(3, false);
        p.mark_deleted(5);
        p.remove(9, false);
        assert_eq!(p.live, vec![1, 3]);
        assert_eq!(p.deleted, vec![5]);
        assert_eq!(p.iter_from(true, 0).collect::<Vec<_>>(), vec![1, 3, 5]);
        assert_eq!(p.len(true), 3);
        assert_eq!(p.len(false), 2);
    }
}
