//! The ticket and order views that `history` shows after each record.

use counterfoil_core::rules::TicketStatus;
use counterfoil_core::rules::view::{OrderView, TicketView};
use counterfoil_core::{Hash, Id, NewRecord, StoredRecord};
use serde_json::{Value, json};

use crate::support::*;

/// Seals records at consecutive positions, as a store would.
fn stored(records: Vec<NewRecord>) -> Vec<StoredRecord> {
    let mut scratch = Vec::new();
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let stream = r.stream();
            let at = r.occurred_at;
            StoredRecord::seal(r, stream, 0, i as u64, at, &Hash::GENESIS, &mut scratch)
                .expect("seals")
        })
        .collect()
}

fn id(s: &str) -> Id {
    Id::new(s).expect("valid id")
}

fn fold_ticket(records: Vec<NewRecord>) -> TicketView {
    let mut v = TicketView::new(id("T1"));
    let perf_of = |d: &Id| Some(id(&format!("perf-of-{d}")));
    for r in stored(records) {
        v.apply(&r, &perf_of);
    }
    v
}

fn person(customer_id: Option<&str>, email: &str) -> Value {
    match customer_id {
        Some(c) => json!({"customer_id": c, "email": email}),
        None => json!({"email": email}),
    }
}

fn buy_from(buyer: Value) -> NewRecord {
    buy_by("T1", "O1", "D1", buyer)
}

#[test]
fn a_transfer_back_to_an_earlier_owner_counts_backward() {
    let v = fold_ticket(vec![
        buy_from(person(Some("C-A"), "a@example.com")),
        transfer("T1", person(Some("C-B"), "b@example.com")),
        transfer("T1", person(Some("C-C"), "c@example.com")),
        // Back to A, matched by customer id although the email differs.
        transfer("T1", person(Some("C-A"), "new-address@example.com")),
    ]);
    assert_eq!(
        (v.transfer_forward_count, v.transfer_backward_count),
        (2, 1)
    );
    assert_eq!(
        v.holder.as_ref().map(|p| p.email.as_str()),
        Some("new-address@example.com")
    );
    assert_eq!(
        v.previous_owner.as_ref().map(|p| p.email.as_str()),
        Some("c@example.com")
    );
    assert_eq!(
        v.initial_owner.as_ref().map(|p| p.email.as_str()),
        Some("a@example.com")
    );
}

#[test]
fn people_match_by_customer_id_when_both_have_one_else_by_email_ignoring_case() {
    // Same email, different customer ids: different people, so forward.
    let v = fold_ticket(vec![
        buy_from(person(Some("C-A"), "a@example.com")),
        transfer("T1", person(Some("C-B"), "b@example.com")),
        transfer("T1", person(Some("C-OTHER"), "a@example.com")),
    ]);
    assert_eq!(
        (v.transfer_forward_count, v.transfer_backward_count),
        (2, 0)
    );
    // One side without a customer id: email, case-insensitively, so backward.
    let v = fold_ticket(vec![
        buy_from(person(Some("C-A"), "a@example.com")),
        transfer("T1", person(None, "b@example.com")),
        transfer("T1", person(None, "A@Example.COM")),
    ]);
    assert_eq!(
        (v.transfer_forward_count, v.transfer_backward_count),
        (1, 1)
    );
    // Back to the second holder (not the first) also counts backward.
    let v = fold_ticket(vec![
        buy_from(person(None, "a@example.com")),
        transfer("T1", person(None, "b@example.com")),
        transfer("T1", person(None, "c@example.com")),
        transfer("T1", person(None, "B@example.com")),
    ]);
    assert_eq!(
        (v.transfer_forward_count, v.transfer_backward_count),
        (2, 1)
    );
}

#[test]
fn the_injected_owner_is_the_initial_owner() {
    let v = fold_ticket(vec![
        buy_from(person(None, "buyer@example.com")),
        rec(
            "ticket.injected",
            SALES,
            json!({"ticket_id": "T1", "initial_owner": {"email": "fan@example.com"}}),
        ),
        transfer("T1", person(None, "friend@example.com")),
        transfer("T1", person(None, "FAN@example.com")),
    ]);
    assert!(v.injected);
    assert_eq!(
        v.initial_owner.as_ref().map(|p| p.email.as_str()),
        Some("fan@example.com")
    );
    assert_eq!(
        v.buyer.as_ref().map(|p| p.email.as_str()),
        Some("buyer@example.com")
    );
    assert_eq!(
        (v.transfer_forward_count, v.transfer_backward_count),
        (1, 1)
    );
}

#[test]
fn ticket_view_tracks_status_definition_scans_and_dates() {
    let v = fold_ticket(vec![buy("T1", "O1", "D1")]);
    assert_eq!(v.status, TicketStatus::Issued);
    assert_eq!(
        v.performance_id.as_ref().map(Id::as_str),
        Some("perf-of-D1")
    );
    assert_eq!(
        v.holder.as_ref().map(|p| p.email.as_str()),
        Some("buyer@example.com")
    );
    assert!(v.previous_owner.is_none());

    let v = fold_ticket(vec![
        buy("T1", "O1", "D1"),
        reschedule("T1", "D2"),
        on("ticket.delivered", "T1"),
        redeem_at("T1", P1_START),
        on("ticket.unredeemed", "T1"),
        redeem_at("T1", P1_END),
        share("T1"),
    ]);
    assert_eq!(v.status, TicketStatus::Redeemed);
    assert_eq!(v.redemptions, 1);
    assert_eq!(v.definition_id.as_ref().map(Id::as_str), Some("D2"));
    assert_eq!(
        v.performance_id.as_ref().map(Id::as_str),
        Some("perf-of-D2")
    );
    assert_eq!(v.reschedules, 1);
    assert_eq!(v.shares, 1);
    assert_eq!(
        v.last_redeemed_at.map(|t| t.to_rfc3339()),
        Some("2026-12-01T23:00:00+00:00".into())
    );
    assert!(v.delivered_at.is_some());
    assert_eq!(
        v.last_updated_at.map(|t| t.to_rfc3339()),
        Some("2026-12-01T23:00:00+00:00".into())
    );

    let v = fold_ticket(vec![buy("T1", "O1", "D1"), refund("T1"), delete("T1")]);
    assert_eq!(v.status, TicketStatus::Deleted);
    assert_eq!(v.deletion_reason.as_deref(), Some("duplicate"));
    let json = serde_json::to_value(&v).expect("serializes");
    assert_eq!(json["status"], "deleted");
    assert_eq!(json["transfer_forward_count"], 0);
}

#[test]
fn ticket_view_ignores_other_tickets() {
    let v = fold_ticket(vec![
        buy("T1", "O1", "D1"),
        buy("T2", "O1", "D1"),
        refund("T2"),
    ]);
    assert_eq!(v.status, TicketStatus::Issued);
}

#[test]
fn order_view_balances_payments_and_follows_its_tickets() {
    let mut v = OrderView::new(id("O1"));
    let records = stored(vec![
        buy("T1", "O1", "D1"),
        buy("T2", "O1", "D1"),
        buy("T3", "O2", "D1"),
        capture("O1", "tok-1"),
        capture("O2", "tok-9"),
        refund("T2"),
        payment_refund("O1", "tok-1"),
        reschedule("T1", "D2"),
        redeem_at("T1", P2_START),
    ]);
    let concerned: Vec<bool> = records
        .iter()
        .map(|r| {
            let c = v.concerns(r);
            v.apply(r);
            c
        })
        .collect();
    assert_eq!(
        concerned,
        [true, true, false, true, false, true, true, true, true]
    );
    let json = serde_json::to_value(&v).expect("serializes");
    assert_eq!(json["captured"]["EUR"], "50.00");
    assert_eq!(json["refunded"]["EUR"], "25.00");
    assert_eq!(json["balance"]["EUR"], "25.00");
    assert_eq!(json["payments"].as_array().map(Vec::len), Some(2));
    let tickets: Vec<(&str, TicketStatus, &str)> = v
        .tickets
        .iter()
        .map(|t| (t.ticket_id.as_str(), t.status, t.definition_id.as_str()))
        .collect();
    assert_eq!(
        tickets,
        [
            ("T1", TicketStatus::Redeemed, "D2"),
            ("T2", TicketStatus::Refunded, "D1")
        ]
    );
}
