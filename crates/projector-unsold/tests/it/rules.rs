//! Each rule of the unsold-counts model: given some records, when a seat is taken or
//! released (or a definition changes), then these counts.

use counterfoil_projection::CsvRow;
use counterfoil_projector_unsold::{
    DefinitionRow, PerformanceRow, PriceOptionRow, UnsoldCounts, UnsoldError, UnsoldQuery,
};
use serde_json::{Value, json};

use crate::support::{Given, t};

const NOW: &str = "2026-11-01T00:00:00Z";

/// P1 with D1 (capacity 10, fixed 40 EUR, on sale in October), D2 (unlimited,
/// optional prices); P2 with D3 (capacity 5).
fn given() -> Given<UnsoldCounts> {
    let mut g = Given::new();
    for (p, name) in [("P1", "Hamlet"), ("P2", "Macbeth")] {
        g.rec(
            "2026-09-01T00:00:00Z",
            "performance.scheduled",
            json!({"performance_id": p, "organizer_id": "ORG", "name": name,
                   "starts_at": "2026-12-01T19:00:00Z"}),
        );
    }
    g.rec(
        "2026-09-01T00:01:00Z",
        "definition.created",
        json!({"definition_id": "D1", "performance_id": "P1", "name": "Stalls", "group": "Adults",
               "pricing": {"method": "fixed", "price": "40.00"}, "currency": "EUR", "capacity": 10,
               "sale_starts_at": "2026-10-01T00:00:00Z", "sale_ends_at": "2026-11-01T00:00:00Z"}),
    );
    g.rec(
        "2026-09-01T00:02:00Z",
        "definition.created",
        json!({"definition_id": "D2", "performance_id": "P1", "name": "Pay what you can",
               "pricing": {"method": "optional", "options": [
                   {"name": "Low", "price": "10.00"}, {"name": "High", "price": "50.00"}]},
               "currency": "EUR"}),
    );
    g.rec(
        "2026-09-01T00:03:00Z",
        "definition.created",
        json!({"definition_id": "D3", "performance_id": "P2", "name": "Stalls",
               "pricing": {"method": "fixed", "price": "30.00"}, "currency": "EUR", "capacity": 5,
               "sale_starts_at": "2026-10-15T00:00:00Z"}),
    );
    g
}

fn buy(g: &mut Given<UnsoldCounts>, ticket: &str, def: &str) {
    g.rec(
        "2026-10-02T10:00:00Z",
        "ticket.purchased",
        json!({"ticket_id": ticket, "order_id": format!("O-{ticket}"), "definition_id": def,
               "ticket_type": "Adult", "buyer": {"email": "a@x.com"}, "face_price": "40.00",
               "price_paid": "40.00", "currency": "EUR", "channel": "web"}),
    );
}

fn ticket(g: &mut Given<UnsoldCounts>, ty: &str, ticket: &str) {
    g.rec("2026-10-03T10:00:00Z", ty, json!({"ticket_id": ticket}));
}

fn def(g: &Given<UnsoldCounts>, id: &str) -> DefinitionRow {
    g.state.definition(id, t(NOW)).expect("definition shown")
}

/// (sold, held, returned, unsold)
fn counts(g: &Given<UnsoldCounts>, id: &str) -> (u64, u64, u64, Option<i64>) {
    let d = def(g, id);
    (d.sold, d.held, d.returned, d.unsold)
}

fn perf(g: &Given<UnsoldCounts>, id: &str) -> PerformanceRow {
    g.state.performance(id, t(NOW)).expect("performance shown")
}

#[test]
fn a_purchase_is_sold_and_holds_a_seat() {
    let mut g = given();
    assert_eq!(counts(&g, "D1"), (0, 0, 0, Some(10)));
    buy(&mut g, "T1", "D1");
    buy(&mut g, "T2", "D1");
    assert_eq!(counts(&g, "D1"), (2, 2, 0, Some(8)));
    assert_eq!(g.reloaded(), g.state);
}

#[test]
fn refunds_invalidations_and_deletions_release_the_seat() {
    for release in ["ticket.refunded", "ticket.invalidated", "ticket.deleted"] {
        let mut g = given();
        buy(&mut g, "T1", "D1");
        buy(&mut g, "T2", "D1");
        // When
        let data = if release == "ticket.deleted" {
            json!({"ticket_id": "T1", "reason": "fraud"})
        } else {
            json!({"ticket_id": "T1"})
        };
        g.rec("2026-10-03T10:00:00Z", release, data);
        // Then: still sold, no longer held, returned
        assert_eq!(counts(&g, "D1"), (2, 1, 1, Some(9)), "{release}");
    }
}

#[test]
fn revalidation_retakes_the_seat() {
    let mut g = given();
    buy(&mut g, "T1", "D1");
    ticket(&mut g, "ticket.invalidated", "T1");
    assert_eq!(counts(&g, "D1"), (1, 0, 1, Some(10)));
    ticket(&mut g, "ticket.revalidated", "T1");
    assert_eq!(counts(&g, "D1"), (1, 1, 0, Some(9)));
}

#[test]
fn a_refunded_ticket_revalidated_does_not_retake_a_seat() {
    let mut g = given();
    buy(&mut g, "T1", "D1");
    ticket(&mut g, "ticket.invalidated", "T1");
    ticket(&mut g, "ticket.refunded", "T1");
    ticket(&mut g, "ticket.revalidated", "T1");
    assert_eq!(counts(&g, "D1"), (1, 0, 1, Some(10)));
}

#[test]
fn scans_keep_the_seat() {
    let mut g = given();
    buy(&mut g, "T1", "D1");
    ticket(&mut g, "ticket.redeemed", "T1");
    ticket(&mut g, "ticket.unredeemed", "T1");
    ticket(&mut g, "ticket.redeemed", "T1");
    assert_eq!(counts(&g, "D1"), (1, 1, 0, Some(9)));
}

#[test]
fn a_rescheduled_ticket_leaves_the_old_definition_and_is_sold_in_the_new_one() {
    let mut g = given();
    buy(&mut g, "T1", "D1");
    // When
    g.rec(
        "2026-10-03T10:00:00Z",
        "ticket.rescheduled",
        json!({"ticket_id": "T1", "to_definition_id": "D3"}),
    );
    // Then
    assert_eq!(counts(&g, "D1"), (1, 0, 1, Some(10)));
    assert_eq!(counts(&g, "D3"), (1, 1, 0, Some(4)));
    // A refund now releases the new definition's seat.
    ticket(&mut g, "ticket.refunded", "T1");
    assert_eq!(counts(&g, "D3"), (1, 0, 1, Some(5)));
    assert_eq!(counts(&g, "D1"), (1, 0, 1, Some(10)));
}

#[test]
fn a_ticket_rescheduled_back_is_not_sold_twice() {
    let mut g = given();
    buy(&mut g, "T1", "D1");
    for to in ["D3", "D1", "D3"] {
        g.rec(
            "2026-10-03T10:00:00Z",
            "ticket.rescheduled",
            json!({"ticket_id": "T1", "to_definition_id": to}),
        );
    }
    assert_eq!(counts(&g, "D1"), (1, 0, 1, Some(10)));
    assert_eq!(counts(&g, "D3"), (1, 1, 0, Some(4)));
    assert_eq!(g.reloaded(), g.state);
}

#[test]
fn unlimited_definitions_have_no_unsold_and_make_the_performance_sum_unknown() {
    let mut g = given();
    buy(&mut g, "T1", "D1");
    buy(&mut g, "T2", "D2");
    let d2 = def(&g, "D2");
    assert_eq!((d2.capacity, d2.unsold, d2.sold_out), (None, None, false));
    let p1 = perf(&g, "P1");
    assert_eq!(
        p1,
        PerformanceRow {
            performance_id: "P1".into(),
            name: Some("Hamlet".into()),
            starts_at: Some(t("2026-12-01T19:00:00Z")),
            definitions: 2,
            capacity: None,
            sold: 2,
            held: 2,
            returned: 0,
            unsold: None,
            on_sale: true,
        }
    );
    let p2 = perf(&g, "P2");
    assert_eq!((p2.capacity, p2.unsold), (Some(5), Some(5)));
}

#[test]
fn deleted_definitions_disappear() {
    let mut g = given();
    buy(&mut g, "T1", "D2");
    // When
    g.rec(
        "2026-10-03T00:00:00Z",
        "definition.deleted",
        json!({"definition_id": "D2"}),
    );
    // Then
    assert!(g.state.definition("D2", t(NOW)).is_none());
    let report = g.state.report(&UnsoldQuery::at(t(NOW)));
    let ids: Vec<&str> = report
        .definitions
        .iter()
        .map(|d| d.definition_id.as_str())
        .collect();
    assert_eq!(ids, vec!["D1", "D3"]);
    // The performance sums no longer include it: P1 is now limited.
    let p1 = perf(&g, "P1");
    assert_eq!(
        (p1.definitions, p1.capacity, p1.sold, p1.unsold),
        (1, Some(10), 0, Some(10))
    );
    // Updates to a deleted definition change nothing.
    g.rec(
        "2026-10-04T00:00:00Z",
        "definition.updated",
        json!({"definition_id": "D2", "capacity": 3}),
    );
    assert!(g.state.definition("D2", t(NOW)).is_none());
}

#[test]
fn a_capacity_update_to_null_makes_the_definition_unlimited() {
    let mut g = given();
    buy(&mut g, "T1", "D1");
    g.rec(
        "2026-10-03T00:00:00Z",
        "definition.updated",
        json!({"definition_id": "D1", "capacity": 12}),
    );
    assert_eq!(counts(&g, "D1"), (1, 1, 0, Some(11)));
    // When
    g.rec(
        "2026-10-04T00:00:00Z",
        "definition.updated",
        json!({"definition_id": "D1", "capacity": null}),
    );
    // Then
    let d1 = def(&g, "D1");
    assert_eq!((d1.capacity, d1.unsold), (None, None));
    // An update without capacity leaves it alone.
    g.rec(
        "2026-10-05T00:00:00Z",
        "definition.updated",
        json!({"definition_id": "D1", "name": "Front stalls"}),
    );
    let d1 = def(&g, "D1");
    assert_eq!((d1.name.as_str(), d1.capacity), ("Front stalls", None));
}

#[test]
fn updates_change_pricing_currency_group_and_sale_window() {
    let mut g = given();
    g.rec(
        "2026-10-03T00:00:00Z",
        "definition.updated",
        json!({"definition_id": "D1", "pricing": {"method": "optional", "options": [
                   {"name": "Friend", "price": "35.00"}]},
               "currency": "GBP", "group": null, "sale_ends_at": null}),
    );
    let d1 = def(&g, "D1");
    assert_eq!(d1.pricing.method, "optional");
    assert_eq!(d1.pricing.price, None);
    assert_eq!(
        d1.pricing.options,
        Some(vec![PriceOptionRow {
            name: "Friend".into(),
            price: "35.00".parse().unwrap()
        }])
    );
    assert_eq!(d1.currency.as_deref(), Some("GBP"));
    assert_eq!(d1.group, None);
    assert_eq!(d1.sale_ends_at, None);
    assert_eq!(d1.sale_starts_at, Some(t("2026-10-01T00:00:00Z")));
}

#[test]
fn sold_out_when_every_seat_is_held() {
    let mut g = given();
    for i in 0..5 {
        buy(&mut g, &format!("T{i}"), "D3");
    }
    let d3 = def(&g, "D3");
    assert_eq!((d3.unsold, d3.sold_out), (Some(0), true));
}

#[test]
fn on_sale_follows_the_sale_window() {
    let g = given();
    let on_sale = |id: &str, at: &str| g.state.definition(id, t(at)).unwrap().on_sale;
    assert!(!on_sale("D1", "2026-09-30T23:59:59Z"));
    assert!(on_sale("D1", "2026-10-01T00:00:00Z"));
    assert!(on_sale("D1", "2026-10-31T23:59:59Z"));
    assert!(!on_sale("D1", "2026-11-01T00:00:00Z"));
    // No window at all: always on sale.
    assert!(on_sale("D2", "2000-01-01T00:00:00Z"));
    // Open end.
    assert!(on_sale("D3", "2030-01-01T00:00:00Z"));
    assert!(
        !g.state
            .performance("P2", t("2026-10-01T00:00:00Z"))
            .unwrap()
            .on_sale
    );
}

#[test]
fn definitions_whose_sale_starts_in_a_window() {
    let mut g = given();
    let ids = |g: &Given<UnsoldCounts>, from: &str, to: &str| -> Vec<String> {
        g.state
            .sale_starting(t(from), t(to), t(NOW))
            .unwrap()
            .into_iter()
            .map(|d| d.definition_id)
            .collect()
    };
    assert_eq!(
        ids(&g, "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"),
        vec!["D1", "D3"]
    );
    // [from, to): a sale starting exactly at `to` is left out.
    assert_eq!(
        ids(&g, "2026-10-01T00:00:01Z", "2026-10-15T00:00:00Z"),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&g, "2026-10-15T00:00:00Z", "2026-10-15T00:00:01Z"),
        vec!["D3"]
    );
    g.rec(
        "2026-10-03T00:00:00Z",
        "definition.deleted",
        json!({"definition_id": "D3"}),
    );
    assert_eq!(
        ids(&g, "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"),
        vec!["D1"]
    );
    assert_eq!(
        g.state
            .sale_starting(t("2026-11-01T00:00:00Z"), t("2026-10-01T00:00:00Z"), t(NOW)),
        Err(UnsoldError::EmptyWindow {
            from: "2026-11-01T00:00:00Z".into(),
            to: "2026-10-01T00:00:00Z".into()
        })
    );
}

#[test]
fn the_report_narrows_to_a_performance_or_a_definition() {
    let mut g = given();
    buy(&mut g, "T1", "D3");
    let q = |p: Option<&str>, d: Option<&str>| UnsoldQuery {
        performance_id: p.map(str::to_string),
        definition_id: d.map(str::to_string),
        at: t(NOW),
    };
    let ids = |r: &counterfoil_projector_unsold::UnsoldReport| -> (Vec<String>, Vec<String>) {
        (
            r.definitions
                .iter()
                .map(|d| d.definition_id.clone())
                .collect(),
            r.performances
                .iter()
                .map(|p| p.performance_id.clone())
                .collect(),
        )
    };
    let all = g.state.report(&q(None, None));
    assert_eq!(
        ids(&all),
        (
            vec!["D1".into(), "D2".into(), "D3".into()],
            vec!["P1".into(), "P2".into()]
        )
    );
    let p2 = g.state.report(&q(Some("P2"), None));
    assert_eq!(ids(&p2), (vec!["D3".into()], vec!["P2".into()]));
    assert_eq!(p2.performances[0].held, 1);
    let d2 = g.state.report(&q(None, Some("D2")));
    assert_eq!(ids(&d2), (vec!["D2".into()], vec!["P1".into()]));
    let none = g.state.report(&q(Some("P9"), None));
    assert_eq!(ids(&none), (vec![], vec![]));
}

#[test]
fn rows_serialize_as_json_and_flatten_to_csv() {
    let mut g = given();
    buy(&mut g, "T1", "D1");
    let json: Value = serde_json::to_value(g.state.report(&UnsoldQuery::at(t(NOW)))).unwrap();
    let d1 = &json["definitions"][0];
    assert_eq!(d1["pricing"], json!({"method": "fixed", "price": "40.00"}));
    assert_eq!(d1["capacity"], 10);
    assert_eq!(d1["unsold"], 9);
    assert_eq!(d1["sale_starts_at"], "2026-10-01T00:00:00Z");
    let d2 = &json["definitions"][1];
    assert_eq!(d2["unsold"], Value::Null);
    assert_eq!(
        d2["pricing"]["options"],
        json!([{"name": "Low", "price": "10.00"}, {"name": "High", "price": "50.00"}])
    );
    assert_eq!(json["performances"][0]["capacity"], Value::Null);

    let row = def(&g, "D2").csv_row();
    assert_eq!(row.len(), DefinitionRow::csv_header().len());
    assert_eq!(
        row[4..10],
        ["optional", "", "Low=10.00;High=50.00", "EUR", "", "0"]
    );
    let prow = perf(&g, "P2").csv_row();
    assert_eq!(prow.len(), PerformanceRow::csv_header().len());
    assert_eq!(
        prow,
        [
            "P2",
            "Macbeth",
            "2026-12-01T19:00:00Z",
            "1",
            "5",
            "0",
            "0",
            "0",
            "5",
            "true"
        ]
    );
}
