//! A ticket's life after its purchase: the steps planned at purchase time (delivery,
//! wallet steps, transfers, shares, refunds, invalidations, reschedules, scans at the
//! gate, deletion), each checked against the ticket's state when its time comes.

use counterfoil_core::SharedData;
use counterfoil_core::catalog::{
    PaymentRefunded, TicketDeleted, TicketInjected, TicketInvalidated, TicketRedeemed, TicketRef,
    TicketRefunded, TicketRescheduled, TicketShared, TicketTransferred,
};
use counterfoil_core::{Id, RecordBody};
use rand::Rng;

use crate::ids::{DAY, HOUR, MINUTE, cents, currency, id};
use crate::people::Pool;
use crate::sim::{ADMIN, Action, BOX_OFFICE, GATE, PAYMENTS, Sim, Step, WALLET};
use crate::world::{Definition, Ticket};

impl Sim {
    /// Plans what will happen to a ticket bought at `t`.
    pub(crate) fn plan_lifecycle(&mut self, no: u64, t: i64) {
        let Some((perf, starts_at)) = self.world.tickets.get(&no).and_then(|tk| {
            self.world
                .perfs
                .get(&tk.perf)
                .map(|p| (tk.perf, p.starts_at))
        }) else {
            return;
        };
        let s = starts_at;
        let plan = |sim: &mut Sim, p: f64, lo: i64, hi: i64, step: Step| {
            if hi > lo && lo > t && sim.chance(p) {
                let at = sim.between(lo, hi);
                sim.schedule(at, Action::Step { ticket: no, step });
            }
        };
        plan(self, 0.92, t + MINUTE, t + 30 * MINUTE, Step::Deliver);
        let last = (t + 5 * DAY).min(s - HOUR);
        plan(self, 0.55, t + HOUR, last, Step::Download);
        plan(self, 0.25, t + 2 * HOUR, last + HOUR, Step::Activate);
        plan(
            self,
            0.12,
            t + 10 * MINUTE,
            (t + 2 * DAY).min(s - HOUR),
            Step::Inject,
        );
        plan(self, 0.15, s - 6 * HOUR, s - HOUR, Step::Control);
        plan(self, 0.07, t + HOUR, s - 3 * HOUR, Step::Transfer);
        plan(self, 0.05, t + 10 * MINUTE, s - HOUR, Step::Share);
        plan(self, 0.025, t + HOUR, s - HOUR, Step::Refund);
        plan(self, 0.012, t + HOUR, s - HOUR, Step::Invalidate);
        plan(self, 0.015, t + HOUR, s - DAY, Step::Reschedule);
        let r = self.rng.gen_range(0..1000);
        let (forced, lo, hi) = match r {
            // Let in early by staff, well before the gate opens.
            0..12 => (true, s - 36 * HOUR, s - 13 * HOUR),
            // Scanner offline or a manual override at the gate.
            12..40 => (true, s - 30 * MINUTE, s + 30 * MINUTE),
            40..860 => (false, s - 75 * MINUTE, s + 40 * MINUTE),
            // No-show.
            _ => (false, 0, 0),
        };
        plan(
            self,
            1.0,
            lo.max(t + MINUTE),
            hi,
            Step::Redeem { forced, perf },
        );
        if self.chance(0.5) {
            plan(self, 0.016, s + 12 * HOUR, s + 36 * HOUR, Step::Delete);
        } else {
            plan(self, 0.008, t + HOUR, s - HOUR, Step::Delete);
        }
    }

    fn ticket_ref(ticket: &Ticket) -> TicketRef {
        TicketRef {
            ticket_id: ticket.id.clone(),
        }
    }

    pub(crate) fn step(&mut self, t: i64, no: u64, step: Step) {
        let Some(ticket) = self.world.tickets.get(&no) else {
            return;
        };
        if ticket.frozen {
            return;
        }
        let Some(perf) = self.world.perfs.get(&ticket.perf) else {
            return;
        };
        let def = self.world.ticket_def(ticket);
        let tk = Snapshot {
            valid: ticket.valid(),
            reference: Self::ticket_ref(ticket),
            perf: ticket.perf,
            holder: ticket.holder(),
            holders: ticket.holders.len(),
            injected: ticket.injected,
            invalidated: ticket.invalidated,
            refunded: ticket.refunded,
            deleted: ticket.deleted,
            redemptions: ticket.redemptions,
            max_redemptions: def.map_or(1, |d| d.max_redemptions),
            def_has_room: def.is_some_and(Definition::has_room),
            may_release: self.world.may_release(ticket),
            starts_at: perf.starts_at,
        };
        let in_window = |sim: &Sim, at: i64| {
            sim.world
                .perfs
                .get(&tk.perf)
                .is_some_and(|p| p.in_redemption_window(at))
        };
        let reference = tk.reference.clone();
        let starts_at = tk.starts_at;
        match step {
            Step::Deliver if tk.valid => {
                self.emit(
                    t,
                    WALLET,
                    None,
                    RecordBody::TicketDelivered(reference),
                    None,
                );
            }
            Step::Download if tk.valid => {
                self.emit(
                    t,
                    WALLET,
                    None,
                    RecordBody::TicketDownloaded(reference),
                    None,
                );
            }
            Step::Activate if tk.valid => {
                self.emit(
                    t,
                    WALLET,
                    None,
                    RecordBody::TicketActivated(reference),
                    None,
                );
            }
            Step::Control if tk.valid => {
                self.emit(t, GATE, None, RecordBody::TicketControlled(reference), None);
            }
            Step::Keep if tk.valid && tk.injected => {
                self.emit(
                    t,
                    WALLET,
                    None,
                    RecordBody::TicketKeptByOwner(reference),
                    None,
                );
            }
            Step::Inject if tk.valid && !tk.injected => {
                let owner = self.world.pool.person(tk.holder, false);
                let injected = TicketInjected {
                    ticket_id: reference.ticket_id,
                    initial_owner: owner,
                };
                self.emit(
                    t,
                    WALLET,
                    None,
                    RecordBody::TicketInjected(SharedData::new(injected)),
                    None,
                );
                if let Some(ticket) = self.world.tickets.get_mut(&no) {
                    ticket.injected = true;
                }
                if self.chance(0.35) {
                    let at = self.between(t + HOUR, starts_at);
                    self.schedule(
                        at,
                        Action::Step {
                            ticket: no,
                            step: Step::Keep,
                        },
                    );
                }
            }
            Step::Transfer if tk.valid && tk.redemptions == 0 && tk.holders < 8 => {
                self.transfer(t, no, starts_at);
            }
            Step::Share if tk.valid => {
                let Some(by) = self.world.pool.customer_id(tk.holder) else {
                    return;
                };
                let friend = self.rng.gen_range(0..self.world.pool.size());
                let shared = TicketShared {
                    ticket_id: reference.ticket_id,
                    shared_by: id(by),
                    recipient_email: Pool::email(friend).into(),
                };
                self.emit(t, WALLET, None, RecordBody::TicketShared(shared), None);
            }
            Step::Refund if tk.valid && tk.may_release => self.refund(t, no, None),
            Step::Invalidate if tk.valid && tk.redemptions == 0 && tk.may_release => {
                let invalidated = TicketInvalidated {
                    ticket_id: reference.ticket_id,
                    reason: Some(
                        self.pick(&["suspected fraud", "duplicate scan reported", "chargeback"])
                            .unwrap_or("chargeback")
                            .into(),
                    ),
                };
                self.emit(
                    t,
                    BOX_OFFICE,
                    None,
                    RecordBody::TicketInvalidated(invalidated),
                    None,
                );
                self.world.release_seat(no);
                if let Some(ticket) = self.world.tickets.get_mut(&no) {
                    ticket.invalidated = true;
                }
                if self.chance(0.5) {
                    let at = self.between(t + HOUR, (t + DAY).min(starts_at - HOUR));
                    self.schedule(
                        at,
                        Action::Step {
                            ticket: no,
                            step: Step::Revalidate,
                        },
                    );
                }
            }
            Step::Revalidate
                if tk.invalidated && !tk.refunded && !tk.deleted && tk.def_has_room =>
            {
                self.emit(
                    t,
                    BOX_OFFICE,
                    None,
                    RecordBody::TicketRevalidated(reference),
                    None,
                );
                if let Some(ticket) = self.world.tickets.get_mut(&no) {
                    ticket.invalidated = false;
                }
                self.world.take_seat(no);
            }
            Step::Reschedule if tk.valid && tk.redemptions == 0 && tk.may_release => {
                self.reschedule(t, no);
            }
            Step::Redeem { forced, perf } if tk.valid && tk.perf == perf => {
                if tk.redemptions >= tk.max_redemptions || !(forced || in_window(self, t)) {
                    return;
                }
                let redemptions = tk.redemptions + 1;
                let reentry_at = t + self.between(40 * MINUTE, 150 * MINUTE);
                let reentry_ok = in_window(self, reentry_at);
                let redeemed = TicketRedeemed {
                    ticket_id: reference.ticket_id,
                    forced,
                    gate: Some(format!("Gate {}", ["A", "B", "C", "D"][(no % 4) as usize]).into()),
                    device: Some(format!("scanner-{:02}", self.rng.gen_range(1..=24)).into()),
                };
                self.emit(t, GATE, None, RecordBody::TicketRedeemed(redeemed), None);
                if let Some(ticket) = self.world.tickets.get_mut(&no) {
                    ticket.redemptions = redemptions;
                }
                if self.chance(0.025) {
                    let at = t + self.between(MINUTE, 10 * MINUTE);
                    self.schedule(
                        at,
                        Action::Step {
                            ticket: no,
                            step: Step::Unredeem,
                        },
                    );
                } else if redemptions < tk.max_redemptions && reentry_ok && self.chance(0.6) {
                    self.schedule(
                        reentry_at,
                        Action::Step {
                            ticket: no,
                            step: Step::Redeem {
                                forced: false,
                                perf,
                            },
                        },
                    );
                }
            }
            Step::Unredeem if tk.valid && tk.redemptions > 0 => {
                self.emit(t, GATE, None, RecordBody::TicketUnredeemed(reference), None);
                if let Some(ticket) = self.world.tickets.get_mut(&no) {
                    ticket.redemptions -= 1;
                }
            }
            Step::Delete if !tk.deleted && (!tk.valid || tk.may_release) => {
                let deleted = TicketDeleted {
                    ticket_id: reference.ticket_id,
                    reason: self
                        .pick(&["data cleanup", "test ticket", "merged duplicate order"])
                        .unwrap_or("data cleanup")
                        .into(),
                };
                self.emit(t, ADMIN, None, RecordBody::TicketDeleted(deleted), None);
                if tk.valid {
                    self.world.release_seat(no);
                }
                if let Some(ticket) = self.world.tickets.get_mut(&no) {
                    ticket.deleted = true;
                }
            }
            _ => {}
        }
    }

    pub(crate) fn transfer(&mut self, t: i64, no: u64, starts_at: i64) {
        let Some(ticket) = self.world.tickets.get(&no) else {
            return;
        };
        let holders = ticket.holders.clone();
        let ticket_id = ticket.id.clone();
        let back = holders.len() >= 2 && self.chance(0.4);
        let to = if back {
            holders[self.rng.gen_range(0..holders.len() - 1)]
        } else {
            let mut to = self.rng.gen_range(0..self.world.pool.size());
            for _ in 0..4 {
                if !holders.contains(&to) {
                    break;
                }
                to = self.rng.gen_range(0..self.world.pool.size());
            }
            to
        };
        if holders.last() == Some(&to) || (!back && holders.contains(&to)) {
            return;
        }
        let shout = back && self.chance(0.3);
        let transferred = TicketTransferred {
            ticket_id,
            to: self.world.pool.person(to, shout),
        };
        self.emit(
            t,
            WALLET,
            None,
            RecordBody::TicketTransferred(SharedData::new(transferred)),
            None,
        );
        if let Some(tk) = self.world.tickets.get_mut(&no) {
            tk.holders.push(to);
        }
        if self.chance(0.3) {
            let lo = t + HOUR;
            let hi = starts_at - 3 * HOUR;
            if hi > lo {
                let at = self.between(lo, hi);
                self.schedule(
                    at,
                    Action::Step {
                        ticket: no,
                        step: Step::Transfer,
                    },
                );
            }
        }
    }

    /// Refunds a valid ticket and returns the money from its order's capture.
    pub(crate) fn refund(&mut self, t: i64, no: u64, correlation: Option<&Id>) {
        let Some(ticket) = self.world.tickets.get(&no) else {
            return;
        };
        let refunded = TicketRefunded {
            ticket_id: ticket.id.clone(),
            amount: (ticket.price_paid > 0).then(|| cents(ticket.price_paid)),
            reason: Some(
                ["customer request", "event changed", "duplicate purchase"][(no % 3) as usize]
                    .into(),
            ),
        };
        let payment = ticket
            .capture
            .clone()
            .filter(|_| ticket.price_paid > 0)
            .map(|(related, gateway)| {
                (
                    ticket.order_id.clone(),
                    related,
                    gateway,
                    ticket.price_paid,
                    ticket.currency,
                )
            });
        self.emit(
            t,
            BOX_OFFICE,
            correlation,
            RecordBody::TicketRefunded(refunded),
            None,
        );
        self.world.release_seat(no);
        if let Some(tk) = self.world.tickets.get_mut(&no) {
            tk.refunded = true;
        }
        if let Some((order_id, related_token, gateway, amount, code)) = payment {
            let token = self.world.new_token();
            let refunded = PaymentRefunded {
                order_id,
                gateway: gateway.into(),
                token,
                related_token,
                amount: cents(amount),
                currency: currency(code),
            };
            self.emit(
                t + 5,
                PAYMENTS,
                correlation,
                RecordBody::PaymentRefunded(SharedData::new(refunded)),
                None,
            );
        }
    }

    pub(crate) fn reschedule(&mut self, t: i64, no: u64) {
        let Some(ticket) = self.world.tickets.get(&no) else {
            return;
        };
        let (from_perf, ticket_id, code) = (ticket.perf, ticket.id.clone(), ticket.currency);
        let Some(organizer) = self.world.perfs.get(&from_perf).map(|p| p.organizer) else {
            return;
        };
        let mut targets: Vec<(u32, usize)> = Vec::new();
        for (&pno, p) in &self.world.perfs {
            if pno == from_perf
                || p.organizer != organizer
                || p.currency != code
                || p.starts_at < t + DAY
            {
                continue;
            }
            for (i, d) in p.defs.iter().enumerate() {
                if d.has_room() {
                    targets.push((pno, i));
                }
            }
        }
        let Some((to_perf, to_def)) = self.pick(&targets) else {
            return;
        };
        let Some(to) = self.world.perfs.get(&to_perf) else {
            return;
        };
        let to_definition_id = to.defs[to_def].id.clone();
        let new_start = to.starts_at;
        let rescheduled = TicketRescheduled {
            ticket_id,
            to_definition_id,
        };
        self.emit(
            t,
            BOX_OFFICE,
            None,
            RecordBody::TicketRescheduled(rescheduled),
            None,
        );
        self.world.release_seat(no);
        if let Some(p) = self.world.perfs.get_mut(&from_perf) {
            p.tickets.retain(|&x| x != no);
        }
        if let Some(tk) = self.world.tickets.get_mut(&no) {
            tk.perf = to_perf;
            tk.def = to_def;
        }
        self.world.take_seat(no);
        if let Some(p) = self.world.perfs.get_mut(&to_perf) {
            p.tickets.push(no);
        }
        if self.chance(0.85) {
            let at = new_start + self.between(-75 * MINUTE, 40 * MINUTE);
            self.schedule(
                at,
                Action::Step {
                    ticket: no,
                    step: Step::Redeem {
                        forced: false,
                        perf: to_perf,
                    },
                },
            );
        }
    }
}

/// What a lifecycle step needs to know of a ticket, copied out of the world.
#[derive(Debug)]
struct Snapshot {
    valid: bool,
    reference: TicketRef,
    perf: u32,
    holder: u32,
    holders: usize,
    injected: bool,
    invalidated: bool,
    refunded: bool,
    deleted: bool,
    redemptions: u32,
    max_redemptions: u32,
    def_has_room: bool,
    may_release: bool,
    starts_at: i64,
}
