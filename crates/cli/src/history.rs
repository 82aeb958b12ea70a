//! `history ticket|order ID`: each record of a ticket or an order with the state after
//! it, optionally as the ledger knew it at a past time or position. Reads the store
//! directly; no ledger needed.

use std::process::ExitCode;

use anyhow::{Context, bail};
use counterfoil_ledger::history::{self, AsOf, HistoryEntry};
use serde_json::Value;

use crate::output::{Out, Table};
use crate::{Format, Global, HistoryKind, store};

pub async fn run(
    g: &Global,
    kind: HistoryKind,
    id: &str,
    as_of: Option<&str>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let as_of = as_of.map(parse_as_of).transpose()?;
    let opened = store::open(g).await?;
    let store = opened.store();
    let entries = match kind {
        HistoryKind::Ticket => history::ticket_history(&*store, id, as_of).await,
        HistoryKind::Order => history::order_history(&*store, id, as_of).await,
    }
    .with_context(|| format!("reading the history of {} {id}", kind_name(kind)));
    let closed = opened.close().await;
    let entries = entries?;
    let mut out = Out::new();
    match format {
        Format::Json => {
            for e in &entries {
                out.line(&serde_json::to_string(e)?)?;
            }
        }
        Format::Table => {
            if entries.is_empty() {
                out.line(&format!("no records for {} {id}", kind_name(kind)))?;
            } else {
                let mut t = Table::new(&["position", "occurred_at", "type", "state after"]);
                for e in &entries {
                    t.row(vec![
                        e.record.position.to_string(),
                        crate::output::time(&e.record.occurred_at),
                        e.record.record_type().to_string(),
                        summarize(kind, e),
                    ]);
                }
                for line in t.render().lines() {
                    out.line(line)?;
                }
            }
        }
    }
    out.flush()?;
    closed?;
    Ok(ExitCode::SUCCESS)
}

fn kind_name(kind: HistoryKind) -> &'static str {
    match kind {
        HistoryKind::Ticket => "ticket",
        HistoryKind::Order => "order",
    }
}

/// `pos:N` or an RFC 3339 time.
pub fn parse_as_of(text: &str) -> anyhow::Result<AsOf> {
    if let Some(n) = text.strip_prefix("pos:") {
        return n
            .parse()
            .map(AsOf::Position)
            .with_context(|| format!("--as-of {text}: the position must be a whole number"));
    }
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => Ok(AsOf::Time(t.with_timezone(&chrono::Utc))),
        Err(e) => {
            bail!("--as-of {text}: expected an RFC 3339 time (2026-11-21T19:04:05Z) or pos:N ({e})")
        }
    }
}

/// The state after a record, in a few words.
fn summarize(kind: HistoryKind, e: &HistoryEntry) -> String {
    let s = &e.state;
    let text = |v: &Value| v.as_str().map(str::to_string);
    match kind {
        HistoryKind::Ticket => {
            let mut parts = Vec::new();
            if let Some(status) = s.get("status").and_then(text) {
                parts.push(status);
            }
            if let Some(holder) = s.pointer("/holder/email").and_then(text) {
                parts.push(format!("holder {holder}"));
            }
            if let Some(n) = s
                .get("redemptions")
                .and_then(Value::as_u64)
                .filter(|&n| n > 0)
            {
                parts.push(format!("redeemed x{n}"));
            }
            let forward = s
                .get("transfer_forward_count")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let backward = s
                .get("transfer_backward_count")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if forward + backward > 0 {
                parts.push(format!("transfers {forward} forward, {backward} back"));
            }
            if let Some(d) = s.get("definition_id").and_then(text) {
                parts.push(format!("definition {d}"));
            }
            parts.join(", ")
        }
        HistoryKind::Order => {
            let mut parts = Vec::new();
            if let Some(balance) = s.get("balance").and_then(Value::as_object) {
                let money: Vec<String> = balance
                    .iter()
                    .map(|(cur, v)| {
                        format!(
                            "{} {cur}",
                            v.as_str().map_or_else(|| v.to_string(), str::to_string)
                        )
                    })
                    .collect();
                if !money.is_empty() {
                    parts.push(format!("balance {}", money.join(" + ")));
                }
            }
            if let Some(tickets) = s.get("tickets").and_then(Value::as_array) {
                parts.push(format!("{} ticket(s)", tickets.len()));
            }
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_takes_a_position_or_a_time() {
        assert_eq!(parse_as_of("pos:42").ok(), Some(AsOf::Position(42)));
        assert!(matches!(
            parse_as_of("2026-11-21T19:04:05Z"),
            Ok(AsOf::Time(_))
        ));
        assert!(parse_as_of("pos:x").is_err());
        assert!(parse_as_of("yesterday").is_err());
    }
}
