//! What the generator remembers of the ledger, just enough to know which records the
//! ledger's rules (SPEC §4) accept: open performances with their definitions (held
//! seats, deletion), their tickets (status, redemptions, holders), links and accounts.
//!
//! A performance and its tickets are forgotten once the performance has closed, which
//! keeps memory bounded by the open performances, whatever the number of lines.

use std::collections::{BTreeMap, HashMap};

use counterfoil_core::Id;

use crate::ids::HOUR;
use crate::people::Pool;

/// The price of a definition.
#[derive(Debug, Clone)]
pub(crate) enum Price {
    Fixed(i64),
    Options(Vec<(&'static str, i64)>),
}

#[derive(Debug)]
pub(crate) struct Definition {
    pub id: Id,
    pub name: &'static str,
    pub ticket_type: &'static str,
    pub price: Price,
    pub capacity: Option<u32>,
    /// Tickets now holding a seat of it (issued or redeemed).
    pub held: u32,
    /// Tickets ever sold into it; numbers the seats.
    pub sold: u32,
    pub deleted: bool,
    pub max_redemptions: u32,
    pub sale_starts: Option<i64>,
    pub sale_ends: Option<i64>,
    /// Not to be updated or deleted any more: a refused record depends on it.
    pub locked: bool,
    /// Its held count must not drop any more: a refused record depends on it.
    pub pinned: bool,
}

impl Definition {
    pub fn has_room(&self) -> bool {
        !self.deleted && self.capacity.is_none_or(|c| self.held < c)
    }

    pub fn on_sale(&self, at: i64) -> bool {
        self.sale_starts.is_none_or(|s| s <= at) && self.sale_ends.is_none_or(|e| at < e)
    }
}

#[derive(Debug)]
pub(crate) struct Performance {
    pub id: Id,
    pub organizer: usize,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub defs: Vec<Definition>,
    /// Tickets whose current definition is one of this performance's.
    pub tickets: Vec<u64>,
    pub seated: bool,
    pub currency: &'static str,
}

impl Performance {
    /// The gate accepts unforced scans within 12 hours of the performance (SPEC §4).
    pub fn in_redemption_window(&self, at: i64) -> bool {
        let end = self.ends_at.unwrap_or(self.starts_at);
        at >= self.starts_at - 12 * HOUR && at <= end + 12 * HOUR
    }
}

#[derive(Debug)]
pub(crate) struct Ticket {
    pub id: Id,
    pub perf: u32,
    pub def: usize,
    pub order_id: Id,
    /// The capture token of its order and the gateway, once paid.
    pub capture: Option<(Id, &'static str)>,
    pub price_paid: i64,
    pub currency: &'static str,
    /// Pool indexes of its holders, in order; the first is the initial owner.
    pub holders: Vec<u32>,
    pub refunded: bool,
    pub invalidated: bool,
    pub deleted: bool,
    pub redemptions: u32,
    pub injected: bool,
    /// No more records for it: a refused record depends on its present state.
    pub frozen: bool,
}

impl Ticket {
    /// Issued or redeemed: not refunded, invalidated or deleted.
    pub fn valid(&self) -> bool {
        !self.refunded && !self.invalidated && !self.deleted
    }

    pub fn holder(&self) -> u32 {
        self.holders.last().copied().unwrap_or(0)
    }
}

/// Links of one organizer that cover all its performances.
#[derive(Debug, Default)]
pub(crate) struct OrganizerState {
    pub client_links: Vec<Id>,
}

#[derive(Debug)]
pub(crate) struct World {
    pub tag: String,
    pub organizers: Vec<OrganizerState>,
    pub perfs: BTreeMap<u32, Performance>,
    pub tickets: HashMap<u64, Ticket>,
    pub pool: Pool,
    pub next_perf: u32,
    pub next_def: u64,
    pub next_ticket: u64,
    pub next_order: u64,
    pub next_link: u64,
    pub next_token: u64,
    pub next_unknown: u64,
}

impl World {
    pub fn new(tag: String, organizers: usize, pool_size: usize) -> Self {
        Self {
            pool: Pool::new(&tag, pool_size),
            tag,
            organizers: (0..organizers).map(|_| OrganizerState::default()).collect(),
            perfs: BTreeMap::new(),
            tickets: HashMap::new(),
            next_perf: 0,
            next_def: 0,
            next_ticket: 0,
            next_order: 0,
            next_link: 0,
            next_token: 0,
            next_unknown: 0,
        }
    }

    pub fn ticket_def(&self, ticket: &Ticket) -> Option<&Definition> {
        self.perfs.get(&ticket.perf)?.defs.get(ticket.def)
    }

    pub fn ticket_def_mut(&mut self, no: u64) -> Option<&mut Definition> {
        let (perf, def) = {
            let t = self.tickets.get(&no)?;
            (t.perf, t.def)
        };
        self.perfs.get_mut(&perf)?.defs.get_mut(def)
    }

    /// Whether the ticket's seat may be given up (refund, invalidation, deletion, move).
    pub fn may_release(&self, ticket: &Ticket) -> bool {
        self.ticket_def(ticket).is_none_or(|d| !d.pinned)
    }

    /// Gives up the seat a valid ticket held.
    pub fn release_seat(&mut self, no: u64) {
        if let Some(d) = self.ticket_def_mut(no) {
            d.held = d.held.saturating_sub(1);
        }
    }

    pub fn take_seat(&mut self, no: u64) {
        if let Some(d) = self.ticket_def_mut(no) {
            d.held += 1;
        }
    }

    pub fn fresh(&mut self, prefix: &str) -> String {
        self.next_unknown += 1;
        format!("{prefix}-{}-x{:06}", self.tag, self.next_unknown)
    }

    pub fn new_token(&mut self) -> Id {
        self.next_token += 1;
        crate::ids::id(format!("tok_{}_{:08}", self.tag, self.next_token))
    }
}
