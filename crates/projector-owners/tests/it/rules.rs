//! Each rule of the owner report: given some records, when a ticket changes hands (or
//! a query comes), then these rows.

use counterfoil_core::rules::TicketStatus;
use counterfoil_projection::CsvRow;
use counterfoil_projector_owners::{
    Consents, DatesInfo, OwnerInfo, OwnerQuery, OwnerReport, OwnerRow, OwnersError,
    PerformanceInfo, PersonInfo, PurchaseInfo, SeatInfo,
};
use serde_json::{Value, json};

use crate::support::{Given, t};

/// P1 "Hamlet" (code HAM-1) with D1, P2 "Macbeth" with D2.
fn given() -> Given<OwnerReport> {
    let mut g = Given::new();
    g.rec(
        "2026-09-01T00:00:00Z",
        "performance.scheduled",
        json!({"performance_id": "P1", "organizer_id": "ORG", "name": "Hamlet", "code": "HAM-1",
               "starts_at": "2026-12-01T19:00:00Z"}),
    );
    g.rec(
        "2026-09-01T00:00:00Z",
        "performance.scheduled",
        json!({"performance_id": "P2", "organizer_id": "ORG", "name": "Macbeth",
               "starts_at": "2026-12-02T19:00:00Z"}),
    );
    for (d, p) in [("D1", "P1"), ("D2", "P2")] {
        g.rec(
            "2026-09-01T00:01:00Z",
            "definition.created",
            json!({"definition_id": d, "performance_id": p, "name": "Stalls",
                   "pricing": {"method": "fixed", "price": "40.00"}, "currency": "EUR"}),
        );
    }
    g
}

fn buy(g: &mut Given<OwnerReport>, at: &str, ticket: &str, def: &str, buyer: Value) {
    g.rec(
        at,
        "ticket.purchased",
        json!({"ticket_id": ticket, "order_id": format!("O-{ticket}"), "definition_id": def,
               "ticket_type": "Adult", "buyer": buyer, "face_price": "45.00",
               "price_paid": "40.00", "currency": "EUR", "channel": "web"}),
    );
}

fn ann() -> Value {
    json!({"customer_id": "C-ANN", "email": "ann@example.com", "first_name": "Ann",
           "last_name": "Lee", "phone": "+33 1 23"})
}

fn person(email: &str) -> Value {
    json!({"email": email})
}

fn transfer(g: &mut Given<OwnerReport>, at: &str, ticket: &str, to: Value) {
    g.rec(
        at,
        "ticket.transferred",
        json!({"ticket_id": ticket, "to": to}),
    );
}

fn row(g: &Given<OwnerReport>, ticket: &str) -> OwnerRow {
    g.state.ticket(ticket).expect("ticket in the report")
}

fn page(g: &Given<OwnerReport>, q: &OwnerQuery) -> (u64, Vec<String>) {
    let p = g.state.query(q).unwrap();
    (p.total, p.result.into_iter().map(|r| r.ticket_id).collect())
}

#[test]
fn a_purchased_ticket_is_one_row_with_every_field() {
    let mut g = given();
    g.rec(
        "2026-10-01T10:00:00Z",
        "ticket.purchased",
        json!({"ticket_id": "T1", "order_id": "O1", "definition_id": "D1", "ticket_type": "Adult",
               "buyer": ann(), "face_price": "45.00", "price_paid": "40.00", "currency": "EUR",
               "channel": "web", "seat": {"section": "A", "row": "3", "seat": "12", "gate": "N"}}),
    );
    let page = g.state.query(&OwnerQuery::new(["P1"], 10)).unwrap();
    let ann_info = PersonInfo {
        customer_id: Some("C-ANN".into()),
        email: "ann@example.com".into(),
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        phone: Some("+33 1 23".into()),
    };
    assert_eq!(page.total, 1);
    assert_eq!(
        page.result,
        vec![OwnerRow {
            ticket_id: "T1".into(),
            performance: PerformanceInfo {
                id: "P1".into(),
                name: Some("Hamlet".into()),
                code: Some("HAM-1".into()),
                starts_at: Some(t("2026-12-01T19:00:00Z")),
            },
            owner: OwnerInfo {
                customer_id: Some("C-ANN".into()),
                email: "ann@example.com".into(),
                first_name: Some("Ann".into()),
                last_name: Some("Lee".into()),
                phone: Some("+33 1 23".into()),
                birth_date: None,
                id_number: None,
                residence_country: None,
                registered: false,
            },
            consents: Consents::default(),
            status: TicketStatus::Issued,
            ticket_type: "Adult".into(),
            seat: SeatInfo {
                section: Some("A".into()),
                row: Some("3".into()),
                seat: Some("12".into()),
                gate: Some("N".into()),
                ..SeatInfo::default()
            },
            purchase: PurchaseInfo {
                order_id: "O1".into(),
                date: t("2026-10-01T10:00:00Z"),
                price: "40.00".parse().unwrap(),
                currency: "EUR".into(),
                definition_id: "D1".into(),
            },
            dates: DatesInfo::default(),
            previous_owner: None,
            initial_owner: ann_info,
            transfer_forward_count: 0,
            transfer_backward_count: 0,
            already_downloaded: false,
            last_updated_at: t("2026-10-01T10:00:00Z"),
        }]
    );
    assert_eq!(g.reloaded(), g.state);
}

#[test]
fn an_injected_ticket_without_account_shows_the_initial_owner_fields() {
    let mut g = given();
    buy(&mut g, "2026-10-01T10:00:00Z", "T1", "D1", ann());
    // When the ticket is injected into Bob's wallet
    g.rec(
        "2026-10-01T11:00:00Z",
        "ticket.injected",
        json!({"ticket_id": "T1", "initial_owner":
               {"email": "bob@example.com", "first_name": "Bob", "last_name": "Ray"}}),
    );
    // Then Bob is the initial owner and the owner shown, from the ticket's fields
    let r = row(&g, "T1");
    assert_eq!(r.initial_owner.email, "bob@example.com");
    assert_eq!(
        (
            r.owner.email.as_str(),
            r.owner.first_name.as_deref(),
            r.owner.last_name.as_deref()
        ),
        ("bob@example.com", Some("Bob"), Some("Ray"))
    );
    assert!(!r.owner.registered);
    assert_eq!(r.consents, Consents::default());
    assert_eq!(r.previous_owner, None);
    assert_eq!(r.last_updated_at, t("2026-10-01T11:00:00Z"));
}

#[test]
fn an_injected_ticket_whose_owner_has_an_account_shows_the_full_account() {
    let mut g = given();
    buy(&mut g, "2026-10-01T10:00:00Z", "T1", "D1", ann());
    g.rec(
        "2026-10-01T11:00:00Z",
        "ticket.injected",
        json!({"ticket_id": "T1", "initial_owner": {"customer_id": "C-BOB", "email": "bob@example.com"}}),
    );
    g.rec(
        "2026-10-02T09:00:00Z",
        "owner.registered",
        json!({"customer_id": "C-BOB", "email": "robert@example.com", "first_name": "Robert",
               "last_name": "Ray", "phone": "+1 555", "birth_date": "1990-04-01",
               "id_number": "X123", "residence_country": "FR"}),
    );
    g.rec(
        "2026-10-03T09:00:00Z",
        "owner.consent_changed",
        json!({"customer_id": "C-BOB", "allow_promo_email": true, "allow_tracking": false}),
    );
    let r = row(&g, "T1");
    assert_eq!(
        r.owner,
        OwnerInfo {
            customer_id: Some("C-BOB".into()),
            email: "robert@example.com".into(),
            first_name: Some("Robert".into()),
            last_name: Some("Ray".into()),
            phone: Some("+1 555".into()),
            birth_date: Some("1990-04-01".parse().unwrap()),
            id_number: Some("X123".into()),
            residence_country: Some("FR".into()),
            registered: true,
        }
    );
    assert_eq!(
        r.consents,
        Consents {
            allow_promo_email: Some(true),
            allow_promo_third_party_email: None,
            allow_tracking: Some(false),
        }
    );
    // The account's latest record is later than the ticket's.
    assert_eq!(r.last_updated_at, t("2026-10-03T09:00:00Z"));
    assert_eq!(g.reloaded().ticket("T1"), Some(r));
}

#[test]
fn a_registered_account_is_shown_over_the_tickets_person_fields() {
    let mut g = given();
    // The buyer carries no customer id; the account is found by email, any case.
    buy(
        &mut g,
        "2026-10-01T10:00:00Z",
        "T1",
        "D1",
        json!({"email": "Eve@Example.com", "first_name": "E."}),
    );
    g.rec(
        "2026-09-15T00:00:00Z",
        "owner.registered",
        json!({"customer_id": "C-EVE", "email": "eve@example.com", "first_name": "Eve",
               "last_name": "Adams"}),
    );
    let r = row(&g, "T1");
    assert_eq!(r.owner.customer_id.as_deref(), Some("C-EVE"));
    assert_eq!(r.owner.first_name.as_deref(), Some("Eve"));
    assert_eq!(r.owner.last_name.as_deref(), Some("Adams"));
    assert!(r.owner.registered);
    // The account's record is older: the ticket's own time wins.
    assert_eq!(r.last_updated_at, t("2026-10-01T10:00:00Z"));
    // After a transfer to someone without an account, the ticket's fields are shown.
    transfer(
        &mut g,
        "2026-10-05T10:00:00Z",
        "T1",
        json!({"email": "zoe@example.com", "first_name": "Zoe"}),
    );
    let r = row(&g, "T1");
    assert_eq!(
        (r.owner.email.as_str(), r.owner.registered),
        ("zoe@example.com", false)
    );
    assert_eq!(r.owner.first_name.as_deref(), Some("Zoe"));
}

#[test]
fn transfers_back_to_any_earlier_owner_count_backward() {
    let mut g = given();
    buy(&mut g, "2026-10-01T10:00:00Z", "T1", "D1", ann());
    // Ann -> Bob -> Cat: two forward transfers.
    transfer(
        &mut g,
        "2026-10-02T10:00:00Z",
        "T1",
        person("bob@example.com"),
    );
    transfer(
        &mut g,
        "2026-10-03T10:00:00Z",
        "T1",
        person("cat@example.com"),
    );
    let r = row(&g, "T1");
    assert_eq!(
        (r.transfer_forward_count, r.transfer_backward_count),
        (2, 0)
    );
    assert_eq!(
        r.previous_owner.as_ref().map(|p| p.email.as_str()),
        Some("bob@example.com")
    );
    // When Cat gives it back to Ann, the first owner (matched by email, any case)
    transfer(
        &mut g,
        "2026-10-04T10:00:00Z",
        "T1",
        person("ANN@example.com"),
    );
    // Then it counts backward
    let r = row(&g, "T1");
    assert_eq!(
        (r.transfer_forward_count, r.transfer_backward_count),
        (2, 1)
    );
    assert_eq!(r.owner.email, "ANN@example.com");
    assert_eq!(
        r.previous_owner.as_ref().map(|p| p.email.as_str()),
        Some("cat@example.com")
    );
    assert_eq!(r.initial_owner.email, "ann@example.com");
    // Back to the owner just before counts backward too; a newcomer forward.
    transfer(
        &mut g,
        "2026-10-05T10:00:00Z",
        "T1",
        person("cat@example.com"),
    );
    transfer(
        &mut g,
        "2026-10-06T10:00:00Z",
        "T1",
        person("dan@example.com"),
    );
    let r = row(&g, "T1");
    assert_eq!(
        (r.transfer_forward_count, r.transfer_backward_count),
        (3, 2)
    );
    assert_eq!(r.last_updated_at, t("2026-10-06T10:00:00Z"));
}

#[test]
fn people_are_matched_by_customer_id_when_both_have_one() {
    let mut g = given();
    buy(&mut g, "2026-10-01T10:00:00Z", "T1", "D1", ann());
    transfer(
        &mut g,
        "2026-10-02T10:00:00Z",
        "T1",
        person("bob@example.com"),
    );
    // Same email as Ann but another customer id: another person, forward.
    transfer(
        &mut g,
        "2026-10-03T10:00:00Z",
        "T1",
        json!({"customer_id": "C-OTHER", "email": "ann@example.com"}),
    );
    // Ann's customer id with another email: Ann, backward.
    transfer(
        &mut g,
        "2026-10-04T10:00:00Z",
        "T1",
        json!({"customer_id": "C-ANN", "email": "ann.lee@example.com"}),
    );
    let r = row(&g, "T1");
    assert_eq!(
        (r.transfer_forward_count, r.transfer_backward_count),
        (2, 1)
    );
}

#[test]
fn an_injected_owner_is_the_first_owner_for_backward_transfers() {
    let mut g = given();
    buy(&mut g, "2026-10-01T10:00:00Z", "T1", "D1", ann());
    g.rec(
        "2026-10-01T11:00:00Z",
        "ticket.injected",
        json!({"ticket_id": "T1", "initial_owner": {"email": "bob@example.com"}}),
    );
    transfer(
        &mut g,
        "2026-10-02T10:00:00Z",
        "T1",
        person("cat@example.com"),
    );
    transfer(
        &mut g,
        "2026-10-03T10:00:00Z",
        "T1",
        person("bob@example.com"),
    );
    let r = row(&g, "T1");
    assert_eq!(
        (r.transfer_forward_count, r.transfer_backward_count),
        (1, 1)
    );
    assert_eq!(r.initial_owner.email, "bob@example.com");
}

#[test]
fn status_and_dates_follow_the_tickets_records() {
    let mut g = given();
    buy(&mut g, "2026-10-01T10:00:00Z", "T1", "D1", ann());
    for (at, ty) in [
        ("2026-10-02T10:00:00Z", "ticket.delivered"),
        ("2026-10-02T11:00:00Z", "ticket.downloaded"),
        ("2026-10-02T12:00:00Z", "ticket.activated"),
        ("2026-10-02T13:00:00Z", "ticket.kept_by_owner"),
        ("2026-12-01T18:00:00Z", "ticket.redeemed"),
        ("2026-12-01T18:01:00Z", "ticket.controlled"),
        ("2026-12-01T18:30:00Z", "ticket.redeemed"),
    ] {
        g.rec(at, ty, json!({"ticket_id": "T1"}));
    }
    let r = row(&g, "T1");
    assert_eq!(r.status, TicketStatus::Redeemed);
    assert_eq!(
        r.dates,
        DatesInfo {
            activated: Some(t("2026-10-02T12:00:00Z")),
            checked: Some(t("2026-12-01T18:30:00Z")),
            delivered: Some(t("2026-10-02T10:00:00Z")),
            downloaded: Some(t("2026-10-02T11:00:00Z")),
            controlled: Some(t("2026-12-01T18:01:00Z")),
            kept_by_owner: Some(t("2026-10-02T13:00:00Z")),
            deletion: None,
            deletion_reason: None,
        }
    );
    assert!(r.already_downloaded);
    g.rec(
        "2026-12-01T19:00:00Z",
        "ticket.unredeemed",
        json!({"ticket_id": "T1"}),
    );
    assert_eq!(row(&g, "T1").status, TicketStatus::Redeemed);
    g.rec(
        "2026-12-01T19:01:00Z",
        "ticket.unredeemed",
        json!({"ticket_id": "T1"}),
    );
    assert_eq!(row(&g, "T1").status, TicketStatus::Issued);
    for (ty, status) in [
        ("ticket.invalidated", TicketStatus::Invalidated),
        ("ticket.revalidated", TicketStatus::Issued),
        ("ticket.refunded", TicketStatus::Refunded),
    ] {
        g.rec("2026-12-02T10:00:00Z", ty, json!({"ticket_id": "T1"}));
        assert_eq!(row(&g, "T1").status, status, "after {ty}");
    }
    g.rec(
        "2026-12-03T10:00:00Z",
        "ticket.deleted",
        json!({"ticket_id": "T1", "reason": "duplicate"}),
    );
    let r = row(&g, "T1");
    assert_eq!(r.status, TicketStatus::Deleted);
    assert_eq!(r.dates.deletion, Some(t("2026-12-03T10:00:00Z")));
    assert_eq!(r.dates.deletion_reason.as_deref(), Some("duplicate"));
}

#[test]
fn deleted_tickets_are_included_unless_excluded() {
    let mut g = given();
    for i in 1..=4 {
        buy(
            &mut g,
            "2026-10-01T10:00:00Z",
            &format!("T{i}"),
            "D1",
            ann(),
        );
    }
    g.rec(
        "2026-10-02T10:00:00Z",
        "ticket.deleted",
        json!({"ticket_id": "T2", "reason": "void"}),
    );
    let mut q = OwnerQuery::new(["P1"], 10);
    assert_eq!(
        page(&g, &q),
        (4, vec!["T1".into(), "T2".into(), "T3".into(), "T4".into()])
    );
    q.exclude_deleted = true;
    assert_eq!(
        page(&g, &q),
        (3, vec!["T1".into(), "T3".into(), "T4".into()])
    );
    // Offsets count only the rows asked for.
    q.offset = 1;
    q.limit = 1;
    assert_eq!(page(&g, &q), (3, vec!["T3".into()]));
    q.exclude_deleted = false;
    assert_eq!(page(&g, &q), (4, vec!["T2".into()]));
}

#[test]
fn a_rescheduled_ticket_belongs_to_its_new_performance() {
    let mut g = given();
    buy(&mut g, "2026-10-01T10:00:00Z", "T1", "D1", ann());
    buy(&mut g, "2026-10-01T10:00:00Z", "T2", "D2", ann());
    g.rec(
        "2026-10-02T10:00:00Z",
        "ticket.rescheduled",
        json!({"ticket_id": "T1", "to_definition_id": "D2"}),
    );
    assert_eq!(page(&g, &OwnerQuery::new(["P1"], 10)), (0, vec![]));
    // Purchase order is kept in the new performance.
    assert_eq!(
        page(&g, &OwnerQuery::new(["P2"], 10)),
        (2, vec!["T1".into(), "T2".into()])
    );
    let r = row(&g, "T1");
    assert_eq!(r.performance.id, "P2");
    assert_eq!(r.performance.name.as_deref(), Some("Macbeth"));
    assert_eq!(r.purchase.definition_id, "D2");
    assert_eq!(g.reloaded(), g.state);
}

#[test]
fn several_performances_page_by_performance_then_purchase_order() {
    let mut g = given();
    buy(&mut g, "2026-10-01T10:00:00Z", "B1", "D2", ann());
    buy(&mut g, "2026-10-01T10:00:00Z", "A1", "D1", ann());
    buy(&mut g, "2026-10-01T10:00:00Z", "B2", "D2", ann());
    buy(&mut g, "2026-10-01T10:00:00Z", "A2", "D1", ann());
    let mut q = OwnerQuery::new(["P2", "P1", "P2", "P9"], 3);
    assert_eq!(
        page(&g, &q),
        (4, vec!["A1".into(), "A2".into(), "B1".into()])
    );
    q.offset = 3;
    assert_eq!(page(&g, &q), (4, vec!["B2".into()]));
    q.offset = 4;
    assert_eq!(page(&g, &q), (4, vec![]));
    q.offset = 1;
    q.limit = 2;
    assert_eq!(page(&g, &q), (4, vec!["A2".into(), "B1".into()]));
}

#[test]
fn the_limit_is_required_within_1_to_1000() {
    let g = given();
    for limit in [0, 1001, u64::MAX] {
        let err = g.state.query(&OwnerQuery::new(["P1"], limit)).unwrap_err();
        assert_eq!(err, OwnersError::LimitOutOfRange { limit, max: 1000 });
        assert!(err.to_string().contains("between 1 and 1000"), "{err}");
    }
    for limit in [1, 1000] {
        assert!(g.state.query(&OwnerQuery::new(["P1"], limit)).is_ok());
    }
    assert_eq!(
        g.state.query(&OwnerQuery::new(Vec::<String>::new(), 10)),
        Err(OwnersError::NoPerformance)
    );
}

#[test]
fn last_updated_filters_use_the_ticket_and_the_owner_account() {
    let mut g = given();
    buy(&mut g, "2026-10-01T10:00:00Z", "T1", "D1", ann());
    buy(
        &mut g,
        "2026-10-05T10:00:00Z",
        "T2",
        "D1",
        person("bob@example.com"),
    );
    buy(
        &mut g,
        "2026-10-09T10:00:00Z",
        "T3",
        "D1",
        person("cat@example.com"),
    );
    // Ann registers later: T1's row is updated then.
    g.rec(
        "2026-10-07T00:00:00Z",
        "owner.registered",
        json!({"customer_id": "C-ANN", "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}),
    );
    let q = |since: Option<&str>, before: Option<&str>| {
        let mut q = OwnerQuery::new(["P1"], 10);
        q.last_updated_since = since.map(t);
        q.last_updated_before = before.map(t);
        page(&g, &q)
    };
    // since is inclusive
    assert_eq!(
        q(Some("2026-10-05T10:00:00Z"), None),
        (3, vec!["T1".into(), "T2".into(), "T3".into()])
    );
    assert_eq!(
        q(Some("2026-10-06T00:00:00Z"), None),
        (2, vec!["T1".into(), "T3".into()])
    );
    // before is exclusive
    assert_eq!(
        q(None, Some("2026-10-07T00:00:00Z")),
        (1, vec!["T2".into()])
    );
    assert_eq!(
        q(None, Some("2026-10-07T00:00:01Z")),
        (2, vec!["T1".into(), "T2".into()])
    );
    assert_eq!(
        q(Some("2026-10-06T00:00:00Z"), Some("2026-10-08T00:00:00Z")),
        (1, vec!["T1".into()])
    );
    // Paging applies after the filter.
    let mut paged = OwnerQuery::new(["P1"], 1);
    paged.offset = 1;
    paged.last_updated_since = Some(t("2026-10-06T00:00:00Z"));
    assert_eq!(page(&g, &paged), (2, vec!["T3".into()]));
}

#[test]
fn rows_serialize_as_json_and_flatten_to_csv() {
    let mut g = given();
    buy(&mut g, "2026-10-01T10:00:00Z", "T1", "D1", ann());
    transfer(
        &mut g,
        "2026-10-02T10:00:00Z",
        "T1",
        person("bob@example.com"),
    );
    let page = g.state.query(&OwnerQuery::new(["P1"], 10)).unwrap();
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(json["total"], 1);
    let r = &json["result"][0];
    assert_eq!(r["ticket_id"], "T1");
    assert_eq!(r["performance"]["code"], "HAM-1");
    assert_eq!(r["owner"]["email"], "bob@example.com");
    assert_eq!(r["previous_owner"]["email"], "ann@example.com");
    assert_eq!(r["status"], "issued");
    assert_eq!(r["purchase"]["price"], "40.00");
    assert_eq!(r["consents"]["allow_tracking"], Value::Null);
    assert_eq!(r["transfer_forward_count"], 1);
    let header = OwnerRow::csv_header();
    let cells = page.result[0].csv_row();
    assert_eq!(cells.len(), header.len());
    let cell = |name: &str| cells[header.iter().position(|h| *h == name).unwrap()].clone();
    assert_eq!(cell("owner_email"), "bob@example.com");
    assert_eq!(cell("previous_owner_email"), "ann@example.com");
    assert_eq!(cell("purchase_date"), "2026-10-01T10:00:00Z");
    assert_eq!(cell("status"), "issued");
    assert_eq!(cell("allow_promo_email"), "");
    assert_eq!(cell("last_updated_at"), "2026-10-02T10:00:00Z");
}

#[test]
fn records_about_tickets_never_purchased_are_ignored() {
    let mut g = given();
    g.rec(
        "2026-10-01T10:00:00Z",
        "ticket.redeemed",
        json!({"ticket_id": "TX"}),
    );
    transfer(
        &mut g,
        "2026-10-01T10:00:00Z",
        "TX",
        person("bob@example.com"),
    );
    assert_eq!(g.state.ticket("TX"), None);
    assert_eq!(g.state.ticket_count("P1", true), 0);
}

#[test]
fn the_state_encoded_in_pieces_has_the_bytes_of_its_derived_encoding() {
    let mut g = given();
    g.rec(
        "2026-09-01T00:02:00Z",
        "owner.registered",
        json!({"customer_id": "C-ANN", "email": "ann@example.com", "first_name": "Ann",
               "last_name": "Lee"}),
    );
    for i in 0..101 {
        let def = if i % 2 == 0 { "D1" } else { "D2" };
        let ticket = format!("T{i}");
        if i % 10 == 1 {
            // A seat, no customer id, and prices written as text (too many digits for
            // the packed form) or packed in each width.
            let price = match i {
                1 => "0.00".to_string(),
                11 => "123456789012345678901234.5".to_string(),
                _ => format!("{}.{}", 7u64.pow(i as u32 / 4), i),
            };
            g.rec(
                "2026-10-01T10:00:00.123456789Z",
                "ticket.purchased",
                json!({"ticket_id": ticket, "order_id": "O-seated", "definition_id": def,
                       "ticket_type": "Child", "buyer": person("kid@example.com"),
                       "face_price": price, "price_paid": price, "currency": "CHF",
                       "channel": "pos",
                       "seat": {"section": "A", "row": "3", "seat": format!("{i}"),
                                "entrance": "Nord \u{e9}st"}}),
            );
        } else {
            buy(&mut g, "2026-10-01T10:00:00Z", &ticket, def, ann());
        }
        if i % 3 == 0 {
            transfer(
                &mut g,
                "2026-10-02T10:00:00Z",
                &ticket,
                person("b@example.com"),
            );
        }
        if i % 5 == 0 {
            g.rec(
                "2026-10-02T11:00:00Z",
                "ticket.injected",
                json!({"ticket_id": ticket, "initial_owner":
                       {"email": "bob@example.com", "first_name": "Bob", "last_name": "Ray"}}),
            );
        }
        if i % 7 == 0 {
            for (n, ty) in [
                "ticket.delivered",
                "ticket.downloaded",
                "ticket.activated",
                "ticket.controlled",
                "ticket.kept_by_owner",
                "ticket.redeemed",
            ]
            .into_iter()
            .enumerate()
            {
                g.rec(
                    &format!("2026-10-0{}T12:00:00Z", n + 3),
                    ty,
                    json!({"ticket_id": ticket}),
                );
            }
        }
        if i % 13 == 0 {
            g.rec(
                "1969-12-31T23:59:59Z",
                "ticket.deleted",
                json!({"ticket_id": ticket, "reason": "duplicate"}),
            );
        }
    }
    for parts in [1, 2, 3] {
        let mut w = counterfoil_projection::state_file::StateWriter::default();
        w.seq_parallel::<u8>(&[], parts).unwrap();
        assert_eq!(w.len(), 1, "an empty sequence is its header");
    }
    let e = counterfoil_projection::state_file::encode_projector(&g.state, 0, None).unwrap();
    assert_eq!(e.body.concat(), rmp_serde::to_vec(&g.state).unwrap());
    assert_eq!(g.reloaded(), g.state);
}
