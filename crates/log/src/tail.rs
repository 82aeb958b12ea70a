//! The latest durable records, kept in memory as the writer wrote them. A follower
//! at the end of the log (the server's read models, its live event stream) would
//! otherwise read back and decode every record it was just handed by the writer; from
//! here it takes a shared pointer to the writer's own batch instead.
//!
//! The writer moves each written record (its caller is done with it) into a
//! [`StoredRecord`] built with the place and hash it was given: the same value that
//! decoding the stored bytes gives (a test holds the two equal). A batch enters the
//! tail before the durable watermark covers it, and followers never take records at or
//! past the watermark they read, so the tail changes nothing about what a follower
//! may see when.

use std::collections::VecDeque;
use std::sync::Arc;

use counterfoil_core::{RecordBatch, StoredRecord};

/// Records kept at most (the batch holding the newest ones is always kept).
pub(crate) const TAIL_RECORDS: usize = 16_384;

#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// Consecutive batches: each starts where the one before ends.
    batches: VecDeque<Arc<Vec<StoredRecord>>>,
    /// The position of the first record held.
    start: u64,
    /// One past the last position held.
    end: u64,
    records: usize,
}

impl Tail {
    /// Adds the records of one written group, in position order. Answers the batches
    /// that fell out, for the caller to free outside the lock. Records that do not
    /// continue the tail (a gap, or positions out of order) start it afresh: the tail
    /// is an optimisation, and followers read whatever it lacks from the files.
    pub(crate) fn push(&mut self, batch: Vec<StoredRecord>) -> Vec<Arc<Vec<StoredRecord>>> {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Vec::new();
        };
        let (first, last) = (first.position, last.position);
        let consecutive = batch
            .windows(2)
            .all(|w| w[0].position.checked_add(1) == Some(w[1].position));
        let mut dropped = Vec::new();
        if !consecutive || (self.records > 0 && first != self.end) {
            dropped.extend(self.batches.drain(..));
            self.records = 0;
        }
        if !consecutive {
            return dropped;
        }
        if self.records == 0 {
            self.start = first;
        }
        self.records += batch.len();
        self.end = last + 1;
        self.batches.push_back(Arc::new(batch));
        while self.records > TAIL_RECORDS && self.batches.len() > 1 {
            if let Some(old) = self.batches.pop_front() {
                self.records -= old.len();
                self.start += old.len() as u64;
                dropped.push(old);
            }
        }
        dropped
    }

    /// Drops everything held (there is no follower to hand it to); answers the
    /// batches for the caller to free outside the lock.
    pub(crate) fn clear(&mut self) -> Vec<Arc<Vec<StoredRecord>>> {
        self.records = 0;
        self.batches.drain(..).collect()
    }

    /// The held records from `from` up to (not including) `end`, as one shared batch
    /// (ending where its batch ends); `None` when `from` is not held.
    pub(crate) fn batch(&self, from: u64, end: u64) -> Option<RecordBatch> {
        if from < self.start || from >= self.end || from >= end {
            return None;
        }
        // The batches are consecutive: find the one holding `from`.
        let i = self
            .batches
            .partition_point(|b| b.last().is_some_and(|r| r.position < from));
        let b = self.batches.get(i)?;
        let first = b.first()?.position;
        let skip = usize::try_from(from.checked_sub(first)?).ok()?;
        let take = usize::try_from(end - from).unwrap_or(usize::MAX);
        let stop = b.len().min(skip.saturating_add(take));
        RecordBatch::window(b.clone(), skip..stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use counterfoil_core::Hash;

    fn records(positions: std::ops::Range<u64>) -> Vec<StoredRecord> {
        let new = counterfoil_conformance::record("T1");
        positions
            .map(|p| {
                StoredRecord::written(
                    new.clone(),
                    "ticket-T1",
                    p,
                    p,
                    chrono::Utc::now(),
                    Hash::GENESIS,
                )
            })
            .collect()
    }

    fn positions(b: &RecordBatch) -> Vec<u64> {
        b.records().iter().map(|r| r.position).collect()
    }

    #[test]
    fn a_follower_gets_the_rest_of_the_batch_holding_its_position_up_to_the_end_it_saw() {
        let mut t = Tail::default();
        assert!(t.push(records(10..13)).is_empty());
        assert!(t.push(records(13..20)).is_empty());
        assert!(t.batch(9, 20).is_none(), "below the tail");
        assert!(t.batch(20, 30).is_none(), "past the tail");
        assert_eq!(positions(&t.batch(10, 20).unwrap()), vec![10, 11, 12]);
        assert_eq!(positions(&t.batch(12, 20).unwrap()), vec![12]);
        assert_eq!(
            positions(&t.batch(14, 20).unwrap()),
            (14..20).collect::<Vec<_>>()
        );
        // The watermark a follower read may lag behind the tail.
        assert_eq!(positions(&t.batch(14, 16).unwrap()), vec![14, 15]);
        assert!(t.batch(16, 16).is_none());
    }

    #[test]
    fn old_batches_fall_out_and_a_gap_starts_the_tail_afresh() {
        let mut t = Tail::default();
        let big = TAIL_RECORDS as u64;
        t.push(records(0..big));
        let dropped = t.push(records(big..big + 5));
        assert_eq!(dropped.len(), 1);
        assert!(t.batch(0, big + 5).is_none());
        assert_eq!(positions(&t.batch(big, big + 5).unwrap()).len(), 5);
        let dropped = t.push(records(big + 10..big + 12));
        assert_eq!(dropped.len(), 1, "a gap drops what was held");
        assert!(t.batch(big, big + 12).is_none());
        assert_eq!(
            positions(&t.batch(big + 10, big + 12).unwrap()),
            vec![big + 10, big + 11]
        );
        let mut shuffled = records(big + 12..big + 14);
        shuffled.swap(0, 1);
        t.push(shuffled);
        assert!(
            t.batch(big + 10, big + 14).is_none(),
            "out of order: nothing kept"
        );
    }
}
