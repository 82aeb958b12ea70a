//! `report` and `rebuild` on the hand-written fixture `tests/fixtures/reports.jsonl`:
//! exact output in every format (snapshots), the owner-report filters, `--as-of`
//! against what the live report said at that moment, and refused flag values.
//!
//! The fixture in words: Hamlet (P1) and its matinee (P2); definitions D1 (P1, 40.00,
//! 100 seats), D2 (P2, options 20.00/60.00, unlimited), D3 (P1 box, 90.00, 2 seats),
//! D4 (deleted), D5 (P2 box, 75.00, 1 seat, sale ended 2026-10-20). Ann buys T1 and T2
//! through the NEWSLETTER link; T2 is shared with Bob, goes Ann -> Bob -> Cat -> Ann;
//! T1 is shared with Dora, then moved to the matinee and scanned there. Ann registers
//! and opts in to promotional email. Dan's T3 follows a matinee-only advert click (not
//! attributed) and is refunded. Eve's T4 and T5 (box, click 41 days earlier: not
//! attributed); T4 is delivered, downloaded, activated and shared twice, T5 deleted.
//! The box office buys T6 and injects it into Hal's wallet (Hal has an account under
//! another letter case of the same email). Kim buys the last D5 seat (T9). Ivy's T7
//! comes from the matinee advert, scanned then unscanned. Jo's T8 comes from the
//! newsletter and is refunded.

use std::path::Path;

use crate::snapshot::assert_snapshot;
use crate::support::{fixture, import_lines, run};

/// When `on_sale` is evaluated in the snapshots.
const AT: &str = "2026-10-25T00:00:00Z";

/// Every report, by snapshot name, as the snapshots and the as-of tests run it.
const REPORTS: &[(&str, &[&str])] = &[
    (
        "owners",
        &[
            "report",
            "owners",
            "--performance",
            "P1,P2",
            "--limit",
            "100",
        ],
    ),
    ("unsold", &["report", "unsold", "--at", AT]),
    (
        "on-sale",
        &[
            "report",
            "on-sale",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-16",
            "--at",
            AT,
        ],
    ),
    ("shared", &["report", "shared"]),
    (
        "shared-counts",
        &["report", "shared-counts", "--bucket", "month"],
    ),
    ("ticket-shares", &["report", "ticket-shares", "T4"]),
    ("links", &["report", "links"]),
];

/// Narrower questions, shown as tables.
const VARIANTS: &[(&str, &[&str])] = &[
    (
        "owners-page",
        &[
            "report",
            "owners",
            "--performance",
            "P2,P1",
            "--limit",
            "3",
            "--offset",
            "3",
            "--exclude-deleted",
        ],
    ),
    (
        "unsold-p2",
        &["report", "unsold", "--performance", "P2", "--at", AT],
    ),
    (
        "shared-filtered",
        &[
            "report",
            "shared",
            "--recipient",
            "EXAMPLE.COM",
            "--from",
            "2026-10-04",
            "--performance",
            "P1",
        ],
    ),
    (
        "shared-counts-day",
        &["report", "shared-counts", "--bucket", "day"],
    ),
    ("links-p2", &["report", "links", "--performance", "P2"]),
    ("ticket-shares-none", &["report", "ticket-shares", "T9"]),
];

fn fixture_lines() -> Vec<String> {
    std::fs::read_to_string(fixture("reports.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Imports fixture lines into a new data folder `dir/data`.
fn import_fixture(dir: &Path, lines: &[String]) -> std::path::PathBuf {
    let data = dir.join("data");
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    import_lines(&data, dir, "fixture.jsonl", &refs);
    data
}

fn report(data: &Path, args: &[&str], format: &str) -> String {
    let mut all = args.to_vec();
    all.extend(["--format", format]);
    let r = run(data, &all);
    assert!(r.ok(), "{all:?}: {}", r.stderr);
    r.stdout
}

#[test]
fn reports_print_exactly_the_snapshots_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = import_fixture(dir.path(), &fixture_lines());
    for (name, args) in REPORTS {
        for (format, ext) in [("table", "txt"), ("json", "json"), ("csv", "csv")] {
            assert_snapshot(&format!("{name}.{ext}"), &report(&data, args, format));
        }
    }
    for (name, args) in VARIANTS {
        assert_snapshot(&format!("{name}.txt"), &report(&data, args, "table"));
    }
    // Piped stdout defaults to JSON.
    let piped = run(&data, &["report", "links"]);
    assert!(piped.ok(), "{}", piped.stderr);
    assert_eq!(piped.stdout, report(&data, &["report", "links"], "json"));
    // Each report caught its projection up and persisted it.
    for name in [
        "shared-tickets",
        "unsold-counts",
        "owner-report",
        "link-attribution",
    ] {
        assert!(
            data.join("projections")
                .join(format!("{name}.state"))
                .exists(),
            "{name}"
        );
    }
}

fn ticket_ids(page: &serde_json::Value) -> Vec<&str> {
    page["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ticket_id"].as_str().unwrap())
        .collect()
}

#[test]
fn owner_report_filters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let data = import_fixture(dir.path(), &fixture_lines());
    let owners = |extra: &[&str]| {
        let mut args = vec!["report", "owners", "--format", "json"];
        args.extend(extra);
        let r = run(&data, &args);
        assert!(r.ok(), "{args:?}: {}", r.stderr);
        r.json()
    };
    let all = owners(&["--performance", "P1,P2", "--limit", "1000"]);
    assert_eq!(all["total"], 9);
    assert_eq!(
        ticket_ids(&all),
        ["T2", "T3", "T4", "T5", "T8", "T1", "T6", "T9", "T7"]
    );
    let kept = owners(&[
        "--performance",
        "P1",
        "--performance",
        "P2",
        "--limit",
        "1000",
        "--exclude-deleted",
    ]);
    assert_eq!(kept["total"], 8);
    assert!(!ticket_ids(&kept).contains(&"T5"));
    // T4 was last shared on 2026-11-02; T1 and T7 were scanned in December.
    let recent = owners(&[
        "--performance",
        "P1,P2",
        "--limit",
        "2",
        "--last-updated-since",
        "2026-11-01T00:00:00Z",
    ]);
    assert_eq!(recent["total"], 3);
    assert_eq!(ticket_ids(&recent), ["T4", "T1"]);
    // T2's last record is 2026-10-06, but Ann's consent change (2026-10-07) counts too.
    let early = owners(&[
        "--performance",
        "P1,P2",
        "--limit",
        "10",
        "--last-updated-before",
        "2026-10-07T09:00:00Z",
    ]);
    assert_eq!(early["total"], 0, "{early}");
    let early = owners(&[
        "--performance",
        "P1,P2",
        "--limit",
        "10",
        "--last-updated-before",
        "2026-10-07T09:00:01Z",
    ]);
    assert_eq!(ticket_ids(&early), ["T2"]);
    let nobody = owners(&["--performance", "P9", "--limit", "10"]);
    assert_eq!(nobody["total"], 0);
    assert_eq!(nobody["result"], serde_json::json!([]));
}

/// Every report, as JSON, with the given extra arguments.
fn all_reports(data: &Path, extra: &[&str]) -> Vec<String> {
    REPORTS
        .iter()
        .map(|(_, args)| {
            let mut args = args.to_vec();
            args.extend(extra);
            report(data, &args, "json")
        })
        .collect()
}

fn state_files(data: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(data.join("projections"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn as_of_a_position_or_a_time_equals_the_live_report_then() {
    let lines = fixture_lines();
    // Cut after the first share, after the reschedule, after the deletion.
    for cut in [14, 21, 35] {
        let dir = tempfile::tempdir().unwrap();
        let data = import_fixture(dir.path(), &lines[..cut]);
        let live = all_reports(&data, &[]);
        // recorded_at of the rest is strictly later than `then`.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let then = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let rest: Vec<&str> = lines[cut..].iter().map(String::as_str).collect();
        import_lines(&data, dir.path(), "rest.jsonl", &rest);

        let before = state_files(&data);
        // Positions are dense from 0: the prefix ends at position cut - 1.
        let position = format!("pos:{}", cut - 1);
        let as_of = all_reports(&data, &["--as-of", &position]);
        for ((name, _), (live, as_of)) in REPORTS.iter().zip(live.iter().zip(&as_of)) {
            assert_eq!(
                live, as_of,
                "report {name} as of {position} differs from the live report then"
            );
        }
        let as_of_time = all_reports(&data, &["--as-of", &then]);
        for ((name, _), (live, as_of)) in REPORTS.iter().zip(live.iter().zip(&as_of_time)) {
            assert_eq!(
                live, as_of,
                "report {name} as of {then} differs from the live report then"
            );
        }
        assert!(
            before == state_files(&data),
            "--as-of touched the persisted projections"
        );

        // The live reports, caught up from the persisted prefix, equal the snapshots
        // (built from an empty state by the snapshot test).
        let caught_up = all_reports(&data, &[]);
        for ((name, _), text) in REPORTS.iter().zip(&caught_up) {
            crate::snapshot::assert_snapshot(&format!("{name}.json"), text);
        }
    }
}

#[test]
fn rebuild_names_what_it_rebuilt_and_reports_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let data = import_fixture(dir.path(), &fixture_lines());
    let before = all_reports(&data, &[]);
    let all = run(&data, &["rebuild"]);
    assert!(all.ok(), "{}", all.stderr);
    assert!(
        all.stdout.starts_with(
            "rebuilt shared-tickets, unsold-counts, owner-report, link-attribution from 45 record(s) in "
        ) && all.stdout.trim_end().ends_with("records/s)"),
        "{}",
        all.stdout
    );
    let one = run(&data, &["rebuild", "owner-report"]);
    assert!(one.ok(), "{}", one.stderr);
    assert!(
        one.stdout
            .starts_with("rebuilt owner-report from 45 record(s)"),
        "{}",
        one.stdout
    );
    assert_eq!(all_reports(&data, &[]), before);
    // A damaged state file is rebuilt from zero, with a warning.
    let state = data.join("projections").join("link-attribution.state");
    let mut bytes = std::fs::read(&state).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&state, bytes).unwrap();
    let r = run(&data, &["report", "links", "--format", "json"]);
    assert!(r.ok(), "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: link-attribution: state file"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, before[6]);
}

#[test]
fn bad_flag_values_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let refused = |args: &[&str], expected: &str| {
        let r = run(&data, args);
        assert_eq!(r.code, Some(1), "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        assert_eq!(r.stderr.trim_end(), expected, "{args:?}");
    };
    for limit in ["0", "1001"] {
        refused(
            &["report", "owners", "--performance", "P1", "--limit", limit],
            &format!("error: --limit: must be between 1 and 1000, got {limit}"),
        );
    }
    refused(
        &["report", "owners", "--performance", "P1", "--limit", "-5"],
        "error: --limit: must be between 1 and 1000, got -5",
    );
    refused(
        &["report", "owners", "--performance", "P1", "--limit", "many"],
        "error: --limit: must be a whole number between 1 and 1000, got \"many\"",
    );
    refused(
        &["rebuild", "everything"],
        "error: PROJECTION: \"everything\" is not one of shared-tickets, unsold-counts, owner-report, link-attribution",
    );
    refused(
        &["report", "shared-counts", "--bucket", "week"],
        "error: --bucket: \"week\" is not day or month",
    );
    refused(
        &["report", "shared", "--from", "last tuesday"],
        "error: --from: \"last tuesday\" is not an RFC 3339 time (2026-11-21T19:04:05Z) or a date (2026-11-21)",
    );
    refused(
        &["report", "links", "--format", "xml"],
        "error: --format: \"xml\" is not one of table, json, csv",
    );
    let r = run(&data, &["report", "links", "--as-of", "pos:x"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.starts_with("error: --as-of: "), "{}", r.stderr);
    refused(
        &[
            "report",
            "on-sale",
            "--from",
            "2026-10-10",
            "--to",
            "2026-10-01",
        ],
        "error: --to: the window ends (2026-10-01T00:00:00Z) before it starts (2026-10-10T00:00:00Z)",
    );
    // Refused before anything was opened or created.
    assert!(!data.exists());
}
