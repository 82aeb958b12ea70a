//! The fold: what the shared-tickets model remembers, and how each record changes it.

use counterfoil_core::catalog::Seat;
use counterfoil_core::{RecordBody, StoredRecord, Timestamp};
use counterfoil_projection::state_file::StateWriter;
use counterfoil_projection::{ChunkedVec, IdTable, Keys, NONE, Packed, Projector, time};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The shared-tickets projector. Start from `SharedTickets::default()`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedTickets {
    pub(crate) performances: IdTable,
    /// Parallel to `performances`.
    pub(crate) performance: Vec<Perf>,
    pub(crate) definitions: IdTable,
    /// The performance of each definition, parallel to `definitions`.
    pub(crate) definition_performance: Vec<u32>,
    pub(crate) orders: IdTable,
    pub(crate) tickets: IdTable,
    /// Parallel to `tickets`.
    pub(crate) ticket: ChunkedVec<Ticket>,
    /// In log order.
    pub(crate) shares: Vec<Share>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Perf {
    /// False for a performance only named by a definition.
    pub scheduled: bool,
    pub name: Box<str>,
    #[serde(with = "time::compact_opt")]
    pub starts_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ticket {
    pub order: u32,
    pub definition: u32,
    /// Section, row, seat.
    pub seat: Packed,
    /// The latest share of this ticket (an index into `shares`), or `NONE`.
    pub last_share: u32,
}

impl Ticket {
    /// Writes the ticket as its derived `Serialize` does through `rmp_serde`.
    fn write(&self, w: &mut StateWriter) -> Result<(), String> {
        let Self {
            order,
            definition,
            seat,
            last_share,
        } = self;
        w.array_len(4)?;
        w.uint(u64::from(*order))?;
        w.uint(u64::from(*definition))?;
        seat.write(w)?;
        w.uint(u64::from(*last_share))
    }
}

impl Default for Ticket {
    fn default() -> Self {
        Self {
            order: NONE,
            definition: NONE,
            seat: Packed::default(),
            last_share: NONE,
        }
    }
}

/// Section, row and seat, packed.
fn pack_seat(s: &Seat) -> Packed {
    Packed::new([s.section.as_deref(), s.row.as_deref(), s.seat.as_deref()])
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Share {
    pub id: Uuid,
    #[serde(with = "time::compact")]
    pub at: Timestamp,
    pub ticket: u32,
    pub shared_by: Box<str>,
    pub recipient: Box<str>,
    /// The ticket's performance when shared, or `NONE`.
    pub performance: u32,
    /// Section, row, seat when shared.
    pub seat: Packed,
    /// The share of the same ticket before this one, or `NONE`.
    pub previous: u32,
}

impl Share {
    /// Writes the share as its derived `Serialize` does through `rmp_serde` (the id
    /// as its 16 bytes, as `Uuid` serializes in a binary format).
    fn write(&self, w: &mut StateWriter) -> Result<(), String> {
        let Self {
            id,
            at,
            ticket,
            shared_by,
            recipient,
            performance,
            seat,
            previous,
        } = self;
        w.array_len(8)?;
        w.bytes(id.as_bytes())?;
        time::compact::write(at, w)?;
        w.uint(u64::from(*ticket))?;
        w.str(shared_by)?;
        w.str(recipient)?;
        w.uint(u64::from(*performance))?;
        seat.write(w)?;
        w.uint(u64::from(*previous))
    }
}

impl Projector for SharedTickets {
    const NAME: &'static str = "shared-tickets";
    const VERSION: u32 = 1;

    /// The derived encoding (fields in order, positional), with the id tables,
    /// tickets and shares (nearly all of the state) written by their own encoders
    /// instead of serde's calls per field. A test holds the bytes to the derived
    /// encoding's.
    fn encode_state(&self, w: &mut StateWriter) -> Result<(), String> {
        let Self {
            performances,
            performance,
            definitions,
            definition_performance,
            orders,
            tickets,
            ticket,
            shares,
        } = self;
        w.array_len(8)?;
        performances.write(w)?;
        w.value(performance)?;
        definitions.write(w)?;
        w.u32s(definition_performance)?;
        orders.write(w)?;
        tickets.write(w)?;
        w.array_len(ticket.len())?;
        ticket.iter().try_for_each(|t| t.write(w))?;
        w.array_len(shares.len())?;
        shares.iter().try_for_each(|s| s.write(w))
    }

    fn apply(&mut self, record: &StoredRecord) {
        self.apply_keyed(record, &Keys::NONE);
    }

    fn apply_keyed(&mut self, record: &StoredRecord, keys: &Keys) {
        use RecordBody as B;
        match &record.body {
            B::PerformanceScheduled(d) => {
                let p = self.performance_slot(d.performance_id.as_str());
                if let Some(perf) = self.performance.get_mut(p)
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
                let perf = self.performance_slot(d.performance_id.as_str()) as u32;
                let def = self.definition_slot(d.definition_id.as_str());
                if let Some(slot) = self.definition_performance.get_mut(def)
                    && *slot == NONE
                {
                    *slot = perf;
                }
            }
            B::TicketPurchased(d) => {
                let order = self.orders.intern_keyed(d.order_id.as_str(), keys.order());
                let def = self.definition_slot(d.definition_id.as_str()) as u32;
                let t = self.ticket_slot(d.ticket_id.as_str(), keys);
                if let Some(ticket) = self.ticket.get_mut(t)
                    && ticket.order == NONE
                {
                    ticket.order = order;
                    ticket.definition = def;
                    ticket.seat = d.seat.as_ref().map(pack_seat).unwrap_or_default();
                }
            }
            B::TicketRescheduled(d) => {
                let def = self.definition_slot(d.to_definition_id.as_str()) as u32;
                if let Some(t) = self.tickets.get_keyed(d.ticket_id.as_str(), keys.ticket())
                    && let Some(ticket) = self.ticket.get_mut(t as usize)
                {
                    ticket.definition = def;
                }
            }
            B::TicketShared(d) => {
                let t = self.ticket_slot(d.ticket_id.as_str(), keys);
                let index = u32::try_from(self.shares.len()).unwrap_or(NONE);
                let Some(ticket) = self.ticket.get_mut(t) else {
                    return;
                };
                let performance = self
                    .definition_performance
                    .get(ticket.definition as usize)
                    .copied()
                    .unwrap_or(NONE);
                let share = Share {
                    id: record.id,
                    at: record.occurred_at,
                    ticket: t as u32,
                    shared_by: d.shared_by.as_str().into(),
                    recipient: d.recipient_email.as_str().into(),
                    performance,
                    seat: ticket.seat.clone(),
                    previous: ticket.last_share,
                };
                ticket.last_share = index;
                self.shares.push(share);
            }
            _ => {}
        }
    }
}

impl SharedTickets {
    /// The number of shares folded.
    pub fn len(&self) -> usize {
        self.shares.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shares.is_empty()
    }

    fn performance_slot(&mut self, id: &str) -> usize {
        let ix = self.performances.intern(id) as usize;
        if ix == self.performance.len() {
            self.performance.push(Perf::default());
        }
        ix
    }

    fn definition_slot(&mut self, id: &str) -> usize {
        let ix = self.definitions.intern(id) as usize;
        if ix == self.definition_performance.len() {
            self.definition_performance.push(NONE);
        }
        ix
    }

    /// The ticket `id`, the record's ticket (`keys`), given a slot if new.
    fn ticket_slot(&mut self, id: &str, keys: &Keys) -> usize {
        let ix = self.tickets.intern_keyed(id, keys.ticket()) as usize;
        if ix == self.ticket.len() {
            self.ticket.push(Ticket::default());
        }
        ix
    }
}
