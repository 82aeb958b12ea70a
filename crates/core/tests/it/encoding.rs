use counterfoil_core::{Hash, NewRecord, StoredRecord};

fn sample_lines() -> Vec<&'static str> {
    vec![
        r#"{"id":"0193a5b4-7c2e-7d1a-9b1e-0a1b2c3d4e5f","type":"definition.created","occurred_at":"2026-11-21T19:04:05Z","source":"ticketure","actor":"pos-12","data":{"definition_id":"D1","performance_id":"P1","name":"Adult","pricing":{"method":"optional","options":[{"name":"low","price":"10.00"},{"name":"high","price":"50"}]},"currency":"EUR","capacity":100}}"#,
        r#"{"type":"ticket.purchased","occurred_at":"2026-11-21T19:04:05+01:00","source":"web","actor":"checkout","correlation_id":"c-1","data":{"ticket_id":"T1","order_id":"O1","definition_id":"D1","ticket_type":"Adult","buyer":{"email":"a@example.com","customer_id":"C1"},"face_price":"25.00","price_paid":"20.00","discount":"5.00","currency":"EUR","channel":"web","seat":{"section":"A","row":"3","seat":"12"}}}"#,
        r#"{"type":"definition.updated","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"definition_id":"D1","capacity":null,"name":"Renamed"}}"#,
    ]
}

#[test]
fn records_round_trip_through_canonical_bytes_and_json() {
    for line in sample_lines() {
        let new = NewRecord::from_json_str(line).expect("parses");
        let stream = new.stream();
        let mut scratch = Vec::new();
        let stored = StoredRecord::seal(
            new.clone(),
            stream,
            3,
            42,
            new.occurred_at,
            &Hash::GENESIS,
            &mut scratch,
        )
        .expect("seals");
        let mut bytes = Vec::new();
        stored.encode_canonical(&mut bytes).expect("encodes");
        assert_eq!(bytes, scratch);
        assert_eq!(stored.hash, Hash::chain(&Hash::GENESIS, &bytes));
        let back = StoredRecord::decode_canonical(&bytes, stored.hash).expect("decodes");
        assert_eq!(back, stored);
        assert!(new.same_content(&back));
        let json = serde_json::to_string(&stored).expect("json");
        let from_json: StoredRecord = serde_json::from_str(&json).expect("json back");
        assert_eq!(from_json, stored);
        let again = NewRecord::from_json_value(new.to_json()).expect("ingest form round trips");
        assert_eq!(again, new);
    }
}

#[test]
fn update_distinguishes_null_from_absent() {
    let new = NewRecord::from_json_str(sample_lines()[2]).unwrap();
    let counterfoil_core::RecordBody::DefinitionUpdated(u) = &new.body else {
        panic!()
    };
    assert_eq!(u.capacity, Some(None));
    assert_eq!(u.group, None);
}

#[test]
fn field_order_and_escapes_do_not_change_the_record() {
    // `type` before `data` is read in one pass; after it, `data` is read again from
    // its text. Escaped strings cannot be borrowed from the line.
    let envelope = r#""id":"0193a5b4-7c2e-7d1a-9b1e-0a1b2c3d4e5f","occurred_at":"2026-11-21T19:04:05Z","source":"web","actor":"check\u006fut","correlation_id":"c\"1""#;
    let data = r#""data":{"ticket_id":"T\u0031","gate":"north","device":"d-7"}"#;
    let ty = r#""type":"ticket.redeemed""#;
    let first = NewRecord::from_json_str(&format!("{{{ty},{envelope},{data}}}")).unwrap();
    let last = NewRecord::from_json_str(&format!("{{{data},{envelope},{ty}}}")).unwrap();
    assert_eq!(first, last);
    assert_eq!(first.actor, "checkout");
    assert_eq!(first.correlation_id.as_deref(), Some("c\"1"));
    let json = first.to_json();
    assert_eq!(json["data"]["ticket_id"], "T1");
    assert_eq!(json["data"]["gate"], "north");
}

#[test]
fn parse_errors_name_the_field() {
    let cases = [
        (
            r#"{"type":"ticket.purchased","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"ticket_id":"T1"}}"#,
            "data",
        ),
        (
            r#"{"type":"nope","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{}}"#,
            "type",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"yesterday","source":"s","actor":"a","data":{"ticket_id":"T1"}}"#,
            "occurred_at",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"ticket_id":"T1","colour":"red"}}"#,
            "data",
        ),
        (
            r#"{"id":"nope","type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"ticket_id":"T1"}}"#,
            "id",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","actor":"a","data":{"ticket_id":"T1"}}"#,
            "source",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"ticket_id":""}}"#,
            "data.ticket_id",
        ),
        (
            r#"{"type":"payment.captured","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"order_id":"O","gateway":"g","token":"t","amount":12.5,"currency":"EUR"}}"#,
            "data.amount",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"ticket_id":"T1"},"extra":1}"#,
            "extra",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":[1]}"#,
            "data",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a"}"#,
            "data",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"ticket_id":"T1"}"#,
            "record",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"ticket_id":"T1"}} x"#,
            "record",
        ),
        (r#"[1,2]"#, "record"),
        // An array would fill the struct's fields in order; only an object is data.
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":["T1"]}"#,
            "data",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":null}"#,
            "data",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"ticket_id":"T1"},"data":{"ticket_id":"T2"}}"#,
            "data",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","type":"ticket.redeemed","data":{"ticket_id":"T1"}}"#,
            "type",
        ),
        (
            r#"{"data":{"ticket_id":"T1"},"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"ticket_id":"T1","colour":"red"}}"#,
            "data",
        ),
        (
            r#"{"type":"ticket.redeemed","occurred_at":"2026-11-21T19:04:05Z","source":"  ","actor":"a","data":{"ticket_id":"T1"}}"#,
            "source",
        ),
    ];
    for (line, field) in cases {
        let err = NewRecord::from_json_str(line).expect_err(line);
        assert!(
            err.field.starts_with(field),
            "{line}: got {err:?}, want field {field}"
        );
    }
}
