//! The fold: links, each visitor's last click, each buyer's first order, and the
//! attributed sales.
//!
//! A purchase carrying a `visitor_id` is attributed to the link of the visitor's last
//! click folded before it, when that click's `occurred_at` lies in
//! `[purchase - window, purchase]` and the link's scope covers the purchased
//! performance (a client-level link covers every performance of its organizer). An
//! out-of-window or out-of-scope last click leaves the purchase unattributed: earlier
//! clicks are never considered.

use chrono::TimeDelta;
use counterfoil_core::catalog::{LinkScope, Person};
use counterfoil_core::{Amount, Currency, RecordBody, StoredRecord, Timestamp};
use counterfoil_projection::state_file::StateWriter;
use counterfoil_projection::{ChunkedVec, IdKey, IdTable, Keys, NONE, Projector, TicketLife, time};
use serde::{Deserialize, Serialize};

use crate::LinksError;

/// The attribution window when none is configured (SPEC §6).
pub const DEFAULT_WINDOW_DAYS: i64 = 30;

/// The link-attribution projector. `LinkAttribution::default()` uses a 30-day window;
/// [`LinkAttribution::with_window`] another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkAttribution {
    pub(crate) window_seconds: i64,
    pub(crate) organizers: IdTable,
    pub(crate) performances: IdTable,
    /// The organizer of each performance, parallel to `performances`.
    pub(crate) performance_organizer: Vec<u32>,
    pub(crate) definitions: IdTable,
    /// The performance of each definition, parallel to `definitions`.
    pub(crate) definition_performance: Vec<u32>,
    pub(crate) links: IdTable,
    /// Parallel to `links`.
    pub(crate) link: Vec<Link>,
    pub(crate) visitors: IdTable,
    /// The last click of each visitor, parallel to `visitors`.
    pub(crate) last_click: ChunkedVec<Click>,
    /// Buyers known by customer id.
    pub(crate) customers: IdTable,
    /// The order of each such buyer's first purchase, parallel to `customers`.
    pub(crate) customer_first_order: Vec<u32>,
    /// Buyers without a customer id, by lower-cased (ASCII) email.
    pub(crate) emails: IdTable,
    /// The order of each such buyer's first purchase, parallel to `emails`.
    pub(crate) email_first_order: Vec<u32>,
    pub(crate) orders: IdTable,
    pub(crate) ticket_types: IdTable,
    /// Attributed tickets only.
    pub(crate) tickets: IdTable,
    /// Parallel to `tickets`.
    pub(crate) sale: ChunkedVec<Sale>,
}

impl Default for LinkAttribution {
    fn default() -> Self {
        Self {
            window_seconds: DEFAULT_WINDOW_DAYS * 24 * 3600,
            organizers: IdTable::new(),
            performances: IdTable::new(),
            performance_organizer: Vec::new(),
            definitions: IdTable::new(),
            definition_performance: Vec::new(),
            links: IdTable::new(),
            link: Vec::new(),
            visitors: IdTable::new(),
            last_click: ChunkedVec::new(),
            customers: IdTable::new(),
            customer_first_order: Vec::new(),
            emails: IdTable::new(),
            email_first_order: Vec::new(),
            orders: IdTable::new(),
            ticket_types: IdTable::new(),
            tickets: IdTable::new(),
            sale: ChunkedVec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Link {
    pub organizer: u32,
    pub owner_name: Box<str>,
    pub owner_email: Box<str>,
    pub scope: LinkScope,
    /// For a performance-level link; `NONE` otherwise.
    pub performance: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Click {
    pub link: u32,
    #[serde(with = "time::compact")]
    pub at: Timestamp,
}

/// One attributed ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sale {
    pub link: u32,
    /// The purchased performance.
    pub performance: u32,
    pub ticket_type: u32,
    pub buyer: u32,
    pub order: u32,
    pub face: Amount,
    pub currency: Currency,
    pub life: TicketLife,
    /// Bought in the buyer's first order in the ledger.
    pub first_order: bool,
}

impl Sale {
    /// Writes the sale as its derived `Serialize` does through `rmp_serde`.
    fn write(&self, w: &mut StateWriter) -> Result<(), String> {
        let Self {
            link,
            performance,
            ticket_type,
            buyer,
            order,
            face,
            currency,
            life,
            first_order,
        } = self;
        w.array_len(9)?;
        for ix in [link, performance, ticket_type, buyer, order] {
            w.uint(u64::from(*ix))?;
        }
        match face.packed_bytes() {
            Some(packed) => w.bytes(packed.as_ref())?,
            None => w.value(face)?,
        }
        w.str(currency.as_str())?;
        w.life(life)?;
        w.bool(*first_order)
    }
}

impl Projector for LinkAttribution {
    const NAME: &'static str = "link-attribution";
    const VERSION: u32 = 1;

    /// The derived encoding (fields in order, positional), with the id tables, the
    /// visitors' last clicks and the sales (nearly all of the state) written by their
    /// own encoders. A test holds the bytes to the derived encoding's.
    fn encode_state(&self, w: &mut StateWriter) -> Result<(), String> {
        let Self {
            window_seconds,
            organizers,
            performances,
            performance_organizer,
            definitions,
            definition_performance,
            links,
            link,
            visitors,
            last_click,
            customers,
            customer_first_order,
            emails,
            email_first_order,
            orders,
            ticket_types,
            tickets,
            sale,
        } = self;
        w.array_len(18)?;
        w.sint(*window_seconds)?;
        organizers.write(w)?;
        performances.write(w)?;
        w.u32s(performance_organizer)?;
        definitions.write(w)?;
        w.u32s(definition_performance)?;
        links.write(w)?;
        w.value(link)?;
        visitors.write(w)?;
        w.array_len(last_click.len())?;
        last_click.iter().try_for_each(|c| {
            w.array_len(2)?;
            w.uint(u64::from(c.link))?;
            time::compact::write(&c.at, w)
        })?;
        customers.write(w)?;
        w.u32s(customer_first_order)?;
        emails.write(w)?;
        w.u32s(email_first_order)?;
        orders.write(w)?;
        ticket_types.write(w)?;
        tickets.write(w)?;
        w.array_len(sale.len())?;
        sale.iter().try_for_each(|s| s.write(w))
    }

    fn apply(&mut self, record: &StoredRecord) {
        self.apply_keyed(record, &Keys::NONE);
    }

    fn apply_keyed(&mut self, record: &StoredRecord, keys: &Keys) {
        use RecordBody as B;
        match &record.body {
            B::PerformanceScheduled(d) => {
                let organizer = self.organizers.intern(d.organizer_id.as_str());
                let p = self.performance_slot(d.performance_id.as_str());
                if let Some(slot) = self.performance_organizer.get_mut(p as usize)
                    && *slot == NONE
                {
                    *slot = organizer;
                }
            }
            B::DefinitionCreated(d) => {
                let perf = self.performance_slot(d.performance_id.as_str());
                let def = self.definitions.intern(d.definition_id.as_str());
                if def as usize == self.definition_performance.len() {
                    self.definition_performance.push(perf);
                }
            }
            B::LinkCreated(d) => {
                let l = self.links.intern(d.link_id.as_str());
                if l as usize != self.link.len() {
                    return;
                }
                let performance = match (d.scope, &d.performance_id) {
                    (LinkScope::Performance, Some(p)) => self.performance_slot(p.as_str()),
                    _ => NONE,
                };
                self.link.push(Link {
                    organizer: self.organizers.intern(d.organizer_id.as_str()),
                    owner_name: d.owner_name.as_str().into(),
                    owner_email: d.owner_email.as_str().into(),
                    scope: d.scope,
                    performance,
                });
            }
            B::LinkClicked(d) => {
                let Some(link) = self.links.get(d.link_id.as_str()) else {
                    return;
                };
                let v = self.visitors.intern(d.visitor_id.as_str());
                let click = Click {
                    link,
                    at: record.occurred_at,
                };
                if v as usize == self.last_click.len() {
                    self.last_click.push(click);
                } else if let Some(slot) = self.last_click.get_mut(v as usize) {
                    *slot = click;
                }
            }
            B::TicketPurchased(d) => {
                let order = (d.order_id.as_str(), keys.order());
                let (buyer, first_order) = self.note_buyer(&d.buyer, order);
                let performance = self
                    .definitions
                    .get(d.definition_id.as_str())
                    .and_then(|def| self.definition_performance.get(def as usize).copied())
                    .unwrap_or(NONE);
                let Some(link) = d.visitor_id.as_ref().and_then(|v| {
                    self.attributed_link(v.as_str(), performance, record.occurred_at)
                }) else {
                    return;
                };
                let t = self
                    .tickets
                    .intern_keyed(d.ticket_id.as_str(), keys.ticket());
                if t as usize != self.sale.len() {
                    // Purchased before (or the table is full): the first purchase stands.
                    return;
                }
                let mut life = TicketLife::default();
                life.apply(&record.body);
                self.sale.push(Sale {
                    link,
                    performance,
                    ticket_type: self.ticket_types.intern(&d.ticket_type),
                    buyer,
                    order: self.orders.intern_keyed(order.0, order.1),
                    face: d.face_price,
                    currency: d.currency,
                    life,
                    first_order,
                });
            }
            body => {
                if TicketLife::is_changed_by(body)
                    && let Some(id) = body.ticket_id()
                    && let Some(sale) = self
                        .tickets
                        .get_keyed(id.as_str(), keys.ticket())
                        .and_then(|t| self.sale.get_mut(t as usize))
                {
                    sale.life.apply(body);
                }
            }
        }
    }

    fn settings(&self) -> String {
        format!("window={}s", self.window_seconds)
    }

    fn fresh(&self) -> Self {
        Self {
            window_seconds: self.window_seconds,
            ..Self::default()
        }
    }
}

impl LinkAttribution {
    /// An empty projector attributing clicks up to `window` before a purchase.
    pub fn with_window(window: TimeDelta) -> Result<Self, LinksError> {
        let seconds = window.num_seconds();
        if seconds <= 0 {
            return Err(LinksError::BadWindow { seconds });
        }
        Ok(Self {
            window_seconds: seconds,
            ..Self::default()
        })
    }

    /// The attribution window.
    pub fn window(&self) -> TimeDelta {
        TimeDelta::try_seconds(self.window_seconds).unwrap_or(TimeDelta::MAX)
    }

    /// The link a purchase by `visitor` at `at` for `performance` is attributed to.
    fn attributed_link(&self, visitor: &str, performance: u32, at: Timestamp) -> Option<u32> {
        let click = self
            .visitors
            .get(visitor)
            .and_then(|v| self.last_click.get(v as usize))?;
        let earliest = at
            .checked_sub_signed(self.window())
            .unwrap_or(Timestamp::MIN_UTC);
        if click.at > at || click.at < earliest {
            return None;
        }
        let link = self.link.get(click.link as usize)?;
        let covers = performance != NONE
            && match link.scope {
                LinkScope::Client => {
                    let organizer = self
                        .performance_organizer
                        .get(performance as usize)
                        .copied()
                        .unwrap_or(NONE);
                    organizer != NONE && organizer == link.organizer
                }
                LinkScope::Performance => link.performance == performance,
            };
        covers.then_some(click.link)
    }

    /// Records the buyer's first order if this is their first purchase; returns the
    /// buyer's identity (distinct per buyer) and whether `order` is that first order.
    /// Buyers are the same customer by customer id when they carry one, else by
    /// lower-cased email.
    /// `order` is the purchase's order id with its key.
    fn note_buyer(&mut self, buyer: &Person, order: (&str, IdKey)) -> (u32, bool) {
        let lowered;
        let (table, firsts, tag) = match &buyer.customer_id {
            Some(c) => (
                self.customers.intern(c.as_str()),
                &mut self.customer_first_order,
                0,
            ),
            None => {
                let email = if buyer.email.bytes().any(|b| b.is_ascii_uppercase()) {
                    lowered = buyer.email.to_ascii_lowercase();
                    lowered.as_str()
                } else {
                    buyer.email.as_str()
                };
                (self.emails.intern(email), &mut self.email_first_order, 1)
            }
        };
        let id = table.checked_mul(2).map_or(NONE, |b| b | tag);
        if table as usize == firsts.len() {
            firsts.push(self.orders.intern_keyed(order.0, order.1));
            return (id, true);
        }
        let first = firsts.get(table as usize).copied().unwrap_or(NONE);
        (
            id,
            first != NONE && self.orders.get_keyed(order.0, order.1) == Some(first),
        )
    }

    fn performance_slot(&mut self, id: &str) -> u32 {
        let ix = self.performances.intern(id);
        if ix as usize == self.performance_organizer.len() {
            self.performance_organizer.push(NONE);
        }
        ix
    }
}
