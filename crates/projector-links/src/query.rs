//! The link report: per link (sorted by id) its figures, broken down by ticket type
//! (sorted by name), and a totals row over every listed link.
//!
//! Customers, new customers and orders are distinct counts (a customer attributed to
//! two links counts once in the totals). Tickets, scanned, unscanned and face value
//! count only tickets that still hold a seat: refunded, invalidated and deleted
//! tickets leave them, while their buyer and order still count.

use std::collections::{BTreeMap, HashSet};

use counterfoil_core::catalog::LinkScope;
use counterfoil_projection::{CsvRow, NONE};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::fold::{LinkAttribution, Sale};

/// Which sales the report covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkQuery {
    /// Only purchases of this performance (the one purchased, even if the ticket was
    /// rescheduled later), and only links that cover it or have sales in it.
    pub performance_id: Option<String>,
}

/// `{"links": [...], "totals": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkReport {
    pub links: Vec<LinkRow>,
    pub totals: LinkTotals,
}

/// Figures of a set of attributed sales.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    /// Distinct buyers (customer id, else lower-cased email).
    pub customers: u64,
    /// Distinct buyers whose first purchase in the ledger is among these sales.
    pub new_customers: u64,
    /// Distinct order ids.
    pub orders: u64,
    /// Tickets holding a seat (issued or redeemed).
    pub tickets: u64,
    /// Tickets holding a seat with a standing redemption.
    pub scanned: u64,
    /// Tickets holding a seat, not redeemed.
    pub unscanned: u64,
    /// Sum of face prices of `tickets`, per currency code.
    pub face_value: BTreeMap<String, Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketTypeStats {
    pub ticket_type: String,
    #[serde(flatten)]
    pub stats: LinkStats,
}

/// One tracking link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkRow {
    pub link_id: String,
    pub organizer_id: String,
    pub owner_name: String,
    pub owner_email: String,
    pub scope: LinkScope,
    /// For a performance-level link.
    pub performance_id: Option<String>,
    #[serde(flatten)]
    pub stats: LinkStats,
    pub by_ticket_type: Vec<TicketTypeStats>,
}

/// The totals row over every listed link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkTotals {
    #[serde(flatten)]
    pub stats: LinkStats,
    pub by_ticket_type: Vec<TicketTypeStats>,
}

/// Distinct sets and sums while aggregating.
#[derive(Default)]
struct Acc {
    customers: HashSet<u32>,
    new_customers: HashSet<u32>,
    orders: HashSet<u32>,
    tickets: u64,
    scanned: u64,
    face: BTreeMap<String, Decimal>,
}

impl Acc {
    fn add(&mut self, sale: &Sale) {
        self.customers.insert(sale.buyer);
        if sale.first_order {
            self.new_customers.insert(sale.buyer);
        }
        self.orders.insert(sale.order);
        if sale.life.holds_seat() {
            self.tickets += 1;
            if sale.life.is_scanned() {
                self.scanned += 1;
            }
            let sum = self.face.entry(sale.currency.to_string()).or_default();
            *sum = sum.saturating_add(sale.face.value());
        }
    }

    fn stats(&self) -> LinkStats {
        LinkStats {
            customers: self.customers.len() as u64,
            new_customers: self.new_customers.len() as u64,
            orders: self.orders.len() as u64,
            tickets: self.tickets,
            scanned: self.scanned,
            unscanned: self.tickets - self.scanned,
            face_value: self.face.clone(),
        }
    }
}

/// One link's (or the totals') figures, overall and per ticket type.
#[derive(Default)]
struct Group {
    all: Acc,
    by_type: BTreeMap<u32, Acc>,
}

impl Group {
    fn add(&mut self, sale: &Sale) {
        self.all.add(sale);
        self.by_type.entry(sale.ticket_type).or_default().add(sale);
    }

    fn by_ticket_type(&self, names: &counterfoil_projection::IdTable) -> Vec<TicketTypeStats> {
        let mut v: Vec<TicketTypeStats> = self
            .by_type
            .iter()
            .map(|(&t, acc)| TicketTypeStats {
                ticket_type: names.name(t).to_string(),
                stats: acc.stats(),
            })
            .collect();
        v.sort_by(|a, b| a.ticket_type.cmp(&b.ticket_type));
        v
    }
}

impl LinkAttribution {
    /// The report over every link, or over one performance.
    pub fn report(&self, q: &LinkQuery) -> LinkReport {
        let performance = match &q.performance_id {
            Some(p) => match self.performances.get(p) {
                Some(ix) => Some(ix),
                None => {
                    return LinkReport {
                        links: Vec::new(),
                        totals: LinkTotals::default(),
                    };
                }
            },
            None => None,
        };
        let mut groups: BTreeMap<u32, Group> = BTreeMap::new();
        let mut totals = Group::default();
        for sale in &self.sale {
            if performance.is_some_and(|p| sale.performance != p) {
                continue;
            }
            groups.entry(sale.link).or_default().add(sale);
            totals.add(sale);
        }
        let empty = Group::default();
        let mut links: Vec<LinkRow> = self
            .link
            .iter()
            .enumerate()
            .filter_map(|(l, link)| {
                let l = l as u32;
                let group = groups.get(&l);
                let listed = match performance {
                    None => true,
                    Some(p) => group.is_some() || self.covers(l, p),
                };
                if !listed {
                    return None;
                }
                let group = group.unwrap_or(&empty);
                Some(LinkRow {
                    link_id: self.links.name(l).to_string(),
                    organizer_id: self.organizers.name(link.organizer).to_string(),
                    owner_name: link.owner_name.to_string(),
                    owner_email: link.owner_email.to_string(),
                    scope: link.scope,
                    performance_id: (link.performance != NONE)
                        .then(|| self.performances.name(link.performance).to_string()),
                    stats: group.all.stats(),
                    by_ticket_type: group.by_ticket_type(&self.ticket_types),
                })
            })
            .collect();
        links.sort_by(|a, b| a.link_id.cmp(&b.link_id));
        LinkReport {
            links,
            totals: LinkTotals {
                stats: totals.all.stats(),
                by_ticket_type: totals.by_ticket_type(&self.ticket_types),
            },
        }
    }

    /// Whether link `l`'s scope covers performance `p`.
    fn covers(&self, l: u32, p: u32) -> bool {
        let Some(link) = self.link.get(l as usize) else {
            return false;
        };
        match link.scope {
            LinkScope::Client => self
                .performance_organizer
                .get(p as usize)
                .is_some_and(|&o| o != NONE && o == link.organizer),
            LinkScope::Performance => link.performance == p,
        }
    }
}

/// One line of the flat (CSV) form of a [`LinkReport`]: per link a line over all
/// ticket types (`ticket_type` empty) then one per type; then the totals (`link_id`
/// empty, `scope` = `total`) the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkCsvRow {
    pub link_id: String,
    pub owner_name: String,
    pub owner_email: String,
    pub scope: String,
    pub performance_id: String,
    pub ticket_type: String,
    pub stats: LinkStats,
}

impl LinkReport {
    /// The report flattened into CSV lines (see [`LinkCsvRow`]).
    pub fn csv_rows(&self) -> Vec<LinkCsvRow> {
        let mut out = Vec::new();
        for link in &self.links {
            csv_lines(&mut out, Some(link), &link.stats, &link.by_ticket_type);
        }
        csv_lines(
            &mut out,
            None,
            &self.totals.stats,
            &self.totals.by_ticket_type,
        );
        out
    }
}

fn csv_lines(
    out: &mut Vec<LinkCsvRow>,
    link: Option<&LinkRow>,
    all: &LinkStats,
    types: &[TicketTypeStats],
) {
    let base = LinkCsvRow {
        link_id: link.map(|l| l.link_id.clone()).unwrap_or_default(),
        owner_name: link.map(|l| l.owner_name.clone()).unwrap_or_default(),
        owner_email: link.map(|l| l.owner_email.clone()).unwrap_or_default(),
        scope: match link.map(|l| l.scope) {
            Some(LinkScope::Client) => "client".into(),
            Some(LinkScope::Performance) => "performance".into(),
            None => "total".into(),
        },
        performance_id: link
            .and_then(|l| l.performance_id.clone())
            .unwrap_or_default(),
        ticket_type: String::new(),
        stats: all.clone(),
    };
    out.push(base.clone());
    for t in types {
        out.push(LinkCsvRow {
            ticket_type: t.ticket_type.clone(),
            stats: t.stats.clone(),
            ..base.clone()
        });
    }
}

impl CsvRow for LinkCsvRow {
    fn csv_header() -> Vec<&'static str> {
        vec![
            "link_id",
            "owner_name",
            "owner_email",
            "scope",
            "performance_id",
            "ticket_type",
            "customers",
            "new_customers",
            "orders",
            "tickets",
            "scanned",
            "unscanned",
            "face_value",
        ]
    }

    fn csv_row(&self) -> Vec<String> {
        let s = &self.stats;
        let face = s
            .face_value
            .iter()
            .map(|(c, v)| format!("{v} {c}"))
            .collect::<Vec<_>>()
            .join("; ");
        vec![
            self.link_id.clone(),
            self.owner_name.clone(),
            self.owner_email.clone(),
            self.scope.clone(),
            self.performance_id.clone(),
            self.ticket_type.clone(),
            s.customers.to_string(),
            s.new_customers.to_string(),
            s.orders.to_string(),
            s.tickets.to_string(),
            s.scanned.to_string(),
            s.unscanned.to_string(),
            face,
        ]
    }
}
