//! The store's MessagePack reader (`counterfoil_core::msgpack`) reads canonical bytes
//! exactly as `rmp_serde`'s general reader does, and refuses damaged bytes without
//! panicking.

use counterfoil_core::{Hash, NewRecord, RecordType, StoredRecord};

use crate::records_doc::{doc, examples};

/// One sealed record of every example in `docs/records.md` (every record type), with
/// its canonical bytes.
fn sealed() -> Vec<(StoredRecord, Vec<u8>)> {
    let doc = doc();
    let mut out = Vec::new();
    for (i, (heading, json)) in examples(&doc).into_iter().enumerate() {
        let compact: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{heading}: {e}"));
        let new = NewRecord::from_json_str(&compact.to_string())
            .unwrap_or_else(|e| panic!("{heading}: {e}"));
        let stream = new.stream();
        let mut bytes = Vec::new();
        let at = new.occurred_at;
        let stored = StoredRecord::seal(
            new,
            stream,
            i as u64,
            1000 + i as u64,
            at,
            &Hash::GENESIS,
            &mut bytes,
        )
        .unwrap_or_else(|e| panic!("{heading}: {e}"));
        out.push((stored, bytes));
    }
    let types: std::collections::BTreeSet<_> =
        out.iter().map(|(r, _)| r.body.record_type()).collect();
    assert_eq!(
        types.len(),
        RecordType::ALL.len(),
        "an example of every record type"
    );
    out
}

#[test]
fn every_record_type_decodes_as_the_general_reader_decodes_it() {
    for (stored, bytes) in sealed() {
        let fast = StoredRecord::decode_canonical(&bytes, stored.hash).unwrap();
        let general = StoredRecord::decode_canonical_reference(&bytes, stored.hash).unwrap();
        assert_eq!(fast, general);
        assert_eq!(fast, stored);
    }
}

#[test]
fn every_truncation_is_refused() {
    for (stored, bytes) in sealed() {
        for cut in 0..bytes.len() {
            let err = StoredRecord::decode_canonical(&bytes[..cut], stored.hash)
                .expect_err("a truncated record must not decode");
            assert!(!err.to_string().is_empty());
            assert!(StoredRecord::decode_canonical_reference(&bytes[..cut], stored.hash).is_err());
        }
    }
}

#[test]
fn bytes_after_the_record_are_refused() {
    let (stored, mut bytes) = sealed().remove(0);
    bytes.push(0xc0);
    let err = StoredRecord::decode_canonical(&bytes, stored.hash).unwrap_err();
    assert!(err.to_string().contains("left over"), "{err}");
}

#[test]
fn damaged_bytes_never_decode_to_something_the_general_reader_refuses() {
    // Every byte of a few records, changed in three ways: wherever the store's reader
    // accepts the result, the general reader accepts it too and agrees.
    for (stored, bytes) in sealed().into_iter().step_by(7) {
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x10, 0xff] {
                let mut damaged = bytes.clone();
                damaged[i] ^= flip;
                if let Ok(fast) = StoredRecord::decode_canonical(&damaged, stored.hash) {
                    let general = StoredRecord::decode_canonical_reference(&damaged, stored.hash)
                        .unwrap_or_else(|e| panic!("byte {i} ^ {flip:#x}: general reader: {e}"));
                    assert_eq!(fast, general, "byte {i} ^ {flip:#x}");
                }
            }
        }
    }
}

#[test]
fn the_reader_answers_generic_requests_like_the_general_one() {
    use serde_json::{Value, json};
    let values = [
        json!(null),
        json!(true),
        json!(0),
        json!(127),
        json!(128),
        json!(65_535),
        json!(4_294_967_296u64),
        json!(-1),
        json!(-33),
        json!(-40_000),
        json!(i64::MIN),
        json!(1.5),
        json!("héllo"),
        json!("x".repeat(40)),
        json!("y".repeat(300)),
        json!([1, [2, [3]], {"a": null}]),
        json!({"k": {"nested": [true, false]}, "z": "last"}),
    ];
    for v in values {
        let bytes = rmp_serde::to_vec_named(&v).unwrap();
        let fast: Value = counterfoil_core::msgpack::from_slice(&bytes).unwrap();
        let general: Value = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(fast, general);
        assert_eq!(fast, v);
    }
    // Options, unit enums, enums with data, tuples and byte strings as rmp_serde writes them.
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    enum E {
        Unit,
        New(u32),
        Tuple(u8, String),
        Struct { a: Option<u16>, b: Vec<i8> },
    }
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct S {
        e: Vec<E>,
        t: (u8, i64),
        o: Option<Option<u8>>,
        #[serde(with = "serde_bytes_like")]
        raw: Vec<u8>,
        unit: (),
    }
    mod serde_bytes_like {
        pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
        pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Vec<u8>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                    Ok(v.to_vec())
                }
            }
            d.deserialize_bytes(V)
        }
    }
    let s = S {
        e: vec![
            E::Unit,
            E::New(7),
            E::Tuple(1, "t".into()),
            E::Struct {
                a: Some(300),
                b: vec![-1, 2],
            },
        ],
        t: (9, -9),
        o: Some(Some(3)),
        raw: vec![0, 1, 2, 255],
        unit: (),
    };
    for bytes in [
        rmp_serde::to_vec_named(&s).unwrap(),
        rmp_serde::to_vec(&s).unwrap(),
    ] {
        let fast: S = counterfoil_core::msgpack::from_slice(&bytes).unwrap();
        let general: S = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(fast, general);
        assert_eq!(fast, s);
    }
}

#[test]
fn refusals_name_what_is_wrong() {
    use counterfoil_core::msgpack::from_slice;
    let err = from_slice::<String>(&[0xa3, b'a', 0xff, b'c']).unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
    let err = from_slice::<u8>(&[0xd4, 0, 0]).unwrap_err();
    assert!(err.to_string().contains("extension"), "{err}");
    let err = from_slice::<u8>(&[0xc1]).unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
    let err = from_slice::<Vec<u8>>(&[0xdd, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
    assert!(err.to_string().contains("ends early"), "{err}");
    let mut deep = vec![0x91; 100];
    deep.push(0xc0);
    let err = from_slice::<serde_json::Value>(&deep).unwrap_err();
    assert!(err.to_string().contains("nest deeper"), "{err}");
}

/// The fields of a stored record in another order, and without `correlation_id`:
/// not the canonical layout, so the reader goes the general way and still agrees.
#[derive(serde::Serialize)]
struct Reordered<'a> {
    record: &'a counterfoil_core::RecordBody,
    schema_version: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_id: Option<&'a str>,
    actor: &'a str,
    source: &'a str,
    #[serde(serialize_with = "counterfoil_core::values::serialize_timestamp")]
    recorded_at: counterfoil_core::Timestamp,
    #[serde(serialize_with = "counterfoil_core::values::serialize_timestamp")]
    occurred_at: counterfoil_core::Timestamp,
    id: &'a uuid::Uuid,
    revision: u64,
    stream: &'a str,
    position: u64,
}

#[test]
fn fields_in_another_order_decode_the_general_way_to_the_same_record() {
    for (stored, canonical) in sealed() {
        for with_correlation in [true, false] {
            let correlation = stored
                .correlation_id
                .as_deref()
                .filter(|_| with_correlation);
            let bytes = rmp_serde::to_vec_named(&Reordered {
                record: &stored.body,
                schema_version: stored.schema_version,
                correlation_id: correlation,
                actor: &stored.actor,
                source: &stored.source,
                recorded_at: stored.recorded_at,
                occurred_at: stored.occurred_at,
                id: &stored.id,
                revision: stored.revision,
                stream: &stored.stream,
                position: stored.position,
            })
            .unwrap();
            assert_ne!(bytes, canonical);
            let fast = StoredRecord::decode_canonical(&bytes, stored.hash).unwrap();
            let general = StoredRecord::decode_canonical_reference(&bytes, stored.hash).unwrap();
            assert_eq!(fast, general);
            let mut expected = stored.clone();
            expected.correlation_id = correlation.map(Into::into);
            assert_eq!(fast, expected);
        }
    }
}
