//! Record builders shared by the rule and view tests: each goes through the ingest
//! parser, so the field checks run on every record a test uses.

use counterfoil_core::NewRecord;
use serde_json::{Value, json};

/// A performance on 2026-12-01 from 20:00 to 23:00 UTC: scans are accepted from
/// 08:00 that day to 11:00 the next.
pub const P1_START: &str = "2026-12-01T20:00:00Z";
pub const P1_END: &str = "2026-12-01T23:00:00Z";
/// A performance without an end on 2026-12-05 at 20:00 UTC.
pub const P2_START: &str = "2026-12-05T20:00:00Z";
/// When the records of the harness happen unless a test says otherwise.
pub const SALES: &str = "2026-11-21T10:00:00Z";

pub fn rec(ty: &str, at: &str, data: Value) -> NewRecord {
    let line =
        json!({"type": ty, "occurred_at": at, "source": "test", "actor": "tester", "data": data});
    NewRecord::from_json_value(line.clone()).unwrap_or_else(|e| panic!("{line}: {e}"))
}

pub fn perf(id: &str, starts: &str, ends: Option<&str>) -> NewRecord {
    let mut data = json!({"performance_id": id, "organizer_id": "ORG", "name": format!("Show {id}"), "starts_at": starts});
    if let Some(e) = ends {
        data["ends_at"] = json!(e);
    }
    rec("performance.scheduled", SALES, data)
}

pub fn def(id: &str, perf: &str, capacity: Option<u32>) -> NewRecord {
    def_with(id, perf, capacity, json!({}))
}

pub fn def_with(id: &str, perf: &str, capacity: Option<u32>, extra: Value) -> NewRecord {
    let mut data = json!({"definition_id": id, "performance_id": perf, "name": "Adult",
        "pricing": {"method": "fixed", "price": "25.00"}, "currency": "EUR"});
    if let Some(c) = capacity {
        data["capacity"] = json!(c);
    }
    if let (Value::Object(d), Value::Object(e)) = (&mut data, extra) {
        d.extend(e);
    }
    rec("definition.created", SALES, data)
}

pub fn def_update(id: &str, fields: Value) -> NewRecord {
    let mut data = json!({"definition_id": id});
    if let (Value::Object(d), Value::Object(e)) = (&mut data, fields) {
        d.extend(e);
    }
    rec("definition.updated", SALES, data)
}

pub fn def_delete(id: &str) -> NewRecord {
    rec("definition.deleted", SALES, json!({"definition_id": id}))
}

pub fn buy(ticket: &str, order: &str, def: &str) -> NewRecord {
    buy_by(
        ticket,
        order,
        def,
        json!({"email": "buyer@example.com", "customer_id": "C-BUYER"}),
    )
}

pub fn buy_by(ticket: &str, order: &str, def: &str, buyer: Value) -> NewRecord {
    rec(
        "ticket.purchased",
        SALES,
        json!({"ticket_id": ticket, "order_id": order, "definition_id": def, "ticket_type": "Adult",
            "buyer": buyer, "face_price": "25.00", "price_paid": "25.00", "currency": "EUR", "channel": "web"}),
    )
}

/// A record whose data is only the ticket id (`ticket.unredeemed`, `ticket.delivered`, ...).
pub fn on(ty: &str, ticket: &str) -> NewRecord {
    rec(ty, SALES, json!({"ticket_id": ticket}))
}

pub fn redeem_at(ticket: &str, at: &str) -> NewRecord {
    rec(
        "ticket.redeemed",
        at,
        json!({"ticket_id": ticket, "gate": "north"}),
    )
}

pub fn redeem(ticket: &str) -> NewRecord {
    redeem_at(ticket, P1_START)
}

pub fn forced_redeem_at(ticket: &str, at: &str) -> NewRecord {
    rec(
        "ticket.redeemed",
        at,
        json!({"ticket_id": ticket, "forced": true}),
    )
}

pub fn refund(ticket: &str) -> NewRecord {
    rec(
        "ticket.refunded",
        SALES,
        json!({"ticket_id": ticket, "amount": "25.00"}),
    )
}

pub fn invalidate(ticket: &str) -> NewRecord {
    rec(
        "ticket.invalidated",
        SALES,
        json!({"ticket_id": ticket, "reason": "fraud check"}),
    )
}

pub fn delete(ticket: &str) -> NewRecord {
    rec(
        "ticket.deleted",
        SALES,
        json!({"ticket_id": ticket, "reason": "duplicate"}),
    )
}

pub fn transfer(ticket: &str, to: Value) -> NewRecord {
    rec(
        "ticket.transferred",
        SALES,
        json!({"ticket_id": ticket, "to": to}),
    )
}

pub fn friend() -> Value {
    json!({"email": "friend@example.com", "customer_id": "C-FRIEND"})
}

pub fn reschedule(ticket: &str, to: &str) -> NewRecord {
    rec(
        "ticket.rescheduled",
        SALES,
        json!({"ticket_id": ticket, "to_definition_id": to}),
    )
}

pub fn share(ticket: &str) -> NewRecord {
    rec(
        "ticket.shared",
        SALES,
        json!({"ticket_id": ticket, "shared_by": "C-BUYER", "recipient_email": "pal@example.com"}),
    )
}

pub fn inject(ticket: &str) -> NewRecord {
    rec(
        "ticket.injected",
        SALES,
        json!({"ticket_id": ticket, "initial_owner": {"email": "wallet@example.com"}}),
    )
}

pub fn link(id: &str) -> NewRecord {
    rec(
        "link.created",
        SALES,
        json!({"link_id": id, "organizer_id": "ORG", "owner_name": "Ana", "owner_email": "ana@example.com",
            "scope": "performance", "performance_id": "P1"}),
    )
}

pub fn click(id: &str) -> NewRecord {
    rec(
        "link.clicked",
        SALES,
        json!({"link_id": id, "visitor_id": "V1"}),
    )
}

pub fn capture(order: &str, token: &str) -> NewRecord {
    rec(
        "payment.captured",
        SALES,
        json!({"order_id": order, "gateway": "stripe", "token": token, "amount": "50.00", "currency": "EUR"}),
    )
}

pub fn payment_refund(order: &str, related: &str) -> NewRecord {
    rec(
        "payment.refunded",
        SALES,
        json!({"order_id": order, "gateway": "stripe", "token": format!("R-{related}"), "related_token": related,
            "amount": "25.00", "currency": "EUR"}),
    )
}

pub fn owner(id: &str) -> NewRecord {
    rec(
        "owner.registered",
        SALES,
        json!({"customer_id": id, "email": "owner@example.com", "first_name": "Olga", "last_name": "Ortiz"}),
    )
}

pub fn consent(id: &str) -> NewRecord {
    rec(
        "owner.consent_changed",
        SALES,
        json!({"customer_id": id, "allow_tracking": false}),
    )
}
