//! The fold: definitions with their counters, and each ticket's current definition
//! and lifecycle.
//!
//! "Sold" counts distinct tickets that ever entered a definition (purchase or
//! reschedule into it); "held" counts tickets whose lifecycle holds a seat of it now.
//! Each ticket record compares "holds a seat" before and after folding it and moves
//! the current definition's held counter by the difference; a reschedule moves a held
//! seat from the old definition to the new one.

use std::collections::BTreeSet;

use counterfoil_core::catalog::Pricing;
use counterfoil_core::{Amount, Currency, RecordBody, StoredRecord, Timestamp};
use counterfoil_projection::state_file::StateWriter;
use counterfoil_projection::{ChunkedVec, IdTable, Keys, NONE, Projector, TicketLife, time};
use serde::{Deserialize, Serialize};

/// The unsold-counts projector. Start from `UnsoldCounts::default()`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsoldCounts {
    pub(crate) performances: IdTable,
    /// Parallel to `performances`.
    pub(crate) performance: Vec<Perf>,
    pub(crate) definitions: IdTable,
    /// Parallel to `definitions`.
    pub(crate) definition: Vec<Def>,
    pub(crate) tickets: IdTable,
    /// Parallel to `tickets`.
    pub(crate) ticket: ChunkedVec<TicketSlot>,
    /// `(ticket, definition)` for every definition a rescheduled ticket was in, so a
    /// ticket rescheduled back into a definition is not sold there twice. Only
    /// rescheduled tickets appear here.
    pub(crate) visited: BTreeSet<(u32, u32)>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Perf {
    pub scheduled: bool,
    pub name: Box<str>,
    #[serde(with = "time::compact_opt")]
    pub starts_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Price {
    /// Not created yet (a placeholder named by a ticket).
    Unknown,
    Fixed(Amount),
    Optional(Vec<(Box<str>, Amount)>),
}

impl Price {
    fn from_pricing(p: &Pricing) -> Self {
        match p {
            Pricing::Fixed { price } => Price::Fixed(*price),
            Pricing::Optional { options } => Price::Optional(
                options
                    .iter()
                    .map(|o| (o.name.as_str().into(), o.price))
                    .collect(),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Def {
    /// False for a definition only named by tickets; it is never shown.
    pub created: bool,
    pub deleted: bool,
    pub performance: u32,
    pub name: Box<str>,
    pub group: Option<Box<str>>,
    pub price: Price,
    pub currency: Option<Currency>,
    /// `None` = unlimited.
    pub capacity: Option<u32>,
    #[serde(with = "time::compact_opt")]
    pub sale_starts_at: Option<Timestamp>,
    #[serde(with = "time::compact_opt")]
    pub sale_ends_at: Option<Timestamp>,
    pub sold: u64,
    pub held: u64,
}

impl Default for Def {
    fn default() -> Self {
        Self {
            created: false,
            deleted: false,
            performance: NONE,
            name: "".into(),
            group: None,
            price: Price::Unknown,
            currency: None,
            capacity: None,
            sale_starts_at: None,
            sale_ends_at: None,
            sold: 0,
            held: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TicketSlot {
    /// Current definition; `NONE` until purchased.
    pub definition: u32,
    pub life: TicketLife,
}

impl Projector for UnsoldCounts {
    const NAME: &'static str = "unsold-counts";
    const VERSION: u32 = 1;

    /// The derived encoding (fields in order, positional), with the ticket table and
    /// the tickets (nearly all of the state) written by their own encoders. A test
    /// holds the bytes to the derived encoding's.
    fn encode_state(&self, w: &mut StateWriter) -> Result<(), String> {
        let Self {
            performances,
            performance,
            definitions,
            definition,
            tickets,
            ticket,
            visited,
        } = self;
        w.array_len(7)?;
        performances.write(w)?;
        w.value(performance)?;
        definitions.write(w)?;
        w.value(definition)?;
        tickets.write(w)?;
        w.array_len(ticket.len())?;
        ticket.iter().try_for_each(|t| {
            let TicketSlot { definition, life } = t;
            w.array_len(2)?;
            w.uint(u64::from(*definition))?;
            w.life(life)
        })?;
        w.value(visited)
    }

    fn apply(&mut self, record: &StoredRecord) {
        self.apply_keyed(record, &Keys::NONE);
    }

    fn apply_keyed(&mut self, record: &StoredRecord, keys: &Keys) {
        use RecordBody as B;
        match &record.body {
            B::PerformanceScheduled(d) => {
                let p = self.performance_slot(d.performance_id.as_str());
                if let Some(perf) = self.performance.get_mut(p as usize)
                    && !perf.scheduled
                {
                    *perf = Perf {
                        scheduled: true,
                        name: d.name.as_str().into(),
                        starts_at: Some(d.starts_at),
                    };
                }
            }
            B::DefinitionCreated(d) => {
                let perf = self.performance_slot(d.performance_id.as_str());
                let ix = self.definition_slot(d.definition_id.as_str());
                if let Some(def) = self.definition.get_mut(ix as usize)
                    && !def.created
                {
                    def.created = true;
                    def.performance = perf;
                    def.name = d.name.as_str().into();
                    def.group = d.group.as_deref().map(Into::into);
                    def.price = Price::from_pricing(&d.pricing);
                    def.currency = Some(d.currency);
                    def.capacity = d.capacity;
                    def.sale_starts_at = d.sale_starts_at;
                    def.sale_ends_at = d.sale_ends_at;
                }
            }
            B::DefinitionUpdated(d) => {
                let Some(def) = self
                    .definitions
                    .get(d.definition_id.as_str())
                    .and_then(|ix| self.definition.get_mut(ix as usize))
                else {
                    return;
                };
                if !def.created || def.deleted {
                    return;
                }
                if let Some(name) = &d.name {
                    def.name = name.as_str().into();
                }
                if let Some(group) = &d.group {
                    def.group = group.as_deref().map(Into::into);
                }
                if let Some(pricing) = &d.pricing {
                    def.price = Price::from_pricing(pricing);
                }
                if let Some(currency) = d.currency {
                    def.currency = Some(currency);
                }
                if let Some(capacity) = d.capacity {
                    def.capacity = capacity;
                }
                if let Some(starts) = d.sale_starts_at {
                    def.sale_starts_at = starts;
                }
                if let Some(ends) = d.sale_ends_at {
                    def.sale_ends_at = ends;
                }
            }
            B::DefinitionDeleted(d) => {
                if let Some(def) = self
                    .definitions
                    .get(d.definition_id.as_str())
                    .and_then(|ix| self.definition.get_mut(ix as usize))
                {
                    def.deleted = true;
                }
            }
            B::TicketPurchased(d) => {
                let def = self.definition_slot(d.definition_id.as_str());
                let t = self.ticket_slot(d.ticket_id.as_str(), keys);
                let Some(slot) = self.ticket.get_mut(t as usize) else {
                    return;
                };
                if slot.life.is_purchased() {
                    return;
                }
                let before = slot.life.holds_seat();
                slot.definition = def;
                slot.life.apply(&record.body);
                let after = slot.life.holds_seat();
                if let Some(def) = self.definition.get_mut(def as usize) {
                    def.sold += 1;
                }
                self.move_held(def, before, after);
            }
            B::TicketRescheduled(d) => {
                let Some(t) = self.tickets.get_keyed(d.ticket_id.as_str(), keys.ticket()) else {
                    return;
                };
                let to = self.definition_slot(d.to_definition_id.as_str());
                let Some(slot) = self.ticket.get_mut(t as usize) else {
                    return;
                };
                let from = slot.definition;
                if !slot.life.is_purchased() || from == to || to == NONE {
                    return;
                }
                slot.definition = to;
                let holds = slot.life.holds_seat();
                let entered_before = self.visited.contains(&(t, to));
                self.visited.insert((t, from));
                self.visited.insert((t, to));
                if holds {
                    self.move_held(from, true, false);
                    self.move_held(to, false, true);
                }
                if !entered_before && let Some(def) = self.definition.get_mut(to as usize) {
                    def.sold += 1;
                }
            }
            body => {
                if !TicketLife::is_changed_by(body) {
                    return;
                }
                let Some(id) = body.ticket_id() else {
                    return;
                };
                let Some(t) = self.tickets.get_keyed(id.as_str(), keys.ticket()) else {
                    return;
                };
                let Some(slot) = self.ticket.get_mut(t as usize) else {
                    return;
                };
                let before = slot.life.holds_seat();
                slot.life.apply(body);
                let after = slot.life.holds_seat();
                let def = slot.definition;
                self.move_held(def, before, after);
            }
        }
    }
}

impl UnsoldCounts {
    /// Moves `def`'s held counter by `after - before`.
    fn move_held(&mut self, def: u32, before: bool, after: bool) {
        let Some(d) = self.definition.get_mut(def as usize) else {
            return;
        };
        match (before, after) {
            (false, true) => d.held += 1,
            (true, false) => d.held = d.held.saturating_sub(1),
            _ => {}
        }
    }

    fn performance_slot(&mut self, id: &str) -> u32 {
        let ix = self.performances.intern(id);
        if ix as usize == self.performance.len() {
            self.performance.push(Perf::default());
        }
        ix
    }

    fn definition_slot(&mut self, id: &str) -> u32 {
        let ix = self.definitions.intern(id);
        if ix as usize == self.definition.len() {
            self.definition.push(Def::default());
        }
        ix
    }

    /// The ticket `id`, the record's ticket (`keys`), given a slot if new.
    fn ticket_slot(&mut self, id: &str, keys: &Keys) -> u32 {
        let ix = self.tickets.intern_keyed(id, keys.ticket());
        if ix as usize == self.ticket.len() {
            self.ticket.push(TicketSlot {
                definition: NONE,
                life: TicketLife::default(),
            });
        }
        ix
    }
}
