//! Each rule of the shared-tickets model: given some records, when a share (or a
//! query) happens, then these rows.

use counterfoil_projection::CsvRow;
use counterfoil_projector_shared::{
    Bucket, PerformanceRef, SeatRef, ShareCount, ShareFilter, ShareRow, SharedError, SharedTickets,
};
use serde_json::json;

use crate::support::{Given, t};

/// Two performances with a definition each, and ticket T1 (order O1, seat A/3/12) and
/// T2 (order O2, no seat) bought for P1.
fn given() -> Given<SharedTickets> {
    let mut g = Given::new();
    for (p, name, starts) in [
        ("P1", "Hamlet", "2026-11-21T19:00:00Z"),
        ("P2", "Hamlet (matinee)", "2026-11-22T14:00:00Z"),
    ] {
        g.rec(
            "2026-10-01T09:00:00Z",
            "performance.scheduled",
            json!({"performance_id": p, "organizer_id": "ORG", "name": name, "starts_at": starts}),
        );
    }
    for (d, p) in [("D1", "P1"), ("D2", "P2")] {
        g.rec(
            "2026-10-01T09:01:00Z",
            "definition.created",
            json!({"definition_id": d, "performance_id": p, "name": "Stalls",
                   "pricing": {"method": "fixed", "price": "40.00"}, "currency": "EUR"}),
        );
    }
    g.rec(
        "2026-10-02T10:00:00Z",
        "ticket.purchased",
        purchase(
            "T1",
            "O1",
            "D1",
            Some(json!({"section": "A", "row": "3", "seat": "12", "gate": "N"})),
        ),
    );
    g.rec(
        "2026-10-02T10:05:00Z",
        "ticket.purchased",
        purchase("T2", "O2", "D1", None),
    );
    g
}

fn purchase(
    ticket: &str,
    order: &str,
    def: &str,
    seat: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut v = json!({
        "ticket_id": ticket, "order_id": order, "definition_id": def, "ticket_type": "Adult",
        "buyer": {"customer_id": "C1", "email": "ann@example.com"},
        "face_price": "40.00", "price_paid": "40.00", "currency": "EUR", "channel": "web"
    });
    if let Some(seat) = seat {
        v["seat"] = seat;
    }
    v
}

fn share(ticket: &str, by: &str, to: &str) -> serde_json::Value {
    json!({"ticket_id": ticket, "shared_by": by, "recipient_email": to})
}

#[test]
fn a_share_is_one_row_with_the_tickets_order_performance_and_seat() {
    let mut g = given();
    // When
    let r = g.rec(
        "2026-10-03T08:00:00Z",
        "ticket.shared",
        share("T1", "C1", "bob@example.com"),
    );
    // Then
    let rows = g.state.search(&ShareFilter::default());
    assert_eq!(
        rows,
        vec![ShareRow {
            share_id: r.id,
            shared_at: t("2026-10-03T08:00:00Z"),
            ticket_id: "T1".into(),
            order_id: Some("O1".into()),
            shared_by: "C1".into(),
            recipient_email: "bob@example.com".into(),
            performance: Some(PerformanceRef {
                id: "P1".into(),
                name: Some("Hamlet".into()),
                starts_at: Some(t("2026-11-21T19:00:00Z")),
            }),
            seat: SeatRef {
                section: Some("A".into()),
                row: Some("3".into()),
                seat: Some("12".into()),
            },
        }]
    );
    assert_eq!(g.reloaded(), g.state);
}

#[test]
fn a_share_keeps_the_performance_the_ticket_had_when_shared() {
    let mut g = given();
    g.rec(
        "2026-10-03T08:00:00Z",
        "ticket.shared",
        share("T1", "C1", "bob@example.com"),
    );
    // When the ticket is rescheduled to the matinee and shared again
    g.rec(
        "2026-10-04T08:00:00Z",
        "ticket.rescheduled",
        json!({"ticket_id": "T1", "to_definition_id": "D2"}),
    );
    g.rec(
        "2026-10-05T08:00:00Z",
        "ticket.shared",
        share("T1", "C1", "cat@example.com"),
    );
    // Then the first share still names P1, the second P2
    let perfs: Vec<String> = g
        .state
        .ticket_shares("T1")
        .into_iter()
        .map(|r| r.performance.unwrap().id)
        .collect();
    assert_eq!(perfs, vec!["P1", "P2"]);
}

#[test]
fn a_tickets_earlier_shares_say_who_and_when() {
    let mut g = given();
    g.rec(
        "2026-10-03T08:00:00Z",
        "ticket.shared",
        share("T1", "C1", "bob@example.com"),
    );
    g.rec(
        "2026-10-03T09:00:00Z",
        "ticket.shared",
        share("T2", "C1", "eve@example.com"),
    );
    g.rec(
        "2026-10-04T08:00:00Z",
        "ticket.shared",
        share("T1", "C1", "cat@example.com"),
    );
    let who: Vec<(String, String)> = g
        .state
        .ticket_shares("T1")
        .into_iter()
        .map(|r| (r.recipient_email, r.shared_at.to_rfc3339()))
        .collect();
    assert_eq!(
        who,
        vec![
            ("bob@example.com".into(), "2026-10-03T08:00:00+00:00".into()),
            ("cat@example.com".into(), "2026-10-04T08:00:00+00:00".into()),
        ]
    );
    assert!(g.state.ticket_shares("T2").len() == 1);
    assert!(g.state.ticket_shares("nope").is_empty());
    assert_eq!(
        g.reloaded().ticket_shares("T1"),
        g.state.ticket_shares("T1")
    );
}

#[test]
fn rows_are_ordered_by_share_time_not_log_order() {
    let mut g = given();
    g.rec(
        "2026-10-05T08:00:00Z",
        "ticket.shared",
        share("T1", "C1", "late@example.com"),
    );
    // A share that happened earlier arrives later in the log.
    g.rec(
        "2026-10-03T08:00:00Z",
        "ticket.shared",
        share("T2", "C1", "early@example.com"),
    );
    let order: Vec<String> = g
        .state
        .search(&ShareFilter::default())
        .into_iter()
        .map(|r| r.recipient_email)
        .collect();
    assert_eq!(order, vec!["early@example.com", "late@example.com"]);
}

#[test]
fn search_filters_narrow_and_combine() {
    let mut g = given();
    g.rec(
        "2026-10-03T08:00:00Z",
        "ticket.shared",
        share("T1", "C1", "Bob@Example.com"),
    );
    g.rec(
        "2026-10-04T08:00:00Z",
        "ticket.shared",
        share("T2", "C2", "eve@example.org"),
    );
    g.rec(
        "2026-10-05T08:00:00Z",
        "ticket.shared",
        share("T1", "C2", "bobby@example.com"),
    );
    let recipients = |f: ShareFilter| -> Vec<String> {
        g.state
            .search(&f)
            .into_iter()
            .map(|r| r.recipient_email)
            .collect()
    };
    // Time range is [from, to).
    assert_eq!(
        recipients(ShareFilter {
            from: Some(t("2026-10-04T08:00:00Z")),
            to: Some(t("2026-10-05T08:00:00Z")),
            ..Default::default()
        }),
        vec!["eve@example.org"]
    );
    assert_eq!(
        recipients(ShareFilter {
            shared_by: Some("C2".into()),
            ..Default::default()
        }),
        vec!["eve@example.org", "bobby@example.com"]
    );
    // Recipient: substring, any case.
    assert_eq!(
        recipients(ShareFilter {
            recipient: Some("BOB".into()),
            ..Default::default()
        }),
        vec!["Bob@Example.com", "bobby@example.com"]
    );
    assert_eq!(
        recipients(ShareFilter {
            order_id: Some("O2".into()),
            ..Default::default()
        }),
        vec!["eve@example.org"]
    );
    assert_eq!(
        recipients(ShareFilter {
            performance_id: Some("P1".into()),
            shared_by: Some("C2".into()),
            recipient: Some("example.com".into()),
            ..Default::default()
        }),
        vec!["bobby@example.com"]
    );
    for unknown in [
        ShareFilter {
            performance_id: Some("P9".into()),
            ..Default::default()
        },
        ShareFilter {
            order_id: Some("O9".into()),
            ..Default::default()
        },
        ShareFilter {
            performance_id: Some("P2".into()),
            ..Default::default()
        },
    ] {
        assert!(recipients(unknown).is_empty());
    }
}

#[test]
fn counts_per_utc_day_and_month() {
    let mut g = given();
    g.rec(
        "2026-10-03T08:00:00Z",
        "ticket.shared",
        share("T1", "C1", "a@x.com"),
    );
    // 23:30 at UTC-2 is 01:30 UTC on the 4th.
    g.rec(
        "2026-10-03T23:30:00-02:00",
        "ticket.shared",
        share("T1", "C1", "b@x.com"),
    );
    g.rec(
        "2026-10-04T12:00:00Z",
        "ticket.shared",
        share("T2", "C1", "c@x.com"),
    );
    g.rec(
        "2026-11-01T00:00:00Z",
        "ticket.shared",
        share("T2", "C1", "d@x.com"),
    );
    let all = ShareFilter::default();
    let c = |bucket: &str, shares| ShareCount {
        bucket: bucket.into(),
        shares,
    };
    assert_eq!(
        g.state.counts(&all, Bucket::Day),
        vec![c("2026-10-03", 1), c("2026-10-04", 2), c("2026-11-01", 1)]
    );
    assert_eq!(
        g.state.counts(&all, Bucket::Month),
        vec![c("2026-10", 3), c("2026-11", 1)]
    );
    let t2 = ShareFilter {
        ticket_id: Some("T2".into()),
        ..Default::default()
    };
    assert_eq!(
        g.state.counts(&t2, Bucket::Month),
        vec![c("2026-10", 1), c("2026-11", 1)]
    );
    assert_eq!("day".parse::<Bucket>(), Ok(Bucket::Day));
    assert_eq!(
        "week".parse::<Bucket>(),
        Err(SharedError::UnknownBucket("week".into()))
    );
}

#[test]
fn a_share_of_a_ticket_unknown_to_the_log_still_counts() {
    let mut g: Given<SharedTickets> = Given::new();
    g.rec(
        "2026-10-03T08:00:00Z",
        "ticket.shared",
        share("TX", "C1", "a@x.com"),
    );
    let rows = g.state.search(&ShareFilter::default());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].order_id, None);
    assert_eq!(rows[0].performance, None);
    assert_eq!(g.state.len(), 1);
}

#[test]
fn rows_flatten_to_csv_with_one_cell_per_column() {
    let mut g = given();
    g.rec(
        "2026-10-03T08:00:00Z",
        "ticket.shared",
        share("T1", "C1", "bob@example.com"),
    );
    g.rec(
        "2026-10-03T09:00:00Z",
        "ticket.shared",
        share("T2", "C1", "eve@example.com"),
    );
    let rows = g.state.search(&ShareFilter::default());
    let header = ShareRow::csv_header();
    assert_eq!(header[0], "share_id");
    let first = rows[0].csv_row();
    assert_eq!(first.len(), header.len());
    assert_eq!(
        &first[1..],
        &[
            "2026-10-03T08:00:00Z",
            "T1",
            "O1",
            "C1",
            "bob@example.com",
            "P1",
            "Hamlet",
            "2026-11-21T19:00:00Z",
            "A",
            "3",
            "12"
        ]
    );
    // General admission: empty seat cells.
    assert_eq!(&rows[1].csv_row()[9..], &["", "", ""]);
    let json = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(json["performance"]["name"], "Hamlet");
    assert_eq!(json["seat"]["row"], "3");
    assert_eq!(json["shared_at"], "2026-10-03T08:00:00Z");
}
