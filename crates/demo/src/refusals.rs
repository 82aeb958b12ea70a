//! The records that must be refused. At planned slots the generator stages one refusal:
//! a few valid setup records when the state it needs does not exist yet, then the record
//! that breaks exactly one rule. Until every reason has appeared the slots come every 48
//! lines; after that about one line in 200 is refused.
//!
//! A refused record must stay refused when the same file is imported again, after the
//! rest of the workload has happened. So the ticket or definition it is about is frozen:
//! the simulation writes nothing more that could lift the refusal (a later refund would
//! make a sold-out definition sell again, a later scan would make an unredeem valid).

use counterfoil_core::catalog::{TicketPurchased, TicketRef};
use counterfoil_core::{Id, RecordBody, RefusalReason};
use rand::Rng;

use crate::ids::{cents, currency, id};
use crate::sim::Sim;
use crate::world::{Ticket, World};

mod catalog;
mod tickets;

/// When the next refusal is staged and which reasons have not appeared yet.
#[derive(Debug)]
pub(crate) struct RefusalPlan {
    uncovered: Vec<RefusalReason>,
    cursor: usize,
    pub next_slot: u64,
    pub next_malformed: usize,
}

impl RefusalPlan {
    pub fn new() -> Self {
        Self {
            uncovered: RefusalReason::ALL.to_vec(),
            cursor: 0,
            next_slot: 40,
            next_malformed: 0,
        }
    }
}

impl Sim {
    /// Stages one refusal, preferring a reason that has not appeared yet.
    pub(crate) fn refusal_slot(&mut self, emitted: u64) {
        if self.plan.uncovered.is_empty() {
            let reason = self.pick(RefusalReason::ALL);
            if let Some(reason) = reason {
                self.refuse(reason);
            }
        } else {
            let n = self.plan.uncovered.len();
            for k in 0..n {
                let index = (self.plan.cursor + k) % n;
                let reason = self.plan.uncovered[index];
                if self.refuse(reason) {
                    self.plan.uncovered.remove(index);
                    self.plan.cursor = index;
                    break;
                }
            }
        }
        self.plan.next_slot = emitted
            + if self.plan.uncovered.is_empty() {
                self.rng.gen_range(100..=300)
            } else {
                48
            };
    }

    /// The time of the next staged record: just after the simulated present.
    fn tick(&mut self) -> i64 {
        self.now += 1;
        self.now
    }

    fn push_refused(
        &mut self,
        origin: crate::sim::Origin,
        body: RecordBody,
        reason: RefusalReason,
    ) {
        let at = self.tick();
        self.emit(at, origin, None, body, Some(reason));
    }

    fn freeze(&mut self, no: u64) {
        if let Some(ticket) = self.world.tickets.get_mut(&no) {
            ticket.frozen = true;
        }
    }

    fn lock_definition(&mut self, perf: u32, def: usize, pin: bool) {
        if let Some(d) = self
            .world
            .perfs
            .get_mut(&perf)
            .and_then(|p| p.defs.get_mut(def))
        {
            d.locked = true;
            d.pinned |= pin;
        }
    }

    /// A ticket of an open performance for which `keep` holds, found by sampling.
    fn find_ticket(&mut self, keep: impl Fn(&World, &Ticket) -> bool) -> Option<u64> {
        let perfs: Vec<u32> = self.world.perfs.keys().copied().collect();
        for _ in 0..96 {
            let pno = self.pick(&perfs)?;
            let Some(p) = self.world.perfs.get(&pno) else {
                continue;
            };
            if p.tickets.is_empty() {
                continue;
            }
            let no = p.tickets[self.rng.gen_range(0..p.tickets.len())];
            if self
                .world
                .tickets
                .get(&no)
                .is_some_and(|t| keep(&self.world, t))
            {
                return Some(no);
            }
        }
        None
    }

    /// Buys one ticket for a scenario, for a performance at least `lead` away, in a
    /// definition with room that no other refusal depends on (unlimited when possible).
    fn fresh_ticket(&mut self, lead: i64) -> Option<u64> {
        let at = self.tick();
        let mut options: Vec<(u32, usize, bool)> = Vec::new();
        for (&pno, p) in &self.world.perfs {
            if p.starts_at < at + lead {
                continue;
            }
            for (i, d) in p.defs.iter().enumerate() {
                if d.has_room() && !d.pinned && !d.locked {
                    options.push((pno, i, d.capacity.is_none()));
                }
            }
        }
        if options.iter().any(|o| o.2) {
            options.retain(|o| o.2);
        }
        let (pno, def, _) = self.pick(&options)?;
        let customer = self.rng.gen_range(0..self.world.pool.size());
        self.buy(at, pno, def, customer, 1, None, false)
            .first()
            .copied()
    }

    fn ticket_id(&self, no: u64) -> Option<Id> {
        self.world.tickets.get(&no).map(|t| t.id.clone())
    }

    fn reference(&self, no: u64) -> Option<TicketRef> {
        self.ticket_id(no).map(|ticket_id| TicketRef { ticket_id })
    }

    /// A purchase of a new ticket in a new order, for `def_id`.
    pub(crate) fn scenario_purchase(
        &mut self,
        ticket_id: Id,
        def_id: Id,
        code: &str,
    ) -> TicketPurchased {
        self.world.next_order += 1;
        let customer = self.rng.gen_range(0..self.world.pool.size());
        TicketPurchased {
            ticket_id,
            order_id: id(format!("O-{}-{:07}", self.world.tag, self.world.next_order)),
            order_number: None,
            cart_number: None,
            definition_id: def_id,
            ticket_type: "Adult".into(),
            ticket_group: None,
            buyer: self.world.pool.person(customer, false),
            face_price: cents(3000),
            discount: None,
            price_paid: cents(3000),
            currency: currency(code),
            fees: None,
            channel: counterfoil_core::catalog::Channel::Web,
            seller: None,
            seat: None,
            visitor_id: None,
        }
    }

    /// Stages a refusal with `reason`; false when the state it needs cannot be had now.
    pub(crate) fn refuse(&mut self, reason: RefusalReason) -> bool {
        use RefusalReason as R;
        match reason {
            R::InvalidField => self.invalid_field(),
            R::IdConflict => self.id_conflict(),
            R::PerformanceExists => self.performance_exists(),
            R::UnknownPerformance => self.unknown_performance(),
            R::DefinitionExists => self.definition_exists(),
            R::UnknownDefinition => self.unknown_definition(),
            R::DefinitionDeleted => self.definition_deleted(),
            R::CapacityBelowHeld => self.capacity_below_held(),
            R::LinkExists => self.link_exists(),
            R::UnknownLink => self.unknown_link(),
            R::TicketExists => self.ticket_exists(),
            R::UnknownTicket => self.unknown_ticket(),
            R::SoldOut => self.sold_out(),
            R::TicketRefunded => self.ticket_refunded(),
            R::TicketInvalidated => self.ticket_invalidated(),
            R::TicketDeleted => self.ticket_deleted(),
            R::TicketRedeemed => self.ticket_redeemed(),
            R::MaxRedemptions => self.max_redemptions(),
            R::OutsideRedemptionWindow => self.outside_redemption_window(),
            R::NotRedeemed => self.not_redeemed(),
            R::NotInvalidated => self.not_invalidated(),
            R::AlreadyInjected => self.already_injected(),
            R::SameDefinition => self.same_definition(),
            R::UnknownCapture => self.unknown_capture(),
            R::OwnerExists => self.owner_exists(),
            R::UnknownOwner => self.unknown_owner(),
            _ => false,
        }
    }
}
