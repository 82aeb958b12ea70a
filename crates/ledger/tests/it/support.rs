//! Opening a real log and ledger in a temporary folder, and record builders.

use std::path::Path;
use std::sync::Arc;

use counterfoil_core::{NewRecord, Store};
use counterfoil_ledger::{Ledger, LedgerConfig, SubmitError, Submitted};
use counterfoil_log::{Log, LogConfig};
use serde_json::{Value, json};

pub const SHOW_START: &str = "2026-12-01T20:00:00Z";

pub async fn open(dir: &Path) -> (Log, Ledger) {
    open_with(LogConfig::new(dir), LedgerConfig::default()).await
}

pub async fn open_with(log_config: LogConfig, config: LedgerConfig) -> (Log, Ledger) {
    let (log, _report) = Log::open(log_config).expect("log opens");
    let store: Arc<dyn Store> = Arc::new(log.clone());
    let ledger = Ledger::open(store, config).await.expect("ledger opens");
    (log, ledger)
}

/// A second ledger on the same log: its state is folded now, so it goes stale when
/// the first ledger writes after this (another writer, as the first one sees it).
pub async fn another_ledger(log: &Log, config: LedgerConfig) -> Ledger {
    let store: Arc<dyn Store> = Arc::new(log.clone());
    Ledger::open(store, config).await.expect("ledger opens")
}

pub async fn close(log: Log, ledger: Ledger) {
    ledger.shutdown().await;
    log.close().await.expect("log closes");
}

pub fn rec(ty: &str, at: &str, data: Value) -> NewRecord {
    let line =
        json!({"type": ty, "occurred_at": at, "source": "test", "actor": "tester", "data": data});
    NewRecord::from_json_value(line.clone()).unwrap_or_else(|e| panic!("{line}: {e}"))
}

pub fn perf(id: &str) -> NewRecord {
    rec(
        "performance.scheduled",
        "2026-10-01T00:00:00Z",
        json!({"performance_id": id, "organizer_id": "ORG", "name": "Show", "starts_at": SHOW_START}),
    )
}

pub fn def(id: &str, perf: &str, capacity: Option<u32>) -> NewRecord {
    let mut data = json!({"definition_id": id, "performance_id": perf, "name": "Adult",
        "pricing": {"method": "fixed", "price": "25.00"}, "currency": "EUR"});
    if let Some(c) = capacity {
        data["capacity"] = json!(c);
    }
    rec("definition.created", "2026-10-01T00:00:00Z", data)
}

pub fn buy(ticket: &str, order: &str, def: &str) -> NewRecord {
    rec(
        "ticket.purchased",
        "2026-11-01T10:00:00Z",
        json!({"ticket_id": ticket, "order_id": order, "definition_id": def, "ticket_type": "Adult",
            "buyer": {"email": "buyer@example.com", "customer_id": "C1"}, "face_price": "25.00",
            "price_paid": "25.00", "currency": "EUR", "channel": "web"}),
    )
}

pub fn redeem(ticket: &str) -> NewRecord {
    rec("ticket.redeemed", SHOW_START, json!({"ticket_id": ticket}))
}

pub fn on(ty: &str, ticket: &str) -> NewRecord {
    rec(ty, "2026-11-02T10:00:00Z", json!({"ticket_id": ticket}))
}

pub fn capture(order: &str, token: &str, amount: &str) -> NewRecord {
    rec(
        "payment.captured",
        "2026-11-01T10:00:00Z",
        json!({"order_id": order, "gateway": "stripe", "token": token, "amount": amount, "currency": "EUR"}),
    )
}

pub fn accepted(r: &Result<Submitted, SubmitError>) -> &Submitted {
    match r {
        Ok(s) => s,
        Err(e) => panic!("refused: {e}"),
    }
}

pub fn reason(r: &Result<Submitted, SubmitError>) -> Option<&'static str> {
    r.as_ref().err().and_then(|e| e.reason()).map(|r| r.code())
}
