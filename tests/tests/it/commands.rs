//! `append`, `read`, `tail`, `history` and the global options, on hand-written records.

use serde_json::{Value, json};

use crate::support::{run, run_with_stdin};

fn record(id: &str, ty: &str, at: &str, data: Value) -> String {
    json!({"id": id, "type": ty, "occurred_at": at, "source": "test", "actor": "e2e", "data": data})
        .to_string()
}

/// A performance, a definition, a purchase, a transfer and a scan, appended one by one.
fn seed(data: &std::path::Path) -> Vec<Value> {
    let records = [
        record(
            "0193a000-0000-7000-8000-000000000001",
            "performance.scheduled",
            "2026-11-01T10:00:00Z",
            json!({"performance_id": "P1", "organizer_id": "O1", "name": "Opening night",
                   "starts_at": "2026-11-21T19:00:00Z", "ends_at": "2026-11-21T22:00:00Z"}),
        ),
        record(
            "0193a000-0000-7000-8000-000000000002",
            "definition.created",
            "2026-11-01T10:05:00Z",
            json!({"definition_id": "D1", "performance_id": "P1", "name": "Stalls",
                   "pricing": {"method": "fixed", "price": "25.00"}, "currency": "EUR", "capacity": 2}),
        ),
        record(
            "0193a000-0000-7000-8000-000000000003",
            "ticket.purchased",
            "2026-11-02T12:00:00Z",
            json!({"ticket_id": "T1", "order_id": "A1", "definition_id": "D1", "ticket_type": "Adult",
                   "buyer": {"customer_id": "C1", "email": "ana@example.com"},
                   "face_price": "25.00", "price_paid": "25.00", "currency": "EUR", "channel": "web"}),
        ),
        record(
            "0193a000-0000-7000-8000-000000000004",
            "ticket.transferred",
            "2026-11-03T12:00:00Z",
            json!({"ticket_id": "T1", "to": {"email": "ben@example.com"}}),
        ),
        record(
            "0193a000-0000-7000-8000-000000000005",
            "ticket.redeemed",
            "2026-11-21T18:40:00Z",
            json!({"ticket_id": "T1", "gate": "A"}),
        ),
    ];
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let out = run_with_stdin(data, &["append"], r);
            assert!(out.ok(), "record {i}: {}", out.stderr);
            let submitted: Value = serde_json::from_str(out.stdout.trim()).unwrap();
            assert_eq!(submitted["position"], i as u64);
            assert_eq!(submitted["duplicate"], false);
            submitted
        })
        .collect()
}

#[test]
fn append_prints_where_the_record_went_and_read_tail_history_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let submitted = seed(&data);
    assert_eq!(submitted[2]["stream"], "ticket-T1");
    assert_eq!(submitted[2]["revision"], 0);
    assert_eq!(submitted[4]["revision"], 2);

    // Appending the same record again is a duplicate at the same place.
    let again = run_with_stdin(
        &data,
        &["append"],
        &record(
            "0193a000-0000-7000-8000-000000000001",
            "performance.scheduled",
            "2026-11-01T10:00:00Z",
            json!({"performance_id": "P1", "organizer_id": "O1", "name": "Opening night",
                   "starts_at": "2026-11-21T19:00:00Z", "ends_at": "2026-11-21T22:00:00Z"}),
        ),
    );
    assert!(again.ok(), "{}", again.stderr);
    let again: Value = serde_json::from_str(again.stdout.trim()).unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["position"], 0);

    let read = run(&data, &["read", "ticket-T1"]);
    assert!(read.ok(), "{}", read.stderr);
    let lines = read.json_lines();
    let types: Vec<&str> = lines.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["ticket.purchased", "ticket.transferred", "ticket.redeemed"]
    );
    assert_eq!(lines[1]["revision"], 1);
    assert_eq!(lines[1]["position"], 3);
    assert_eq!(lines[0]["hash"].as_str().unwrap().len(), 64);

    let table = run(&data, &["read", "ticket-T1", "--format", "table"]);
    assert!(table.ok());
    let rows: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(rows.len(), 4, "{}", table.stdout);
    assert!(rows[0].starts_with("revision"));
    assert!(rows[2].contains("ticket.transferred") && rows[2].contains("2026-11-03T12:00:00Z"));

    assert!(run(&data, &["read", "ticket-nobody"]).stdout.is_empty());

    let tail = run(&data, &["tail"]).json_lines();
    assert_eq!(tail.len(), 5);
    let from = run(&data, &["tail", "--from", "3"]).json_lines();
    assert_eq!(
        from.iter()
            .map(|r| r["position"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [3, 4]
    );
    let limited = run(&data, &["tail", "--from", "1", "--limit", "2"]).json_lines();
    assert_eq!(
        limited
            .iter()
            .map(|r| r["position"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );

    let history = run(&data, &["history", "ticket", "T1", "--format", "json"]);
    assert!(history.ok(), "{}", history.stderr);
    let entries = history.json_lines();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["state"]["status"], "issued");
    assert_eq!(entries[1]["state"]["holder"]["email"], "ben@example.com");
    assert_eq!(entries[2]["state"]["status"], "redeemed");
    assert_eq!(entries[2]["record"]["type"], "ticket.redeemed");

    let as_of = run(
        &data,
        &[
            "history", "ticket", "T1", "--as-of", "pos:3", "--format", "json",
        ],
    )
    .json_lines();
    assert_eq!(as_of.len(), 2);
    assert_eq!(as_of[1]["state"]["status"], "issued");

    let table = run(&data, &["history", "ticket", "T1"]);
    assert!(table.ok(), "{}", table.stderr);
    let rows: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(rows.len(), 4, "{}", table.stdout);
    assert!(
        rows[3].contains("ticket.redeemed") && rows[3].contains("redeemed"),
        "{}",
        table.stdout
    );

    let order = run(&data, &["history", "order", "A1", "--format", "json"]).json_lines();
    assert_eq!(order.len(), 3, "{order:?}");
    assert_eq!(order[0]["record"]["type"], "ticket.purchased");

    let bad = run(&data, &["history", "ticket", "T1", "--as-of", "yesterday"]);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.starts_with("error: "), "{}", bad.stderr);
}

#[test]
fn refused_appends_exit_2_with_the_reason_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&data);

    // A second scan of a ticket whose definition allows one.
    let scan = record(
        "0193a000-0000-7000-8000-000000000006",
        "ticket.redeemed",
        "2026-11-21T19:10:00Z",
        json!({"ticket_id": "T1"}),
    );
    let r = run_with_stdin(&data, &["append"], &scan);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let err: Value = serde_json::from_str(r.stderr.trim()).unwrap();
    assert_eq!(err["reason"], "max_redemptions");
    assert!(err["message"].as_str().unwrap().contains("T1"));

    // Money as a float names the field.
    let float = record(
        "0193a000-0000-7000-8000-000000000007",
        "ticket.purchased",
        "2026-11-02T12:00:00Z",
        json!({"ticket_id": "T2", "order_id": "A2", "definition_id": "D1", "ticket_type": "Adult",
               "buyer": {"email": "c@example.com"}, "face_price": 25.0, "price_paid": "25.00",
               "currency": "EUR", "channel": "web"}),
    );
    let r = run_with_stdin(&data, &["append"], &float);
    assert_eq!(r.code, Some(2));
    let err: Value = serde_json::from_str(r.stderr.trim()).unwrap();
    assert_eq!(err["reason"], "invalid_field");
    assert_eq!(err["field"], "data.face_price");

    let r = run_with_stdin(&data, &["append"], "not json");
    assert_eq!(r.code, Some(2));

    // Nothing refused was written.
    assert_eq!(run(&data, &["tail"]).json_lines().len(), 5);
}

#[test]
fn an_unconfigured_or_unknown_store_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["--store", "eventstore", "tail"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("--eventstore-url"), "{}", r.stderr);
    let r = run(dir.path(), &["--store", "postgres", "tail"]);
    assert_ne!(r.code, Some(0));
}

#[test]
fn a_second_process_cannot_open_a_folder_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&data);
    let mut follower = crate::support::command(&data, &["tail", "--follow"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The follower prints the five records, then waits for more.
    let mut stdout = std::io::BufReader::new(follower.stdout.take().unwrap());
    for _ in 0..5 {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert!(line.contains("\"position\""), "{line}");
    }
    let r = run(&data, &["tail"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("locked"), "{}", r.stderr);
    follower.kill().unwrap();
    follower.wait().unwrap();
}
