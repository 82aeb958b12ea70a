//! Damage on disk: `verify` names a flipped byte exactly; a torn tail is cut off on the
//! next open and reported.

use crate::support::{Workload, run, segments};

/// The number after `what ` in `text`, e.g. `offset 1234`.
fn number_after(text: &str, what: &str) -> u64 {
    let start = text
        .find(what)
        .unwrap_or_else(|| panic!("no {what:?} in {text}"))
        + what.len();
    text[start..]
        .chars()
        .skip_while(|c| *c == ' ')
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {what:?} in {text}"))
}

fn checked_records(stdout: &str) -> u64 {
    number_after(&stdout.replace(',', ""), "checked")
}

#[test]
fn verify_passes_on_a_healthy_folder_and_names_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let w = Workload::write(&dir.path().join("demo.jsonl"), 2_000, 4);
    assert!(run(&data, &["import", w.path_str()]).ok());
    let (accepted, ..) = w.expected_counts();

    let healthy = run(&data, &["verify"]);
    assert_eq!(
        healthy.code,
        Some(0),
        "{}{}",
        healthy.stdout,
        healthy.stderr
    );
    assert_eq!(
        checked_records(&healthy.stdout),
        accepted,
        "{}",
        healthy.stdout
    );
    assert!(healthy.stdout.contains("ok"), "{}", healthy.stdout);

    // A third of the way into the segment: far from the tail, so never a torn tail.
    let segment = segments(&data).remove(0);
    let name = segment.file_name().unwrap().to_str().unwrap().to_string();
    let mut bytes = std::fs::read(&segment).unwrap();
    let flipped = bytes.len() / 3;
    bytes[flipped] ^= 0x5a;
    std::fs::write(&segment, &bytes).unwrap();

    for _ in 0..2 {
        let damaged = run(&data, &["verify"]);
        assert_eq!(
            damaged.code,
            Some(1),
            "{}{}",
            damaged.stdout,
            damaged.stderr
        );
        let report = format!("{}{}", damaged.stdout, damaged.stderr);
        assert!(report.contains("first mismatch"), "{report}");
        assert!(report.contains(&name), "the segment is not named: {report}");
        // The frame holding the flipped byte starts at or before it.
        let offset = number_after(&report, "offset");
        assert!(
            offset <= flipped as u64 && offset >= 16,
            "offset {offset}, flipped {flipped}: {report}"
        );
        assert!(report.contains("position"), "{report}");
    }
}

#[test]
fn a_torn_tail_is_cut_off_on_the_next_open_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let w = Workload::write(&dir.path().join("demo.jsonl"), 1_000, 6);
    let (accepted, duplicates, refused) = w.expected_counts();
    assert!(run(&data, &["import", w.path_str()]).ok());

    // The last append was half written when the machine stopped.
    let segment = segments(&data).pop().unwrap();
    let name = segment.file_name().unwrap().to_str().unwrap().to_string();
    let len = std::fs::metadata(&segment).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.set_len(len - 5).unwrap();
    drop(file);

    let first = run(&data, &["verify"]);
    assert_eq!(first.code, Some(0), "{}{}", first.stdout, first.stderr);
    assert!(
        first.stderr.contains("torn tail"),
        "not reported: {}",
        first.stderr
    );
    assert!(first.stderr.contains(&name), "{}", first.stderr);
    let kept = checked_records(&first.stdout);
    assert!(kept > 0 && kept < accepted, "{kept} of {accepted}");

    let second = run(&data, &["verify"]);
    assert_eq!(second.code, Some(0), "{}", second.stdout);
    assert!(!second.stderr.contains("torn tail"), "{}", second.stderr);
    assert_eq!(checked_records(&second.stdout), kept);

    // Importing the file again brings back exactly what was cut off.
    let again = run(&data, &["import", w.path_str(), "--format", "json"]);
    assert!(again.ok(), "{}", again.stderr);
    let again = again.json();
    assert_eq!(again["accepted"], accepted - kept);
    assert_eq!(again["duplicates"], kept + duplicates);
    assert_eq!(again["refused"], refused);
    assert!(run(&data, &["verify"]).ok());
}
