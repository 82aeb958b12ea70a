//! `docs/records.md` stays true: every JSON example parses, every record type has
//! an example under its own heading, and every refusal code is documented.

use std::collections::BTreeSet;

use counterfoil_core::{NewRecord, RecordType, RefusalReason};

pub(crate) fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/records.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (heading, json) for every ```json block: the heading is the last `###` line above it.
pub(crate) fn examples(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut block: Option<String> = None;
    for line in doc.lines() {
        match &mut block {
            Some(b) if line.trim_start().starts_with("```") => {
                out.push((heading.clone(), std::mem::take(b)));
                block = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None if line.trim_start().starts_with("```json") => block = Some(String::new()),
            None if line.starts_with("### ") => heading = line.to_string(),
            None => {}
        }
    }
    out
}

#[test]
fn every_record_type_has_a_parsing_example_under_its_heading() {
    let doc = doc();
    let mut seen = BTreeSet::new();
    for (heading, json) in examples(&doc) {
        let compact: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{heading}: {e}\n{json}"));
        let record = NewRecord::from_json_str(&compact.to_string())
            .unwrap_or_else(|e| panic!("{heading}: {e}"));
        let ty = record.record_type();
        assert!(
            heading.contains(&format!("`{ty}`")),
            "example of {ty} under {heading:?}"
        );
        seen.insert(ty);
    }
    let missing: Vec<_> = RecordType::ALL
        .iter()
        .filter(|t| !seen.contains(t))
        .map(|t| t.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "record types without an example in docs/records.md: {missing:?}"
    );
}

#[test]
fn every_refusal_code_is_documented() {
    let doc = doc();
    let missing: Vec<_> = RefusalReason::ALL
        .iter()
        .map(|r| r.code())
        .filter(|c| !doc.contains(&format!("`{c}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "refusal codes missing from docs/records.md: {missing:?}"
    );
}
