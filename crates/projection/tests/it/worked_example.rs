//! The worked example of `docs/projections.md`: its records are parsed from the page
//! (so they stay valid ingest lines) and the figures the page quotes are checked.

use counterfoil_core::NewRecord;
use counterfoil_core::rules::TicketStatus;
use counterfoil_projection::{Projector, SyntheticLog};
use counterfoil_projector_links::{LinkAttribution, LinkQuery};
use counterfoil_projector_owners::{OwnerQuery, OwnerReport};
use counterfoil_projector_shared::{Bucket, ShareFilter, SharedTickets};
use counterfoil_projector_unsold::{UnsoldCounts, UnsoldQuery};
use serde_json::{Value, json};

fn t(s: &str) -> counterfoil_core::Timestamp {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn example() -> Vec<counterfoil_core::StoredRecord> {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/projections.md"
    ))
    .unwrap();
    let block = page
        .split("```jsonl\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a jsonl block");
    let mut log = SyntheticLog::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let r = NewRecord::from_json_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        log.push(r.occurred_at, r.body).unwrap();
    }
    assert_eq!(log.len(), 20);
    log.into_records()
}

fn fold<P: Projector>() -> P {
    let mut p = P::default();
    for r in &example() {
        p.apply(r);
    }
    p
}

#[test]
fn shared_tickets() {
    let s: SharedTickets = fold();
    let rows = serde_json::to_value(s.search(&ShareFilter::default())).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let row = &rows[0];
    assert_eq!(row["shared_at"], "2026-10-03T09:00:00Z");
    assert_eq!(
        (&row["ticket_id"], &row["order_id"]),
        (&json!("T2"), &json!("O1"))
    );
    assert_eq!(
        row["performance"],
        json!({"id": "P1", "name": "Hamlet", "starts_at": "2026-12-01T19:00:00Z"})
    );
    assert_eq!(
        row["seat"],
        json!({"section": "A", "row": "3", "seat": "13"})
    );
    assert_eq!(
        serde_json::to_value(s.counts(&ShareFilter::default(), Bucket::Month)).unwrap(),
        json!([{"bucket": "2026-10", "shares": 1}])
    );
}

#[test]
fn unsold_counts() {
    let u: UnsoldCounts = fold();
    let r = serde_json::to_value(u.report(&UnsoldQuery::at(t("2026-10-15T00:00:00Z")))).unwrap();
    let figures = |d: &Value| {
        json!([
            d["definition_id"],
            d["capacity"],
            d["sold"],
            d["held"],
            d["returned"],
            d["unsold"],
            d["on_sale"]
        ])
    };
    assert_eq!(
        figures(&r["definitions"][0]),
        json!(["D1", 100, 3, 1, 2, 99, true])
    );
    assert_eq!(
        figures(&r["definitions"][1]),
        json!(["D2", null, 1, 1, 0, null, true])
    );
    assert_eq!(r["performances"][1]["performance_id"], "P2");
    assert_eq!(
        (
            &r["performances"][1]["capacity"],
            &r["performances"][1]["unsold"]
        ),
        (&Value::Null, &Value::Null)
    );
}

#[test]
fn owner_report() {
    let o: OwnerReport = fold();
    let p1 = o.query(&OwnerQuery::new(["P1"], 10)).unwrap();
    assert_eq!(p1.total, 2);
    let (t2, t3) = (&p1.result[0], &p1.result[1]);
    assert_eq!((t2.ticket_id.as_str(), t3.ticket_id.as_str()), ("T2", "T3"));
    assert_eq!(t2.owner.last_name.as_deref(), Some("Lee-Smith"));
    assert_eq!(t2.owner.birth_date, Some("1990-04-01".parse().unwrap()));
    assert_eq!(t2.owner.residence_country.as_deref(), Some("FR"));
    assert!(t2.owner.registered);
    assert_eq!(t2.consents.allow_promo_email, Some(true));
    assert_eq!(t2.initial_owner.last_name.as_deref(), Some("Lee"));
    assert_eq!(
        (t2.transfer_forward_count, t2.transfer_backward_count),
        (2, 1)
    );
    assert_eq!(t2.previous_owner.as_ref().unwrap().email, "cat@example.com");
    assert_eq!(t2.last_updated_at, t("2026-10-07T09:00:00Z"));
    assert_eq!(t3.owner.email, "dan@example.com");
    assert!(!t3.owner.registered);
    assert_eq!(t3.consents.allow_promo_email, None);
    assert_eq!(t3.status, TicketStatus::Refunded);
    let p2 = o.query(&OwnerQuery::new(["P2"], 10)).unwrap();
    assert_eq!(p2.total, 1);
    let t1 = &p2.result[0];
    assert_eq!(t1.ticket_id, "T1");
    assert_eq!(t1.status, TicketStatus::Redeemed);
    assert_eq!(t1.dates.checked, Some(t("2026-12-02T13:30:00Z")));
    assert_eq!(t1.purchase.definition_id, "D2");
}

#[test]
fn link_attribution() {
    let l: LinkAttribution = fold();
    let r = l.report(&LinkQuery::default());
    let line = |s: &counterfoil_projector_links::LinkStats| {
        (
            s.customers,
            s.new_customers,
            s.orders,
            s.tickets,
            s.scanned,
            s.unscanned,
            serde_json::to_value(&s.face_value).unwrap(),
        )
    };
    assert_eq!(r.links[0].link_id, "MATINEE-AD");
    assert_eq!(line(&r.links[0].stats), (0, 0, 0, 0, 0, 0, json!({})));
    let news = &r.links[1];
    assert_eq!(news.link_id, "NEWSLETTER");
    assert_eq!(
        line(&news.stats),
        (1, 1, 1, 2, 1, 1, json!({"EUR": "60.00"}))
    );
    assert_eq!(news.by_ticket_type[0].ticket_type, "Adult");
    assert_eq!(
        line(&news.by_ticket_type[0].stats),
        (1, 1, 1, 1, 1, 0, json!({"EUR": "40.00"}))
    );
    assert_eq!(news.by_ticket_type[1].ticket_type, "Child");
    assert_eq!(
        line(&news.by_ticket_type[1].stats),
        (1, 1, 1, 1, 0, 1, json!({"EUR": "20.00"}))
    );
    assert_eq!(
        line(&r.totals.stats),
        (1, 1, 1, 2, 1, 1, json!({"EUR": "60.00"}))
    );
}
