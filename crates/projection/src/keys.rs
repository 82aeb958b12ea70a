//! Each record's ticket looked up once for all the read models rebuilt together.
//!
//! Every read model keeps a table of the ticket ids it has seen ([`IdTable`]) and
//! finds the ticket of each `ticket.*` record in it: at millions of tickets each such
//! lookup misses the processor's caches two or three times, four read models over.
//! When several read models fold the same records, a [`Keyer`] on the reading side
//! gives each record's ticket a key (its index in the keyer's own table, interned at
//! purchases) and the read models' tables answer from the key ([`IdTable::intern_keyed`],
//! [`IdTable::get_keyed`]): one lookup per record instead of one per read model.
//!
//! Keys carry the keyer's run, a number no other keyer of the process shares, so a
//! table never takes one keyer's key for another's.

use std::sync::atomic::{AtomicU32, Ordering};

use counterfoil_core::{RecordBody, StoredRecord, Text};

use crate::ids::NONE;

/// The runs handed out so far; 0 is never one.
static RUNS: AtomicU32 = AtomicU32::new(1);

/// An id's key from a [`Keyer`]: its run and the id's index in the keyer's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdKey {
    pub(crate) run: u32,
    pub(crate) ix: u32,
}

impl IdKey {
    /// No key: the table looks the id up itself.
    pub const NONE: IdKey = IdKey { run: 0, ix: NONE };
}

/// The keys a [`Keyer`] gave one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keys {
    run: u32,
    ticket: u32,
    order: u32,
}

impl Keys {
    /// No keys: every lookup goes by id.
    pub const NONE: Keys = Keys {
        run: 0,
        ticket: NONE,
        order: NONE,
    };

    /// The key of the record's ticket id ([`RecordBody::ticket_id`]).
    pub fn ticket(&self) -> IdKey {
        IdKey {
            run: self.run,
            ix: self.ticket,
        }
    }

    /// The key of a purchase's order id (no key for other records).
    pub fn order(&self) -> IdKey {
        IdKey {
            run: self.run,
            ix: self.order,
        }
    }
}

impl Default for Keys {
    fn default() -> Self {
        Self::NONE
    }
}

/// Gives records their keys, in position order. A record's ticket is interned at its
/// purchase and looked up otherwise: a ticket not purchased yet has no key. A
/// purchase's order is interned too.
#[derive(Debug)]
pub struct Keyer {
    run: u32,
    tickets: KeyTable,
    orders: KeyTable,
}

/// Ids to their keys, in the order first interned. Unlike an [`IdTable`](crate::IdTable)
/// each entry holds its id (inline, up to 24 bytes): a lookup finds and compares it
/// where the hash points, one cache miss fewer in a table of millions; the keyer never
/// needs its ids in order.
#[derive(Default)]
struct KeyTable {
    entries: hashbrown::HashTable<(Text, u32)>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyTable")
            .field("len", &self.entries.len())
            .finish()
    }
}

impl KeyTable {
    /// The key of `id`, the next one if new ([`NONE`] once four billion are given).
    fn intern(&mut self, id: &str) -> u32 {
        use std::hash::BuildHasher;
        let next = u32::try_from(self.entries.len()).unwrap_or(NONE);
        let hasher = &self.hasher;
        match self.entries.entry(
            hasher.hash_one(id),
            |(known, _)| known.as_str() == id,
            |(known, _)| hasher.hash_one(known.as_str()),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => e.get().1,
            hashbrown::hash_table::Entry::Vacant(_) if next == NONE => NONE,
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert((Text::from(id), next));
                next
            }
        }
    }

    fn get(&self, id: &str) -> Option<u32> {
        use std::hash::BuildHasher;
        self.entries
            .find(self.hasher.hash_one(id), |(known, _)| known.as_str() == id)
            .map(|(_, key)| *key)
    }
}

impl Default for Keyer {
    fn default() -> Self {
        Self::new()
    }
}

impl Keyer {
    /// A keyer with a run of its own.
    pub fn new() -> Self {
        let mut run = RUNS.fetch_add(1, Ordering::Relaxed);
        if run == 0 {
            // After four billion keyers: skip the number that means no run.
            run = RUNS.fetch_add(1, Ordering::Relaxed);
        }
        Self {
            run,
            tickets: KeyTable::default(),
            orders: KeyTable::default(),
        }
    }

    /// The keys of `record`, the next record in position order.
    pub fn keys(&mut self, record: &StoredRecord) -> Keys {
        let (ticket, order) = match &record.body {
            RecordBody::TicketPurchased(d) => (
                self.tickets.intern(d.ticket_id.as_str()),
                self.orders.intern(d.order_id.as_str()),
            ),
            body => (
                body.ticket_id()
                    .and_then(|id| self.tickets.get(id.as_str()))
                    .unwrap_or(NONE),
                NONE,
            ),
        };
        Keys {
            run: self.run,
            ticket,
            order,
        }
    }

    /// Appends the keys of `records`, in order, to `keys`.
    pub fn extend(&mut self, records: &[StoredRecord], keys: &mut Vec<Keys>) {
        keys.reserve(records.len());
        for record in records {
            keys.push(self.keys(record));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::SyntheticLog;

    fn purchase(ticket: &str, order: &str) -> serde_json::Value {
        json!({"ticket_id": ticket, "order_id": order, "definition_id": "D0",
               "ticket_type": "Adult", "buyer": {"email": "a@x.com"}, "face_price": "10",
               "price_paid": "10", "currency": "EUR", "channel": "web"})
    }

    #[test]
    fn tickets_are_keyed_from_their_purchase_and_orders_at_purchases() {
        let mut log = SyntheticLog::new();
        let at = "2026-01-01T00:00:00Z";
        log.push_json(
            at,
            "ticket.shared",
            json!({"ticket_id": "T1", "shared_by": "C1", "recipient_email": "f@x.com"}),
        )
        .unwrap();
        log.push_json(at, "ticket.purchased", purchase("T1", "O1"))
            .unwrap();
        log.push_json(at, "ticket.purchased", purchase("T2", "O1"))
            .unwrap();
        log.push_json(at, "ticket.redeemed", json!({"ticket_id": "T1"}))
            .unwrap();
        log.push_json(at, "ticket.purchased", purchase("T1", "O2"))
            .unwrap();
        log.push_json(
            at,
            "owner.consent_changed",
            json!({"customer_id": "C1", "allow_tracking": true}),
        )
        .unwrap();
        let mut keyer = Keyer::new();
        let mut keys = Vec::new();
        keyer.extend(log.records(), &mut keys);
        let got: Vec<(u32, u32)> = keys.iter().map(|k| (k.ticket().ix, k.order().ix)).collect();
        assert_eq!(
            got,
            [
                (NONE, NONE),
                (0, 0),
                (1, 0),
                (0, NONE),
                (0, 1),
                (NONE, NONE)
            ]
        );
        assert!(
            keys.iter()
                .all(|k| k.ticket().run == keyer.run && k.run != 0)
        );
        // Another keyer has another run.
        assert_ne!(Keyer::new().run, keyer.run);
        assert_eq!(Keys::NONE.ticket(), IdKey::NONE);
        assert_eq!(Keys::default(), Keys::NONE);
    }
}
