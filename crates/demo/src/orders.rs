//! Customers and their orders: who buys (registering an account now and then), which
//! definition has room, the purchase records of an order and its payment, and consent
//! changes of registered owners.

use counterfoil_core::SharedData;
use counterfoil_core::catalog::{
    Channel, Fees, OwnerConsentChanged, OwnerRegistered, PaymentCaptured, Seat, TicketPurchased,
};
use counterfoil_core::{Id, RecordBody, RefusalReason, Text};
use rand::Rng;

use crate::ids::{DAY, HOUR, cents, currency, id, percent};
use crate::people::{GATEWAYS, ORGANIZERS, Pool};
use crate::sim::{Action, BOX_OFFICE, CRM, Origin, PAYMENTS, Sim};
use crate::world::{Price, Ticket};

impl Sim {
    /// The customer placing an order, registering an account first now and then.
    pub(crate) fn customer(&mut self, t: i64) -> u32 {
        let customer = self.rng.gen_range(0..self.world.pool.size());
        if Pool::has_account(customer)
            && !self.world.pool.is_registered(customer)
            && self.chance(0.45)
        {
            self.register(t, customer, None);
            if self.chance(0.4) {
                let at = t + self.between(HOUR, 30 * DAY);
                self.schedule(at, Action::ChangeConsent { customer });
            }
        }
        customer
    }

    pub(crate) fn register(&mut self, t: i64, customer: u32, expect: Option<RefusalReason>) {
        let Some(customer_id) = self.world.pool.customer_id(customer) else {
            return;
        };
        let registered = OwnerRegistered {
            customer_id: id(customer_id),
            email: Pool::email(customer).into(),
            first_name: Pool::first_name(customer).into(),
            last_name: Pool::last_name(customer).into(),
            phone: Pool::phone(customer).map(Text::from),
            birth_date: Pool::birth_date(customer),
            id_number: customer
                .is_multiple_of(2)
                .then(|| format!("ID{:09}", customer * 7919 % 1_000_000_000).into()),
            residence_country: Some(Pool::country(customer).into()),
        };
        self.emit(
            t,
            CRM,
            None,
            RecordBody::OwnerRegistered(SharedData::new(registered)),
            expect,
        );
        if expect.is_none() {
            self.world.pool.set_registered(customer);
        }
    }

    pub(crate) fn order(&mut self, t: i64, perf: u32, visitor: Option<Id>) {
        let Some(p) = self.world.perfs.get(&perf) else {
            return;
        };
        if t >= p.starts_at - HOUR {
            return;
        }
        let mut candidates: Vec<usize> = (0..p.defs.len())
            .filter(|&i| p.defs[i].has_room() && p.defs[i].on_sale(t))
            .collect();
        if candidates.is_empty() {
            candidates = (0..p.defs.len())
                .filter(|&i| p.defs[i].has_room())
                .collect();
        }
        // The first definition (the main tier) sells best.
        if candidates.first() == Some(&0) {
            candidates.extend([0, 0]);
        }
        let Some(def) = self.pick(&candidates) else {
            return;
        };
        let count = match self.rng.gen_range(0..100) {
            0..40 => 1,
            40..75 => 2,
            75..87 => 3,
            _ => 4,
        };
        let customer = self.customer(t);
        self.buy(t, perf, def, customer, count, visitor, true);
    }

    /// Buys up to `count` tickets of one definition in one order and pays for them.
    /// Returns the ticket numbers bought.
    #[expect(clippy::too_many_arguments, reason = "one order's whole description")]
    pub(crate) fn buy(
        &mut self,
        t: i64,
        perf: u32,
        def: usize,
        customer: u32,
        count: u32,
        visitor: Option<Id>,
        lifecycle: bool,
    ) -> Vec<u64> {
        let channel = match self.rng.gen_range(0..100) {
            0..55 => Channel::Web,
            55..75 => Channel::App,
            75..92 => Channel::Pos,
            _ => Channel::Cms,
        };
        let (origin, seller, gateway) = match channel {
            Channel::Web => (
                Origin {
                    source: "ticketure",
                    actor: "web-checkout",
                },
                None,
                self.pick(GATEWAYS).unwrap_or("stripe"),
            ),
            Channel::App => (
                Origin {
                    source: "ticketure",
                    actor: "mobile-app",
                },
                None,
                "stripe",
            ),
            Channel::Pos => (
                BOX_OFFICE,
                Some(format!("box-office-{}", self.rng.gen_range(1..=6))),
                "sumup",
            ),
            Channel::Cms => (
                Origin {
                    source: "ticketure",
                    actor: "group-sales",
                },
                Some("group-sales".to_string()),
                "invoice",
            ),
        };
        let fees = matches!(channel, Channel::Web | Channel::App).then(|| Fees {
            inside_fixed: cents(150),
            inside_percent: percent(250),
            outside_fixed: cents(if self.rng.gen_bool(0.3) { 100 } else { 0 }),
            outside_percent: percent(0),
        });
        let discounted = self.chance(0.1);
        self.world.next_order += 1;
        let order_no = self.world.next_order;
        let order_id = id(format!("O-{}-{order_no:07}", self.world.tag));
        let cart = self
            .chance(0.5)
            .then(|| format!("CART-{:08x}", self.rng.r#gen::<u32>()));
        let buyer = self.world.pool.person(customer, false);

        let mut bought = Vec::new();
        let mut total = 0i64;
        let mut currency_code = "EUR";
        for i in 0..count {
            let Some(p) = self.world.perfs.get(&perf) else {
                break;
            };
            let Some(d) = p.defs.get(def) else {
                break;
            };
            if !d.has_room() {
                break;
            }
            let face = match &d.price {
                Price::Fixed(c) => *c,
                Price::Options(options) => options[self.rng.gen_range(0..options.len())].1,
            };
            let discount = if discounted { face / 10 } else { 0 };
            let seat = if p.seated && d.capacity.is_some() {
                Some(Seat {
                    section: Some(d.name.into()),
                    row: Some(format!("{}", d.sold / 20 + 1).into()),
                    seat: Some(format!("{}", d.sold % 20 + 1).into()),
                    ..Seat::default()
                })
            } else if self.rng.gen_bool(0.3) {
                Some(Seat {
                    area: Some("Floor".into()),
                    gate: Some(["A", "B", "C"][(d.sold % 3) as usize].into()),
                    ..Seat::default()
                })
            } else {
                None
            };
            let ticket_type = d.ticket_type;
            let group = (d.ticket_type == "Child").then(|| "Family".to_string());
            currency_code = p.currency;
            let organizer = p.organizer;
            self.world.next_ticket += 1;
            let no = self.world.next_ticket;
            let ticket_id = id(format!("T-{}-{no:08}", self.world.tag));
            let purchased = TicketPurchased {
                ticket_id: ticket_id.clone(),
                order_id: order_id.clone(),
                order_number: Some(format!("{}{order_no:07}", ORGANIZERS[organizer].code).into()),
                cart_number: cart.clone().map(Text::from),
                definition_id: d.id.clone(),
                ticket_type: ticket_type.into(),
                ticket_group: group.map(Text::from),
                buyer: buyer.clone(),
                face_price: cents(face),
                discount: discounted.then(|| cents(discount)),
                price_paid: cents(face - discount),
                currency: currency(currency_code),
                fees: fees.clone(),
                channel,
                seller: seller.clone().map(Text::from),
                seat,
                visitor_id: visitor.clone(),
            };
            self.emit(
                t + i64::from(i),
                origin,
                Some(&order_id),
                RecordBody::TicketPurchased(SharedData::new(purchased)),
                None,
            );
            total += face - discount;
            if let Some(p) = self.world.perfs.get_mut(&perf) {
                if let Some(d) = p.defs.get_mut(def) {
                    d.held += 1;
                    d.sold += 1;
                }
                p.tickets.push(no);
            }
            self.world.tickets.insert(
                no,
                Ticket {
                    id: ticket_id,
                    perf,
                    def,
                    order_id: order_id.clone(),
                    capture: None,
                    price_paid: face - discount,
                    currency: currency_code,
                    holders: vec![customer],
                    refunded: false,
                    invalidated: false,
                    deleted: false,
                    redemptions: 0,
                    injected: false,
                    frozen: false,
                },
            );
            bought.push(no);
        }
        if total > 0 {
            let token = self.world.new_token();
            let captured = PaymentCaptured {
                order_id: order_id.clone(),
                gateway: gateway.into(),
                gl_code: Some("4000-TICKETS".into()),
                payment_identifier: Some(
                    format!("pi_{:012x}", self.rng.r#gen::<u64>() >> 16).into(),
                ),
                payment_name: Some(
                    match channel {
                        Channel::Pos => "Card present",
                        Channel::Cms => "Invoice",
                        _ => "Card",
                    }
                    .into(),
                ),
                token: token.clone(),
                amount: cents(total),
                currency: currency(currency_code),
            };
            self.emit(
                t + i64::from(count) + 2,
                PAYMENTS,
                Some(&order_id),
                RecordBody::PaymentCaptured(SharedData::new(captured)),
                None,
            );
            for no in &bought {
                if let Some(ticket) = self.world.tickets.get_mut(no) {
                    ticket.capture = Some((token.clone(), gateway));
                }
            }
        }
        if lifecycle {
            for &no in &bought {
                self.plan_lifecycle(no, t);
            }
        }
        bought
    }

    pub(crate) fn change_consent(&mut self, t: i64, customer: u32) {
        let Some(customer_id) = self.world.pool.customer_id(customer) else {
            return;
        };
        if !self.world.pool.is_registered(customer) {
            return;
        }
        let mut changed = OwnerConsentChanged {
            customer_id: id(customer_id),
            allow_promo_email: self.rng.gen_bool(0.7).then(|| self.rng.gen_bool(0.6)),
            allow_promo_third_party_email: self.rng.gen_bool(0.4).then(|| self.rng.gen_bool(0.3)),
            allow_tracking: self.rng.gen_bool(0.5).then(|| self.rng.gen_bool(0.5)),
        };
        if changed.allow_promo_email.is_none()
            && changed.allow_promo_third_party_email.is_none()
            && changed.allow_tracking.is_none()
        {
            changed.allow_promo_email = Some(false);
        }
        self.emit(t, CRM, None, RecordBody::OwnerConsentChanged(changed), None);
    }
}
