//! Refusals about one ticket: each finds (or buys and prepares) a ticket in the state
//! the rule needs, sends the record that breaks it, and freezes the ticket so the
//! refusal still holds when the file is imported again.

use counterfoil_core::SharedData;
use counterfoil_core::catalog::{
    TicketDeleted, TicketInjected, TicketInvalidated, TicketRedeemed, TicketRef, TicketRescheduled,
    TicketShared, TicketTransferred,
};
use counterfoil_core::{RecordBody, RefusalReason};

use crate::ids::{DAY, id};
use crate::sim::{ADMIN, BOX_OFFICE, GATE, Sim, WALLET};

impl Sim {
    pub(super) fn redeem_forced(&mut self, no: u64, expect: Option<RefusalReason>) {
        let Some(ticket_id) = self.ticket_id(no) else {
            return;
        };
        let at = self.tick();
        let redeemed = TicketRedeemed {
            ticket_id,
            forced: true,
            gate: Some("Box office".into()),
            device: Some("manual".into()),
        };
        self.emit(at, GATE, None, RecordBody::TicketRedeemed(redeemed), expect);
        if expect.is_none()
            && let Some(t) = self.world.tickets.get_mut(&no)
        {
            t.redemptions += 1;
        }
    }
    pub(super) fn same_definition(&mut self) -> bool {
        let found = self.find_ticket(|w, t| {
            t.valid()
                && t.redemptions == 0
                && !t.frozen
                && w.ticket_def(t)
                    .is_some_and(|d| d.capacity.is_none() && !d.deleted)
        });
        let Some(no) = found.or_else(|| self.fresh_ticket(DAY)) else {
            return false;
        };
        let Some(ticket) = self.world.tickets.get(&no) else {
            return false;
        };
        let Some(d) = self.world.ticket_def(ticket) else {
            return false;
        };
        if !d.has_room() {
            return false;
        }
        let (perf, def) = (ticket.perf, ticket.def);
        let rescheduled = TicketRescheduled {
            ticket_id: ticket.id.clone(),
            to_definition_id: d.id.clone(),
        };
        self.push_refused(
            BOX_OFFICE,
            RecordBody::TicketRescheduled(rescheduled),
            RefusalReason::SameDefinition,
        );
        self.freeze(no);
        self.lock_definition(perf, def, false);
        true
    }
    pub(super) fn inject(&mut self, no: u64, expect: Option<RefusalReason>) -> bool {
        let Some(ticket) = self.world.tickets.get(&no) else {
            return false;
        };
        let injected = TicketInjected {
            ticket_id: ticket.id.clone(),
            initial_owner: self.world.pool.person(ticket.holder(), false),
        };
        let at = self.tick();
        self.emit(
            at,
            WALLET,
            None,
            RecordBody::TicketInjected(SharedData::new(injected)),
            expect,
        );
        if expect.is_none()
            && let Some(t) = self.world.tickets.get_mut(&no)
        {
            t.injected = true;
        }
        true
    }
    pub(super) fn refunded_ticket(&mut self) -> Option<u64> {
        let no = self.fresh_ticket(DAY)?;
        let at = self.tick();
        self.refund(at, no, None);
        Some(no)
    }
    pub(super) fn invalidated_ticket(&mut self) -> Option<u64> {
        let no = self.fresh_ticket(DAY)?;
        let invalidated = TicketInvalidated {
            ticket_id: self.ticket_id(no)?,
            reason: Some("chargeback".into()),
        };
        let at = self.tick();
        self.emit(
            at,
            BOX_OFFICE,
            None,
            RecordBody::TicketInvalidated(invalidated),
            None,
        );
        self.world.release_seat(no);
        if let Some(t) = self.world.tickets.get_mut(&no) {
            t.invalidated = true;
        }
        Some(no)
    }
    pub(super) fn deleted_ticket(&mut self) -> Option<u64> {
        let no = self.fresh_ticket(DAY)?;
        let deleted = TicketDeleted {
            ticket_id: self.ticket_id(no)?,
            reason: "test ticket".into(),
        };
        let at = self.tick();
        self.emit(at, ADMIN, None, RecordBody::TicketDeleted(deleted), None);
        self.world.release_seat(no);
        if let Some(t) = self.world.tickets.get_mut(&no) {
            t.deleted = true;
        }
        Some(no)
    }

    pub(super) fn unknown_ticket(&mut self) -> bool {
        let reason = RefusalReason::UnknownTicket;
        let reference = TicketRef {
            ticket_id: id(self.world.fresh("T")),
        };
        self.push_refused(WALLET, RecordBody::TicketDelivered(reference), reason);
        true
    }

    pub(super) fn ticket_refunded(&mut self) -> bool {
        let reason = RefusalReason::TicketRefunded;
        let Some(no) = self
            .find_ticket(|_, t| t.refunded && !t.deleted)
            .or_else(|| self.refunded_ticket())
        else {
            return false;
        };
        let Some(ticket_id) = self.ticket_id(no) else {
            return false;
        };
        let refunded = counterfoil_core::catalog::TicketRefunded {
            ticket_id,
            amount: None,
            reason: Some("refund requested twice".into()),
        };
        self.push_refused(BOX_OFFICE, RecordBody::TicketRefunded(refunded), reason);
        self.freeze(no);
        true
    }

    pub(super) fn ticket_invalidated(&mut self) -> bool {
        let reason = RefusalReason::TicketInvalidated;
        let found =
            self.find_ticket(|_, t| t.invalidated && !t.refunded && !t.deleted && !t.frozen);
        let Some(no) = found.or_else(|| self.invalidated_ticket()) else {
            return false;
        };
        let Some(ticket) = self.world.tickets.get(&no) else {
            return false;
        };
        let by = self
            .world
            .pool
            .customer_id(ticket.holder())
            .unwrap_or_else(|| format!("C-{}-guest", self.world.tag));
        let shared = TicketShared {
            ticket_id: ticket.id.clone(),
            shared_by: id(by),
            recipient_email: "friend@example.org".into(),
        };
        self.push_refused(WALLET, RecordBody::TicketShared(shared), reason);
        self.freeze(no);
        true
    }

    pub(super) fn ticket_deleted(&mut self) -> bool {
        let reason = RefusalReason::TicketDeleted;
        let found = self.find_ticket(|_, t| t.deleted);
        let Some(no) = found.or_else(|| self.deleted_ticket()) else {
            return false;
        };
        let Some(ticket_id) = self.ticket_id(no) else {
            return false;
        };
        let deleted = TicketDeleted {
            ticket_id,
            reason: "data cleanup".into(),
        };
        self.push_refused(ADMIN, RecordBody::TicketDeleted(deleted), reason);
        self.freeze(no);
        true
    }

    pub(super) fn ticket_redeemed(&mut self) -> bool {
        let reason = RefusalReason::TicketRedeemed;
        let found = self.find_ticket(|_, t| t.valid() && t.redemptions > 0 && !t.frozen);
        let no = match found {
            Some(no) => no,
            None => {
                let Some(no) = self.fresh_ticket(DAY) else {
                    return false;
                };
                self.redeem_forced(no, None);
                no
            }
        };
        let Some(ticket) = self.world.tickets.get(&no) else {
            return false;
        };
        let ticket_id = ticket.id.clone();
        let to = (ticket.holder() + 1) % self.world.pool.size();
        let transferred = TicketTransferred {
            ticket_id,
            to: self.world.pool.person(to, false),
        };
        self.push_refused(
            WALLET,
            RecordBody::TicketTransferred(SharedData::new(transferred)),
            reason,
        );
        self.freeze(no);
        true
    }

    pub(super) fn max_redemptions(&mut self) -> bool {
        let reason = RefusalReason::MaxRedemptions;
        let found = self.find_ticket(|w, t| {
            t.valid()
                && !t.frozen
                && w.ticket_def(t)
                    .is_some_and(|d| t.redemptions == d.max_redemptions)
        });
        let no = match found {
            Some(no) => no,
            None => {
                let Some(no) = self.fresh_ticket(DAY) else {
                    return false;
                };
                let max = self
                    .world
                    .tickets
                    .get(&no)
                    .and_then(|t| self.world.ticket_def(t))
                    .map_or(1, |d| d.max_redemptions);
                for _ in 0..max {
                    self.redeem_forced(no, None);
                }
                no
            }
        };
        self.redeem_forced(no, Some(reason));
        self.freeze(no);
        true
    }

    pub(super) fn outside_redemption_window(&mut self) -> bool {
        let reason = RefusalReason::OutsideRedemptionWindow;
        let at = self.now + 1;
        let found = self.find_ticket(|w, t| {
            t.valid()
                && !t.frozen
                && w.ticket_def(t)
                    .is_some_and(|d| t.redemptions < d.max_redemptions)
                && w.perfs
                    .get(&t.perf)
                    .is_some_and(|p| !p.in_redemption_window(at))
        });
        let Some(no) = found.or_else(|| self.fresh_ticket(2 * DAY)) else {
            return false;
        };
        let Some(ticket_id) = self.ticket_id(no) else {
            return false;
        };
        let redeemed = TicketRedeemed {
            ticket_id,
            forced: false,
            gate: Some("Gate A".into()),
            device: Some("scanner-01".into()),
        };
        self.push_refused(GATE, RecordBody::TicketRedeemed(redeemed), reason);
        self.freeze(no);
        true
    }

    pub(super) fn not_redeemed(&mut self) -> bool {
        let reason = RefusalReason::NotRedeemed;
        let found = self.find_ticket(|_, t| t.valid() && t.redemptions == 0 && !t.frozen);
        let Some(no) = found.or_else(|| self.fresh_ticket(DAY)) else {
            return false;
        };
        let Some(reference) = self.reference(no) else {
            return false;
        };
        self.push_refused(GATE, RecordBody::TicketUnredeemed(reference), reason);
        self.freeze(no);
        true
    }

    pub(super) fn not_invalidated(&mut self) -> bool {
        let reason = RefusalReason::NotInvalidated;
        let found = self.find_ticket(|_, t| t.valid() && !t.frozen);
        let Some(no) = found.or_else(|| self.fresh_ticket(DAY)) else {
            return false;
        };
        let Some(reference) = self.reference(no) else {
            return false;
        };
        self.push_refused(BOX_OFFICE, RecordBody::TicketRevalidated(reference), reason);
        self.freeze(no);
        true
    }

    pub(super) fn already_injected(&mut self) -> bool {
        let reason = RefusalReason::AlreadyInjected;
        let found = self.find_ticket(|_, t| t.valid() && t.injected && !t.frozen);
        let no = match found {
            Some(no) => no,
            None => {
                let Some(no) = self.fresh_ticket(DAY) else {
                    return false;
                };
                if !self.inject(no, None) {
                    return false;
                }
                no
            }
        };
        if !self.inject(no, Some(reason)) {
            return false;
        }
        self.freeze(no);
        true
    }
}
