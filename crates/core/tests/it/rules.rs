//! The rules of SPEC §4 as given/when/then: given these records (each accepted by the
//! rules, then folded), when this one arrives, then it is accepted or refused with
//! this reason.

use std::collections::{BTreeSet, HashMap};

use counterfoil_core::rules::{Decision, LedgerState, TicketStatus};
use counterfoil_core::{ExpectedRevision, NewRecord, Refusal, RefusalReason as R};
use proptest::prelude::*;
use serde_json::json;

use crate::support::*;

// ---------------------------------------------------------------- the harness

/// Records already in the ledger. Each must be accepted by the rules: a scenario
/// cannot start from a state the ledger would never reach.
struct Given {
    state: LedgerState,
}

fn given(records: impl IntoIterator<Item = NewRecord>) -> Given {
    let mut state = LedgerState::new();
    for r in records {
        if let Err(e) = state.decide(&r) {
            panic!("given record {} refused: {e}", r.record_type());
        }
        state.apply(&r.body);
    }
    Given { state }
}

/// Performances P1 (with an end) and P2 (without), definitions D1 (P1, 10 seats),
/// D2 (P2, 10 seats), and ticket T1 of D1 bought in order O1.
fn stage() -> Given {
    given([
        perf("P1", P1_START, Some(P1_END)),
        perf("P2", P2_START, None),
        def("D1", "P1", Some(10)),
        def("D2", "P2", Some(10)),
        buy("T1", "O1", "D1"),
    ])
}

struct Then {
    result: Result<Decision, Refusal>,
    state: LedgerState,
    record: NewRecord,
}

impl Given {
    /// A new scenario with more accepted records (this one is left as it was).
    fn and(&self, records: impl IntoIterator<Item = NewRecord>) -> Given {
        let mut next = Given {
            state: self.state.clone(),
        };
        for r in records {
            next = next.when(r).accepted_into();
        }
        next
    }

    fn when(&self, record: NewRecord) -> Then {
        Then {
            result: self.state.decide(&record),
            state: self.state.clone(),
            record,
        }
    }
}

impl Then {
    /// Asserts acceptance and folds the record.
    fn accepted(self) -> LedgerState {
        self.accepted_into().state
    }

    fn accepted_into(mut self) -> Given {
        match self.result {
            Ok(d) => {
                assert_eq!(d.stream, self.record.stream());
                assert_eq!(
                    d.expected,
                    ExpectedRevision::from_current(self.state.stream_revision(&d.stream))
                );
                self.state.apply(&self.record.body);
                Given { state: self.state }
            }
            Err(e) => panic!("{} refused: {e}", self.record.record_type()),
        }
    }

    fn refused(self, reason: R) -> Refusal {
        match self.result {
            Ok(_) => panic!("{} accepted, expected {reason}", self.record.record_type()),
            Err(e) => {
                assert_eq!(
                    e.reason,
                    reason,
                    "{} refused with {e}",
                    self.record.record_type()
                );
                assert!(!e.message.is_empty());
                e
            }
        }
    }
}

fn held(state: &LedgerState, def: &str) -> u32 {
    state.definition(def).map_or(0, |d| d.held())
}

fn sold(state: &LedgerState, def: &str) -> u64 {
    state.definition(def).map_or(0, |d| d.sold())
}

fn status(state: &LedgerState, ticket: &str) -> TicketStatus {
    state
        .ticket(ticket)
        .map(|t| t.status())
        .expect("ticket exists")
}

// ------------------------------------------------- every refusal reason, once

/// One scenario per refusal reason. The test fails when a reason is added to the
/// catalog without a scenario here (id_conflict is the command layer's, tested there).
#[test]
fn every_refusal_reason_has_a_scenario() {
    let full = || stage().and([def("D0", "P1", Some(1))]);
    let cases: Vec<(&str, Given, NewRecord, R)> = vec![
        (
            "field check in decide",
            stage(),
            {
                let mut r = buy("T9", "O9", "D1");
                if let counterfoil_core::RecordBody::TicketPurchased(d) = &mut r.body {
                    d.buyer.email = "nobody".into();
                }
                r
            },
            R::InvalidField,
        ),
        (
            "performance twice",
            stage(),
            perf("P1", P1_START, None),
            R::PerformanceExists,
        ),
        (
            "definition of no performance",
            stage(),
            def("D9", "P9", None),
            R::UnknownPerformance,
        ),
        (
            "definition twice",
            stage(),
            def("D1", "P1", None),
            R::DefinitionExists,
        ),
        (
            "purchase of no definition",
            stage(),
            buy("T9", "O9", "D9"),
            R::UnknownDefinition,
        ),
        (
            "purchase of a deleted definition",
            stage().and([def_delete("D2")]),
            buy("T9", "O9", "D2"),
            R::DefinitionDeleted,
        ),
        (
            "capacity below held",
            stage(),
            def_update("D1", json!({"capacity": 0})),
            R::CapacityBelowHeld,
        ),
        (
            "link twice",
            stage().and([link("L1")]),
            link("L1"),
            R::LinkExists,
        ),
        ("click on no link", stage(), click("L9"), R::UnknownLink),
        (
            "ticket twice",
            stage(),
            buy("T1", "O2", "D1"),
            R::TicketExists,
        ),
        (
            "record on no ticket",
            stage(),
            on("ticket.delivered", "T9"),
            R::UnknownTicket,
        ),
        (
            "purchase beyond capacity",
            full().and([buy("T2", "O2", "D0")]),
            buy("T3", "O3", "D0"),
            R::SoldOut,
        ),
        (
            "scan of a refunded ticket",
            stage().and([refund("T1")]),
            redeem("T1"),
            R::TicketRefunded,
        ),
        (
            "scan of an invalidated ticket",
            stage().and([invalidate("T1")]),
            redeem("T1"),
            R::TicketInvalidated,
        ),
        (
            "scan of a deleted ticket",
            stage().and([delete("T1")]),
            redeem("T1"),
            R::TicketDeleted,
        ),
        (
            "transfer of a redeemed ticket",
            stage().and([redeem("T1")]),
            transfer("T1", friend()),
            R::TicketRedeemed,
        ),
        (
            "second scan",
            stage().and([redeem("T1")]),
            redeem("T1"),
            R::MaxRedemptions,
        ),
        (
            "scan a day early",
            stage(),
            redeem_at("T1", "2026-11-30T20:00:00Z"),
            R::OutsideRedemptionWindow,
        ),
        (
            "unredeem of an unscanned ticket",
            stage(),
            on("ticket.unredeemed", "T1"),
            R::NotRedeemed,
        ),
        (
            "revalidate a valid ticket",
            stage(),
            on("ticket.revalidated", "T1"),
            R::NotInvalidated,
        ),
        (
            "inject twice",
            stage().and([inject("T1")]),
            inject("T1"),
            R::AlreadyInjected,
        ),
        (
            "reschedule into its own definition",
            stage(),
            reschedule("T1", "D1"),
            R::SameDefinition,
        ),
        (
            "refund of no capture",
            stage().and([capture("O1", "tok-1")]),
            payment_refund("O1", "tok-2"),
            R::UnknownCapture,
        ),
        (
            "owner twice",
            stage().and([owner("C1")]),
            owner("C1"),
            R::OwnerExists,
        ),
        (
            "consent of no owner",
            stage(),
            consent("C9"),
            R::UnknownOwner,
        ),
    ];
    let mut covered = BTreeSet::new();
    for (name, g, when, reason) in cases {
        let refusal = g.when(when).refused(reason);
        assert!(!refusal.message.is_empty(), "{name}");
        covered.insert(reason);
    }
    let missing: Vec<_> = R::ALL
        .iter()
        .filter(|r| !covered.contains(r) && **r != R::IdConflict)
        .map(|r| r.code())
        .collect();
    assert!(
        missing.is_empty(),
        "reasons without a scenario: {missing:?}"
    );
}

// ----------------------------------------------------------- performances

#[test]
fn performance_is_scheduled_once() {
    let g = given([]);
    let s = g.when(perf("P1", P1_START, Some(P1_END))).accepted();
    assert_eq!(s.stream_revision("performance-P1"), Some(0));
    assert!(s.performance("P1").is_some());
    given([perf("P1", P1_START, None)])
        .when(perf("P1", P2_START, None))
        .refused(R::PerformanceExists);
}

// ------------------------------------------------------------ definitions

#[test]
fn definition_needs_its_performance() {
    given([])
        .when(def("D1", "P1", None))
        .refused(R::UnknownPerformance);
    let s = given([perf("P1", P1_START, None)])
        .when(def("D1", "P1", None))
        .accepted();
    let d = s.definition("D1").expect("created");
    assert_eq!(d.capacity(), None);
    assert_eq!(d.max_redemptions(), 1);
    assert_eq!(d.performance_id().map(|p| p.as_str()), Some("P1"));
}

#[test]
fn definition_is_created_once_even_after_deletion() {
    stage()
        .when(def("D1", "P1", None))
        .refused(R::DefinitionExists);
    stage()
        .and([def_delete("D1")])
        .when(def("D1", "P1", None))
        .refused(R::DefinitionExists);
}

#[test]
fn definition_update_needs_a_live_definition() {
    stage()
        .when(def_update("D9", json!({"name": "x"})))
        .refused(R::UnknownDefinition);
    stage()
        .and([def_delete("D2")])
        .when(def_update("D2", json!({"name": "x"})))
        .refused(R::DefinitionDeleted);
    let s = stage()
        .when(def_update("D2", json!({"capacity": null})))
        .accepted();
    assert_eq!(s.definition("D2").and_then(|d| d.capacity()), None);
    assert_eq!(s.stream_revision("definition-D2"), Some(1));
}

#[test]
fn definition_capacity_may_not_drop_below_held_seats() {
    let g = stage().and([buy("T2", "O2", "D1"), buy("T3", "O3", "D1")]);
    assert_eq!(held(&g.state, "D1"), 3);
    g.when(def_update("D1", json!({"capacity": 2})))
        .refused(R::CapacityBelowHeld);
    let s = g.when(def_update("D1", json!({"capacity": 3}))).accepted();
    assert!(s.definition("D1").is_some_and(|d| d.is_sold_out()));
    // A refunded ticket no longer holds a seat, so the capacity may shrink to 2.
    g.and([refund("T3")])
        .when(def_update("D1", json!({"capacity": 2})))
        .accepted();
}

#[test]
fn definition_update_keeps_the_sale_window_in_order() {
    let g = given([
        perf("P1", P1_START, None),
        def_with(
            "D1",
            "P1",
            None,
            json!({"sale_starts_at": "2026-11-01T00:00:00Z", "sale_ends_at": "2026-12-01T00:00:00Z"}),
        ),
    ]);
    let e = g
        .when(def_update(
            "D1",
            json!({"sale_ends_at": "2026-10-01T00:00:00Z"}),
        ))
        .refused(R::InvalidField);
    assert_eq!(e.field.as_deref(), Some("data.sale_ends_at"));
    g.when(def_update(
        "D1",
        json!({"sale_starts_at": null, "sale_ends_at": "2026-10-01T00:00:00Z"}),
    ))
    .accepted();
}

#[test]
fn definition_is_deleted_once() {
    stage().when(def_delete("D9")).refused(R::UnknownDefinition);
    let s = stage().when(def_delete("D1")).accepted();
    assert!(s.definition("D1").is_some_and(|d| d.is_deleted()));
    stage()
        .and([def_delete("D1")])
        .when(def_delete("D1"))
        .refused(R::DefinitionDeleted);
}

#[test]
fn max_redemptions_update_applies_to_later_scans() {
    let g = stage().and([redeem("T1")]);
    g.when(redeem("T1")).refused(R::MaxRedemptions);
    g.and([def_update("D1", json!({"max_redemptions": 2}))])
        .when(redeem("T1"))
        .accepted();
}

// ------------------------------------------------------------------ links

#[test]
fn links_are_created_once_and_clicked_when_they_exist() {
    stage().when(click("L1")).refused(R::UnknownLink);
    let g = stage().and([link("L1")]);
    g.when(link("L1")).refused(R::LinkExists);
    let s = g.when(click("L1")).accepted();
    assert_eq!(s.stream_revision("link-L1"), Some(1));
    assert!(s.link_exists("L1"));
}

// -------------------------------------------------------------- purchases

#[test]
fn purchase_needs_a_new_ticket_and_a_live_definition() {
    let s = stage().when(buy("T2", "O1", "D1")).accepted();
    assert_eq!(status(&s, "T2"), TicketStatus::Issued);
    assert_eq!(
        s.tickets_of_order("O1")
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>(),
        ["T1", "T2"]
    );
    assert_eq!(s.ticket_definition("T2").map(|d| d.as_str()), Some("D1"));
    stage().when(buy("T1", "O1", "D1")).refused(R::TicketExists);
    stage()
        .when(buy("T2", "O1", "D9"))
        .refused(R::UnknownDefinition);
    stage()
        .and([def_delete("D1")])
        .when(buy("T2", "O1", "D1"))
        .refused(R::DefinitionDeleted);
    stage()
        .and([delete("T1")])
        .when(buy("T1", "O1", "D1"))
        .refused(R::TicketDeleted);
}

#[test]
fn purchase_decision_expects_a_new_stream() {
    let d = stage()
        .state
        .decide(&buy("T2", "O1", "D1"))
        .expect("accepted");
    assert_eq!(d.stream, "ticket-T2");
    assert_eq!(d.expected, ExpectedRevision::NoStream);
    let d = stage().state.decide(&redeem("T1")).expect("accepted");
    assert_eq!(d.stream, "ticket-T1");
    assert_eq!(d.expected, ExpectedRevision::Exact(0));
}

#[test]
fn purchase_is_refused_once_capacity_is_held() {
    let mut g = given([perf("P1", P1_START, None), def("D1", "P1", Some(2))]);
    g = g.and([buy("T1", "O1", "D1"), buy("T2", "O2", "D1")]);
    g.when(buy("T3", "O3", "D1")).refused(R::SoldOut);
    assert_eq!(held(&g.state, "D1"), 2);
    assert_eq!(sold(&g.state, "D1"), 2);
}

#[test]
fn capacity_zero_sells_nothing_and_unlimited_sells_anything() {
    let g = given([
        perf("P1", P1_START, None),
        def("D0", "P1", Some(0)),
        def("DU", "P1", None),
    ]);
    g.when(buy("T1", "O1", "D0")).refused(R::SoldOut);
    let mut g = g;
    for i in 0..100 {
        g = g.and([buy(&format!("T{i}"), "O1", "DU")]);
    }
    assert_eq!(held(&g.state, "DU"), 100);
}

#[test]
fn refund_and_invalidation_release_the_seat_and_revalidation_retakes_it() {
    let g = given([
        perf("P1", P1_START, None),
        def("D1", "P1", Some(1)),
        buy("T1", "O1", "D1"),
    ]);
    g.when(buy("T2", "O2", "D1")).refused(R::SoldOut);

    let refunded = g.and([refund("T1")]);
    assert_eq!(held(&refunded.state, "D1"), 0);
    assert_eq!(sold(&refunded.state, "D1"), 1);
    refunded.when(buy("T2", "O2", "D1")).accepted();

    let invalidated = g.and([invalidate("T1")]);
    assert_eq!(held(&invalidated.state, "D1"), 0);
    assert_eq!(status(&invalidated.state, "T1"), TicketStatus::Invalidated);
    // Someone else takes the seat; revalidation then re-takes one without a capacity
    // check (SPEC has no rule there), so held may exceed capacity.
    let taken = invalidated.and([buy("T2", "O2", "D1")]);
    let revalidated = taken.and([on("ticket.revalidated", "T1")]);
    assert_eq!(status(&revalidated.state, "T1"), TicketStatus::Issued);
    assert_eq!(held(&revalidated.state, "D1"), 2);
    revalidated.when(buy("T3", "O3", "D1")).refused(R::SoldOut);
}

#[test]
fn deletion_releases_the_seat() {
    let g = given([
        perf("P1", P1_START, None),
        def("D1", "P1", Some(1)),
        buy("T1", "O1", "D1"),
    ]);
    let deleted = g.and([delete("T1")]);
    assert_eq!(held(&deleted.state, "D1"), 0);
    assert_eq!(status(&deleted.state, "T1"), TicketStatus::Deleted);
    deleted.when(buy("T2", "O2", "D1")).accepted();
}

// ------------------------------------------------------------ redemptions

#[test]
fn redemption_window_edges() {
    // 12 h before the start is in; one second earlier is out.
    stage()
        .when(redeem_at("T1", "2026-12-01T08:00:00Z"))
        .accepted();
    stage()
        .when(redeem_at("T1", "2026-12-01T07:59:59Z"))
        .refused(R::OutsideRedemptionWindow);
    // 12 h after the end is in; one second later is out.
    stage()
        .when(redeem_at("T1", "2026-12-02T11:00:00Z"))
        .accepted();
    stage()
        .when(redeem_at("T1", "2026-12-02T11:00:01Z"))
        .refused(R::OutsideRedemptionWindow);
    // A forced scan skips the window.
    stage()
        .when(forced_redeem_at("T1", "2026-12-01T07:59:59Z"))
        .accepted();
    stage()
        .when(forced_redeem_at("T1", "2027-06-01T00:00:00Z"))
        .accepted();
}

#[test]
fn redemption_window_without_an_end_is_measured_from_the_start() {
    let g = stage().and([buy("T2", "O2", "D2")]);
    g.when(redeem_at("T2", "2026-12-06T08:00:00Z")).accepted();
    g.when(redeem_at("T2", "2026-12-06T08:00:01Z"))
        .refused(R::OutsideRedemptionWindow);
    g.when(redeem_at("T2", "2026-12-05T07:59:59Z"))
        .refused(R::OutsideRedemptionWindow);
}

#[test]
fn redemption_window_follows_a_reschedule() {
    let g = stage().and([reschedule("T1", "D2")]);
    g.when(redeem_at("T1", P1_START))
        .refused(R::OutsideRedemptionWindow);
    g.when(redeem_at("T1", P2_START)).accepted();
}

#[test]
fn forced_scans_still_count_against_max_redemptions() {
    let g = stage().and([redeem("T1")]);
    g.when(forced_redeem_at("T1", P1_START))
        .refused(R::MaxRedemptions);
}

#[test]
fn max_redemptions_above_one() {
    let g = given([
        perf("P1", P1_START, Some(P1_END)),
        def_with("D3", "P1", None, json!({"max_redemptions": 3})),
        buy("T1", "O1", "D3"),
    ]);
    let g = g.and([redeem("T1"), redeem("T1"), redeem("T1")]);
    assert_eq!(g.state.ticket("T1").map(|t| t.redemptions()), Some(3));
    assert_eq!(status(&g.state, "T1"), TicketStatus::Redeemed);
    g.when(redeem("T1")).refused(R::MaxRedemptions);
    // An unredemption gives one back.
    g.and([on("ticket.unredeemed", "T1")])
        .when(redeem("T1"))
        .accepted();
}

#[test]
fn redemption_needs_a_valid_ticket() {
    stage()
        .and([refund("T1")])
        .when(redeem("T1"))
        .refused(R::TicketRefunded);
    stage()
        .and([invalidate("T1")])
        .when(redeem("T1"))
        .refused(R::TicketInvalidated);
    stage()
        .and([delete("T1")])
        .when(redeem("T1"))
        .refused(R::TicketDeleted);
    stage().when(redeem("T9")).refused(R::UnknownTicket);
}

#[test]
fn unredeem_to_zero_then_transfer_is_allowed() {
    let g = stage().and([redeem("T1")]);
    assert_eq!(status(&g.state, "T1"), TicketStatus::Redeemed);
    g.when(transfer("T1", friend())).refused(R::TicketRedeemed);
    let g = g.and([on("ticket.unredeemed", "T1")]);
    assert_eq!(status(&g.state, "T1"), TicketStatus::Issued);
    g.when(on("ticket.unredeemed", "T1"))
        .refused(R::NotRedeemed);
    g.when(transfer("T1", friend())).accepted();
}

#[test]
fn unredeem_needs_a_redemption() {
    stage()
        .when(on("ticket.unredeemed", "T1"))
        .refused(R::NotRedeemed);
    stage()
        .and([redeem("T1")])
        .when(on("ticket.unredeemed", "T1"))
        .accepted();
    stage()
        .and([delete("T1")])
        .when(on("ticket.unredeemed", "T1"))
        .refused(R::TicketDeleted);
}

// ---------------------------------------- refunds, invalidations, deletions

#[test]
fn refund_and_invalidation_need_a_valid_ticket() {
    for r in [refund("T1"), invalidate("T1")] {
        stage().when(r.clone()).accepted();
        stage()
            .and([refund("T1")])
            .when(r.clone())
            .refused(R::TicketRefunded);
        stage()
            .and([invalidate("T1")])
            .when(r.clone())
            .refused(R::TicketInvalidated);
        stage()
            .and([delete("T1")])
            .when(r.clone())
            .refused(R::TicketDeleted);
    }
    // A redeemed ticket may still be refunded or invalidated.
    let s = stage().and([redeem("T1")]).when(refund("T1")).accepted();
    assert_eq!(status(&s, "T1"), TicketStatus::Refunded);
}

#[test]
fn revalidation_needs_an_invalidated_ticket() {
    stage()
        .when(on("ticket.revalidated", "T1"))
        .refused(R::NotInvalidated);
    stage()
        .and([refund("T1")])
        .when(on("ticket.revalidated", "T1"))
        .refused(R::NotInvalidated);
    stage()
        .and([delete("T1")])
        .when(on("ticket.revalidated", "T1"))
        .refused(R::TicketDeleted);
    let s = stage()
        .and([invalidate("T1")])
        .when(on("ticket.revalidated", "T1"))
        .accepted();
    assert_eq!(status(&s, "T1"), TicketStatus::Issued);
}

#[test]
fn deletion_is_once_and_any_later_record_is_refused_ticket_deleted() {
    let g = stage().and([redeem("T1"), delete("T1")]);
    for r in [
        delete("T1"),
        redeem("T1"),
        on("ticket.unredeemed", "T1"),
        refund("T1"),
        invalidate("T1"),
        on("ticket.revalidated", "T1"),
        transfer("T1", friend()),
        reschedule("T1", "D2"),
        share("T1"),
        inject("T1"),
        on("ticket.delivered", "T1"),
        on("ticket.downloaded", "T1"),
        on("ticket.activated", "T1"),
        on("ticket.controlled", "T1"),
        on("ticket.kept_by_owner", "T1"),
        buy("T1", "O1", "D1"),
    ] {
        g.when(r).refused(R::TicketDeleted);
    }
    // Deleting a refunded, invalidated or redeemed ticket is allowed.
    stage().and([refund("T1")]).when(delete("T1")).accepted();
    stage()
        .and([invalidate("T1")])
        .when(delete("T1"))
        .accepted();
    stage().and([redeem("T1")]).when(delete("T1")).accepted();
    stage().when(delete("T9")).refused(R::UnknownTicket);
}

// ---------------------------------------------------------------- transfers

#[test]
fn transfer_needs_a_valid_unredeemed_ticket() {
    stage().when(transfer("T1", friend())).accepted();
    stage()
        .and([refund("T1")])
        .when(transfer("T1", friend()))
        .refused(R::TicketRefunded);
    stage()
        .and([invalidate("T1")])
        .when(transfer("T1", friend()))
        .refused(R::TicketInvalidated);
    stage()
        .and([redeem("T1")])
        .when(transfer("T1", friend()))
        .refused(R::TicketRedeemed);
    stage()
        .when(transfer("T9", friend()))
        .refused(R::UnknownTicket);
}

// --------------------------------------------------------------- reschedules

#[test]
fn reschedule_moves_the_held_seat() {
    let g = stage();
    assert_eq!((held(&g.state, "D1"), held(&g.state, "D2")), (1, 0));
    let s = g.when(reschedule("T1", "D2")).accepted();
    assert_eq!((held(&s, "D1"), held(&s, "D2")), (0, 1));
    // sold counts tickets ever purchased for, or rescheduled into, a definition.
    assert_eq!((sold(&s, "D1"), sold(&s, "D2")), (1, 1));
    assert_eq!(s.ticket_definition("T1").map(|d| d.as_str()), Some("D2"));
}

#[test]
fn reschedule_target_must_be_live_other_and_not_sold_out() {
    stage()
        .when(reschedule("T1", "D9"))
        .refused(R::UnknownDefinition);
    stage()
        .and([def_delete("D2")])
        .when(reschedule("T1", "D2"))
        .refused(R::DefinitionDeleted);
    stage()
        .when(reschedule("T1", "D1"))
        .refused(R::SameDefinition);
    let g = stage().and([def("D0", "P2", Some(1)), buy("T2", "O2", "D0")]);
    g.when(reschedule("T1", "D0")).refused(R::SoldOut);
    // Once the seat is released, the reschedule goes through.
    g.and([refund("T2")])
        .when(reschedule("T1", "D0"))
        .accepted();
}

#[test]
fn reschedule_needs_a_valid_unredeemed_ticket() {
    stage()
        .and([redeem("T1")])
        .when(reschedule("T1", "D2"))
        .refused(R::TicketRedeemed);
    stage()
        .and([refund("T1")])
        .when(reschedule("T1", "D2"))
        .refused(R::TicketRefunded);
    stage()
        .and([invalidate("T1")])
        .when(reschedule("T1", "D2"))
        .refused(R::TicketInvalidated);
    stage()
        .when(reschedule("T9", "D2"))
        .refused(R::UnknownTicket);
}

#[test]
fn a_deleted_definition_keeps_its_tickets_and_they_may_leave_it() {
    let g = stage().and([def_delete("D1")]);
    g.when(redeem("T1")).accepted();
    let s = g.when(reschedule("T1", "D2")).accepted();
    assert_eq!(held(&s, "D2"), 1);
}

// --------------------------------------------- shares, injection, wallet steps

#[test]
fn shares_and_wallet_steps_need_a_valid_ticket() {
    for ty in [
        "ticket.delivered",
        "ticket.downloaded",
        "ticket.activated",
        "ticket.controlled",
        "ticket.kept_by_owner",
    ] {
        stage().when(on(ty, "T1")).accepted();
        stage().and([redeem("T1")]).when(on(ty, "T1")).accepted();
        stage()
            .and([refund("T1")])
            .when(on(ty, "T1"))
            .refused(R::TicketRefunded);
        stage()
            .and([invalidate("T1")])
            .when(on(ty, "T1"))
            .refused(R::TicketInvalidated);
        stage().when(on(ty, "T9")).refused(R::UnknownTicket);
    }
    stage().when(share("T1")).accepted();
    stage().and([share("T1")]).when(share("T1")).accepted();
    stage()
        .and([refund("T1")])
        .when(share("T1"))
        .refused(R::TicketRefunded);
    stage()
        .and([invalidate("T1")])
        .when(share("T1"))
        .refused(R::TicketInvalidated);
}

#[test]
fn injection_happens_once_on_a_valid_ticket() {
    let s = stage().when(inject("T1")).accepted();
    assert!(s.ticket("T1").is_some_and(|t| t.is_injected()));
    stage()
        .and([inject("T1")])
        .when(inject("T1"))
        .refused(R::AlreadyInjected);
    stage()
        .and([refund("T1")])
        .when(inject("T1"))
        .refused(R::TicketRefunded);
    stage()
        .and([invalidate("T1")])
        .when(inject("T1"))
        .refused(R::TicketInvalidated);
}

// ------------------------------------------------------------------ payments

#[test]
fn payments_capture_freely_and_refund_a_known_capture_of_the_same_order() {
    let s = stage().when(capture("O1", "tok-1")).accepted();
    assert_eq!(s.stream_revision("order-O1"), Some(0));
    // A capture needs no purchase in the order.
    stage().when(capture("O-elsewhere", "tok-9")).accepted();
    let g = stage().and([capture("O1", "tok-1")]);
    let s = g.when(payment_refund("O1", "tok-1")).accepted();
    assert_eq!(s.stream_revision("order-O1"), Some(1));
    g.when(payment_refund("O1", "tok-2"))
        .refused(R::UnknownCapture);
    // The capture must be in the same order.
    g.when(payment_refund("O2", "tok-1"))
        .refused(R::UnknownCapture);
}

// --------------------------------------------------------------------- owners

#[test]
fn owners_register_once_and_change_consents_when_registered() {
    stage().when(consent("C1")).refused(R::UnknownOwner);
    let g = stage().and([owner("C1")]);
    g.when(owner("C1")).refused(R::OwnerExists);
    let s = g.when(consent("C1")).accepted();
    assert!(s.owner_exists("C1"));
    assert_eq!(s.stream_revision("owner-C1"), Some(1));
}

// ---------------------------------------------------------------- status order

#[test]
fn status_follows_the_precedence_deleted_refunded_invalidated_redeemed_issued() {
    let g = stage();
    assert_eq!(status(&g.state, "T1"), TicketStatus::Issued);
    let g = g.and([redeem("T1")]);
    assert_eq!(status(&g.state, "T1"), TicketStatus::Redeemed);
    let g2 = g.and([invalidate("T1")]);
    assert_eq!(status(&g2.state, "T1"), TicketStatus::Invalidated);
    let g3 = g2.and([delete("T1")]);
    assert_eq!(status(&g3.state, "T1"), TicketStatus::Deleted);
    let r = stage().and([redeem("T1"), refund("T1")]);
    assert_eq!(status(&r.state, "T1"), TicketStatus::Refunded);
}

// ------------------------------------------------------ the fold trusts the log

#[test]
fn apply_folds_records_the_rules_would_refuse_without_panicking() {
    let mut s = LedgerState::new();
    // Everything out of order: scans before purchases, purchases of unknown
    // definitions, a second purchase, refunds of unknown captures.
    for r in [
        redeem("T1"),
        on("ticket.unredeemed", "T1"),
        on("ticket.unredeemed", "T1"),
        buy("T1", "O1", "D1"),
        buy("T1", "O1", "D1"),
        def("D1", "P9", Some(0)),
        reschedule("T1", "D1"),
        payment_refund("O1", "nope"),
        click("L1"),
        consent("C1"),
        def_update("D7", json!({"capacity": 1})),
        perf("P1", P1_START, None),
        perf("P1", P2_START, None),
    ] {
        s.apply(&r.body);
    }
    assert_eq!(s.stream_revision("ticket-T1"), Some(5));
    assert_eq!(s.stream_revision("definition-D1"), Some(0));
    assert_eq!(s.stream_revision("definition-D7"), Some(0));
    assert_eq!(s.stream_revision("link-L1"), Some(0));
    assert_eq!(s.stream_revision("performance-P1"), Some(1));
    assert!(!s.link_exists("L1"));
    assert!(
        s.definition("D7").is_none(),
        "an update alone does not create a definition"
    );
    // The ghost stream of a never-purchased ticket gets its revision right.
    let mut g = LedgerState::new();
    g.apply(&on("ticket.delivered", "T5").body);
    assert!(g.ticket("T5").is_none());
    assert_eq!(g.stream_revision("ticket-T5"), Some(0));
}

// ------------------------------------------------------------------- undo

/// A small universe of ids so that generated records collide and interact.
fn arbitrary_record(kind: u8, a: u8, b: u8) -> NewRecord {
    let t = format!("T{}", a % 4);
    let d = format!("D{}", b % 3);
    let p = format!("P{}", a % 2);
    let o = format!("O{}", b % 2);
    match kind % 26 {
        0 => perf(&p, P1_START, Some(P1_END)),
        1 => def(&d, &p, Some(u32::from(a % 3))),
        2 => def_update(&d, json!({"capacity": a % 4, "max_redemptions": 1 + b % 2})),
        3 => def_delete(&d),
        4 => link(&format!("L{}", a % 2)),
        5 => click(&format!("L{}", a % 2)),
        6..=8 => buy(&t, &o, &d),
        9 => redeem(&t),
        10 => forced_redeem_at(&t, SALES),
        11 => on("ticket.unredeemed", &t),
        12 => refund(&t),
        13 => invalidate(&t),
        14 => on("ticket.revalidated", &t),
        15 => transfer(&t, friend()),
        16 => reschedule(&t, &d),
        17 => share(&t),
        18 => inject(&t),
        19 => on("ticket.delivered", &t),
        20 => delete(&t),
        21 => capture(&o, &format!("tok{}", a % 2)),
        22 => payment_refund(&o, &format!("tok{}", a % 2)),
        23 => owner(&format!("C{}", a % 2)),
        24 => consent(&format!("C{}", a % 2)),
        _ => def_update(&d, json!({"capacity": null})),
    }
}

fn records() -> impl Strategy<Value = Vec<NewRecord>> {
    prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..60).prop_map(|v| {
        v.into_iter()
            .map(|(k, a, b)| arbitrary_record(k, a, b))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Applying any record then undoing it leaves the state exactly as it was, for
    /// states reached by the rules and for raw logs alike.
    #[test]
    fn apply_then_undo_restores_the_state(records in records(), ruled in any::<bool>()) {
        let mut state = LedgerState::new();
        for r in &records {
            if ruled && state.decide(r).is_err() {
                continue;
            }
            let before = state.clone();
            let undo = state.apply(&r.body);
            let after = state.clone();
            state.undo(undo);
            prop_assert_eq!(&state, &before);
            state = after;
        }
    }

    /// Folding without undo information reaches the same state as applying.
    #[test]
    fn fold_and_apply_agree(records in records()) {
        let mut applied = LedgerState::new();
        let mut folded = LedgerState::new();
        for r in &records {
            applied.apply(&r.body);
            folded.fold(&r.body);
        }
        prop_assert_eq!(applied, folded);
    }

    /// Undoing several applies in reverse order restores the starting state.
    #[test]
    fn undo_in_reverse_restores_a_prefix(records in records(), split in any::<prop::sample::Index>()) {
        let mut state = LedgerState::new();
        let cut = split.index(records.len() + 1);
        for r in &records[..cut] {
            state.apply(&r.body);
        }
        let before = state.clone();
        let undos: Vec<_> = records[cut..].iter().map(|r| state.apply(&r.body)).collect();
        for u in undos.into_iter().rev() {
            state.undo(u);
        }
        prop_assert_eq!(state, before);
    }

    /// Folding only accepted records keeps the seat counters true: held equals the
    /// tickets now holding a seat of the definition.
    #[test]
    fn held_counts_match_the_tickets(records in records()) {
        let mut state = LedgerState::new();
        for r in &records {
            if state.decide(r).is_ok() {
                state.apply(&r.body);
            }
            let mut count: HashMap<String, u32> = HashMap::new();
            for t in 0..4 {
                let id = format!("T{t}");
                if let Some(ts) = state.ticket(&id)
                    && ts.holds_seat()
                    && let Some(d) = state.ticket_definition(&id)
                {
                    *count.entry(d.to_string()).or_default() += 1;
                }
            }
            for d in 0..3 {
                let id = format!("D{d}");
                if let Some(def) = state.definition(&id) {
                    prop_assert_eq!(def.held(), count.get(&id).copied().unwrap_or(0));
                }
            }
        }
    }
}
