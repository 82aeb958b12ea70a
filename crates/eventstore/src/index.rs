//! The id and position index of the records in `$all`, kept in memory.
//!
//! KurrentDB cannot look an event up by id, and its own idempotency covers only a
//! recent window (or a retry at the same expected revision). The storage trait needs
//! more: the same id with the same content is a duplicate, with other content an
//! `IdConflict`, whatever the record's age or stream. So the adapter keeps every
//! record id with its position, built by reading `$all` once (on first need) and
//! brought up to date by reading `$all` from its checkpoint before each use, so that
//! records appended by other processes count too.
//!
//! It also keeps the ordered positions of the records: `$all` can only be read from
//! an event's exact position, while callers ask for any position (typically one past
//! the last record they saw), so a read starts at the greatest known position at or
//! below the one asked for.

use std::collections::HashMap;

use counterfoil_core::Position;
use uuid::Uuid;

#[derive(Debug, Default)]
pub(crate) struct IdIndex {
    /// Record id -> position.
    pub ids: HashMap<Uuid, Position>,
    /// Every record position seen by the refreshes, ascending.
    pub positions: Vec<Position>,
    /// The last event of `$all` (system events included) read so far.
    pub checkpoint: Option<eventstore::Position>,
}

impl IdIndex {
    /// Adds a record read from `$all` in order.
    pub fn add(&mut self, id: Uuid, position: Position) {
        self.ids.insert(id, position);
        if self.positions.last().is_none_or(|&last| last < position) {
            self.positions.push(position);
        }
    }

    /// The greatest known record position at or below `from`.
    pub fn start_for(&self, from: Position) -> Option<Position> {
        let i = self.positions.partition_point(|&p| p <= from);
        i.checked_sub(1).map(|i| self.positions[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_starts_at_the_greatest_position_not_after_the_one_asked() {
        let mut ix = IdIndex::default();
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        ix.add(ids[0], 100);
        ix.add(ids[1], 250);
        ix.add(ids[2], 400);
        ix.add(ids[1], 250);
        assert_eq!(ix.positions, [100, 250, 400]);
        assert_eq!(ix.start_for(0), None);
        assert_eq!(ix.start_for(99), None);
        assert_eq!(ix.start_for(100), Some(100));
        assert_eq!(ix.start_for(101), Some(100));
        assert_eq!(ix.start_for(250), Some(250));
        assert_eq!(ix.start_for(u64::MAX), Some(400));
        assert_eq!(ix.ids.get(&ids[2]), Some(&400));
    }
}
