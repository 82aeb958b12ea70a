//! The fold: performances with their ticket lists, tickets with everything a row
//! shows, and owner accounts indexed by customer id and by email.
//!
//! Only purchased tickets are kept: a `ticket.*` record about a ticket whose purchase
//! is not in the log (impossible through the ledger) is ignored.

use counterfoil_core::catalog::Seat;
use counterfoil_core::{Amount, Currency, RecordBody, StoredRecord, Timestamp};
use counterfoil_projection::state_file::StateWriter;
use counterfoil_projection::{
    ChunkedVec, IdTable, Keys, NONE, Packed, Projector, TicketLife, time,
};
use serde::{Deserialize, Serialize};

use crate::index::PerfTickets;
use crate::people::{Account, PersonState, later};

/// The owner-report projector. Start from `OwnerReport::default()`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerReport {
    pub(crate) performances: IdTable,
    /// Parallel to `performances`.
    pub(crate) performance: Vec<Perf>,
    pub(crate) definitions: IdTable,
    /// The performance of each definition, parallel to `definitions`.
    pub(crate) definition_performance: Vec<u32>,
    pub(crate) orders: IdTable,
    pub(crate) ticket_types: IdTable,
    pub(crate) tickets: IdTable,
    /// Parallel to `tickets`; indexes are handed out in purchase order.
    pub(crate) ticket: ChunkedVec<Ticket>,
    /// Customer ids of registered accounts.
    pub(crate) accounts: IdTable,
    /// Parallel to `accounts`.
    pub(crate) account: Vec<Account>,
    /// Lower-cased (ASCII) emails of registered accounts.
    pub(crate) emails: IdTable,
    /// The first account registered with each email, parallel to `emails`.
    pub(crate) email_account: Vec<u32>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Perf {
    pub scheduled: bool,
    pub name: Box<str>,
    pub code: Option<Box<str>>,
    #[serde(with = "time::compact_opt")]
    pub starts_at: Option<Timestamp>,
    pub tickets: PerfTickets,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ticket {
    pub performance: u32,
    pub definition: u32,
    pub order: u32,
    pub ticket_type: u32,
    pub life: TicketLife,
    /// Section, row, seat, area, level, block, gate, entrance.
    pub seat: Packed,
    #[serde(with = "time::compact")]
    pub purchased_at: Timestamp,
    pub price: Amount,
    pub currency: Currency,
    pub buyer: PersonState,
    pub injected: Option<Box<PersonState>>,
    /// Recipients of every transfer, in order.
    pub transfers: Vec<PersonState>,
    pub forward: u32,
    pub backward: u32,
    pub dates: Dates,
    /// Latest `occurred_at` among the ticket's records.
    #[serde(with = "time::compact")]
    pub last_at: Timestamp,
}

impl Ticket {
    /// Writes the ticket as its derived `Serialize` does through `rmp_serde` (a test
    /// holds the bytes to it): the tickets are most of a state file, and serde's calls
    /// per field were most of their encoding.
    fn write(&self, w: &mut StateWriter) -> Result<(), String> {
        let Self {
            performance,
            definition,
            order,
            ticket_type,
            life,
            seat,
            purchased_at,
            price,
            currency,
            buyer,
            injected,
            transfers,
            forward,
            backward,
            dates,
            last_at,
        } = self;
        w.array_len(16)?;
        for ix in [performance, definition, order, ticket_type] {
            w.uint(u64::from(*ix))?;
        }
        w.life(life)?;
        seat.write(w)?;
        time::compact::write(purchased_at, w)?;
        write_amount(price, w)?;
        w.str(currency.as_str())?;
        buyer.write(w)?;
        match injected {
            Some(p) => p.write(w)?,
            None => w.nil()?,
        }
        w.array_len(transfers.len())?;
        for p in transfers {
            p.write(w)?;
        }
        w.uint(u64::from(*forward))?;
        w.uint(u64::from(*backward))?;
        dates.write(w)?;
        time::compact::write(last_at, w)
    }

    /// The `ticket.injected` initial owner, else the buyer.
    pub fn initial_owner(&self) -> &PersonState {
        self.injected.as_deref().unwrap_or(&self.buyer)
    }

    /// The last transfer's recipient, else the initial owner.
    pub fn holder(&self) -> &PersonState {
        self.transfers
            .last()
            .unwrap_or_else(|| self.initial_owner())
    }

    /// The holder before the last transfer; `None` when never transferred.
    pub fn previous_owner(&self) -> Option<&PersonState> {
        match self.transfers.len() {
            0 => None,
            1 => Some(self.initial_owner()),
            n => self.transfers.get(n - 2),
        }
    }

    /// SPEC §4: a transfer to anyone who held the ticket before its current holder
    /// (the initial owner or an earlier recipient) is backward.
    fn is_backward(&self, to: &PersonState) -> bool {
        let earlier = self.transfers.len();
        std::iter::once(self.initial_owner())
            .chain(self.transfers.iter())
            .take(earlier)
            .any(|p| p.same_person(to))
    }
}

/// Every seat part, packed in the order of [`SeatInfo`](crate::SeatInfo).
fn pack_seat(s: &Seat) -> Packed {
    Packed::new([
        s.section.as_deref(),
        s.row.as_deref(),
        s.seat.as_deref(),
        s.area.as_deref(),
        s.level.as_deref(),
        s.block.as_deref(),
        s.gate.as_deref(),
        s.entrance.as_deref(),
    ])
}

/// The latest time of each kind of ticket record (in log order), and the deletion.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Dates {
    #[serde(with = "time::compact_opt")]
    pub activated: Option<Timestamp>,
    /// The last redemption.
    #[serde(with = "time::compact_opt")]
    pub checked: Option<Timestamp>,
    #[serde(with = "time::compact_opt")]
    pub delivered: Option<Timestamp>,
    #[serde(with = "time::compact_opt")]
    pub downloaded: Option<Timestamp>,
    #[serde(with = "time::compact_opt")]
    pub controlled: Option<Timestamp>,
    #[serde(with = "time::compact_opt")]
    pub kept_by_owner: Option<Timestamp>,
    #[serde(with = "time::compact_opt")]
    pub deletion: Option<Timestamp>,
    pub deletion_reason: Option<Box<str>>,
}

/// An amount as its `Serialize` writes it in a binary format: the packed integer in
/// the fewest big-endian bytes, or (rarely) text through serde.
fn write_amount(a: &Amount, w: &mut StateWriter) -> Result<(), String> {
    match a.packed_bytes() {
        Some(packed) => w.bytes(packed.as_ref()),
        None => w.value(a),
    }
}

impl Dates {
    /// Writes the dates as their derived `Serialize` does through `rmp_serde`.
    fn write(&self, w: &mut StateWriter) -> Result<(), String> {
        let Self {
            activated,
            checked,
            delivered,
            downloaded,
            controlled,
            kept_by_owner,
            deletion,
            deletion_reason,
        } = self;
        w.array_len(8)?;
        for date in [
            activated,
            checked,
            delivered,
            downloaded,
            controlled,
            kept_by_owner,
            deletion,
        ] {
            time::compact_opt::write(date, w)?;
        }
        match deletion_reason {
            Some(r) => w.str(r),
            None => w.nil(),
        }
    }
}

impl Projector for OwnerReport {
    const NAME: &'static str = "owner-report";
    const VERSION: u32 = 1;

    /// The derived encoding (fields in order, positional), with the tickets, most of
    /// the state, encoded on a thread per core: at 3.2 million tickets this persist
    /// is the last thing a rebuild waits for, and the encoding held the live report's
    /// folding for about a second. A test holds the bytes to the derived encoding's.
    fn encode_state(&self, w: &mut StateWriter) -> Result<(), String> {
        let Self {
            performances,
            performance,
            definitions,
            definition_performance,
            orders,
            ticket_types,
            tickets,
            ticket,
            accounts,
            account,
            emails,
            email_account,
        } = self;
        w.array_len(12)?;
        performances.write(w)?;
        w.value(performance)?;
        definitions.write(w)?;
        w.u32s(definition_performance)?;
        orders.write(w)?;
        ticket_types.write(w)?;
        tickets.write(w)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        w.seq_parallel_with(&ticket.slices(), threads, Ticket::write)?;
        accounts.write(w)?;
        w.value(account)?;
        emails.write(w)?;
        w.u32s(email_account)
    }

    fn apply(&mut self, record: &StoredRecord) {
        self.apply_keyed(record, &Keys::NONE);
    }

    fn apply_keyed(&mut self, record: &StoredRecord, keys: &Keys) {
        use RecordBody as B;
        let at = record.occurred_at;
        match &record.body {
            B::PerformanceScheduled(d) => {
                let p = self.performance_slot(d.performance_id.as_str());
                if let Some(perf) = self.performance.get_mut(p as usize)
                    && !perf.scheduled
                {
                    perf.scheduled = true;
                    perf.name = d.name.as_str().into();
                    perf.code = d.code.as_deref().map(Into::into);
                    perf.starts_at = Some(d.starts_at);
                }
            }
            B::DefinitionCreated(d) => {
                let perf = self.performance_slot(d.performance_id.as_str());
                let def = self.definition_slot(d.definition_id.as_str());
                if let Some(slot) = self.definition_performance.get_mut(def as usize)
                    && *slot == NONE
                {
                    *slot = perf;
                }
            }
            B::TicketPurchased(d) => {
                let t = self
                    .tickets
                    .intern_keyed(d.ticket_id.as_str(), keys.ticket());
                if t as usize != self.ticket.len() {
                    // Purchased before (or the table is full): the first purchase stands.
                    return;
                }
                let definition = self.definition_slot(d.definition_id.as_str());
                let performance = self
                    .definition_performance
                    .get(definition as usize)
                    .copied()
                    .unwrap_or(NONE);
                let mut life = TicketLife::default();
                life.apply(&record.body);
                self.ticket.push(Ticket {
                    performance,
                    definition,
                    order: self.orders.intern_keyed(d.order_id.as_str(), keys.order()),
                    ticket_type: self.ticket_types.intern(&d.ticket_type),
                    life,
                    seat: d.seat.as_ref().map(pack_seat).unwrap_or_default(),
                    purchased_at: at,
                    price: d.price_paid,
                    currency: d.currency,
                    buyer: PersonState::from_person(&d.buyer),
                    injected: None,
                    transfers: Vec::new(),
                    forward: 0,
                    backward: 0,
                    dates: Dates::default(),
                    last_at: at,
                });
                if let Some(perf) = self.performance.get_mut(performance as usize) {
                    perf.tickets.insert(t, false);
                }
            }
            B::OwnerRegistered(d) => {
                let a = self.accounts.intern(d.customer_id.as_str());
                if a as usize == self.account.len() {
                    let mut account = Account::from_registration(d);
                    account.last_at = Some(at);
                    self.account.push(account);
                    let e = self.emails.intern(&d.email.to_ascii_lowercase());
                    if e as usize == self.email_account.len() {
                        self.email_account.push(a);
                    }
                } else if let Some(account) = self.account.get_mut(a as usize) {
                    account.last_at = later(account.last_at, Some(at));
                }
            }
            B::OwnerConsentChanged(d) => {
                let Some(account) = self
                    .accounts
                    .get(d.customer_id.as_str())
                    .and_then(|a| self.account.get_mut(a as usize))
                else {
                    return;
                };
                if let Some(v) = d.allow_promo_email {
                    account.allow_promo_email = Some(v);
                }
                if let Some(v) = d.allow_promo_third_party_email {
                    account.allow_promo_third_party_email = Some(v);
                }
                if let Some(v) = d.allow_tracking {
                    account.allow_tracking = Some(v);
                }
                account.last_at = later(account.last_at, Some(at));
            }
            body => {
                if let Some(id) = body.ticket_id()
                    && let Some(t) = self.tickets.get_keyed(id.as_str(), keys.ticket())
                {
                    self.apply_to_ticket(t, body, at);
                }
            }
        }
    }
}

impl OwnerReport {
    /// A `ticket.*` record other than the purchase, for a purchased ticket.
    fn apply_to_ticket(&mut self, t: u32, body: &RecordBody, at: Timestamp) {
        use RecordBody as B;
        let new_definition = match body {
            B::TicketRescheduled(d) => Some(self.definition_slot(d.to_definition_id.as_str())),
            _ => None,
        };
        let Some(ticket) = self.ticket.get_mut(t as usize) else {
            return;
        };
        let was_deleted = ticket.life.is_deleted();
        ticket.life.apply(body);
        ticket.last_at = ticket.last_at.max(at);
        let dates = &mut ticket.dates;
        match body {
            B::TicketRedeemed(_) => dates.checked = Some(at),
            B::TicketDelivered(_) => dates.delivered = Some(at),
            B::TicketDownloaded(_) => dates.downloaded = Some(at),
            B::TicketActivated(_) => dates.activated = Some(at),
            B::TicketControlled(_) => dates.controlled = Some(at),
            B::TicketKeptByOwner(_) => dates.kept_by_owner = Some(at),
            B::TicketDeleted(d) => {
                dates.deletion = Some(at);
                dates.deletion_reason = Some(d.reason.as_str().into());
            }
            B::TicketInjected(d) => {
                ticket.injected = Some(Box::new(PersonState::from_person(&d.initial_owner)))
            }
            B::TicketTransferred(d) => {
                let to = PersonState::from_person(&d.to);
                if ticket.is_backward(&to) {
                    ticket.backward = ticket.backward.saturating_add(1);
                } else {
                    ticket.forward = ticket.forward.saturating_add(1);
                }
                ticket.transfers.push(to);
            }
            _ => {}
        }
        let deleted = ticket.life.is_deleted();
        let old_performance = ticket.performance;
        if let Some(def) = new_definition {
            ticket.definition = def;
            let performance = self
                .definition_performance
                .get(def as usize)
                .copied()
                .unwrap_or(NONE);
            ticket.performance = performance;
            if performance != old_performance {
                if let Some(p) = self.performance.get_mut(old_performance as usize) {
                    p.tickets.remove(t, deleted);
                }
                if let Some(p) = self.performance.get_mut(performance as usize) {
                    p.tickets.insert(t, deleted);
                }
            }
        }
        if deleted
            && !was_deleted
            && let Some(p) = self.performance.get_mut(old_performance as usize)
        {
            p.tickets.mark_deleted(t);
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
        if ix as usize == self.definition_performance.len() {
            self.definition_performance.push(NONE);
        }
        ix
    }
}
