//! Rich, serializable folds of one ticket ([`TicketView`]) and one order
//! ([`OrderView`]), for `history` ("each record and the state after it") and for the
//! reports. They fold stored records one at a time, need no other state, and ignore
//! records about other entities, so a caller can feed them a merged stream.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::catalog::{Person, RecordBody, Seat};
use crate::record::StoredRecord;
use crate::rules::lifecycle::{Lifecycle, TicketStatus};
use crate::values::{Amount, Currency, Id, Text, Timestamp};

/// Everything known about one ticket after some of its records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketView {
    pub ticket_id: Id,
    pub status: TicketStatus,
    /// False until the `ticket.purchased` record is folded.
    pub purchased: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Id>,
    /// The current definition (changed by `ticket.rescheduled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition_id: Option<Id>,
    /// The current definition's performance, when the caller could resolve it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_id: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_type: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<Seat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face_price: Option<Amount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_paid: Option<Amount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchased_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Person>,
    /// The `ticket.injected` initial owner, else the buyer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_owner: Option<Person>,
    /// The last transfer's recipient, else the initial owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<Person>,
    /// The holder before the last transfer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_owner: Option<Person>,
    pub transfer_forward_count: u32,
    pub transfer_backward_count: u32,
    /// Redemptions standing (each `ticket.unredeemed` takes one back).
    pub redemptions: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_redeemed_at: Option<Timestamp>,
    pub injected: bool,
    pub shares: u32,
    pub reschedules: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downloaded_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controlled_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_by_owner_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_reason: Option<Text>,
    /// The latest `occurred_at` among the folded records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_at: Option<Timestamp>,
    #[serde(skip)]
    life: Lifecycle,
    /// Recipients of every transfer, in order.
    #[serde(skip)]
    transfers: Vec<Person>,
}

impl TicketView {
    pub fn new(ticket_id: Id) -> Self {
        Self {
            ticket_id,
            status: TicketStatus::Issued,
            purchased: false,
            order_id: None,
            definition_id: None,
            performance_id: None,
            ticket_type: None,
            seat: None,
            face_price: None,
            price_paid: None,
            currency: None,
            purchased_at: None,
            buyer: None,
            initial_owner: None,
            holder: None,
            previous_owner: None,
            transfer_forward_count: 0,
            transfer_backward_count: 0,
            redemptions: 0,
            last_redeemed_at: None,
            injected: false,
            shares: 0,
            reschedules: 0,
            delivered_at: None,
            downloaded_at: None,
            activated_at: None,
            controlled_at: None,
            kept_by_owner_at: None,
            refunded_at: None,
            deleted_at: None,
            deletion_reason: None,
            last_updated_at: None,
            life: Lifecycle::default(),
            transfers: Vec::new(),
        }
    }

    /// Folds one record; records about other tickets are ignored. `performance_of`
    /// names a definition's performance (records of a ticket do not carry it); answer
    /// `None` when unknown.
    pub fn apply(&mut self, record: &StoredRecord, performance_of: &dyn Fn(&Id) -> Option<Id>) {
        if record.body.ticket_id() != Some(&self.ticket_id) {
            return;
        }
        use RecordBody as B;
        let at = record.occurred_at;
        match &record.body {
            B::TicketPurchased(d) if !self.purchased => {
                self.purchased = true;
                self.order_id = Some(d.order_id.clone());
                self.definition_id = Some(d.definition_id.clone());
                self.performance_id = performance_of(&d.definition_id);
                self.ticket_type = Some(d.ticket_type.clone());
                self.seat = d.seat.clone();
                self.face_price = Some(d.face_price);
                self.price_paid = Some(d.price_paid);
                self.currency = Some(d.currency);
                self.purchased_at = Some(at);
                self.buyer = Some(d.buyer.clone());
                if self.initial_owner.is_none() {
                    self.initial_owner = Some(d.buyer.clone());
                }
            }
            B::TicketRedeemed(_) => self.last_redeemed_at = Some(at),
            B::TicketRefunded(_) => self.refunded_at = Some(at),
            B::TicketTransferred(d) => {
                if self.is_earlier_owner(&d.to) {
                    self.transfer_backward_count = self.transfer_backward_count.saturating_add(1);
                } else {
                    self.transfer_forward_count = self.transfer_forward_count.saturating_add(1);
                }
                self.transfers.push(d.to.clone());
            }
            B::TicketRescheduled(d) => {
                self.definition_id = Some(d.to_definition_id.clone());
                self.performance_id = performance_of(&d.to_definition_id);
                self.reschedules = self.reschedules.saturating_add(1);
            }
            B::TicketShared(_) => self.shares = self.shares.saturating_add(1),
            B::TicketInjected(d) => {
                self.injected = true;
                self.initial_owner = Some(d.initial_owner.clone());
            }
            B::TicketDelivered(_) => self.delivered_at = Some(at),
            B::TicketDownloaded(_) => self.downloaded_at = Some(at),
            B::TicketActivated(_) => self.activated_at = Some(at),
            B::TicketControlled(_) => self.controlled_at = Some(at),
            B::TicketKeptByOwner(_) => self.kept_by_owner_at = Some(at),
            B::TicketDeleted(d) => {
                self.deleted_at = Some(at);
                self.deletion_reason = Some(d.reason.clone());
            }
            _ => {}
        }
        self.life.apply(&record.body);
        self.status = self.life.status();
        self.redemptions = self.life.redemptions();
        self.holder = self
            .transfers
            .last()
            .or(self.initial_owner.as_ref())
            .cloned();
        self.previous_owner = match self.transfers.len() {
            0 => None,
            1 => self.initial_owner.clone(),
            n => self.transfers.get(n - 2).cloned(),
        };
        self.last_updated_at = Some(self.last_updated_at.map_or(at, |t| t.max(at)));
    }

    /// SPEC §4: a transfer to anyone who held the ticket before its current holder
    /// (the initial owner or an earlier recipient) counts as backward.
    fn is_earlier_owner(&self, to: &Person) -> bool {
        let chain: Vec<&Person> = self.initial_owner.iter().chain(&self.transfers).collect();
        let earlier = chain.len().saturating_sub(1);
        chain.iter().take(earlier).any(|p| p.same_person(to))
    }
}

/// One ticket of an order, as the order sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderTicket {
    pub ticket_id: Id,
    pub status: TicketStatus,
    pub definition_id: Id,
    pub ticket_type: Text,
    pub price_paid: Amount,
    pub currency: Currency,
    pub redemptions: u32,
    #[serde(skip)]
    life: Lifecycle,
}

/// One payment record of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderPayment {
    /// `captured` or `refunded`.
    pub kind: &'static str,
    pub gateway: Text,
    pub token: Id,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related_token: Option<Id>,
    pub amount: Amount,
    pub currency: Currency,
    pub occurred_at: Timestamp,
}

/// An order after some of its records: payments and their balance per currency, and
/// the tickets purchased in it with their current status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderView {
    pub order_id: Id,
    /// Captured money per currency code.
    pub captured: BTreeMap<String, Decimal>,
    /// Refunded money per currency code.
    pub refunded: BTreeMap<String, Decimal>,
    /// Captured minus refunded, per currency code.
    pub balance: BTreeMap<String, Decimal>,
    pub payments: Vec<OrderPayment>,
    pub tickets: Vec<OrderTicket>,
}

impl OrderView {
    pub fn new(order_id: Id) -> Self {
        Self {
            order_id,
            captured: BTreeMap::new(),
            refunded: BTreeMap::new(),
            balance: BTreeMap::new(),
            payments: Vec::new(),
            tickets: Vec::new(),
        }
    }

    /// Folds one record: payments of this order, purchases in it, and later records of
    /// the tickets purchased in it. Anything else is ignored.
    pub fn apply(&mut self, record: &StoredRecord) {
        use RecordBody as B;
        match &record.body {
            B::PaymentCaptured(d) if d.order_id == self.order_id => {
                let code = d.currency.to_string();
                add(&mut self.captured, &code, d.amount.value());
                add(&mut self.balance, &code, d.amount.value());
                self.payments.push(OrderPayment {
                    kind: "captured",
                    gateway: d.gateway.clone(),
                    token: d.token.clone(),
                    related_token: None,
                    amount: d.amount,
                    currency: d.currency,
                    occurred_at: record.occurred_at,
                });
            }
            B::PaymentRefunded(d) if d.order_id == self.order_id => {
                let code = d.currency.to_string();
                add(&mut self.refunded, &code, d.amount.value());
                add(&mut self.balance, &code, -d.amount.value());
                self.payments.push(OrderPayment {
                    kind: "refunded",
                    gateway: d.gateway.clone(),
                    token: d.token.clone(),
                    related_token: Some(d.related_token.clone()),
                    amount: d.amount,
                    currency: d.currency,
                    occurred_at: record.occurred_at,
                });
            }
            B::TicketPurchased(d) if d.order_id == self.order_id => {
                if self.tickets.iter().all(|t| t.ticket_id != d.ticket_id) {
                    let mut life = Lifecycle::default();
                    life.apply(&record.body);
                    self.tickets.push(OrderTicket {
                        ticket_id: d.ticket_id.clone(),
                        status: life.status(),
                        definition_id: d.definition_id.clone(),
                        ticket_type: d.ticket_type.clone(),
                        price_paid: d.price_paid,
                        currency: d.currency,
                        redemptions: 0,
                        life,
                    });
                }
            }
            B::TicketPurchased(_) => {}
            body => {
                let Some(id) = body.ticket_id() else {
                    return;
                };
                if let Some(t) = self.tickets.iter_mut().find(|t| &t.ticket_id == id) {
                    if let B::TicketRescheduled(d) = body {
                        t.definition_id = d.to_definition_id.clone();
                    }
                    t.life.apply(body);
                    t.status = t.life.status();
                    t.redemptions = t.life.redemptions();
                }
            }
        }
    }

    /// True when the record changes this view (so a caller merging streams can skip
    /// the others).
    pub fn concerns(&self, record: &StoredRecord) -> bool {
        use RecordBody as B;
        match &record.body {
            B::PaymentCaptured(d) => d.order_id == self.order_id,
            B::PaymentRefunded(d) => d.order_id == self.order_id,
            B::TicketPurchased(d) => d.order_id == self.order_id,
            body => body
                .ticket_id()
                .is_some_and(|id| self.tickets.iter().any(|t| &t.ticket_id == id)),
        }
    }
}

fn add(map: &mut BTreeMap<String, Decimal>, code: &str, amount: Decimal) {
    let entry = map.entry(code.to_string()).or_insert(Decimal::ZERO);
    *entry = entry.saturating_add(amount);
}
