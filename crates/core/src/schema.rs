//! JSON Schemas of the ingest format, one per record type and schema version,
//! generated from the Rust types so that `schemas/` can never drift from the code
//! unnoticed (a test compares the two).

use schemars::schema::RootSchema;
use serde_json::{Value, json};

use crate::catalog::{RecordBody, RecordType};

/// The file name of a type's schema, e.g. `ticket.purchased.v1.json`.
pub fn file_name(ty: RecordType) -> String {
    format!("{}.v{}.json", ty.as_str(), ty.schema_version())
}

/// The schema of one ingest line (SPEC §3) of the given type: the envelope with
/// `type` fixed and `data` described by the type's Rust struct.
pub fn ingest_schema(ty: RecordType) -> Value {
    let data: RootSchema = RecordBody::data_schema(ty);
    let definitions = serde_json::to_value(&data.definitions).unwrap_or(Value::Null);
    let data_schema = serde_json::to_value(&data.schema).unwrap_or(Value::Null);
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": format!("https://counterfoil.dev/schemas/{}", file_name(ty)),
        "title": ty.as_str(),
        "description": if ty.is_internal() {
            format!("A record of type `{}` (schema version {}), internal: written by the ledger itself and refused at ingest.", ty.as_str(), ty.schema_version())
        } else {
            format!("One ingest line of type `{}` (schema version {}).", ty.as_str(), ty.schema_version())
        },
        "type": "object",
        "additionalProperties": false,
        "required": ["type", "occurred_at", "source", "actor", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "Idempotency key; generated (UUIDv7) when absent."},
            "type": {"const": ty.as_str()},
            "occurred_at": {"type": "string", "format": "date-time"},
            "source": {"type": "string", "minLength": 1, "maxLength": 128},
            "actor": {"type": "string", "minLength": 1, "maxLength": 128},
            "correlation_id": {"type": ["string", "null"], "maxLength": 128},
            "data": data_schema,
        },
        "definitions": definitions,
    })
}

/// Every schema with its file name, in catalog order, internal types last.
pub fn all() -> Vec<(String, Value)> {
    RecordType::ALL
        .iter()
        .chain(RecordType::INTERNAL)
        .map(|&ty| (file_name(ty), ingest_schema(ty)))
        .collect()
}
