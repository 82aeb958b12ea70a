//! `import` and `demo`: summaries, rejects, idempotency across restarts, id conflicts.

use counterfoil_core::RefusalReason;
use counterfoil_demo::Expectation;

use crate::support::{Workload, run, stored_ids};

#[test]
fn a_demo_file_imports_with_the_summary_and_rejects_its_expectations_predict() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let w = Workload::write(&dir.path().join("demo.jsonl"), 3_000, 5);
    let (accepted, duplicates, refused) = w.expected_counts();

    let r = run(&data, &["import", w.path_str(), "--format", "json"]);
    assert!(r.ok(), "{}", r.stderr);
    assert_eq!(
        r.stdout.trim(),
        format!(r#"{{"accepted":{accepted},"duplicates":{duplicates},"refused":{refused}}}"#)
    );

    let rejects = std::fs::read_to_string(dir.path().join("demo.jsonl.rejects.jsonl")).unwrap();
    let rejects: Vec<serde_json::Value> = rejects
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rejects.len() as u64, refused);
    for reject in &rejects {
        let keys: Vec<&str> = reject
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4, "{reject}");
        let line = reject["line"].as_u64().unwrap();
        let expected = w.lines[line as usize - 1].expectation();
        let reason = reject["reason"].as_str().unwrap();
        assert_eq!(
            Expectation::Refused(RefusalReason::from_code(reason).unwrap()),
            expected,
            "{reject}"
        );
        assert!(!reject["message"].as_str().unwrap().is_empty());
        if let Some(record) = w.lines[line as usize - 1].record() {
            assert_eq!(reject["id"].as_str(), Some(record.id.to_string().as_str()));
        }
    }
    // Malformed lines name their field in the message.
    for (i, l) in w.lines.iter().enumerate() {
        if let counterfoil_demo::DemoLine::Malformed { field, .. } = l {
            let reject = rejects
                .iter()
                .find(|r| r["line"] == (i + 1) as u64)
                .unwrap();
            assert_eq!(reject["reason"], "invalid_field");
            assert!(
                reject["message"].as_str().unwrap().contains(field.as_str()),
                "{reject}"
            );
        }
    }

    // Every record expected to be accepted is stored, and nothing else.
    let ids = stored_ids(&data);
    assert_eq!(ids.len() as u64, accepted);
    for (line, id) in w.stored_ids() {
        assert!(ids.contains(&id), "line {line} ({id}) is not stored");
    }
}

#[test]
fn importing_the_same_file_twice_appends_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let w = Workload::write(&dir.path().join("demo.jsonl"), 2_500, 8);
    let (accepted, duplicates, refused) = w.expected_counts();

    let first = run(&data, &["import", w.path_str(), "--format", "json"]).json();
    assert_eq!(first["accepted"], accepted);
    let stored = stored_ids(&data);

    // A separate process: the ledger is rebuilt from the log, idempotency is durable.
    let second = run(&data, &["import", w.path_str(), "--format", "json"]);
    assert!(second.ok(), "{}", second.stderr);
    let second = second.json();
    assert_eq!(second["accepted"], 0);
    assert_eq!(second["duplicates"], accepted + duplicates);
    assert_eq!(second["refused"], refused);
    assert_eq!(stored_ids(&data), stored);

    // And once more with the table summary, which a person reads.
    let third = run(&data, &["import", w.path_str()]);
    assert!(third.ok(), "{}", third.stderr);
    let accepted_row = third
        .stdout
        .lines()
        .find(|l| l.starts_with("accepted"))
        .unwrap();
    assert_eq!(
        accepted_row.split_whitespace().last(),
        Some("0"),
        "{}",
        third.stdout
    );
    assert!(
        third.stdout.contains("refused lines are in"),
        "{}",
        third.stdout
    );
    assert_eq!(stored_ids(&data), stored);
}

#[test]
fn a_known_id_with_other_content_is_refused_as_an_id_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let w = Workload::write(&dir.path().join("demo.jsonl"), 300, 3);
    assert!(run(&data, &["import", w.path_str()]).ok());

    // The first performance, sent again under the same id with another name.
    let mut record: serde_json::Value = serde_json::from_str(&w.lines[0].to_json_line()).unwrap();
    assert_eq!(record["type"], "performance.scheduled");
    record["data"]["name"] = "Another name".into();
    let file = dir.path().join("conflict.jsonl");
    std::fs::write(&file, format!("{record}\n{}\n", w.lines[0].to_json_line())).unwrap();

    let r = run(
        &data,
        &["import", file.to_str().unwrap(), "--format", "json"],
    );
    assert!(r.ok(), "{}", r.stderr);
    assert_eq!(
        r.json(),
        serde_json::json!({"accepted": 0, "duplicates": 1, "refused": 1})
    );
    let rejects = std::fs::read_to_string(dir.path().join("conflict.jsonl.rejects.jsonl")).unwrap();
    let reject: serde_json::Value = serde_json::from_str(rejects.trim()).unwrap();
    assert_eq!(reject["line"], 1);
    assert_eq!(reject["reason"], "id_conflict");
    assert_eq!(reject["id"], record["id"]);

    let appended = crate::support::run_with_stdin(&data, &["append"], &record.to_string());
    assert_eq!(appended.code, Some(2), "{}", appended.stderr);
    let err: serde_json::Value = serde_json::from_str(appended.stderr.trim()).unwrap();
    assert_eq!(err["reason"], "id_conflict");
}

#[test]
fn blank_lines_are_skipped_and_a_bad_line_does_not_stop_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let w = Workload::write(&dir.path().join("demo.jsonl"), 40, 1);
    let mut text = String::from("\n");
    for (i, l) in w.lines.iter().enumerate() {
        text.push_str(&l.to_json_line());
        text.push_str("\r\n");
        if i == 3 {
            text.push_str("   \n{\"type\": \"ticket.purchased\", \"occurred_at\": 12}\n\n");
        }
    }
    let file = dir.path().join("messy.jsonl");
    std::fs::write(&file, text).unwrap();
    let (accepted, duplicates, refused) = w.expected_counts();
    let r = run(
        &data,
        &["import", file.to_str().unwrap(), "--format", "json"],
    );
    assert!(r.ok(), "{}", r.stderr);
    assert_eq!(r.json()["accepted"], accepted);
    assert_eq!(r.json()["duplicates"], duplicates);
    assert_eq!(r.json()["refused"], refused + 1);
    let rejects = std::fs::read_to_string(dir.path().join("messy.jsonl.rejects.jsonl")).unwrap();
    let bad: serde_json::Value = serde_json::from_str(rejects.lines().next().unwrap()).unwrap();
    // Line 1 is blank, lines 2-5 are records, line 6 is blank, line 7 is the bad one.
    assert_eq!(bad["line"], 7);
    assert_eq!(bad["id"], serde_json::Value::Null);
    assert_eq!(bad["reason"], "invalid_field");
    assert!(
        bad["message"].as_str().unwrap().contains("occurred_at"),
        "{bad}"
    );
}

#[test]
fn the_demo_command_imports_its_workload_and_every_outcome_matches() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let w = Workload::write(&dir.path().join("same.jsonl"), 2_000, 9);
    let (accepted, duplicates, refused) = w.expected_counts();

    let r = run(
        &data,
        &[
            "demo", "--events", "2000", "--seed", "9", "--format", "json",
        ],
    );
    assert!(r.ok(), "{}", r.stderr);
    assert_eq!(
        r.json(),
        serde_json::json!({"accepted": accepted, "duplicates": duplicates, "refused": refused})
    );
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);

    // Again, as a person would run it: all duplicates now, and still no mismatch.
    let again = run(&data, &["demo", "--events", "2000", "--seed", "9"]);
    assert!(again.ok(), "{}", again.stderr);
    assert!(
        again
            .stdout
            .contains("every line got the outcome the workload expects"),
        "{}",
        again.stdout
    );
    assert!(!again.stderr.contains("warning"), "{}", again.stderr);

    // --out writes the same workload the tests generate.
    let out = dir.path().join("out.jsonl");
    let written = run(
        &data,
        &[
            "demo",
            "--events",
            "2000",
            "--seed",
            "9",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(written.ok(), "{}", written.stderr);
    assert!(written.stdout.contains(out.to_str().unwrap()));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&w.path).unwrap()
    );
}
