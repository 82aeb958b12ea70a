//! Field checks that types cannot express: each malformed record is refused at parse
//! time with the path of the offending field.

use counterfoil_core::NewRecord;
use serde_json::{Value, json};

fn parse(ty: &str, data: Value) -> Result<NewRecord, counterfoil_core::FieldError> {
    NewRecord::from_json_value(json!({"type": ty, "occurred_at": "2026-11-21T10:00:00Z",
        "source": "test", "actor": "tester", "data": data}))
}

fn purchase(buyer_email: &str) -> Value {
    json!({"ticket_id": "T1", "order_id": "O1", "definition_id": "D1", "ticket_type": "Adult",
        "buyer": {"email": buyer_email}, "face_price": "25.00", "price_paid": "30.00",
        "currency": "EUR", "channel": "pos"})
}

fn definition(extra: Value) -> Value {
    let mut d = json!({"definition_id": "D1", "performance_id": "P1", "name": "Adult",
        "pricing": {"method": "fixed", "price": "25.00"}, "currency": "EUR"});
    if let (Value::Object(d), Value::Object(e)) = (&mut d, extra) {
        d.extend(e);
    }
    d
}

#[test]
fn malformed_fields_are_refused_with_their_path() {
    let person = |email: &str| json!({"email": email, "first_name": "Ana"});
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "performance.scheduled",
            json!({"performance_id": "P1", "organizer_id": "O", "name": " ", "starts_at": "2026-12-01T20:00:00Z"}),
            "data.name",
        ),
        (
            "performance.scheduled",
            json!({"performance_id": "P1", "organizer_id": "O", "name": "Show", "starts_at": "2026-12-01T20:00:00Z", "ends_at": "2026-12-01T19:59:59Z"}),
            "data.ends_at",
        ),
        (
            "definition.created",
            definition(json!({"name": ""})),
            "data.name",
        ),
        (
            "definition.created",
            definition(json!({"pricing": {"method": "optional", "options": []}})),
            "data.pricing.options",
        ),
        (
            "definition.created",
            definition(
                json!({"pricing": {"method": "optional", "options": [{"name": "low", "price": "1"}, {"name": "low", "price": "2"}]}}),
            ),
            "data.pricing.options[1].name",
        ),
        (
            "definition.created",
            definition(
                json!({"pricing": {"method": "optional", "options": [{"name": "", "price": "1"}]}}),
            ),
            "data.pricing.options[0].name",
        ),
        (
            "definition.created",
            definition(
                json!({"sale_starts_at": "2026-11-02T00:00:00Z", "sale_ends_at": "2026-11-01T00:00:00Z"}),
            ),
            "data.sale_ends_at",
        ),
        (
            "definition.created",
            definition(json!({"max_redemptions": 0})),
            "data.max_redemptions",
        ),
        (
            "definition.updated",
            json!({"definition_id": "D1", "name": ""}),
            "data.name",
        ),
        (
            "definition.updated",
            json!({"definition_id": "D1", "max_redemptions": 0}),
            "data.max_redemptions",
        ),
        (
            "definition.updated",
            json!({"definition_id": "D1", "pricing": {"method": "optional", "options": []}}),
            "data.pricing.options",
        ),
        (
            "definition.updated",
            json!({"definition_id": "D1", "sale_starts_at": "2026-11-02T00:00:00Z", "sale_ends_at": "2026-11-01T00:00:00Z"}),
            "data.sale_ends_at",
        ),
        (
            "link.created",
            json!({"link_id": "L1", "organizer_id": "O", "owner_name": "Ana", "owner_email": "ana", "scope": "client"}),
            "data.owner_email",
        ),
        (
            "link.created",
            json!({"link_id": "L1", "organizer_id": "O", "owner_name": "", "owner_email": "a@b", "scope": "client"}),
            "data.owner_name",
        ),
        (
            "link.created",
            json!({"link_id": "L1", "organizer_id": "O", "owner_name": "Ana", "owner_email": "a@b", "scope": "performance"}),
            "data.performance_id",
        ),
        (
            "link.created",
            json!({"link_id": "L1", "organizer_id": "O", "owner_name": "Ana", "owner_email": "a@b", "scope": "client", "performance_id": "P1"}),
            "data.performance_id",
        ),
        (
            "ticket.purchased",
            purchase("no-at-sign"),
            "data.buyer.email",
        ),
        (
            "ticket.purchased",
            purchase("two@at@signs"),
            "data.buyer.email",
        ),
        (
            "ticket.purchased",
            purchase("@example.com"),
            "data.buyer.email",
        ),
        ("ticket.purchased", purchase("someone@"), "data.buyer.email"),
        (
            "ticket.purchased",
            {
                let mut p = purchase("a@b");
                p["ticket_type"] = json!("");
                p
            },
            "data.ticket_type",
        ),
        (
            "ticket.transferred",
            json!({"ticket_id": "T1", "to": person("x")}),
            "data.to.email",
        ),
        (
            "ticket.injected",
            json!({"ticket_id": "T1", "initial_owner": person("x")}),
            "data.initial_owner.email",
        ),
        (
            "ticket.shared",
            json!({"ticket_id": "T1", "shared_by": "C1", "recipient_email": "nobody"}),
            "data.recipient_email",
        ),
        (
            "ticket.deleted",
            json!({"ticket_id": "T1", "reason": "  "}),
            "data.reason",
        ),
        (
            "payment.captured",
            json!({"order_id": "O1", "gateway": "g", "token": "t", "amount": "0.00", "currency": "EUR"}),
            "data.amount",
        ),
        (
            "payment.captured",
            json!({"order_id": "O1", "gateway": "", "token": "t", "amount": "1.00", "currency": "EUR"}),
            "data.gateway",
        ),
        (
            "payment.refunded",
            json!({"order_id": "O1", "gateway": "g", "token": "t2", "related_token": "t", "amount": "0", "currency": "EUR"}),
            "data.amount",
        ),
        (
            "owner.registered",
            json!({"customer_id": "C1", "email": "x", "first_name": "A", "last_name": "B"}),
            "data.email",
        ),
        (
            "owner.registered",
            json!({"customer_id": "C1", "email": "a@b", "first_name": "", "last_name": "B"}),
            "data.first_name",
        ),
        (
            "owner.registered",
            json!({"customer_id": "C1", "email": "a@b", "first_name": "A", "last_name": " "}),
            "data.last_name",
        ),
    ];
    for (ty, data, field) in cases {
        let err = parse(ty, data.clone()).expect_err(&format!("{ty} {data}"));
        assert_eq!(err.field, field, "{ty} {data}: {err}");
        assert!(!err.reason.is_empty());
    }
}

#[test]
fn what_is_not_checked_is_accepted() {
    let accepted: Vec<(&str, Value)> = vec![
        // Paying more than the face price (fees, upgrades) is the seller's business.
        ("ticket.purchased", purchase("a@b")),
        // Capacity 0 is a definition with nothing to sell.
        ("definition.created", definition(json!({"capacity": 0}))),
        (
            "definition.created",
            definition(
                json!({"max_redemptions": 5, "sale_starts_at": "2026-11-01T00:00:00Z", "sale_ends_at": "2026-11-01T00:00:00Z"}),
            ),
        ),
        (
            "definition.created",
            definition(
                json!({"pricing": {"method": "optional", "options": [{"name": "low", "price": "0"}, {"name": "high", "price": "50"}]}}),
            ),
        ),
        (
            "definition.updated",
            json!({"definition_id": "D1", "sale_ends_at": "2020-01-01T00:00:00Z"}),
        ),
        (
            "performance.scheduled",
            json!({"performance_id": "P1", "organizer_id": "O", "name": "Show", "starts_at": "2026-12-01T20:00:00Z", "ends_at": "2026-12-01T20:00:00Z"}),
        ),
        (
            "link.created",
            json!({"link_id": "L1", "organizer_id": "O", "owner_name": "Ana", "owner_email": "a@b", "scope": "performance", "performance_id": "P1"}),
        ),
        ("owner.consent_changed", json!({"customer_id": "C1"})),
        ("ticket.refunded", json!({"ticket_id": "T1", "amount": "0"})),
    ];
    for (ty, data) in accepted {
        if let Err(e) = parse(ty, data.clone()) {
            panic!("{ty} {data}: {e}");
        }
    }
}
