//! History of a ticket and of an order: every record with the state after it, and
//! the same "as of" a position or a time.

use counterfoil_core::Store;
use counterfoil_ledger::history::{AsOf, HistoryEntry, order_history, ticket_history};
use serde_json::json;

use crate::support::*;

fn types(entries: &[HistoryEntry]) -> Vec<&'static str> {
    entries
        .iter()
        .map(|e| e.record.record_type().as_str())
        .collect()
}

async fn scenario(ledger: &counterfoil_ledger::Ledger) {
    let records = vec![
        perf("P1"),
        perf("P2"),
        def("D1", "P1", None),
        def("D2", "P2", None),
        buy("T1", "O1", "D1"),
        buy("T2", "O1", "D1"),
        buy("T3", "O2", "D1"),
        capture("O1", "tok-1", "50.00"),
        rec(
            "ticket.transferred",
            "2026-11-03T10:00:00Z",
            json!({"ticket_id": "T1", "to": {"email": "friend@example.com"}}),
        ),
        rec(
            "ticket.rescheduled",
            "2026-11-04T10:00:00Z",
            json!({"ticket_id": "T1", "to_definition_id": "D2"}),
        ),
        rec(
            "ticket.refunded",
            "2026-11-05T10:00:00Z",
            json!({"ticket_id": "T2", "amount": "25.00"}),
        ),
        rec(
            "payment.refunded",
            "2026-11-05T10:00:00Z",
            json!({"order_id": "O1", "gateway": "stripe", "token": "re-1", "related_token": "tok-1", "amount": "25.00", "currency": "EUR"}),
        ),
        rec(
            "ticket.transferred",
            "2026-11-06T10:00:00Z",
            json!({"ticket_id": "T1", "to": {"email": "BUYER@example.com"}}),
        ),
    ];
    // One by one, so that records get distinct recording times.
    for r in records {
        accepted(&ledger.submit(r).await);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_history_shows_each_record_and_the_state_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open(dir.path()).await;
    scenario(&ledger).await;

    let h = ticket_history(&log, "T1", None).await.expect("history");
    assert_eq!(
        types(&h),
        [
            "ticket.purchased",
            "ticket.transferred",
            "ticket.rescheduled",
            "ticket.transferred"
        ]
    );
    assert_eq!(h[0].state["status"], "issued");
    assert_eq!(h[0].state["performance_id"], "P1");
    assert_eq!(h[1].state["holder"]["email"], "friend@example.com");
    assert_eq!(h[1].state["transfer_forward_count"], 1);
    assert_eq!(h[2].state["definition_id"], "D2");
    assert_eq!(h[2].state["performance_id"], "P2");
    // Back to the buyer (email matched ignoring case): a backward transfer.
    assert_eq!(h[3].state["transfer_backward_count"], 1);
    assert_eq!(h[3].state["previous_owner"]["email"], "friend@example.com");
    assert_eq!(ledger.ticket_history("T1", None).await.expect("history"), h);

    // As of the position of the first transfer: the reschedule is not there yet.
    let at = h[1].record.position;
    let past = ticket_history(&log, "T1", Some(AsOf::Position(at)))
        .await
        .expect("history");
    assert_eq!(past, h[..2].to_vec());
    // As of a time: what had been recorded by then.
    let t = h[2].record.recorded_at;
    let past = ticket_history(&log, "T1", Some(AsOf::Time(t)))
        .await
        .expect("history");
    let expected: Vec<_> = h
        .iter()
        .filter(|e| e.record.recorded_at <= t)
        .cloned()
        .collect();
    assert!(past.len() >= 3);
    assert_eq!(past, expected);

    assert!(
        ticket_history(&log, "T-none", None)
            .await
            .expect("history")
            .is_empty()
    );
    close(log, ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_history_merges_the_order_and_its_tickets_in_position_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, ledger) = open(dir.path()).await;
    scenario(&ledger).await;

    let h = order_history(&log, "O1", None).await.expect("history");
    assert_eq!(
        types(&h),
        [
            "ticket.purchased",
            "ticket.purchased",
            "payment.captured",
            "ticket.transferred",
            "ticket.rescheduled",
            "ticket.refunded",
            "payment.refunded",
            "ticket.transferred",
        ]
    );
    assert!(
        h.windows(2)
            .all(|w| w[0].record.position < w[1].record.position)
    );
    let last = &h[h.len() - 1].state;
    assert_eq!(last["balance"]["EUR"], "25.00");
    assert_eq!(last["tickets"][0]["ticket_id"], "T1");
    assert_eq!(last["tickets"][0]["definition_id"], "D2");
    assert_eq!(last["tickets"][1]["status"], "refunded");
    assert_eq!(last["tickets"].as_array().map(Vec::len), Some(2));

    // The ledger's way (tickets from its state) gives the same answer.
    assert_eq!(ledger.order_history("O1", None).await.expect("history"), h);

    let at = h[2].record.position;
    let past = order_history(&log, "O1", Some(AsOf::Position(at)))
        .await
        .expect("history");
    assert_eq!(past, h[..3].to_vec());
    assert_eq!(past[2].state["captured"]["EUR"], "50.00");
    assert_eq!(
        ledger
            .order_history("O1", Some(AsOf::Position(at)))
            .await
            .expect("history"),
        past
    );
    let t = h[5].record.recorded_at;
    let past = order_history(&log, "O1", Some(AsOf::Time(t)))
        .await
        .expect("history");
    let expected: Vec<_> = h
        .iter()
        .filter(|e| e.record.recorded_at <= t)
        .cloned()
        .collect();
    assert_eq!(past, expected);

    assert!(
        order_history(&log, "O-none", None)
            .await
            .expect("history")
            .is_empty()
    );
    assert_eq!(log.end_position().await.expect("end"), 13);
    close(log, ledger).await;
}
