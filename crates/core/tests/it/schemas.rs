//! `schemas/` must equal what the Rust types generate. After an intended change to a
//! record type, regenerate with `COUNTERFOIL_UPDATE_SCHEMAS=1 cargo test -p counterfoil-core schemas`.

use std::path::PathBuf;

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

#[test]
fn schemas_are_in_step_with_types() {
    let dir = schemas_dir();
    let update = std::env::var_os("COUNTERFOIL_UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    let expected: Vec<_> = counterfoil_core::schema::all();
    for (name, schema) in &expected {
        let text = serde_json::to_string_pretty(schema).unwrap() + "\n";
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name.clone());
        }
    }
    // No schema file may exist without a type behind it.
    let names: Vec<_> = expected.iter().map(|(n, _)| n.clone()).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !names.contains(&name) {
            if update {
                std::fs::remove_file(dir.join(&name)).unwrap();
            } else {
                stale.push(format!("{name} (no such record type)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ is out of step with the record types: {stale:?}; \
         run COUNTERFOIL_UPDATE_SCHEMAS=1 cargo test -p counterfoil-core schemas"
    );
}

#[test]
fn every_record_type_has_a_schema_with_its_fields() {
    for (name, schema) in counterfoil_core::schema::all() {
        let props = &schema["properties"]["data"]["properties"];
        assert!(props.is_object(), "{name}: data has no properties");
        assert!(!props.as_object().unwrap().is_empty(), "{name}");
    }
    let purchased =
        counterfoil_core::schema::ingest_schema(counterfoil_core::RecordType::TicketPurchased);
    let required = purchased["properties"]["data"]["required"]
        .as_array()
        .unwrap();
    for field in [
        "ticket_id",
        "order_id",
        "definition_id",
        "buyer",
        "price_paid",
        "currency",
        "channel",
    ] {
        assert!(
            required.iter().any(|f| f == field),
            "{field} should be required"
        );
    }
}
