//! How a record becomes a KurrentDB event and back, and how the client's revisions,
//! positions and errors map onto the storage trait's. Pure functions, so that the
//! mapping is tested in every run, without a server.
//!
//! An event holds:
//! - event id: the record id (so the server's own idempotency applies too);
//! - event type: the record type (`ticket.purchased`, ...);
//! - data: the record body as MessagePack (binary event), the same encoding as the
//!   `record` field of the canonical bytes;
//! - custom metadata: JSON [`EventMeta`]: the envelope fields the body lacks
//!   (`occurred_at`, `recorded_at`, `source`, `actor`, `correlation_id`,
//!   `schema_version`) and what the hash chain needs (see below).
//!
//! The hash chain is the embedded log's: `hash = sha256(previous || canonical)`, where
//! the canonical bytes include the record's position. The server assigns the position
//! only when it commits the append, so a record cannot carry its own hash. Instead the
//! first record of each append carries `previous`, the stream's hash before the append
//! (computed from records already committed, so with their real positions), and every
//! record carries `offset`, its index in its append. A reader computes each hash from
//! `previous` and the records of the append before it: the same hash the embedded log
//! would have stored, so a chain check means the same on both stores.

use bytes::Bytes;
use counterfoil_core::{
    ExpectedRevision, Hash, NewRecord, Position, RecordBody, StoreError, StoredRecord, Timestamp,
};
use eventstore as es;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The version of [`EventMeta`] this adapter writes. Version 2 (log format 2) hashes
/// a record over its compact canonical bytes; events of version 1 keep the hashes
/// they were written with, over the canonical bytes with field names ([`HashForm`]).
pub const META_VERSION: u8 = 2;

/// Which canonical bytes an event's record is hashed over: those of the log format
/// that was current when the event was written (its metadata version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashForm {
    /// Metadata version 1: `StoredRecord::encode_canonical_named`.
    Named,
    /// Metadata version 2: `StoredRecord::encode_canonical`.
    Compact,
}

/// The envelope fields of a record, kept in the event's custom metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMeta {
    /// Format version ([`META_VERSION`]).
    pub v: u8,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    pub source: String,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub schema_version: u16,
    /// The stream's hash before this record; only on the first record of an append.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Hash>,
    /// The record's index within its append (0 for the first).
    pub offset: u32,
}

/// An event as the adapter sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    pub id: Uuid,
    pub event_type: &'static str,
    pub data: Bytes,
    pub metadata: Bytes,
}

impl EncodedEvent {
    /// The client's event.
    pub fn into_event_data(self) -> es::EventData {
        es::EventData::binary(self.event_type, self.data)
            .id(self.id)
            .metadata(self.metadata)
    }
}

/// The parts of a stored event the decoder needs (from the client's `RecordedEvent`,
/// or built by hand in tests).
#[derive(Debug, Clone, Copy)]
pub struct EventParts<'a> {
    pub stream: &'a str,
    pub revision: u64,
    pub position: Position,
    pub id: Uuid,
    pub event_type: &'a str,
    pub data: &'a [u8],
    pub metadata: &'a [u8],
}

impl<'a> EventParts<'a> {
    pub fn of(e: &'a es::RecordedEvent) -> Self {
        Self {
            stream: &e.stream_id,
            revision: e.revision,
            position: to_position(e.position),
            id: e.id,
            event_type: &e.event_type,
            data: &e.data,
            metadata: &e.custom_metadata,
        }
    }
}

/// A stored record before its hash is known, with what the chain needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The record; its `hash` is [`Hash::GENESIS`] until [`seal_hash`] fills it.
    pub record: StoredRecord,
    pub previous: Option<Hash>,
    pub offset: u32,
    /// What the record's hash is taken over.
    pub form: HashForm,
}

/// Encodes a new record for an append. `offset` is its index in the append;
/// `previous` is the stream's hash before the append, given for offset 0 only.
pub fn encode_event(
    record: &NewRecord,
    recorded_at: Timestamp,
    previous: Option<Hash>,
    offset: u32,
) -> Result<EncodedEvent, StoreError> {
    let mut data = Vec::new();
    record
        .body
        .serialize(&mut rmp_serde::Serializer::new(&mut data).with_struct_map())
        .map_err(|e| StoreError::Encoding(format!("record {}: body: {e}", record.id)))?;
    let meta = EventMeta {
        v: META_VERSION,
        occurred_at: record.occurred_at,
        recorded_at,
        source: record.source.to_string(),
        actor: record.actor.to_string(),
        correlation_id: record.correlation_id.as_ref().map(ToString::to_string),
        schema_version: record.record_type().schema_version(),
        previous,
        offset,
    };
    let metadata = serde_json::to_vec(&meta)
        .map_err(|e| StoreError::Encoding(format!("record {}: metadata: {e}", record.id)))?;
    Ok(EncodedEvent {
        id: record.id,
        event_type: record.record_type().as_str(),
        data: Bytes::from(data),
        metadata: Bytes::from(metadata),
    })
}

/// Decodes a stored event. The error names the stream, revision and position.
pub fn decode_event(e: EventParts<'_>) -> Result<Decoded, StoreError> {
    let fail = |what: String| {
        StoreError::Encoding(format!(
            "event {} in stream {} at revision {} (position {}): {what}",
            e.id, e.stream, e.revision, e.position
        ))
    };
    let body: RecordBody =
        rmp_serde::from_slice(e.data).map_err(|err| fail(format!("body: {err}")))?;
    if body.record_type().as_str() != e.event_type {
        return Err(fail(format!(
            "event type {} does not match the body's type {}",
            e.event_type,
            body.record_type()
        )));
    }
    let meta: EventMeta =
        serde_json::from_slice(e.metadata).map_err(|err| fail(format!("metadata: {err}")))?;
    let form = match meta.v {
        1 => HashForm::Named,
        META_VERSION => HashForm::Compact,
        v => return Err(fail(format!("unknown metadata version {v}"))),
    };
    if meta.offset == 0 && meta.previous.is_none() {
        return Err(fail(
            "the first record of an append lacks its previous hash".into(),
        ));
    }
    if u64::from(meta.offset) > e.revision {
        return Err(fail(format!(
            "offset {} is beyond the stream's start",
            meta.offset
        )));
    }
    Ok(Decoded {
        record: StoredRecord {
            position: e.position,
            stream: counterfoil_core::Text::from(e.stream),
            revision: e.revision,
            id: e.id,
            occurred_at: meta.occurred_at,
            recorded_at: meta.recorded_at,
            source: meta.source.into(),
            actor: meta.actor.into(),
            correlation_id: meta.correlation_id.map(Into::into),
            schema_version: meta.schema_version,
            body,
            hash: Hash::GENESIS,
        },
        previous: meta.previous,
        offset: meta.offset,
        form,
    })
}

/// `sha256(previous || canonical bytes)`, as the embedded log seals a record (over the
/// canonical bytes of the format `form` names).
pub fn seal_hash(
    record: &StoredRecord,
    previous: &Hash,
    form: HashForm,
    scratch: &mut Vec<u8>,
) -> Result<Hash, StoreError> {
    scratch.clear();
    match form {
        HashForm::Compact => record.encode_canonical(scratch)?,
        HashForm::Named => record.encode_canonical_named(scratch)?,
    }
    Ok(Hash::chain(previous, scratch))
}

/// Seals the records of one append (or a run of it starting at offset 0) in order:
/// the first carries its previous hash, each later one chains on the one before.
pub fn seal_run(run: Vec<Decoded>) -> Result<Vec<StoredRecord>, StoreError> {
    let mut out: Vec<StoredRecord> = Vec::with_capacity(run.len());
    let mut scratch = Vec::new();
    for d in run {
        let previous = match (d.previous, out.last()) {
            (Some(p), _) => p,
            (None, Some(before)) if before.revision + 1 == d.record.revision => before.hash,
            _ => {
                return Err(StoreError::Encoding(format!(
                    "stream {} revision {}: the record before it in its append is missing",
                    d.record.stream, d.record.revision
                )));
            }
        };
        let mut record = d.record;
        record.hash = seal_hash(&record, &previous, d.form, &mut scratch)?;
        out.push(record);
    }
    Ok(out)
}

/// The client's expectation for ours: one to one.
pub fn to_client_expected(e: ExpectedRevision) -> es::ExpectedRevision {
    match e {
        ExpectedRevision::Any => es::ExpectedRevision::Any,
        ExpectedRevision::NoStream => es::ExpectedRevision::NoStream,
        ExpectedRevision::StreamExists => es::ExpectedRevision::StreamExists,
        ExpectedRevision::Exact(r) => es::ExpectedRevision::Exact(r),
    }
}

/// The stream's last revision as the server reports it, `None` for no stream.
pub fn from_client_current(c: es::CurrentRevision) -> Option<u64> {
    match c {
        es::CurrentRevision::Current(r) => Some(r),
        es::CurrentRevision::NoStream => None,
    }
}

/// Our position for the server's. Events appended through gRPC are committed one by
/// one (implicit transactions), so each has its own commit position, equal to its
/// prepare position; the commit position alone orders `$all`.
pub fn to_position(p: es::Position) -> Position {
    p.commit
}

/// The server's position of an event at our position (commit = prepare, see
/// [`to_position`]).
pub fn from_position(p: Position) -> es::Position {
    es::Position {
        commit: p,
        prepare: p,
    }
}

/// True for the server's own events (`$`-prefixed types such as `$metadata`,
/// `$streamCreated`, projections' links, and anything in a `$`-prefixed stream): they
/// are not records and reads and subscriptions leave them out.
pub fn is_system_event(stream: &str, event_type: &str) -> bool {
    event_type.starts_with('$') || stream.starts_with('$')
}

/// True when retrying on a new connection can help: the connection is gone, could not
/// be made, or the node stopped being the leader.
pub fn is_transient(e: &es::Error) -> bool {
    matches!(
        e,
        es::Error::ConnectionClosed
            | es::Error::GrpcConnectionError(_)
            | es::Error::ServerError(_)
            | es::Error::NotLeaderException(_)
            | es::Error::DeadlineExceeded
    )
}

/// Maps a client error. A wrong expected version on `stream` becomes our conflict,
/// with `expected` as the caller stated it; anything else names the server's URL and
/// what was being done.
pub fn map_error(
    e: es::Error,
    url: &str,
    what: &str,
    conflict: Option<(&str, ExpectedRevision)>,
) -> StoreError {
    match (e, conflict) {
        (es::Error::WrongExpectedVersion { current, expected }, Some((stream, ours))) => {
            let _ = expected;
            StoreError::WrongExpectedRevision {
                stream: stream.to_string(),
                expected: ours.to_string(),
                actual: describe_current(from_client_current(current)),
            }
        }
        (es::Error::ResourceDeleted, _) => StoreError::Backend(format!(
            "KurrentDB at {url}: {what}: the stream was deleted on the server"
        )),
        (es::Error::AccessDenied, _) => StoreError::Backend(format!(
            "KurrentDB at {url}: {what}: access denied (check the credentials in the URL)"
        )),
        (e, _) => StoreError::Backend(format!("KurrentDB at {url}: {what}: {e}")),
    }
}

/// A stream's state in our words, as [`ExpectedRevision::check`] says it.
pub fn describe_current(current: Option<u64>) -> String {
    match current {
        Some(c) => format!("revision {c}"),
        None => "no stream".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use counterfoil_core::Id;
    use counterfoil_core::catalog::TicketRef;

    fn new_record(ticket: &str) -> NewRecord {
        NewRecord {
            id: Uuid::now_v7(),
            occurred_at: chrono::DateTime::from_timestamp(1_800_000_000, 123_456_789)
                .unwrap_or_default(),
            source: "box-office".into(),
            actor: "clerk-7".into(),
            correlation_id: Some("order-9".into()),
            body: RecordBody::TicketDelivered(TicketRef {
                ticket_id: Id::new(ticket).unwrap(),
            }),
        }
    }

    fn parts<'a>(
        e: &'a EncodedEvent,
        stream: &'a str,
        revision: u64,
        position: u64,
    ) -> EventParts<'a> {
        EventParts {
            stream,
            revision,
            position,
            id: e.id,
            event_type: e.event_type,
            data: &e.data,
            metadata: &e.metadata,
        }
    }

    #[test]
    fn a_record_round_trips_through_an_event() {
        let new = new_record("T1");
        let at = chrono::DateTime::from_timestamp(1_800_000_100, 5).unwrap();
        let prev = Hash([7; 32]);
        let e = encode_event(&new, at, Some(prev), 0).unwrap();
        assert_eq!(e.id, new.id);
        assert_eq!(e.event_type, "ticket.delivered");
        let meta: serde_json::Value = serde_json::from_slice(&e.metadata).unwrap();
        assert_eq!(meta["source"], "box-office");
        assert_eq!(meta["previous"], prev.to_hex());
        let d = decode_event(parts(&e, "ticket-T1", 3, 4242)).unwrap();
        assert_eq!(d.previous, Some(prev));
        assert_eq!(d.offset, 0);
        assert!(new.same_content(&d.record));
        assert_eq!(d.record.position, 4242);
        assert_eq!(d.record.revision, 3);
        assert_eq!(d.record.stream, "ticket-T1");
        assert_eq!(d.record.recorded_at, at);
        assert_eq!(d.record.schema_version, new.record_type().schema_version());
    }

    #[test]
    fn the_hash_is_the_embedded_logs_seal() {
        let new = new_record("T2");
        let at = chrono::DateTime::from_timestamp(1_800_000_100, 0).unwrap();
        let prev = Hash([1; 32]);
        let e = encode_event(&new, at, Some(prev), 0).unwrap();
        let d = decode_event(parts(&e, "ticket-T2", 5, 900)).unwrap();
        let sealed = seal_run(vec![d]).unwrap();
        let log_seal =
            StoredRecord::seal(new, "ticket-T2", 5, 900, at, &prev, &mut Vec::new()).unwrap();
        assert_eq!(sealed[0], log_seal);
    }

    /// An event as metadata version 1 wrote it (before log format 2).
    fn as_version_1(e: &EncodedEvent) -> EncodedEvent {
        let mut meta: serde_json::Value = serde_json::from_slice(&e.metadata).unwrap();
        meta["v"] = serde_json::json!(1);
        EncodedEvent {
            metadata: Bytes::from(serde_json::to_vec(&meta).unwrap()),
            ..e.clone()
        }
    }

    #[test]
    fn events_of_metadata_version_1_keep_their_hashes_over_the_named_bytes() {
        let at = chrono::DateTime::from_timestamp(1_800_000_100, 0).unwrap();
        let first = new_record("T5");
        let second = new_record("T5");
        // A record written before format 2, then one written after, in one stream.
        let old = as_version_1(&encode_event(&first, at, Some(Hash::GENESIS), 0).unwrap());
        let d_old = decode_event(parts(&old, "ticket-T5", 0, 700)).unwrap();
        assert_eq!(d_old.form, HashForm::Named);
        let sealed_old = seal_run(vec![d_old]).unwrap().remove(0);
        let mut named = Vec::new();
        sealed_old.encode_canonical_named(&mut named).unwrap();
        assert_eq!(sealed_old.hash, Hash::chain(&Hash::GENESIS, &named));
        // The bytes with names are not the compact ones, so the forms give other hashes.
        let mut compact = Vec::new();
        sealed_old.encode_canonical(&mut compact).unwrap();
        assert_ne!(named, compact);
        let new = encode_event(&second, at, Some(sealed_old.hash), 0).unwrap();
        let d_new = decode_event(parts(&new, "ticket-T5", 1, 800)).unwrap();
        assert_eq!(d_new.form, HashForm::Compact);
        let sealed_new = seal_run(vec![d_new]).unwrap().remove(0);
        assert_eq!(
            sealed_new.hash,
            Hash::chain(&sealed_old.hash, &{
                let mut b = Vec::new();
                sealed_new.encode_canonical(&mut b).unwrap();
                b
            })
        );
        // A version this adapter does not know is refused, naming it.
        let mut meta: serde_json::Value = serde_json::from_slice(&new.metadata).unwrap();
        meta["v"] = serde_json::json!(3);
        let future = EncodedEvent {
            metadata: Bytes::from(serde_json::to_vec(&meta).unwrap()),
            ..new.clone()
        };
        let err = decode_event(parts(&future, "ticket-T5", 1, 800)).unwrap_err();
        assert!(
            err.to_string().contains("unknown metadata version 3"),
            "{err}"
        );
    }

    #[test]
    fn records_of_one_append_chain_on_each_other() {
        let at = chrono::DateTime::from_timestamp(1_800_000_100, 0).unwrap();
        let news: Vec<NewRecord> = (0..3).map(|i| new_record(&format!("T{i}"))).collect();
        let encoded: Vec<EncodedEvent> = news
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let prev = (i == 0).then_some(Hash::GENESIS);
                encode_event(n, at, prev, i as u32).unwrap()
            })
            .collect();
        let run: Vec<Decoded> = encoded
            .iter()
            .enumerate()
            .map(|(i, e)| decode_event(parts(e, "s", i as u64, 100 + 10 * i as u64)).unwrap())
            .collect();
        assert_eq!(run[1].previous, None);
        let sealed = seal_run(run.clone()).unwrap();
        let mut previous = Hash::GENESIS;
        for r in &sealed {
            assert_eq!(
                r.hash,
                seal_hash(r, &previous, HashForm::Compact, &mut Vec::new()).unwrap()
            );
            previous = r.hash;
        }
        // A run that starts inside an append cannot be sealed on its own.
        assert!(matches!(
            seal_run(run[1..].to_vec()),
            Err(StoreError::Encoding(_))
        ));
        // The hash depends on the position the server assigned.
        let mut moved = run.clone();
        moved[0].record.position += 1;
        assert_ne!(seal_run(moved).unwrap()[0].hash, sealed[0].hash);
    }

    #[test]
    fn malformed_events_are_errors_naming_the_event() {
        let new = new_record("T3");
        let at = chrono::DateTime::from_timestamp(1_800_000_100, 0).unwrap();
        let e = encode_event(&new, at, Some(Hash::GENESIS), 0).unwrap();
        let mut p = parts(&e, "ticket-T3", 0, 77);
        p.event_type = "ticket.purchased";
        let err = decode_event(p).unwrap_err().to_string();
        assert!(err.contains("ticket-T3") && err.contains("77"), "{err}");
        let mut p = parts(&e, "ticket-T3", 0, 77);
        p.metadata = b"{}";
        assert!(matches!(decode_event(p), Err(StoreError::Encoding(_))));
        let mut p = parts(&e, "ticket-T3", 0, 77);
        p.data = b"\x01\x02";
        assert!(matches!(decode_event(p), Err(StoreError::Encoding(_))));
        // The first record of an append must say what it chains on.
        let first = encode_event(&new, at, None, 0).unwrap();
        assert!(decode_event(parts(&first, "s", 0, 1)).is_err());
        // An offset reaching before the stream's start is damage.
        let late = encode_event(&new, at, None, 4).unwrap();
        assert!(decode_event(parts(&late, "s", 2, 1)).is_err());
        assert!(decode_event(parts(&late, "s", 4, 1)).is_ok());
    }

    #[test]
    fn expected_revisions_map_one_to_one() {
        assert_eq!(
            to_client_expected(ExpectedRevision::Any),
            es::ExpectedRevision::Any
        );
        assert_eq!(
            to_client_expected(ExpectedRevision::NoStream),
            es::ExpectedRevision::NoStream
        );
        assert_eq!(
            to_client_expected(ExpectedRevision::StreamExists),
            es::ExpectedRevision::StreamExists
        );
        assert_eq!(
            to_client_expected(ExpectedRevision::Exact(41)),
            es::ExpectedRevision::Exact(41)
        );
        assert_eq!(
            from_client_current(es::CurrentRevision::Current(3)),
            Some(3)
        );
        assert_eq!(from_client_current(es::CurrentRevision::NoStream), None);
    }

    #[test]
    fn a_wrong_expected_version_is_our_conflict() {
        let e = es::Error::WrongExpectedVersion {
            expected: es::ExpectedRevision::Exact(2),
            current: es::CurrentRevision::Current(5),
        };
        let mapped = map_error(
            e,
            "esdb://h:2113",
            "appending",
            Some(("ticket-T1", ExpectedRevision::Exact(2))),
        );
        assert!(mapped.is_conflict());
        match mapped {
            StoreError::WrongExpectedRevision {
                stream,
                expected,
                actual,
            } => {
                assert_eq!(stream, "ticket-T1");
                assert_eq!(expected, "revision 2");
                assert_eq!(actual, "revision 5");
            }
            other => panic!("{other:?}"),
        }
        let none = map_error(
            es::Error::WrongExpectedVersion {
                expected: es::ExpectedRevision::StreamExists,
                current: es::CurrentRevision::NoStream,
            },
            "u",
            "appending",
            Some(("s", ExpectedRevision::StreamExists)),
        );
        assert!(none.to_string().contains("no stream"), "{none}");
    }

    #[test]
    fn other_errors_name_the_server_and_the_operation() {
        let e = map_error(
            es::Error::ConnectionClosed,
            "esdb://h:2113?tls=false",
            "reading stream s",
            None,
        );
        let text = e.to_string();
        assert!(matches!(e, StoreError::Backend(_)));
        assert!(text.contains("esdb://h:2113?tls=false"), "{text}");
        assert!(text.contains("reading stream s"), "{text}");
        assert!(!e.is_conflict());
        assert!(is_transient(&es::Error::ConnectionClosed));
        assert!(is_transient(&es::Error::ServerError("unavailable".into())));
        assert!(!is_transient(&es::Error::AccessDenied));
        assert!(!is_transient(&es::Error::WrongExpectedVersion {
            expected: es::ExpectedRevision::Any,
            current: es::CurrentRevision::NoStream,
        }));
    }

    #[test]
    fn positions_are_commit_positions() {
        let p = es::Position {
            commit: 1234,
            prepare: 1234,
        };
        assert_eq!(to_position(p), 1234);
        assert_eq!(from_position(1234), p);
        assert_eq!(from_position(to_position(p)), p);
    }

    #[test]
    fn system_events_are_recognised() {
        assert!(is_system_event("$stats-127.0.0.1:2113", "$statsCollected"));
        assert!(is_system_event("ticket-T1", "$metadata"));
        assert!(is_system_event("$$ticket-T1", "$metadata"));
        assert!(is_system_event("$et-ticket.purchased", "ticket.purchased"));
        assert!(!is_system_event("ticket-T1", "ticket.purchased"));
    }
}
