//! Each rule of link attribution: given links and clicks, when a purchase comes, then
//! it is attributed (or not) and the link's figures are these.

use chrono::TimeDelta;
use counterfoil_projection::{CsvRow, Projector};
use counterfoil_projector_links::{
    LinkAttribution, LinkCsvRow, LinkQuery, LinkReport, LinkRow, LinkStats, LinksError,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::Given;

/// Organizer ORG with P1 (D1) and P2 (D2); organizer OTHER with P3 (D3). Links:
/// CLIENT (client level, ORG), ONLY-P1 and ONLY-P2 (performance level), ELSEWHERE
/// (client level, OTHER).
fn given() -> Given<LinkAttribution> {
    given_with(LinkAttribution::default())
}

fn given_with(state: LinkAttribution) -> Given<LinkAttribution> {
    let mut g = Given::new();
    g.state = state;
    for (p, org, d) in [
        ("P1", "ORG", "D1"),
        ("P2", "ORG", "D2"),
        ("P3", "OTHER", "D3"),
    ] {
        g.rec(
            "2026-01-01T00:00:00Z",
            "performance.scheduled",
            json!({"performance_id": p, "organizer_id": org, "name": p, "starts_at": "2026-12-01T19:00:00Z"}),
        );
        g.rec(
            "2026-01-01T00:00:00Z",
            "definition.created",
            json!({"definition_id": d, "performance_id": p, "name": "Stalls",
                   "pricing": {"method": "fixed", "price": "40.00"}, "currency": "EUR"}),
        );
    }
    for (l, org, scope, p) in [
        ("CLIENT", "ORG", "client", None),
        ("ONLY-P1", "ORG", "performance", Some("P1")),
        ("ONLY-P2", "ORG", "performance", Some("P2")),
        ("ELSEWHERE", "OTHER", "client", None),
    ] {
        let mut data = json!({"link_id": l, "organizer_id": org, "owner_name": format!("{l} owner"),
                              "owner_email": "promo@example.com", "scope": scope});
        if let Some(p) = p {
            data["performance_id"] = json!(p);
        }
        g.rec("2026-01-01T00:00:00Z", "link.created", data);
    }
    g
}

fn click(g: &mut Given<LinkAttribution>, at: &str, link: &str, visitor: &str) {
    g.rec(
        at,
        "link.clicked",
        json!({"link_id": link, "visitor_id": visitor}),
    );
}

struct Buy<'a> {
    at: &'a str,
    ticket: &'a str,
    order: &'a str,
    def: &'a str,
    buyer: Value,
    visitor: Option<&'a str>,
    ticket_type: &'a str,
    face: &'a str,
}

fn buy(g: &mut Given<LinkAttribution>, b: Buy<'_>) {
    let mut data = json!({"ticket_id": b.ticket, "order_id": b.order, "definition_id": b.def,
                          "ticket_type": b.ticket_type, "buyer": b.buyer, "face_price": b.face,
                          "price_paid": b.face, "currency": "EUR", "channel": "web"});
    if let Some(v) = b.visitor {
        data["visitor_id"] = json!(v);
    }
    g.rec(b.at, "ticket.purchased", data);
}

/// A one-ticket order for P1 (D1) by `email`, visitor `visitor`, at `at`.
fn simple<'a>(at: &'a str, ticket: &'a str, visitor: Option<&'a str>, email: &str) -> Buy<'a> {
    Buy {
        at,
        ticket,
        order: ticket,
        def: "D1",
        buyer: json!({"email": email}),
        visitor,
        ticket_type: "Adult",
        face: "40.00",
    }
}

fn report(g: &Given<LinkAttribution>) -> LinkReport {
    g.state.report(&LinkQuery::default())
}

fn link(g: &Given<LinkAttribution>, id: &str) -> LinkRow {
    report(g)
        .links
        .into_iter()
        .find(|l| l.link_id == id)
        .expect("link listed")
}

/// Tickets attributed per link id, links with none left out.
fn tickets_by_link(g: &Given<LinkAttribution>) -> Vec<(String, u64)> {
    report(g)
        .links
        .into_iter()
        .filter(|l| l.stats.tickets > 0)
        .map(|l| (l.link_id, l.stats.tickets))
        .collect()
}

fn eur(v: &str) -> std::collections::BTreeMap<String, Decimal> {
    [("EUR".to_string(), v.parse().unwrap())]
        .into_iter()
        .collect()
}

#[test]
fn a_purchase_goes_to_the_last_click() {
    let mut g = given();
    click(&mut g, "2026-03-01T10:00:00Z", "ONLY-P1", "V1");
    click(&mut g, "2026-03-01T11:00:00Z", "CLIENT", "V1");
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T1", Some("V1"), "ann@example.com"),
    );
    assert_eq!(tickets_by_link(&g), vec![("CLIENT".into(), 1)]);
    assert_eq!(g.reloaded(), g.state);
}

#[test]
fn a_later_out_of_scope_click_leaves_the_purchase_unattributed() {
    let mut g = given();
    // An earlier client-level click would cover P1...
    click(&mut g, "2026-03-01T10:00:00Z", "CLIENT", "V1");
    // ...but the last click is on a link for P2 only.
    click(&mut g, "2026-03-01T11:00:00Z", "ONLY-P2", "V1");
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T1", Some("V1"), "ann@example.com"),
    );
    assert_eq!(tickets_by_link(&g), vec![]);
    assert_eq!(report(&g).totals.stats, LinkStats::default());
}

#[test]
fn client_links_cover_every_performance_of_their_organizer_only() {
    let mut g = given();
    click(&mut g, "2026-03-01T10:00:00Z", "CLIENT", "V1");
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T1", Some("V1"), "ann@example.com"),
    );
    buy(
        &mut g,
        Buy {
            def: "D2",
            ..simple("2026-03-01T12:00:00Z", "T2", Some("V1"), "ann@example.com")
        },
    );
    // P3 belongs to another organizer.
    buy(
        &mut g,
        Buy {
            def: "D3",
            ..simple("2026-03-01T12:00:00Z", "T3", Some("V1"), "ann@example.com")
        },
    );
    assert_eq!(tickets_by_link(&g), vec![("CLIENT".into(), 2)]);
}

#[test]
fn performance_links_cover_their_performance_only() {
    let mut g = given();
    click(&mut g, "2026-03-01T10:00:00Z", "ONLY-P1", "V1");
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T1", Some("V1"), "ann@example.com"),
    );
    buy(
        &mut g,
        Buy {
            def: "D2",
            ..simple("2026-03-01T12:00:00Z", "T2", Some("V1"), "ann@example.com")
        },
    );
    assert_eq!(tickets_by_link(&g), vec![("ONLY-P1".into(), 1)]);
}

#[test]
fn the_window_is_thirty_days_with_both_ends_included() {
    let purchase = "2026-03-31T12:00:00Z";
    let cases = [
        ("2026-03-01T12:00:00Z", true),  // exactly 30 days before
        ("2026-03-01T11:59:59Z", false), // one second too early
        ("2026-03-31T12:00:00Z", true),  // same instant
    ];
    for (clicked, attributed) in cases {
        let mut g = given();
        click(&mut g, clicked, "CLIENT", "V1");
        buy(
            &mut g,
            simple(purchase, "T1", Some("V1"), "ann@example.com"),
        );
        assert_eq!(
            link(&g, "CLIENT").stats.tickets,
            u64::from(attributed),
            "click at {clicked}"
        );
    }
}

#[test]
fn a_click_stamped_after_the_purchase_does_not_count() {
    let mut g = given();
    // Logged before the purchase but stamped a minute after it.
    click(&mut g, "2026-03-01T12:01:00Z", "CLIENT", "V1");
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T1", Some("V1"), "ann@example.com"),
    );
    assert_eq!(tickets_by_link(&g), vec![]);
}

#[test]
fn a_click_after_the_purchase_in_the_log_does_not_count() {
    let mut g = given();
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T1", Some("V1"), "ann@example.com"),
    );
    click(&mut g, "2026-03-01T11:00:00Z", "CLIENT", "V1");
    assert_eq!(tickets_by_link(&g), vec![]);
}

#[test]
fn the_window_is_configurable_and_part_of_the_settings() {
    let week = LinkAttribution::with_window(TimeDelta::days(7)).unwrap();
    assert_eq!(week.window(), TimeDelta::days(7));
    assert_ne!(week.settings(), LinkAttribution::default().settings());
    assert_eq!(week.fresh().settings(), week.settings());
    let mut g = given_with(week);
    click(&mut g, "2026-03-01T12:00:00Z", "CLIENT", "V1");
    buy(
        &mut g,
        simple("2026-03-09T12:00:00Z", "T1", Some("V1"), "ann@example.com"),
    );
    click(&mut g, "2026-03-10T12:00:00Z", "CLIENT", "V2");
    buy(
        &mut g,
        simple("2026-03-17T12:00:00Z", "T2", Some("V2"), "bob@example.com"),
    );
    assert_eq!(tickets_by_link(&g), vec![("CLIENT".into(), 1)]);
    assert_eq!(
        LinkAttribution::with_window(TimeDelta::zero()).unwrap_err(),
        LinksError::BadWindow { seconds: 0 }
    );
}

#[test]
fn purchases_without_a_visitor_or_click_are_unattributed() {
    let mut g = given();
    click(&mut g, "2026-03-01T10:00:00Z", "CLIENT", "V1");
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T1", None, "ann@example.com"),
    );
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T2", Some("V2"), "bob@example.com"),
    );
    assert_eq!(tickets_by_link(&g), vec![]);
    // Every link is still listed, with zeros.
    let ids: Vec<String> = report(&g).links.into_iter().map(|l| l.link_id).collect();
    assert_eq!(ids, vec!["CLIENT", "ELSEWHERE", "ONLY-P1", "ONLY-P2"]);
}

#[test]
fn new_customers_are_those_whose_first_purchase_ever_is_attributed() {
    let mut g = given();
    // Ann bought before, unattributed: a returning customer for the link.
    buy(
        &mut g,
        simple("2026-02-01T12:00:00Z", "T0", None, "ann@example.com"),
    );
    click(&mut g, "2026-03-01T10:00:00Z", "CLIENT", "V1");
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T1", Some("V1"), "ANN@example.com"),
    );
    // Bob's first order has two tickets, both attributed: one new customer.
    for ticket in ["T2", "T3"] {
        buy(
            &mut g,
            Buy {
                order: "O-BOB",
                ..simple(
                    "2026-03-01T12:00:00Z",
                    ticket,
                    Some("V1"),
                    "bob@example.com",
                )
            },
        );
    }
    // Bob's second order: still one customer, one new customer.
    buy(
        &mut g,
        simple("2026-03-02T12:00:00Z", "T4", Some("V1"), "bob@example.com"),
    );
    // Cat is known by customer id: same customer under another email.
    buy(
        &mut g,
        Buy {
            buyer: json!({"customer_id": "C-CAT", "email": "cat@example.com"}),
            ..simple("2026-03-02T12:00:00Z", "T5", Some("V1"), "")
        },
    );
    buy(
        &mut g,
        Buy {
            buyer: json!({"customer_id": "C-CAT", "email": "cat@work.example.com"}),
            ..simple("2026-03-03T12:00:00Z", "T6", Some("V1"), "")
        },
    );
    let s = link(&g, "CLIENT").stats;
    assert_eq!(
        (s.customers, s.new_customers, s.orders, s.tickets),
        (3, 2, 5, 6)
    );
}

#[test]
fn scans_refunds_invalidations_and_deletions() {
    let mut g = given();
    click(&mut g, "2026-03-01T10:00:00Z", "CLIENT", "V1");
    for ticket in ["T1", "T2", "T3", "T4", "T5", "T6"] {
        buy(
            &mut g,
            Buy {
                order: "O1",
                ..simple(
                    "2026-03-01T12:00:00Z",
                    ticket,
                    Some("V1"),
                    "ann@example.com",
                )
            },
        );
    }
    let rec = |g: &mut Given<LinkAttribution>, ty: &str, ticket: &str| {
        let mut data = json!({"ticket_id": ticket});
        if ty == "ticket.deleted" {
            data["reason"] = json!("void");
        }
        g.rec("2026-12-01T19:00:00Z", ty, data);
    };
    rec(&mut g, "ticket.redeemed", "T1");
    rec(&mut g, "ticket.redeemed", "T2");
    rec(&mut g, "ticket.unredeemed", "T2");
    rec(&mut g, "ticket.refunded", "T3");
    rec(&mut g, "ticket.invalidated", "T4");
    rec(&mut g, "ticket.deleted", "T5");
    rec(&mut g, "ticket.invalidated", "T6");
    rec(&mut g, "ticket.revalidated", "T6");
    let s = link(&g, "CLIENT").stats;
    assert_eq!(
        s,
        LinkStats {
            customers: 1,
            new_customers: 1,
            orders: 1,
            tickets: 3,
            scanned: 1,
            unscanned: 2,
            face_value: eur("120.00"),
        }
    );
}

#[test]
fn figures_break_down_by_ticket_type_with_distinct_totals() {
    let mut g = given();
    click(&mut g, "2026-03-01T10:00:00Z", "CLIENT", "V1");
    click(&mut g, "2026-03-01T10:00:00Z", "ONLY-P2", "V2");
    buy(
        &mut g,
        Buy {
            order: "O1",
            ..simple("2026-03-01T12:00:00Z", "T1", Some("V1"), "ann@example.com")
        },
    );
    buy(
        &mut g,
        Buy {
            order: "O1",
            ticket_type: "Child",
            face: "20.00",
            ..simple("2026-03-01T12:00:00Z", "T2", Some("V1"), "ann@example.com")
        },
    );
    // Ann again, through another link, for P2.
    buy(
        &mut g,
        Buy {
            def: "D2",
            ticket_type: "Child",
            face: "25.50",
            ..simple("2026-03-02T12:00:00Z", "T3", Some("V2"), "ann@example.com")
        },
    );
    let r = report(&g);
    let client = r.links.iter().find(|l| l.link_id == "CLIENT").unwrap();
    let types: Vec<(&str, u64, u64, u64)> = client
        .by_ticket_type
        .iter()
        .map(|t| {
            (
                t.ticket_type.as_str(),
                t.stats.tickets,
                t.stats.customers,
                t.stats.new_customers,
            )
        })
        .collect();
    assert_eq!(types, vec![("Adult", 1, 1, 1), ("Child", 1, 1, 1)]);
    assert_eq!(client.stats.face_value, eur("60.00"));
    // Totals: Ann counts once; two orders; three tickets.
    let s = &r.totals.stats;
    assert_eq!(
        (s.customers, s.new_customers, s.orders, s.tickets),
        (1, 1, 2, 3)
    );
    assert_eq!(s.face_value, eur("85.50"));
    let child = r
        .totals
        .by_ticket_type
        .iter()
        .find(|t| t.ticket_type == "Child")
        .unwrap();
    assert_eq!((child.stats.tickets, child.stats.customers), (2, 1));
    assert_eq!(child.stats.face_value, eur("45.50"));
}

#[test]
fn the_report_narrows_to_a_performance() {
    let mut g = given();
    click(&mut g, "2026-03-01T10:00:00Z", "CLIENT", "V1");
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T1", Some("V1"), "ann@example.com"),
    );
    buy(
        &mut g,
        Buy {
            def: "D2",
            ..simple("2026-03-01T12:00:00Z", "T2", Some("V1"), "bob@example.com")
        },
    );
    let p2 = g.state.report(&LinkQuery {
        performance_id: Some("P2".into()),
    });
    // Links that cover P2: CLIENT and ONLY-P2.
    let rows: Vec<(String, u64, u64)> = p2
        .links
        .iter()
        .map(|l| (l.link_id.clone(), l.stats.tickets, l.stats.customers))
        .collect();
    assert_eq!(
        rows,
        vec![("CLIENT".into(), 1, 1), ("ONLY-P2".into(), 0, 0)]
    );
    assert_eq!(p2.totals.stats.tickets, 1);
    // A later reschedule does not move the sale: it was made for P2.
    g.rec(
        "2026-03-05T12:00:00Z",
        "ticket.rescheduled",
        json!({"ticket_id": "T2", "to_definition_id": "D1"}),
    );
    let again = g.state.report(&LinkQuery {
        performance_id: Some("P2".into()),
    });
    assert_eq!(again.totals.stats.tickets, 1);
    let unknown = g.state.report(&LinkQuery {
        performance_id: Some("P9".into()),
    });
    assert!(unknown.links.is_empty());
}

#[test]
fn the_report_serializes_as_json_and_flattens_to_csv() {
    let mut g = given();
    click(&mut g, "2026-03-01T10:00:00Z", "ONLY-P1", "V1");
    buy(
        &mut g,
        simple("2026-03-01T12:00:00Z", "T1", Some("V1"), "ann@example.com"),
    );
    let r = g.state.report(&LinkQuery {
        performance_id: Some("P1".into()),
    });
    let json = serde_json::to_value(&r).unwrap();
    let only = json["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["link_id"] == "ONLY-P1")
        .unwrap();
    assert_eq!(only["scope"], "performance");
    assert_eq!(only["performance_id"], "P1");
    assert_eq!(only["tickets"], 1);
    assert_eq!(only["face_value"], json!({"EUR": "40.00"}));
    assert_eq!(only["by_ticket_type"][0]["ticket_type"], "Adult");
    assert_eq!(json["totals"]["customers"], 1);

    let rows = r.csv_rows();
    let header = LinkCsvRow::csv_header();
    let cells: Vec<Vec<String>> = rows.iter().map(CsvRow::csv_row).collect();
    assert!(cells.iter().all(|c| c.len() == header.len()));
    // CLIENT (no sales), ONLY-P1 all types, ONLY-P1 Adult, totals, totals Adult.
    let firsts: Vec<(&str, &str, &str)> = cells
        .iter()
        .map(|c| (c[0].as_str(), c[3].as_str(), c[5].as_str()))
        .collect();
    assert_eq!(
        firsts,
        vec![
            ("CLIENT", "client", ""),
            ("ONLY-P1", "performance", ""),
            ("ONLY-P1", "performance", "Adult"),
            ("", "total", ""),
            ("", "total", "Adult"),
        ]
    );
    assert_eq!(cells[1][6..], ["1", "1", "1", "1", "0", "1", "40.00 EUR"]);
}
