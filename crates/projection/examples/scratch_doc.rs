#![allow(clippy::unwrap_used)]
use counterfoil_projection::{Projector, SyntheticLog};
use counterfoil_projector_links::{LinkAttribution, LinkQuery};
use counterfoil_projector_owners::{OwnerQuery, OwnerReport};
use counterfoil_projector_shared::{Bucket, ShareFilter, SharedTickets};
use counterfoil_projector_unsold::{UnsoldCounts, UnsoldQuery};
use serde_json::json;

fn main() {
    let mut log = SyntheticLog::new();
    let lines = [
        (
            "2026-09-01T09:00:00Z",
            "performance.scheduled",
            json!({"performance_id": "P1", "organizer_id": "ORG", "name": "Hamlet", "code": "HAM-1", "starts_at": "2026-12-01T19:00:00Z"}),
        ),
        (
            "2026-09-01T09:00:00Z",
            "performance.scheduled",
            json!({"performance_id": "P2", "organizer_id": "ORG", "name": "Hamlet (matinee)", "starts_at": "2026-12-02T14:00:00Z"}),
        ),
        (
            "2026-09-01T09:01:00Z",
            "definition.created",
            json!({"definition_id": "D1", "performance_id": "P1", "name": "Stalls", "pricing": {"method": "fixed", "price": "40.00"}, "currency": "EUR", "capacity": 100, "sale_starts_at": "2026-10-01T00:00:00Z"}),
        ),
        (
            "2026-09-01T09:01:00Z",
            "definition.created",
            json!({"definition_id": "D2", "performance_id": "P2", "name": "Stalls", "pricing": {"method": "optional", "options": [{"name": "Low", "price": "20.00"}, {"name": "High", "price": "60.00"}]}, "currency": "EUR"}),
        ),
        (
            "2026-09-01T09:02:00Z",
            "link.created",
            json!({"link_id": "NEWSLETTER", "organizer_id": "ORG", "owner_name": "Mail team", "owner_email": "mail@theatre.example", "scope": "client"}),
        ),
        (
            "2026-09-01T09:02:00Z",
            "link.created",
            json!({"link_id": "MATINEE-AD", "organizer_id": "ORG", "owner_name": "Ads", "owner_email": "ads@theatre.example", "scope": "performance", "performance_id": "P2"}),
        ),
        (
            "2026-10-01T08:00:00Z",
            "link.clicked",
            json!({"link_id": "NEWSLETTER", "visitor_id": "V1"}),
        ),
        (
            "2026-10-02T10:00:00Z",
            "ticket.purchased",
            json!({"ticket_id": "T1", "order_id": "O1", "definition_id": "D1", "ticket_type": "Adult", "buyer": {"customer_id": "C-ANN", "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}, "face_price": "40.00", "price_paid": "40.00", "currency": "EUR", "channel": "web", "seat": {"section": "A", "row": "3", "seat": "12"}, "visitor_id": "V1"}),
        ),
        (
            "2026-10-02T10:00:00Z",
            "ticket.purchased",
            json!({"ticket_id": "T2", "order_id": "O1", "definition_id": "D1", "ticket_type": "Child", "buyer": {"customer_id": "C-ANN", "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}, "face_price": "20.00", "price_paid": "20.00", "currency": "EUR", "channel": "web", "seat": {"section": "A", "row": "3", "seat": "13"}, "visitor_id": "V1"}),
        ),
        (
            "2026-10-03T09:00:00Z",
            "ticket.shared",
            json!({"ticket_id": "T2", "shared_by": "C-ANN", "recipient_email": "bob@example.com"}),
        ),
        (
            "2026-10-04T09:00:00Z",
            "ticket.transferred",
            json!({"ticket_id": "T2", "to": {"email": "bob@example.com", "first_name": "Bob"}}),
        ),
        (
            "2026-10-05T09:00:00Z",
            "ticket.transferred",
            json!({"ticket_id": "T2", "to": {"email": "cat@example.com"}}),
        ),
        (
            "2026-10-06T09:00:00Z",
            "ticket.transferred",
            json!({"ticket_id": "T2", "to": {"customer_id": "C-ANN", "email": "ann@example.com"}}),
        ),
        (
            "2026-10-06T12:00:00Z",
            "owner.registered",
            json!({"customer_id": "C-ANN", "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee-Smith", "birth_date": "1990-04-01", "residence_country": "FR"}),
        ),
        (
            "2026-10-07T09:00:00Z",
            "owner.consent_changed",
            json!({"customer_id": "C-ANN", "allow_promo_email": true}),
        ),
        (
            "2026-10-08T09:00:00Z",
            "ticket.rescheduled",
            json!({"ticket_id": "T1", "to_definition_id": "D2"}),
        ),
        (
            "2026-10-09T09:00:00Z",
            "link.clicked",
            json!({"link_id": "MATINEE-AD", "visitor_id": "V1"}),
        ),
        (
            "2026-10-09T10:00:00Z",
            "ticket.purchased",
            json!({"ticket_id": "T3", "order_id": "O2", "definition_id": "D1", "ticket_type": "Adult", "buyer": {"email": "dan@example.com"}, "face_price": "40.00", "price_paid": "40.00", "currency": "EUR", "channel": "web", "visitor_id": "V1"}),
        ),
        (
            "2026-10-10T09:00:00Z",
            "ticket.refunded",
            json!({"ticket_id": "T3"}),
        ),
        (
            "2026-12-02T13:30:00Z",
            "ticket.redeemed",
            json!({"ticket_id": "T1"}),
        ),
    ];
    let mut s = SharedTickets::default();
    let mut u = UnsoldCounts::default();
    let mut o = OwnerReport::default();
    let mut l = LinkAttribution::default();
    for (at, ty, d) in lines {
        let r = log.push_json(at, ty, d).unwrap().clone();
        s.apply(&r);
        u.apply(&r);
        o.apply(&r);
        l.apply(&r);
    }
    let at = chrono::DateTime::parse_from_rfc3339("2026-10-15T00:00:00Z")
        .unwrap()
        .to_utc();
    println!(
        "SHARED {}",
        serde_json::to_string_pretty(&s.search(&ShareFilter::default())).unwrap()
    );
    println!(
        "COUNTS {}",
        serde_json::to_string(&s.counts(&ShareFilter::default(), Bucket::Month)).unwrap()
    );
    println!(
        "UNSOLD {}",
        serde_json::to_string_pretty(&u.report(&UnsoldQuery::at(at))).unwrap()
    );
    println!(
        "OWNERS P1 {}",
        serde_json::to_string_pretty(&o.query(&OwnerQuery::new(["P1"], 10)).unwrap()).unwrap()
    );
    println!(
        "OWNERS P2 {}",
        serde_json::to_string_pretty(&o.query(&OwnerQuery::new(["P2"], 10)).unwrap()).unwrap()
    );
    println!(
        "LINKS {}",
        serde_json::to_string_pretty(&l.report(&LinkQuery::default())).unwrap()
    );
}
