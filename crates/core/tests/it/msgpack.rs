//! The store's MessagePack writer (`counterfoil_core::compact`) and reader
//! (`counterfoil_core::msgpack`): canonical bytes read back to the record they were
//! written from, the reader's fast path agrees with its general path, both agree with
//! `rmp_serde` wherever `rmp_serde` can read the bytes, and damaged bytes are refused
//! without panicking.

use counterfoil_core::SharedData;
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
        let general = StoredRecord::decode_canonical_general(&bytes, stored.hash).unwrap();
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
            assert!(StoredRecord::decode_canonical_general(&bytes[..cut], stored.hash).is_err());
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
    // Every byte of every example record, changed in three ways: wherever the store's
    // reader accepts the result, the general reader accepts it too and agrees.
    for (stored, bytes) in sealed() {
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x10, 0xff] {
                let mut damaged = bytes.clone();
                damaged[i] ^= flip;
                if let Ok(fast) = StoredRecord::decode_canonical(&damaged, stored.hash) {
                    let general = StoredRecord::decode_canonical_general(&damaged, stored.hash)
                        .unwrap_or_else(|e| panic!("byte {i} ^ {flip:#x}: general reader: {e}"));
                    assert_eq!(fast, general, "byte {i} ^ {flip:#x}");
                }
            }
        }
    }
}

/// An enum of every variant shape serde has.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum E {
    Unit,
    New(u32),
    Tuple(u8, String),
    Struct { a: Option<u16>, b: Vec<i8> },
}

fn every_variant() -> Vec<E> {
    vec![
        E::Unit,
        E::New(7),
        E::Tuple(1, "t".into()),
        E::Struct {
            a: Some(300),
            b: vec![-1, 2],
        },
    ]
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
        e: every_variant(),
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
    assert!(err.to_string().contains("left out"), "{err}");
    let err = from_slice::<Vec<u8>>(&[0xdd, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
    assert!(err.to_string().contains("ends early"), "{err}");
    let mut deep = vec![0x91; 100];
    deep.push(0xc0);
    let err = from_slice::<serde_json::Value>(&deep).unwrap_err();
    assert!(err.to_string().contains("nest deeper"), "{err}");
}

/// The fields of a stored record by name, in another order, and without
/// `correlation_id`: not the canonical layout, so the reader goes the general way and
/// still agrees.
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

#[test]
fn the_compact_writer_writes_what_rmp_serde_writes_where_no_field_is_left_out() {
    use serde_json::json;
    // Numbers, strings, arrays and maps: the same bytes (serde_json's maps are maps).
    for v in [
        json!(null),
        json!(false),
        json!(127),
        json!(128),
        json!(256),
        json!(65_536),
        json!(4_294_967_296u64),
        json!(-1),
        json!(-32),
        json!(-33),
        json!(-129),
        json!(-40_000),
        json!(i64::MIN),
        json!(1.5),
        json!("x".repeat(31)),
        json!("x".repeat(32)),
        json!("y".repeat(300)),
        json!("z".repeat(70_000)),
        json!((0..20).collect::<Vec<_>>()),
        json!({"k": {"nested": [true, false]}, "z": "last"}),
    ] {
        assert_eq!(
            counterfoil_core::compact::to_vec(&v).unwrap(),
            rmp_serde::to_vec(&v).unwrap(),
            "{v}"
        );
    }
    // Structs as arrays, enums and byte strings, as rmp_serde's default writes them.
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct S {
        e: Vec<E>,
        t: (u8, i64),
        o: Option<Option<u8>>,
        uuid: uuid::Uuid,
    }
    let s = S {
        e: every_variant(),
        t: (9, -9),
        o: Some(Some(3)),
        uuid: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef),
    };
    let bytes = counterfoil_core::compact::to_vec(&s).unwrap();
    assert_eq!(bytes, rmp_serde::to_vec(&s).unwrap());
    let back: S = counterfoil_core::msgpack::from_slice(&bytes).unwrap();
    assert_eq!(back, s);
}

/// A struct with fields that may be left out between fields that may not, and more
/// than 15 fields in all (a three-byte array header).
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Sparse {
    a: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    maybe: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    cleared: Option<Option<u32>>,
    #[serde(default, skip_serializing_if = "is_false")]
    flag: bool,
    f05: u8,
    f06: u8,
    f07: u8,
    f08: u8,
    f09: u8,
    f10: u8,
    f11: u8,
    f12: u8,
    f13: u8,
    f14: u8,
    f15: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last: Option<u8>,
    z: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    <Option<u32> as serde::Deserialize>::deserialize(d).map(Some)
}

#[test]
fn fields_left_out_keep_their_place_and_read_back_as_left_out() {
    for maybe in [None, Some("m".to_string())] {
        for cleared in [None, Some(None), Some(Some(5))] {
            for flag in [false, true] {
                for last in [None, Some(9)] {
                    let s = Sparse {
                        a: 1,
                        maybe: maybe.clone(),
                        cleared,
                        flag,
                        last,
                        z: "end".into(),
                        ..Sparse::default()
                    };
                    let bytes = counterfoil_core::compact::to_vec(&s).unwrap();
                    // 17 fields: an array16 header, whatever was left out.
                    assert_eq!(&bytes[..3], &[0xdc, 0, 17]);
                    let back: Sparse = counterfoil_core::msgpack::from_slice(&bytes).unwrap();
                    // An explicit null (`Some(None)`) and a left-out field stay apart.
                    assert_eq!(back, s);
                }
            }
        }
    }
}

#[test]
fn a_required_field_left_out_is_refused() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Two {
        a: u8,
        b: u8,
    }
    let err = counterfoil_core::msgpack::from_slice::<Two>(&[0x92, 0x01, 0xc1]).unwrap_err();
    assert!(err.to_string().contains("invalid length"), "{err}");
    // The marker is no value anywhere but among a struct's fields.
    let err = counterfoil_core::msgpack::from_slice::<Vec<u8>>(&[0x92, 0x01, 0xc1]).unwrap_err();
    assert!(err.to_string().contains("left out"), "{err}");
    let err =
        counterfoil_core::msgpack::from_slice::<(u8, Option<u8>)>(&[0x92, 0x01, 0xc1]).unwrap_err();
    assert!(err.to_string().contains("left out"), "{err}");
}

#[test]
fn a_cleared_and_an_unchanged_value_stay_apart_in_a_stored_record() {
    use counterfoil_core::RecordBody;
    use counterfoil_core::catalog::DefinitionUpdated;
    for capacity in [None, Some(None), Some(Some(100))] {
        let new = NewRecord {
            id: uuid::Uuid::now_v7(),
            occurred_at: chrono::Utc::now(),
            source: "s".into(),
            actor: "a".into(),
            correlation_id: None,
            body: RecordBody::DefinitionUpdated(SharedData::new(DefinitionUpdated {
                definition_id: counterfoil_core::Id::new("D-1").unwrap(),
                name: None,
                group: None,
                pricing: None,
                currency: None,
                capacity,
                sale_starts_at: None,
                sale_ends_at: None,
                max_redemptions: None,
            })),
        };
        let stream = new.stream();
        let at = new.occurred_at;
        let mut bytes = Vec::new();
        let stored = StoredRecord::seal(new, stream, 0, 0, at, &Hash::GENESIS, &mut bytes).unwrap();
        let back = StoredRecord::decode_canonical(&bytes, stored.hash).unwrap();
        assert_eq!(back, stored);
        let RecordBody::DefinitionUpdated(d) = &back.body else {
            panic!("another type: {:?}", back.body);
        };
        assert_eq!(d.capacity, capacity);
    }
}

#[test]
fn envelope_times_are_stored_as_nanoseconds_where_they_can_be_and_as_text_otherwise() {
    use chrono::{NaiveDate, TimeZone, Utc};
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let leap_second = day(2016, 12, 31)
        .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
        .unwrap()
        .and_utc();
    let cases = [
        (Utc.timestamp_opt(0, 0).unwrap(), true),
        (Utc.timestamp_opt(1_764_930_000, 123_456_789).unwrap(), true),
        (Utc.timestamp_opt(-86_400, 1).unwrap(), true),
        (
            day(1500, 1, 1).and_hms_opt(0, 0, 0).unwrap().and_utc(),
            false,
        ),
        (
            day(3000, 6, 1).and_hms_opt(12, 0, 0).unwrap().and_utc(),
            false,
        ),
        (leap_second, false),
    ];
    for (at, as_nanos) in cases {
        let new = NewRecord {
            id: uuid::Uuid::now_v7(),
            occurred_at: at,
            source: "s".into(),
            actor: "a".into(),
            correlation_id: None,
            body: counterfoil_core::RecordBody::TicketDelivered(
                counterfoil_core::catalog::TicketRef {
                    ticket_id: counterfoil_core::Id::new("T-1").unwrap(),
                },
            ),
        };
        let stream = new.stream();
        let mut bytes = Vec::new();
        let stored = StoredRecord::seal(new, stream, 0, 0, at, &Hash::GENESIS, &mut bytes).unwrap();
        let fast = StoredRecord::decode_canonical(&bytes, stored.hash).unwrap();
        let general = StoredRecord::decode_canonical_general(&bytes, stored.hash).unwrap();
        assert_eq!(fast, stored, "{at:?}");
        assert_eq!(general, stored, "{at:?}");
        assert_eq!((fast.occurred_at, fast.recorded_at), (at, at));
        // After the array header, position 0, the stream name, revision 0 and the id:
        // an integer (0xd3 or an unsigned form) or a string.
        let at_field = 1 + 1 + 1 + stored.stream.len() + 1 + 2 + 16;
        let marker = bytes[at_field];
        let is_text = (0xa0..=0xbf).contains(&marker) || marker == 0xd9;
        assert_eq!(!is_text, as_nanos, "{at:?}: marker {marker:#x}");
    }
}

#[test]
fn the_canonical_bytes_of_format_1_are_a_map_with_names_that_both_readers_read_back() {
    for (stored, compact) in sealed() {
        let mut named = Vec::new();
        stored.encode_canonical_named(&mut named).unwrap();
        assert_eq!(named[0], 0x8b, "a map of 11 fields");
        assert!(named.len() > compact.len());
        for field in [
            "position",
            "stream",
            "occurred_at",
            "schema_version",
            "record",
        ] {
            assert!(
                named.windows(field.len()).any(|w| w == field.as_bytes()),
                "{field}"
            );
        }
        let fast = StoredRecord::decode_canonical(&named, stored.hash).unwrap();
        let reference = StoredRecord::decode_canonical_reference(&named, stored.hash).unwrap();
        assert_eq!(fast, stored);
        assert_eq!(reference, stored);
    }
}

/// `Lifecycle::is_changed_by` is false only for records after which `apply` leaves
/// every lifecycle as it was (read models skip the ticket's lookup for those).
#[test]
fn a_lifecycle_is_changed_only_by_the_records_that_say_so() {
    use counterfoil_core::rules::Lifecycle;
    let bodies: Vec<_> = sealed().into_iter().map(|(r, _)| r.body).collect();
    // Lifecycles reached by every sequence of up to three example records.
    let mut lives = vec![Lifecycle::default()];
    for _ in 0..3 {
        let next: Vec<Lifecycle> = lives
            .iter()
            .flat_map(|l| {
                bodies.iter().map(move |b| {
                    let mut l = *l;
                    l.apply(b);
                    l
                })
            })
            .collect();
        lives.extend(next);
        lives.sort_by_key(|l| format!("{l:?}"));
        lives.dedup();
    }
    for body in &bodies {
        let changes = lives.iter().any(|l| {
            let mut after = *l;
            after.apply(body);
            after != *l
        });
        assert_eq!(
            Lifecycle::is_changed_by(body),
            changes,
            "{:?}",
            body.record_type()
        );
    }
}
