//! The table form of each report, for a person at a terminal: the key columns of
//! each row (JSON and CSV carry every field), money and counts right-aligned,
//! times in UTC, and a line saying what was shown when a table alone would not.

use std::fmt::Display;

use counterfoil_core::Timestamp;
use counterfoil_projector_links::{LinkReport, LinkStats, TicketTypeStats};
use counterfoil_projector_owners::{OwnerPage, OwnerQuery};
use counterfoil_projector_shared::{ShareCount, ShareRow};
use counterfoil_projector_unsold::{DefinitionRow, PricingRow, UnsoldReport};

use crate::output::{Table, thousands, time};

/// Owner report: one line per ticket, then which rows of how many.
pub fn owners(page: &OwnerPage, query: &OwnerQuery) -> String {
    let mut t = Table::new(&[
        "ticket",
        "performance",
        "status",
        "type",
        "owner",
        "name",
        "seat",
        "order",
        "price",
        "fwd",
        "back",
        "last updated",
    ])
    .align_right(&["price", "fwd", "back"]);
    for r in &page.result {
        let name = [r.owner.first_name.as_deref(), r.owner.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let seat = [&r.seat.section, &r.seat.row, &r.seat.seat]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("/");
        t.row(vec![
            r.ticket_id.clone(),
            r.performance.id.clone(),
            r.status.to_string(),
            r.ticket_type.clone(),
            r.owner.email.clone(),
            name,
            seat,
            r.purchase.order_id.clone(),
            money(&r.purchase.currency, r.purchase.price),
            r.transfer_forward_count.to_string(),
            r.transfer_backward_count.to_string(),
            time(&r.last_updated_at),
        ]);
    }
    let shown = page.result.len() as u64;
    let summary = if shown == 0 {
        format!(
            "no rows at offset {} (total {})",
            thousands(query.offset),
            thousands(page.total)
        )
    } else {
        format!(
            "rows {}-{} of {}",
            thousands(query.offset + 1),
            thousands(query.offset + shown),
            thousands(page.total)
        )
    };
    with_summary(&t, &summary)
}

/// Unsold counts: the definitions, then the performances' sums.
pub fn unsold(report: &UnsoldReport) -> String {
    let mut defs = definition_table(&["definition", "performance", "name"]);
    for d in &report.definitions {
        defs.row(definition_cells(
            d,
            vec![
                d.definition_id.clone(),
                d.performance_id.clone(),
                d.name.clone(),
            ],
        ));
    }
    let mut perfs = Table::new(&[
        "performance",
        "name",
        "starts at",
        "definitions",
        "capacity",
        "sold",
        "held",
        "returned",
        "unsold",
        "on sale",
    ])
    .align_right(&[
        "definitions",
        "capacity",
        "sold",
        "held",
        "returned",
        "unsold",
    ]);
    for p in &report.performances {
        perfs.row(vec![
            p.performance_id.clone(),
            p.name.clone().unwrap_or_default(),
            p.starts_at.as_ref().map(time).unwrap_or_default(),
            thousands(u64::from(p.definitions)),
            p.capacity.map_or_else(|| "unlimited".into(), thousands),
            thousands(p.sold),
            thousands(p.held),
            thousands(p.returned),
            p.unsold.map_or_else(|| "-".into(), signed),
            yes_no(p.on_sale),
        ]);
    }
    if defs.is_empty() && perfs.is_empty() {
        return "no definitions\n".into();
    }
    let mut out = if defs.is_empty() {
        "no definitions\n".to_string()
    } else {
        defs.render()
    };
    if !perfs.is_empty() {
        out.push('\n');
        out.push_str(&perfs.render());
    }
    out
}

/// Definitions whose sale starts in `[from, to)`.
pub fn on_sale(rows: &[DefinitionRow], from: Timestamp, to: Timestamp) -> String {
    if rows.is_empty() {
        return format!(
            "no definition's sale starts between {} and {}\n",
            time(&from),
            time(&to)
        );
    }
    let mut t = definition_table(&["sale starts", "definition", "performance", "name"]);
    for d in rows {
        t.row(definition_cells(
            d,
            vec![
                d.sale_starts_at.as_ref().map(time).unwrap_or_default(),
                d.definition_id.clone(),
                d.performance_id.clone(),
                d.name.clone(),
            ],
        ));
    }
    t.render()
}

fn definition_table(first: &[&str]) -> Table {
    let mut headers = first.to_vec();
    headers.extend([
        "price", "capacity", "sold", "held", "returned", "unsold", "on sale",
    ]);
    Table::new(&headers).align_right(&["price", "capacity", "sold", "held", "returned", "unsold"])
}

fn definition_cells(d: &DefinitionRow, mut cells: Vec<String>) -> Vec<String> {
    cells.extend([
        price(&d.pricing, d.currency.as_deref()),
        d.capacity
            .map_or_else(|| "unlimited".into(), |c| thousands(u64::from(c))),
        thousands(d.sold),
        thousands(d.held),
        thousands(d.returned),
        d.unsold.map_or_else(|| "-".into(), signed),
        if d.sold_out {
            format!("{}, sold out", yes_no(d.on_sale))
        } else {
            yes_no(d.on_sale)
        },
    ]);
    cells
}

/// Shares, one line each.
pub fn shares(rows: &[ShareRow], none: &str) -> String {
    if rows.is_empty() {
        return format!("{none}\n");
    }
    let mut t = Table::new(&[
        "shared at",
        "ticket",
        "order",
        "shared by",
        "recipient",
        "performance",
        "seat",
    ]);
    for s in rows {
        let seat = [&s.seat.section, &s.seat.row, &s.seat.seat]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("/");
        let performance = s
            .performance
            .as_ref()
            .map(|p| match &p.name {
                Some(name) => format!("{} {name}", p.id),
                None => p.id.clone(),
            })
            .unwrap_or_default();
        t.row(vec![
            time(&s.shared_at),
            s.ticket_id.clone(),
            s.order_id.clone().unwrap_or_default(),
            s.shared_by.clone(),
            s.recipient_email.clone(),
            performance,
            seat,
        ]);
    }
    with_summary(&t, &format!("{} share(s)", thousands(rows.len() as u64)))
}

/// Shares per day or month, and their sum.
pub fn counts(rows: &[ShareCount]) -> String {
    if rows.is_empty() {
        return "no shares\n".into();
    }
    let mut t = Table::new(&["bucket", "shares"]).align_right(&["shares"]);
    let mut total = 0u64;
    for c in rows {
        total += c.shares;
        t.row(vec![c.bucket.clone(), thousands(c.shares)]);
    }
    t.row(vec!["total".into(), thousands(total)]);
    t.render()
}

/// Links: a line per link, indented lines per ticket type, then the totals. A face
/// value in several currencies takes one line per currency, so the column stays narrow.
pub fn links(report: &LinkReport) -> String {
    let mut t = Table::new(&[
        "link",
        "scope",
        "ticket type",
        "customers",
        "new",
        "orders",
        "tickets",
        "scanned",
        "unscanned",
        "face value",
    ])
    .align_right(&[
        "customers",
        "new",
        "orders",
        "tickets",
        "scanned",
        "unscanned",
        "face value",
    ]);
    for l in &report.links {
        let scope = match &l.performance_id {
            Some(p) => format!("performance {p}"),
            None => "client".into(),
        };
        link_group(
            &mut t,
            [l.link_id.clone(), scope],
            &l.stats,
            &l.by_ticket_type,
        );
    }
    link_group(
        &mut t,
        ["total".into(), String::new()],
        &report.totals.stats,
        &report.totals.by_ticket_type,
    );
    t.render()
}

fn link_group(t: &mut Table, head: [String; 2], all: &LinkStats, types: &[TicketTypeStats]) {
    let [link, scope] = head;
    stat_rows(t, [link, scope, String::new()], all);
    for ty in types {
        stat_rows(
            t,
            [String::new(), String::new(), ty.ticket_type.clone()],
            &ty.stats,
        );
    }
}

fn stat_rows(t: &mut Table, head: [String; 3], s: &LinkStats) {
    let mut money = s.face_value.iter().map(|(c, sum)| money(c, sum));
    let mut cells = head.to_vec();
    cells.extend([
        thousands(s.customers),
        thousands(s.new_customers),
        thousands(s.orders),
        thousands(s.tickets),
        thousands(s.scanned),
        thousands(s.unscanned),
        money.next().unwrap_or_else(|| "-".into()),
    ]);
    t.row(cells);
    for more in money {
        let mut cells = vec![String::new(); 9];
        cells.push(more);
        t.row(cells);
    }
}

/// A fixed price, or the option prices separated by `/`.
fn price(pricing: &PricingRow, currency: Option<&str>) -> String {
    let amounts: Vec<String> = match (&pricing.price, &pricing.options) {
        (Some(p), _) => vec![grouped(&p.to_string())],
        (None, Some(options)) => options
            .iter()
            .map(|o| grouped(&o.price.to_string()))
            .collect(),
        (None, None) => Vec::new(),
    };
    if amounts.is_empty() {
        return "-".into();
    }
    match currency {
        Some(c) => format!("{c} {}", amounts.join("/")),
        None => amounts.join("/"),
    }
}

/// `EUR 1,234.50`: the currency, then the amount with thousands separators.
fn money(currency: &str, amount: impl Display) -> String {
    format!("{currency} {}", grouped(&amount.to_string()))
}

/// `-1234567.50` as `-1,234,567.50`.
fn grouped(decimal: &str) -> String {
    let (sign, rest) = match decimal.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", decimal),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    match (int.parse::<u64>(), frac) {
        (Ok(n), Some(f)) => format!("{sign}{}.{f}", thousands(n)),
        (Ok(n), None) => format!("{sign}{}", thousands(n)),
        _ => decimal.to_string(),
    }
}

fn signed(n: i64) -> String {
    if n < 0 {
        format!("-{}", thousands(n.unsigned_abs()))
    } else {
        thousands(n.unsigned_abs())
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn with_summary(t: &Table, summary: &str) -> String {
    let mut out = t.render();
    out.push_str(summary);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_get_thousands_separators() {
        assert_eq!(grouped("100590.00"), "100,590.00");
        assert_eq!(grouped("-1234.5"), "-1,234.5");
        assert_eq!(grouped("999"), "999");
        assert_eq!(money("SEK", "100590.00"), "SEK 100,590.00");
    }
}
