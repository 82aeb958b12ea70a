//! Queries of the shared-tickets model and the rows they answer with.
//!
//! Rows are sorted by `shared_at`, then by log order (the order the shares were
//! recorded), so an answer never depends on hashing or timing.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::Datelike;
use counterfoil_core::Timestamp;
use counterfoil_projection::{CsvRow, NONE, csv_opt, csv_time};
use serde::Serialize;
use uuid::Uuid;

use crate::SharedError;
use crate::fold::{Share, SharedTickets};

/// One `ticket.shared`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareRow {
    /// The id of the `ticket.shared` record.
    pub share_id: Uuid,
    /// The record's `occurred_at`.
    pub shared_at: Timestamp,
    pub ticket_id: String,
    /// `None` when the ticket's purchase is not in the log.
    pub order_id: Option<String>,
    /// Customer id of the sharer.
    pub shared_by: String,
    pub recipient_email: String,
    /// The performance the ticket admitted to when shared; `None` when unknown.
    pub performance: Option<PerformanceRef>,
    /// The seat when shared (all parts `None` for general admission).
    pub seat: SeatRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PerformanceRef {
    pub id: String,
    /// `None` when the performance was never scheduled in the log.
    pub name: Option<String>,
    pub starts_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeatRef {
    pub section: Option<String>,
    pub row: Option<String>,
    pub seat: Option<String>,
}

impl CsvRow for ShareRow {
    fn csv_header() -> Vec<&'static str> {
        vec![
            "share_id",
            "shared_at",
            "ticket_id",
            "order_id",
            "shared_by",
            "recipient_email",
            "performance_id",
            "performance_name",
            "performance_starts_at",
            "seat_section",
            "seat_row",
            "seat_seat",
        ]
    }

    fn csv_row(&self) -> Vec<String> {
        let p = self.performance.as_ref();
        vec![
            self.share_id.to_string(),
            csv_time(Some(&self.shared_at)),
            self.ticket_id.clone(),
            csv_opt(self.order_id.as_ref()),
            self.shared_by.clone(),
            self.recipient_email.clone(),
            csv_opt(p.map(|p| &p.id)),
            csv_opt(p.and_then(|p| p.name.as_ref())),
            csv_time(p.and_then(|p| p.starts_at.as_ref())),
            csv_opt(self.seat.section.as_ref()),
            csv_opt(self.seat.row.as_ref()),
            csv_opt(self.seat.seat.as_ref()),
        ]
    }
}

/// Which shares a search or a count covers. Every field narrows; the default matches
/// every share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareFilter {
    /// Shared at or after this time.
    pub from: Option<Timestamp>,
    /// Shared strictly before this time (half-open range, so consecutive ranges never
    /// count a share twice).
    pub to: Option<Timestamp>,
    /// Exactly this sharer (customer id).
    pub shared_by: Option<String>,
    /// Recipient email containing this text, ignoring case.
    pub recipient: Option<String>,
    pub order_id: Option<String>,
    /// The performance the ticket admitted to when shared.
    pub performance_id: Option<String>,
    pub ticket_id: Option<String>,
}

/// The calendar unit of [`SharedTickets::counts`] (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    Month,
}

impl FromStr for Bucket {
    type Err = SharedError;
    fn from_str(s: &str) -> Result<Self, SharedError> {
        match s {
            "day" => Ok(Bucket::Day),
            "month" => Ok(Bucket::Month),
            other => Err(SharedError::UnknownBucket(other.to_string())),
        }
    }
}

/// Shares in one day (`2026-11-21`) or month (`2026-11`), UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareCount {
    pub bucket: String,
    pub shares: u64,
}

impl CsvRow for ShareCount {
    fn csv_header() -> Vec<&'static str> {
        vec!["bucket", "shares"]
    }

    fn csv_row(&self) -> Vec<String> {
        vec![self.bucket.clone(), self.shares.to_string()]
    }
}

impl SharedTickets {
    /// The shares matching `filter`, by `shared_at` then log order.
    pub fn search(&self, filter: &ShareFilter) -> Vec<ShareRow> {
        self.matching(filter)
            .into_iter()
            .filter_map(|i| self.shares.get(i))
            .map(|s| self.row(s))
            .collect()
    }

    /// Every share of one ticket ("who and when"), by `shared_at` then log order;
    /// empty for a ticket never shared.
    pub fn ticket_shares(&self, ticket_id: &str) -> Vec<ShareRow> {
        let filter = ShareFilter {
            ticket_id: Some(ticket_id.to_string()),
            ..ShareFilter::default()
        };
        self.search(&filter)
    }

    /// The number of shares matching `filter` per UTC day or month, in calendar
    /// order; buckets without shares are left out.
    pub fn counts(&self, filter: &ShareFilter, bucket: Bucket) -> Vec<ShareCount> {
        let mut counts: BTreeMap<(i32, u32, u32), u64> = BTreeMap::new();
        for i in self.matching(filter) {
            let Some(share) = self.shares.get(i) else {
                continue;
            };
            let t = share.at;
            let key = match bucket {
                Bucket::Day => (t.year(), t.month(), t.day()),
                Bucket::Month => (t.year(), t.month(), 0),
            };
            *counts.entry(key).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|((y, m, d), shares)| ShareCount {
                bucket: match bucket {
                    Bucket::Day => format!("{y:04}-{m:02}-{d:02}"),
                    Bucket::Month => format!("{y:04}-{m:02}"),
                },
                shares,
            })
            .collect()
    }

    /// Indexes of the matching shares, sorted by time then log order.
    fn matching(&self, f: &ShareFilter) -> Vec<usize> {
        let mut out: Vec<usize> = match &f.ticket_id {
            // A ticket's shares are chained; no need to look at the others.
            Some(t) => {
                let mut v = Vec::new();
                if let Some(ticket) = self
                    .tickets
                    .get(t)
                    .and_then(|t| self.ticket.get(t as usize))
                {
                    let mut i = ticket.last_share;
                    while let Some(share) = self.shares.get(i as usize) {
                        v.push(i as usize);
                        i = share.previous;
                    }
                    v.reverse();
                }
                v
            }
            None => (0..self.shares.len()).collect(),
        };
        let order = match &f.order_id {
            Some(o) => match self.orders.get(o) {
                Some(ix) => Some(ix),
                None => return Vec::new(),
            },
            None => None,
        };
        let performance = match &f.performance_id {
            Some(p) => match self.performances.get(p) {
                Some(ix) => Some(ix),
                None => return Vec::new(),
            },
            None => None,
        };
        let recipient = f.recipient.as_ref().map(|r| r.to_lowercase());
        out.retain(|&i| {
            let Some(s) = self.shares.get(i) else {
                return false;
            };
            f.from.is_none_or(|from| s.at >= from)
                && f.to.is_none_or(|to| s.at < to)
                && f.shared_by.as_ref().is_none_or(|b| *s.shared_by == **b)
                && order.is_none_or(|o| self.order_of(s) == o)
                && performance.is_none_or(|p| s.performance == p)
                && recipient
                    .as_ref()
                    .is_none_or(|r| s.recipient.to_lowercase().contains(r.as_str()))
        });
        out.sort_by_key(|&i| (self.shares.get(i).map(|s| s.at), i));
        out
    }

    fn order_of(&self, share: &Share) -> u32 {
        self.ticket
            .get(share.ticket as usize)
            .map_or(NONE, |t| t.order)
    }

    fn row(&self, s: &Share) -> ShareRow {
        let order = self.order_of(s);
        let performance = (s.performance != NONE).then(|| {
            let perf = self
                .performance
                .get(s.performance as usize)
                .filter(|p| p.scheduled);
            PerformanceRef {
                id: self.performances.name(s.performance).to_string(),
                name: perf.map(|p| p.name.to_string()),
                starts_at: perf.and_then(|p| p.starts_at),
            }
        });
        let seat = SeatRef {
            section: s.seat.get(0).map(str::to_string),
            row: s.seat.get(1).map(str::to_string),
            seat: s.seat.get(2).map(str::to_string),
        };
        ShareRow {
            share_id: s.id,
            shared_at: s.at,
            ticket_id: self.tickets.name(s.ticket).to_string(),
            order_id: (order != NONE).then(|| self.orders.name(order).to_string()),
            shared_by: s.shared_by.to_string(),
            recipient_email: s.recipient.to_string(),
            performance,
            seat,
        }
    }
}

/// `{"shares": [...]}`: the answer of `report shared` and `GET /v1/reports/shared-tickets`.
#[derive(Debug, Serialize)]
pub struct Shares {
    pub shares: Vec<ShareRow>,
}

/// `{"ticket_id": ..., "shares": [...]}`: one ticket's shares, CLI and HTTP alike.
#[derive(Debug, Serialize)]
pub struct TicketShares {
    pub ticket_id: String,
    pub shares: Vec<ShareRow>,
}

/// `{"bucket": "day", "counts": [{"bucket", "shares"}]}`: shares counted per day or
/// month, CLI and HTTP alike.
#[derive(Debug, Serialize)]
pub struct ShareCounts {
    pub bucket: Bucket,
    pub counts: Vec<ShareCount>,
}
