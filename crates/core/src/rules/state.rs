//! The ledger's state: a fold of the log that keeps only what the rules of SPEC §4
//! need, compact enough for millions of tickets, and the undo log that lets the
//! command layer take back a tentatively applied record.
//!
//! `apply` trusts the log: it folds any record, including one the rules would refuse
//! (a log written by another tool), without panicking. Such records may leave
//! "ghost" entries (a ticket stream without a purchase) that exist only to track the
//! stream's revision; the public accessors hide them.

use std::collections::HashMap as StdHashMap;

/// The rules' maps: a fast, per-process seeded hasher (SipHash was a tenth of the
/// ledger's time).
pub(crate) type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

use uuid::Uuid;

use crate::catalog::{LedgerReserved, RecordBody};
use crate::rules::lifecycle::{Lifecycle, TicketStatus};
use crate::values::{Id, Timestamp};

/// Index of a definition in [`LedgerState::definitions`]; tickets store it instead of
/// the id to stay small.
type DefIdx = u32;
const NO_DEF: DefIdx = DefIdx::MAX;

/// A ticket as the rules need it: 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketState {
    revision: u64,
    definition: DefIdx,
    life: Lifecycle,
}

impl TicketState {
    pub fn status(&self) -> TicketStatus {
        self.life.status()
    }

    pub fn redemptions(&self) -> u32 {
        self.life.redemptions()
    }

    pub fn is_injected(&self) -> bool {
        self.life.is_injected()
    }

    pub fn holds_seat(&self) -> bool {
        self.life.holds_seat()
    }

    pub fn lifecycle(&self) -> &Lifecycle {
        &self.life
    }

    /// Last revision of the ticket's stream.
    pub fn revision(&self) -> u64 {
        self.revision
    }
}

/// A definition as the rules need it, with its seat counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionState {
    pub(crate) id: Id,
    pub(crate) performance_id: Option<Id>,
    pub(crate) created: bool,
    pub(crate) deleted: bool,
    pub(crate) capacity: Option<u32>,
    pub(crate) max_redemptions: u32,
    pub(crate) sale_starts_at: Option<Timestamp>,
    pub(crate) sale_ends_at: Option<Timestamp>,
    pub(crate) counts: SeatCounts,
    pub(crate) revision: Option<u64>,
}

/// Tickets now holding a seat, and tickets ever sold into the definition (purchased or
/// rescheduled into it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SeatCounts {
    pub(crate) held: u32,
    pub(crate) sold: u64,
}

impl DefinitionState {
    fn ghost(id: Id) -> Self {
        Self {
            id,
            performance_id: None,
            created: false,
            deleted: false,
            capacity: None,
            max_redemptions: 1,
            sale_starts_at: None,
            sale_ends_at: None,
            counts: SeatCounts::default(),
            revision: None,
        }
    }

    pub fn id(&self) -> &Id {
        &self.id
    }

    pub fn performance_id(&self) -> Option<&Id> {
        self.performance_id.as_ref()
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    /// `None` is unlimited.
    pub fn capacity(&self) -> Option<u32> {
        self.capacity
    }

    pub fn max_redemptions(&self) -> u32 {
        self.max_redemptions
    }

    pub fn sale_starts_at(&self) -> Option<Timestamp> {
        self.sale_starts_at
    }

    pub fn sale_ends_at(&self) -> Option<Timestamp> {
        self.sale_ends_at
    }

    /// Tickets now holding a seat of this definition (issued or redeemed).
    pub fn held(&self) -> u32 {
        self.counts.held
    }

    /// Tickets ever purchased for this definition or rescheduled into it.
    pub fn sold(&self) -> u64 {
        self.counts.sold
    }

    /// True when a purchase or a reschedule into it must be refused `sold_out`.
    pub fn is_sold_out(&self) -> bool {
        self.capacity.is_some_and(|c| self.counts.held >= c)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerformanceState {
    pub(crate) starts_at: Timestamp,
    pub(crate) ends_at: Option<Timestamp>,
    pub(crate) revision: u64,
    /// False for a stream that holds only a reservation so far (it tracks the
    /// revision; the performance does not exist yet).
    pub(crate) scheduled: bool,
}

impl PerformanceState {
    pub fn starts_at(&self) -> Timestamp {
        self.starts_at
    }

    pub fn ends_at(&self) -> Option<Timestamp> {
        self.ends_at
    }
}

/// An `order-<id>` stream's revision, its captures, and the tickets purchased in it
/// (purchases live in ticket streams, so an order may exist before its stream does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OrderState {
    pub(crate) revision: Option<u64>,
    pub(crate) captures: Vec<Id>,
    pub(crate) tickets: Vec<Id>,
}

/// A link or an owner: whether its creating record was seen, and its stream revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entity {
    pub(crate) exists: bool,
    pub(crate) revision: u64,
}

/// The state the rules need: performances, definitions with their held seats,
/// tickets, links, owners and payment captures, and every stream's last revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerState {
    pub(crate) performances: HashMap<Id, PerformanceState>,
    pub(crate) definitions: Vec<DefinitionState>,
    pub(crate) definition_index: HashMap<Id, DefIdx>,
    pub(crate) tickets: HashMap<Id, TicketState>,
    pub(crate) links: HashMap<Id, Entity>,
    pub(crate) owners: HashMap<Id, Entity>,
    pub(crate) orders: HashMap<Id, OrderState>,
    /// Records applied with their `ledger.reserved` record and not yet seen in their
    /// own stream: record id -> reservation id. Empty unless reservations are used.
    pub(crate) pending: HashMap<Uuid, Uuid>,
}

/// Undo information for one [`LedgerState::apply`]: the previous values of the
/// entities it touched, restored in reverse order.
#[derive(Debug)]
pub struct Undo {
    changes: Changes,
}

#[derive(Debug, Default)]
enum Change {
    #[default]
    Nothing,
    Ticket(Id, Option<TicketState>),
    Counts(DefIdx, SeatCounts),
    /// The definition was interned by this apply: pop it.
    DefinitionAdded,
    Definition(DefIdx, Box<DefinitionState>),
    Performance(Id, Option<PerformanceState>),
    Link(Id, Option<Entity>),
    Owner(Id, Option<Entity>),
    Order {
        id: Id,
        existed: bool,
        revision: Option<u64>,
        captures: usize,
        tickets: usize,
    },
}

/// Up to four changes inline (the most a record makes in a ledger kept by the rules);
/// more spill to the heap. When not recording (folding the log), nothing is built.
#[derive(Debug, Default)]
struct Changes {
    recording: bool,
    inline: [Change; 4],
    len: usize,
    spill: Vec<Change>,
}

impl Changes {
    fn recording() -> Self {
        Self {
            recording: true,
            ..Self::default()
        }
    }

    fn record(&mut self, change: impl FnOnce() -> Change) {
        if !self.recording {
            return;
        }
        let c = change();
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = c;
                self.len += 1;
            }
            None => self.spill.push(c),
        }
    }

    fn into_reverse(self) -> impl Iterator<Item = Change> {
        let Changes {
            inline, len, spill, ..
        } = self;
        spill
            .into_iter()
            .rev()
            .chain(inline.into_iter().take(len).rev())
    }
}

impl LedgerState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds a record (stored, or accepted and about to be written) into the state and
    /// bumps its stream's revision. Never panics, whatever the record.
    pub fn apply(&mut self, body: &RecordBody) -> Undo {
        let mut changes = Changes::recording();
        self.apply_with(body, &mut changes);
        Undo { changes }
    }

    /// [`Self::apply`] without undo information, for folding the log.
    pub fn fold(&mut self, body: &RecordBody) {
        self.apply_with(body, &mut Changes::default());
    }

    fn apply_with(&mut self, body: &RecordBody, changes: &mut Changes) {
        use RecordBody as B;
        match body {
            B::PerformanceScheduled(d) => {
                let prev = self.performances.get(&d.performance_id).copied();
                changes.record(|| Change::Performance(d.performance_id.clone(), prev));
                let next = match prev {
                    // A second schedule only happens in a log written without the
                    // rules; the first one stands.
                    Some(p) if p.scheduled => PerformanceState {
                        revision: p.revision.saturating_add(1),
                        ..p
                    },
                    _ => PerformanceState {
                        starts_at: d.starts_at,
                        ends_at: d.ends_at,
                        revision: next_revision(prev.map(|p| p.revision)),
                        scheduled: true,
                    },
                };
                upsert(&mut self.performances, &d.performance_id, next);
            }
            B::DefinitionCreated(d) => {
                let idx = self.intern_definition(&d.definition_id, changes);
                self.save_definition(idx, changes);
                if let Some(def) = self.definition_at_mut(idx) {
                    if !def.created {
                        def.created = true;
                        def.performance_id = Some(d.performance_id.clone());
                        def.capacity = d.capacity;
                        def.max_redemptions = d.max_redemptions.unwrap_or(1);
                        def.sale_starts_at = d.sale_starts_at;
                        def.sale_ends_at = d.sale_ends_at;
                    }
                    def.revision = Some(next_revision(def.revision));
                }
            }
            B::DefinitionUpdated(d) => {
                let idx = self.intern_definition(&d.definition_id, changes);
                self.save_definition(idx, changes);
                if let Some(def) = self.definition_at_mut(idx) {
                    if let Some(c) = d.capacity {
                        def.capacity = c;
                    }
                    if let Some(m) = d.max_redemptions {
                        def.max_redemptions = m.unwrap_or(1);
                    }
                    if let Some(s) = d.sale_starts_at {
                        def.sale_starts_at = s;
                    }
                    if let Some(e) = d.sale_ends_at {
                        def.sale_ends_at = e;
                    }
                    def.revision = Some(next_revision(def.revision));
                }
            }
            B::DefinitionDeleted(d) => {
                let idx = self.intern_definition(&d.definition_id, changes);
                self.save_definition(idx, changes);
                if let Some(def) = self.definition_at_mut(idx) {
                    def.deleted = true;
                    def.revision = Some(next_revision(def.revision));
                }
            }
            B::LinkCreated(d) => {
                bump_entity(&mut self.links, &d.link_id, true, changes, Change::Link)
            }
            B::LinkClicked(d) => {
                bump_entity(&mut self.links, &d.link_id, false, changes, Change::Link)
            }
            B::OwnerRegistered(d) => bump_entity(
                &mut self.owners,
                &d.customer_id,
                true,
                changes,
                Change::Owner,
            ),
            B::OwnerConsentChanged(d) => bump_entity(
                &mut self.owners,
                &d.customer_id,
                false,
                changes,
                Change::Owner,
            ),
            B::PaymentCaptured(d) => {
                let order = self.touch_order(&d.order_id, changes);
                order.revision = Some(next_revision(order.revision));
                order.captures.push(d.token.clone());
            }
            B::PaymentRefunded(d) => {
                let order = self.touch_order(&d.order_id, changes);
                order.revision = Some(next_revision(order.revision));
            }
            // Without its id a reservation only moves its stream's revision;
            // `fold_record` also applies the records it carries.
            B::LedgerReserved(d) => self.bump_stream(&d.stream, changes),
            ticket_record => self.apply_ticket(ticket_record, changes),
        }
    }

    /// Folds a stored record, knowing its id: a `ledger.reserved` record applies the
    /// records it carries (so their seats count from the reservation on), and those
    /// records are skipped when they later appear in their own streams. The way to
    /// fold a log that may hold reservations; without any it is [`Self::fold`].
    pub fn fold_record(&mut self, id: Uuid, body: &RecordBody) {
        if let RecordBody::LedgerReserved(r) = body {
            self.fold_reservation(id, r);
            return;
        }
        if !self.pending.is_empty() && self.pending.remove(&id).is_some() {
            return;
        }
        self.fold(body);
    }

    fn fold_reservation(&mut self, id: Uuid, r: &LedgerReserved) {
        let mut changes = Changes::default();
        self.bump_stream(&r.stream, &mut changes);
        for inner in &r.records {
            // A reservation never carries another; a record carried twice counts once.
            if matches!(inner.record, RecordBody::LedgerReserved(_))
                || self.pending.contains_key(&inner.id)
            {
                continue;
            }
            self.apply_with(&inner.record, &mut changes);
            self.pending.insert(inner.id, id);
        }
    }

    /// Moves a stream's revision by one, as the ledger's own `ledger.reserved` record
    /// on it does, without applying anything else. Undone like [`Self::apply`].
    pub fn reserve(&mut self, stream: &str) -> Undo {
        let mut changes = Changes::recording();
        self.bump_stream(stream, &mut changes);
        Undo { changes }
    }

    /// The reservations (by record id) whose records are not all seen in their streams
    /// yet, in no particular order.
    pub fn pending_reservations(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self.pending.values().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The records applied with a reservation and not yet seen stored.
    pub fn pending_records(&self) -> Vec<Uuid> {
        self.pending.keys().copied().collect()
    }

    /// True when the record was applied with a reservation and not yet seen stored.
    pub fn is_pending(&self, id: &Uuid) -> bool {
        self.pending.contains_key(id)
    }

    /// The reserved record `id` is now stored (written by a roll-forward): it is no
    /// longer pending, and folding it again would count it twice.
    pub fn arrived(&mut self, id: &Uuid) {
        self.pending.remove(id);
    }

    /// Bumps the revision of any stream of the routing of SPEC §4, creating a
    /// placeholder entity (one that does not "exist" for the rules) when needed.
    fn bump_stream(&mut self, stream: &str, changes: &mut Changes) {
        let Some((kind, id)) = stream.split_once('-') else {
            return;
        };
        let Ok(id) = Id::new(id) else {
            return;
        };
        match kind {
            "ticket" => {
                let prev = self.tickets.get(&id).copied();
                changes.record(|| Change::Ticket(id.clone(), prev));
                let next = match prev {
                    Some(t) => TicketState {
                        revision: t.revision.saturating_add(1),
                        ..t
                    },
                    None => TicketState {
                        revision: 0,
                        definition: NO_DEF,
                        life: Lifecycle::default(),
                    },
                };
                upsert(&mut self.tickets, &id, next);
            }
            "definition" => {
                let idx = self.intern_definition(&id, changes);
                self.save_definition(idx, changes);
                if let Some(def) = self.definition_at_mut(idx) {
                    def.revision = Some(next_revision(def.revision));
                }
            }
            "performance" => {
                let prev = self.performances.get(&id).copied();
                changes.record(|| Change::Performance(id.clone(), prev));
                let next = match prev {
                    Some(p) => PerformanceState {
                        revision: p.revision.saturating_add(1),
                        ..p
                    },
                    None => PerformanceState {
                        starts_at: Timestamp::default(),
                        ends_at: None,
                        revision: 0,
                        scheduled: false,
                    },
                };
                upsert(&mut self.performances, &id, next);
            }
            "link" => bump_entity(&mut self.links, &id, false, changes, Change::Link),
            "owner" => bump_entity(&mut self.owners, &id, false, changes, Change::Owner),
            "order" => {
                let order = self.touch_order(&id, changes);
                order.revision = Some(next_revision(order.revision));
            }
            _ => {}
        }
    }

    /// Reverts the [`Self::apply`] that returned `undo`. Several applies are undone in
    /// the reverse order of their application.
    pub fn undo(&mut self, undo: Undo) {
        for change in undo.changes.into_reverse() {
            match change {
                Change::Nothing => {}
                Change::Ticket(id, prev) => restore(&mut self.tickets, id, prev),
                Change::Counts(idx, counts) => {
                    if let Some(def) = self.definition_at_mut(idx) {
                        def.counts = counts;
                    }
                }
                Change::DefinitionAdded => {
                    if let Some(def) = self.definitions.pop() {
                        self.definition_index.remove(&def.id);
                    }
                }
                Change::Definition(idx, prev) => {
                    if let Some(def) = self.definition_at_mut(idx) {
                        *def = *prev;
                    }
                }
                Change::Performance(id, prev) => restore(&mut self.performances, id, prev),
                Change::Link(id, prev) => restore(&mut self.links, id, prev),
                Change::Owner(id, prev) => restore(&mut self.owners, id, prev),
                Change::Order {
                    id,
                    existed,
                    revision,
                    captures,
                    tickets,
                } => {
                    if !existed {
                        self.orders.remove(&id);
                    } else if let Some(order) = self.orders.get_mut(&id) {
                        order.revision = revision;
                        order.captures.truncate(captures);
                        order.tickets.truncate(tickets);
                    }
                }
            }
        }
    }

    /// A purchased ticket.
    pub fn ticket(&self, id: &str) -> Option<&TicketState> {
        self.tickets.get(id).filter(|t| t.life.is_purchased())
    }

    /// The id of a purchased ticket's current definition.
    pub fn ticket_definition(&self, id: &str) -> Option<&Id> {
        let t = self.ticket(id)?;
        self.definition_at(t.definition).map(|d| &d.id)
    }

    /// A created definition (deleted ones included; see [`DefinitionState::is_deleted`]).
    pub fn definition(&self, id: &str) -> Option<&DefinitionState> {
        let idx = *self.definition_index.get(id)?;
        self.definition_at(idx).filter(|d| d.created)
    }

    /// A scheduled performance.
    pub fn performance(&self, id: &str) -> Option<&PerformanceState> {
        self.performances.get(id).filter(|p| p.scheduled)
    }

    pub fn link_exists(&self, id: &str) -> bool {
        self.links.get(id).is_some_and(|l| l.exists)
    }

    pub fn owner_exists(&self, id: &str) -> bool {
        self.owners.get(id).is_some_and(|o| o.exists)
    }

    /// Tickets purchased in an order, in purchase order.
    pub fn tickets_of_order(&self, order_id: &str) -> &[Id] {
        self.orders
            .get(order_id)
            .map_or(&[], |o| o.tickets.as_slice())
    }

    /// Tokens of the order's `payment.captured` records.
    pub fn captures_of_order(&self, order_id: &str) -> &[Id] {
        self.orders
            .get(order_id)
            .map_or(&[], |o| o.captures.as_slice())
    }

    /// Purchased tickets, deleted ones included.
    pub fn ticket_count(&self) -> usize {
        self.tickets
            .values()
            .filter(|t| t.life.is_purchased())
            .count()
    }

    /// The last revision of a stream, as folded; `None` when it has no record. Accepts
    /// any stream name; names outside the routing of SPEC §4 have no records.
    pub fn stream_revision(&self, stream: &str) -> Option<u64> {
        let (kind, id) = stream.split_once('-')?;
        match kind {
            "ticket" => self.tickets.get(id).map(|t| t.revision),
            "definition" => self
                .definition_index
                .get(id)
                .and_then(|&i| self.definition_at(i))
                .and_then(|d| d.revision),
            "performance" => self.performances.get(id).map(|p| p.revision),
            "link" => self.links.get(id).map(|l| l.revision),
            "owner" => self.owners.get(id).map(|o| o.revision),
            "order" => self.orders.get(id).and_then(|o| o.revision),
            _ => None,
        }
    }

    pub(crate) fn definition_at(&self, idx: DefIdx) -> Option<&DefinitionState> {
        self.definitions.get(usize::try_from(idx).ok()?)
    }

    pub(crate) fn definition_by_id(&self, id: &str) -> Option<&DefinitionState> {
        self.definition_index
            .get(id)
            .and_then(|&i| self.definition_at(i))
    }

    pub(crate) fn raw_ticket(&self, id: &str) -> Option<&TicketState> {
        self.tickets.get(id)
    }

    pub(crate) fn ticket_definition_state(&self, t: &TicketState) -> Option<&DefinitionState> {
        self.definition_at(t.definition)
    }

    pub(crate) fn order_revision(&self, order_id: &str) -> Option<u64> {
        self.orders.get(order_id).and_then(|o| o.revision)
    }

    fn definition_at_mut(&mut self, idx: DefIdx) -> Option<&mut DefinitionState> {
        self.definitions.get_mut(usize::try_from(idx).ok()?)
    }

    /// The definition's index, adding a placeholder when the log mentions a definition
    /// before creating it.
    fn intern_definition(&mut self, id: &Id, changes: &mut Changes) -> DefIdx {
        if let Some(&idx) = self.definition_index.get(id) {
            return idx;
        }
        let Ok(idx) = DefIdx::try_from(self.definitions.len()) else {
            return NO_DEF;
        };
        if idx == NO_DEF {
            return NO_DEF;
        }
        self.definitions.push(DefinitionState::ghost(id.clone()));
        self.definition_index.insert(id.clone(), idx);
        changes.record(|| Change::DefinitionAdded);
        idx
    }

    fn save_definition(&self, idx: DefIdx, changes: &mut Changes) {
        if let Some(def) = self.definition_at(idx) {
            changes.record(|| Change::Definition(idx, Box::new(def.clone())));
        }
    }

    fn adjust_counts(
        &mut self,
        idx: DefIdx,
        changes: &mut Changes,
        f: impl FnOnce(&mut SeatCounts),
    ) {
        if let Some(def) = self.definition_at_mut(idx) {
            let counts = def.counts;
            changes.record(|| Change::Counts(idx, counts));
            f(&mut def.counts);
        }
    }

    fn touch_order(&mut self, id: &Id, changes: &mut Changes) -> &mut OrderState {
        let existed = self.orders.get(id);
        let (existed, revision, captures, tickets) = match existed {
            Some(o) => (true, o.revision, o.captures.len(), o.tickets.len()),
            None => (false, None, 0, 0),
        };
        changes.record(|| Change::Order {
            id: id.clone(),
            existed,
            revision,
            captures,
            tickets,
        });
        self.orders.entry(id.clone()).or_default()
    }

    fn apply_ticket(&mut self, body: &RecordBody, changes: &mut Changes) {
        let Some(id) = body.ticket_id() else {
            return;
        };
        let prev = self.tickets.get(id).copied();
        changes.record(|| Change::Ticket(id.clone(), prev));
        let before = prev.unwrap_or(TicketState {
            revision: 0,
            definition: NO_DEF,
            life: Lifecycle::default(),
        });
        let mut after = before;
        after.revision = next_revision(prev.map(|p| p.revision));
        after.life.apply(body);

        // Where the ticket is sold into, if this record sells it somewhere.
        let sold_into = match body {
            RecordBody::TicketPurchased(d) if !before.life.is_purchased() => {
                let order = self.touch_order(&d.order_id, changes);
                order.tickets.push(id.clone());
                Some(self.intern_definition(&d.definition_id, changes))
            }
            RecordBody::TicketRescheduled(d) => {
                Some(self.intern_definition(&d.to_definition_id, changes))
            }
            _ => None,
        };
        if let Some(def) = sold_into {
            after.definition = def;
        }

        let held_before = before.life.holds_seat().then_some(before.definition);
        let held_after = after.life.holds_seat().then_some(after.definition);
        let seat_moves = held_before != held_after;
        if seat_moves && let Some(from) = held_before {
            self.adjust_counts(from, changes, |c| c.held = c.held.saturating_sub(1));
        }
        let takes_seat = seat_moves && held_after.is_some();
        if sold_into.is_some() || takes_seat {
            self.adjust_counts(after.definition, changes, |c| {
                if sold_into.is_some() {
                    c.sold = c.sold.saturating_add(1);
                }
                if takes_seat {
                    c.held = c.held.saturating_add(1);
                }
            });
        }
        upsert(&mut self.tickets, id, after);
    }
}

fn next_revision(prev: Option<u64>) -> u64 {
    prev.map_or(0, |r| r.saturating_add(1))
}

fn bump_entity(
    map: &mut HashMap<Id, Entity>,
    id: &Id,
    creates: bool,
    changes: &mut Changes,
    change: fn(Id, Option<Entity>) -> Change,
) {
    let prev = map.get(id).copied();
    changes.record(|| change(id.clone(), prev));
    let next = Entity {
        exists: creates || prev.is_some_and(|e| e.exists),
        revision: next_revision(prev.map(|e| e.revision)),
    };
    upsert(map, id, next);
}

/// Inserts without cloning the key when it is already there (the common case).
fn upsert<V>(map: &mut HashMap<Id, V>, id: &Id, value: V) {
    match map.get_mut(id) {
        Some(slot) => *slot = value,
        None => {
            map.insert(id.clone(), value);
        }
    }
}

fn restore<V>(map: &mut HashMap<Id, V>, id: Id, prev: Option<V>) {
    match prev {
        Some(v) => {
            map.insert(id, v);
        }
        None => {
            map.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_stays_small() {
        // Millions of tickets live in memory; a larger entry is a deliberate choice.
        assert!(std::mem::size_of::<TicketState>() <= 24);
    }
}
