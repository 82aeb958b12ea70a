//! The owner-report query and its rows.
//!
//! Rows come performance by performance (ids sorted, duplicates ignored), and within
//! a performance in purchase order (the order of the `ticket.purchased` records in the
//! log), deleted tickets in their place when included. New purchases land at the end,
//! so paging through a growing report does not shift earlier pages.

use chrono::NaiveDate;
use counterfoil_core::rules::TicketStatus;
use counterfoil_core::{Amount, Timestamp};
use counterfoil_projection::{CsvRow, csv_opt, csv_time};
use serde::Serialize;

use crate::OwnersError;
use crate::fold::{OwnerReport, Ticket};
use crate::people::{Account, PersonState, later};

/// The largest page (SPEC §6).
pub const MAX_LIMIT: u32 = 1000;

/// One page of the owner report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerQuery {
    /// One or several performance ids.
    pub performances: Vec<String>,
    /// Required, `1..=1000`.
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
    /// Leave deleted tickets out (by default they are included, with status `deleted`).
    pub exclude_deleted: bool,
    /// Only rows whose `last_updated_at` is at or after this time.
    pub last_updated_since: Option<Timestamp>,
    /// Only rows whose `last_updated_at` is strictly before this time.
    pub last_updated_before: Option<Timestamp>,
}

impl OwnerQuery {
    /// The first `limit` rows of some performances, deleted tickets included.
    pub fn new(performances: impl IntoIterator<Item = impl Into<String>>, limit: u64) -> Self {
        Self {
            performances: performances.into_iter().map(Into::into).collect(),
            limit,
            offset: 0,
            exclude_deleted: false,
            last_updated_since: None,
            last_updated_before: None,
        }
    }
}

/// `{"total": N, "result": [rows]}`: `total` counts every matching row, not only this
/// page's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerPage {
    pub total: u64,
    pub result: Vec<OwnerRow>,
}

/// One ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerRow {
    pub ticket_id: String,
    /// The ticket's current performance (a rescheduled ticket belongs to the new one).
    pub performance: PerformanceInfo,
    /// The holder, shown through their registered account when they have one.
    pub owner: OwnerInfo,
    /// The account's consents; all `None` without an account or before any consent
    /// was recorded.
    pub consents: Consents,
    pub status: TicketStatus,
    pub ticket_type: String,
    pub seat: SeatInfo,
    pub purchase: PurchaseInfo,
    pub dates: DatesInfo,
    /// The holder before the last transfer; `None` when never transferred.
    pub previous_owner: Option<PersonInfo>,
    /// The `ticket.injected` initial owner, else the buyer.
    pub initial_owner: PersonInfo,
    pub transfer_forward_count: u32,
    /// Transfers back to anyone who held the ticket before.
    pub transfer_backward_count: u32,
    pub already_downloaded: bool,
    /// Latest `occurred_at` among the ticket's records and the shown account's records.
    pub last_updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PerformanceInfo {
    pub id: String,
    /// `None` when the performance was never scheduled in the log.
    pub name: Option<String>,
    pub code: Option<String>,
    pub starts_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerInfo {
    /// The account's customer id, else the ticket person's (if any).
    pub customer_id: Option<String>,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// Account fields: `None` without an account.
    pub birth_date: Option<NaiveDate>,
    pub id_number: Option<String>,
    pub residence_country: Option<String>,
    /// True when the fields come from a registered account.
    pub registered: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Consents {
    pub allow_promo_email: Option<bool>,
    pub allow_promo_third_party_email: Option<bool>,
    pub allow_tracking: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeatInfo {
    pub section: Option<String>,
    pub row: Option<String>,
    pub seat: Option<String>,
    pub area: Option<String>,
    pub level: Option<String>,
    pub block: Option<String>,
    pub gate: Option<String>,
    pub entrance: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurchaseInfo {
    pub order_id: String,
    /// The purchase's `occurred_at`.
    pub date: Timestamp,
    /// The price paid.
    pub price: Amount,
    pub currency: String,
    /// The ticket's current definition (changed by a reschedule).
    pub definition_id: String,
}

/// The latest time of each kind of ticket record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DatesInfo {
    pub activated: Option<Timestamp>,
    /// The last redemption.
    pub checked: Option<Timestamp>,
    pub delivered: Option<Timestamp>,
    pub downloaded: Option<Timestamp>,
    pub controlled: Option<Timestamp>,
    pub kept_by_owner: Option<Timestamp>,
    pub deletion: Option<Timestamp>,
    pub deletion_reason: Option<String>,
}

/// A person carried by the ticket (buyer, injected owner, transfer recipient).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonInfo {
    pub customer_id: Option<String>,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

impl OwnerReport {
    /// One page of rows for the asked performances. Refuses a limit outside
    /// `1..=1000` and an empty performance list; unknown performances have no rows.
    pub fn query(&self, q: &OwnerQuery) -> Result<OwnerPage, OwnersError> {
        if !(1..=u64::from(MAX_LIMIT)).contains(&q.limit) {
            return Err(OwnersError::LimitOutOfRange {
                limit: q.limit,
                max: MAX_LIMIT,
            });
        }
        if q.performances.is_empty() {
            return Err(OwnersError::NoPerformance);
        }
        let mut ids: Vec<&str> = q.performances.iter().map(String::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        let perfs: Vec<&crate::fold::Perf> = ids
            .iter()
            .filter_map(|id| self.performances.get(id))
            .filter_map(|p| self.performance.get(p as usize))
            .collect();
        let include_deleted = !q.exclude_deleted;
        let limit = usize::try_from(q.limit).unwrap_or(usize::MAX);
        let mut result = Vec::new();
        let mut total = 0u64;
        if q.last_updated_since.is_none() && q.last_updated_before.is_none() {
            let mut skip = q.offset;
            for perf in perfs {
                let n = perf.tickets.len(include_deleted) as u64;
                total += n;
                if skip >= n {
                    skip -= n;
                    continue;
                }
                let want = limit.saturating_sub(result.len());
                let from = usize::try_from(skip).unwrap_or(usize::MAX);
                skip = 0;
                result.extend(
                    perf.tickets
                        .iter_from(include_deleted, from)
                        .take(want)
                        .filter_map(|t| self.row(t)),
                );
            }
        } else {
            for perf in perfs {
                for t in perf.tickets.iter_from(include_deleted, 0) {
                    let Some(ticket) = self.ticket.get(t as usize) else {
                        continue;
                    };
                    if !self.updated_within(ticket, q) {
                        continue;
                    }
                    if total >= q.offset && result.len() < limit {
                        result.extend(self.row(t));
                    }
                    total += 1;
                }
            }
        }
        Ok(OwnerPage { total, result })
    }

    /// The row of one ticket, whatever its performance; `None` for an unknown ticket.
    pub fn ticket(&self, ticket_id: &str) -> Option<OwnerRow> {
        self.row(self.tickets.get(ticket_id)?)
    }

    /// Tickets of a performance (deleted ones included or not).
    pub fn ticket_count(&self, performance_id: &str, include_deleted: bool) -> u64 {
        self.performances
            .get(performance_id)
            .and_then(|p| self.performance.get(p as usize))
            .map_or(0, |p| p.tickets.len(include_deleted) as u64)
    }

    /// Whether the row's `last_updated_at` lies in the query's range. The ticket's
    /// own time decides most rows without looking the account up.
    fn updated_within(&self, ticket: &Ticket, q: &OwnerQuery) -> bool {
        let own = ticket.last_at;
        if let Some(since) = q.last_updated_since
            && own < since
        {
            let account = self
                .account_of(ticket.holder())
                .and_then(|(_, a)| a.last_at);
            if account.is_none_or(|a| a < since) {
                return false;
            }
        }
        if let Some(before) = q.last_updated_before {
            if own >= before {
                return false;
            }
            let account = self
                .account_of(ticket.holder())
                .and_then(|(_, a)| a.last_at);
            if account.is_some_and(|a| a >= before) {
                return false;
            }
        }
        true
    }

    /// The registered account of a person: by customer id, else by email (ignoring
    /// ASCII case; the first account registered with it).
    fn account_of(&self, person: &PersonState) -> Option<(&str, &Account)> {
        if self.account.is_empty() {
            return None;
        }
        let by_id = person.customer_id().and_then(|c| self.accounts.get(c));
        let by_email = || {
            self.emails
                .get(&person.email().to_ascii_lowercase())
                .and_then(|e| self.email_account.get(e as usize).copied())
        };
        let a = by_id.or_else(by_email)?;
        Some((self.accounts.name(a), self.account.get(a as usize)?))
    }

    fn row(&self, t: u32) -> Option<OwnerRow> {
        let ticket = self.ticket.get(t as usize)?;
        let holder = ticket.holder();
        let account = self.account_of(holder);
        let perf = self.performance.get(ticket.performance as usize);
        let scheduled = perf.filter(|p| p.scheduled);
        let (owner, consents) = match account {
            Some((customer_id, a)) => (
                OwnerInfo {
                    customer_id: Some(customer_id.to_string()),
                    email: a.email.to_string(),
                    first_name: Some(a.first_name.to_string()),
                    last_name: Some(a.last_name.to_string()),
                    phone: owned(&a.phone),
                    birth_date: a.birth_date,
                    id_number: owned(&a.id_number),
                    residence_country: owned(&a.residence_country),
                    registered: true,
                },
                Consents {
                    allow_promo_email: a.allow_promo_email,
                    allow_promo_third_party_email: a.allow_promo_third_party_email,
                    allow_tracking: a.allow_tracking,
                },
            ),
            None => (
                OwnerInfo {
                    customer_id: holder.customer_id().map(str::to_string),
                    email: holder.email().to_string(),
                    first_name: holder.first_name().map(str::to_string),
                    last_name: holder.last_name().map(str::to_string),
                    phone: holder.phone().map(str::to_string),
                    birth_date: None,
                    id_number: None,
                    residence_country: None,
                    registered: false,
                },
                Consents::default(),
            ),
        };
        let part = |i: usize| ticket.seat.get(i).map(str::to_string);
        let seat = SeatInfo {
            section: part(0),
            row: part(1),
            seat: part(2),
            area: part(3),
            level: part(4),
            block: part(5),
            gate: part(6),
            entrance: part(7),
        };
        let d = &ticket.dates;
        Some(OwnerRow {
            ticket_id: self.tickets.name(t).to_string(),
            performance: PerformanceInfo {
                id: self.performances.name(ticket.performance).to_string(),
                name: scheduled.map(|p| p.name.to_string()),
                code: scheduled.and_then(|p| owned(&p.code)),
                starts_at: scheduled.and_then(|p| p.starts_at),
            },
            owner,
            consents,
            status: ticket.life.status(),
            ticket_type: self.ticket_types.name(ticket.ticket_type).to_string(),
            seat,
            purchase: PurchaseInfo {
                order_id: self.orders.name(ticket.order).to_string(),
                date: ticket.purchased_at,
                price: ticket.price,
                currency: ticket.currency.to_string(),
                definition_id: self.definitions.name(ticket.definition).to_string(),
            },
            dates: DatesInfo {
                activated: d.activated,
                checked: d.checked,
                delivered: d.delivered,
                downloaded: d.downloaded,
                controlled: d.controlled,
                kept_by_owner: d.kept_by_owner,
                deletion: d.deletion,
                deletion_reason: owned(&d.deletion_reason),
            },
            previous_owner: ticket.previous_owner().map(person_info),
            initial_owner: person_info(ticket.initial_owner()),
            transfer_forward_count: ticket.forward,
            transfer_backward_count: ticket.backward,
            already_downloaded: d.downloaded.is_some(),
            last_updated_at: later(Some(ticket.last_at), account.and_then(|(_, a)| a.last_at))
                .unwrap_or(ticket.last_at),
        })
    }
}

fn owned(s: &Option<Box<str>>) -> Option<String> {
    s.as_deref().map(str::to_string)
}

fn person_info(p: &PersonState) -> PersonInfo {
    PersonInfo {
        customer_id: p.customer_id().map(str::to_string),
        email: p.email().to_string(),
        first_name: p.first_name().map(str::to_string),
        last_name: p.last_name().map(str::to_string),
        phone: p.phone().map(str::to_string),
    }
}

impl CsvRow for OwnerRow {
    fn csv_header() -> Vec<&'static str> {
        vec![
            "ticket_id",
            "performance_id",
            "performance_name",
            "performance_code",
            "performance_starts_at",
            "owner_customer_id",
            "owner_email",
            "owner_first_name",
            "owner_last_name",
            "owner_phone",
            "owner_birth_date",
            "owner_id_number",
            "owner_residence_country",
            "owner_registered",
            "allow_promo_email",
            "allow_promo_third_party_email",
            "allow_tracking",
            "status",
            "ticket_type",
            "seat_section",
            "seat_row",
            "seat_seat",
            "seat_area",
            "seat_level",
            "seat_block",
            "seat_gate",
            "seat_entrance",
            "purchase_order_id",
            "purchase_date",
            "purchase_price",
            "purchase_currency",
            "purchase_definition_id",
            "activated",
            "checked",
            "delivered",
            "downloaded",
            "controlled",
            "kept_by_owner",
            "deletion",
            "deletion_reason",
            "previous_owner_customer_id",
            "previous_owner_email",
            "initial_owner_customer_id",
            "initial_owner_email",
            "transfer_forward_count",
            "transfer_backward_count",
            "already_downloaded",
            "last_updated_at",
        ]
    }

    fn csv_row(&self) -> Vec<String> {
        let o = &self.owner;
        let s = &self.seat;
        let d = &self.dates;
        let prev = self.previous_owner.as_ref();
        vec![
            self.ticket_id.clone(),
            self.performance.id.clone(),
            csv_opt(self.performance.name.as_ref()),
            csv_opt(self.performance.code.as_ref()),
            csv_time(self.performance.starts_at.as_ref()),
            csv_opt(o.customer_id.as_ref()),
            o.email.clone(),
            csv_opt(o.first_name.as_ref()),
            csv_opt(o.last_name.as_ref()),
            csv_opt(o.phone.as_ref()),
            csv_opt(o.birth_date),
            csv_opt(o.id_number.as_ref()),
            csv_opt(o.residence_country.as_ref()),
            o.registered.to_string(),
            csv_opt(self.consents.allow_promo_email),
            csv_opt(self.consents.allow_promo_third_party_email),
            csv_opt(self.consents.allow_tracking),
            self.status.to_string(),
            self.ticket_type.clone(),
            csv_opt(s.section.as_ref()),
            csv_opt(s.row.as_ref()),
            csv_opt(s.seat.as_ref()),
            csv_opt(s.area.as_ref()),
            csv_opt(s.level.as_ref()),
            csv_opt(s.block.as_ref()),
            csv_opt(s.gate.as_ref()),
            csv_opt(s.entrance.as_ref()),
            self.purchase.order_id.clone(),
            csv_time(Some(&self.purchase.date)),
            self.purchase.price.to_string(),
            self.purchase.currency.clone(),
            self.purchase.definition_id.clone(),
            csv_time(d.activated.as_ref()),
            csv_time(d.checked.as_ref()),
            csv_time(d.delivered.as_ref()),
            csv_time(d.downloaded.as_ref()),
            csv_time(d.controlled.as_ref()),
            csv_time(d.kept_by_owner.as_ref()),
            csv_time(d.deletion.as_ref()),
            csv_opt(d.deletion_reason.as_ref()),
            csv_opt(prev.and_then(|p| p.customer_id.as_ref())),
            csv_opt(prev.map(|p| &p.email)),
            csv_opt(self.initial_owner.customer_id.as_ref()),
            self.initial_owner.email.clone(),
            self.transfer_forward_count.to_string(),
            self.transfer_backward_count.to_string(),
            self.already_downloaded.to_string(),
            csv_time(Some(&self.last_updated_at)),
        ]
    }
}
