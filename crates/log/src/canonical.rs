//! Canonical bytes (`StoredRecord::encode_canonical`) assembled in parts, so that the
//! costly part is encoded by the caller, before the append reaches the writer thread.
//!
//! The canonical array's fields are, in order: `position`, `stream`, `revision` (given
//! by the writer), `id`, `occurred_at` (the caller's), `recorded_at` (one per group),
//! `source`, `actor`, `correlation_id`, `schema_version`, `record` (the caller's).
//! The compact encoding writes a struct's fields one after the other, so encoding each
//! run of fields as its own struct and dropping that struct's array header gives the
//! same bytes as encoding the whole record. A test holds this to `encode_canonical`
//! byte for byte.

use counterfoil_core::{AppendUnit, NewRecord, RecordBody, StoreError, Timestamp};
use serde::Serialize;
use uuid::Uuid;

/// Number of fields of the canonical array.
const FIELDS: u32 = 11;

#[derive(Serialize)]
struct Middle<'a> {
    id: &'a Uuid,
    #[serde(serialize_with = "counterfoil_core::values::serialize_timestamp_nanos")]
    occurred_at: Timestamp,
}

#[derive(Serialize)]
struct Recorded {
    #[serde(serialize_with = "counterfoil_core::values::serialize_timestamp_nanos")]
    recorded_at: Timestamp,
}

#[derive(Serialize)]
struct Tail<'a> {
    source: &'a str,
    actor: &'a str,
    correlation_id: &'a Option<counterfoil_core::Text>,
    schema_version: u16,
    record: &'a RecordBody,
}

/// The caller's parts of every record of a request, in request order (unit by unit,
/// write by write).
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    buf: Vec<u8>,
    spans: Vec<[usize; 4]>,
}

impl Prepared {
    /// The `id`/`occurred_at` fields and the `source`..`record` fields of record `k`.
    pub(crate) fn parts(&self, k: usize) -> Option<(&[u8], &[u8])> {
        let [a, b, c, d] = *self.spans.get(k)?;
        Some((self.buf.get(a..b)?, self.buf.get(c..d)?))
    }
}

/// Encodes `value`'s fields without its array header; returns their span in `buf`.
fn fields(buf: &mut Vec<u8>, value: &impl Serialize) -> Result<[usize; 2], StoreError> {
    let start = buf.len();
    counterfoil_core::compact::write(buf, value)
        .map_err(|e| StoreError::Encoding(e.to_string()))?;
    // A struct of fewer than 16 fields has a one-byte array header.
    Ok([start + 1, buf.len()])
}

/// Encoding buffers handed back once their append is answered, for the next request.
///
/// A large batch (an import sends about 12,000 records at a time) encodes a few MB. In
/// a fresh allocation each time, every batch lands on pages the allocator has returned
/// to the kernel meanwhile, and the kernel zeroes each one again on first touch; that
/// was about a tenth of the appending task's CPU. Reused buffers stay touched.
#[derive(Debug, Default)]
pub(crate) struct Buffers(std::sync::Mutex<Vec<Prepared>>);

/// Buffers kept for reuse: enough for the requests a pipelined caller has in flight.
const KEEP_BUFFERS: usize = 4;

impl Buffers {
    fn take(&self) -> Prepared {
        match self.0.lock() {
            Ok(mut spare) => spare.pop().unwrap_or_default(),
            Err(_) => Prepared::default(),
        }
    }

    /// Keeps `p`'s allocations for a later [`prepare`].
    pub(crate) fn give(&self, mut p: Prepared) {
        p.buf.clear();
        p.spans.clear();
        if let Ok(mut spare) = self.0.lock()
            && spare.len() < KEEP_BUFFERS
        {
            spare.push(p);
        }
    }
}

/// Encodes the caller's parts of every record of `units`, into a buffer from `buffers`.
pub(crate) fn prepare(units: &[AppendUnit], buffers: &Buffers) -> Result<Prepared, StoreError> {
    let n: usize = units.iter().flatten().map(|w| w.records.len()).sum();
    let mut p = buffers.take();
    p.buf.reserve(n * 256);
    p.spans.reserve(n);
    for r in units.iter().flatten().flat_map(|w| w.records.iter()) {
        let [a, b] = fields(&mut p.buf, &middle(r))?;
        let [c, d] = fields(&mut p.buf, &tail(r))?;
        p.spans.push([a, b, c, d]);
    }
    Ok(p)
}

fn middle(r: &NewRecord) -> Middle<'_> {
    Middle {
        id: &r.id,
        occurred_at: r.occurred_at,
    }
}

fn tail(r: &NewRecord) -> Tail<'_> {
    Tail {
        source: &r.source,
        actor: &r.actor,
        correlation_id: &r.correlation_id,
        schema_version: r.body.record_type().schema_version(),
        record: &r.body,
    }
}

/// The `recorded_at` field, encoded once per group.
pub(crate) fn recorded_at(buf: &mut Vec<u8>, at: &Timestamp) -> Result<(), StoreError> {
    buf.clear();
    let [a, _] = fields(buf, &Recorded { recorded_at: *at })?;
    buf.drain(..a);
    Ok(())
}

/// The array header and the writer's fields.
pub(crate) fn head(buf: &mut Vec<u8>, position: u64, stream: &str, revision: u64) {
    buf.clear();
    // Writing MessagePack into a Vec cannot fail.
    let _ = rmp::encode::write_array_len(buf, FIELDS);
    let _ = rmp::encode::write_uint(buf, position);
    let _ = rmp::encode::write_str(buf, stream);
    let _ = rmp::encode::write_uint(buf, revision);
}

#[cfg(test)]
mod tests {
    use super::*;
    use counterfoil_core::catalog::{Person, TicketPurchased, TicketRef};
    use counterfoil_core::{Hash, Id, SharedData, StoredRecord, StreamWrite};

    fn records() -> Vec<NewRecord> {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-21T19:04:05.123456789+01:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let purchase = RecordBody::TicketPurchased(SharedData::new(TicketPurchased {
            ticket_id: Id::new("T-1").unwrap(),
            order_id: Id::new("O-1").unwrap(),
            order_number: Some("42".into()),
            cart_number: None,
            definition_id: Id::new("D-1").unwrap(),
            ticket_type: "Adult".into(),
            ticket_group: None,
            buyer: Person {
                customer_id: None,
                email: "a@example.com".into(),
                first_name: Some("Ada".into()),
                last_name: None,
                phone: None,
            },
            face_price: "25.00".parse().unwrap(),
            discount: None,
            price_paid: "25.00".parse().unwrap(),
            currency: "EUR".parse().unwrap(),
            fees: None,
            channel: counterfoil_core::catalog::Channel::Web,
            seller: None,
            seat: None,
            visitor_id: Some(Id::new("v1").unwrap()),
        }));
        let simple = RecordBody::TicketDelivered(TicketRef {
            ticket_id: Id::new("T-2").unwrap(),
        });
        vec![
            NewRecord {
                id: Uuid::now_v7(),
                occurred_at: at,
                source: "web".into(),
                actor: "checkout".into(),
                correlation_id: Some("c-1".into()),
                body: purchase,
            },
            NewRecord {
                id: Uuid::from_u128(7),
                occurred_at: chrono::Utc::now(),
                source: "s".repeat(40).into(),
                actor: "a".into(),
                correlation_id: None,
                body: simple,
            },
        ]
    }

    #[test]
    fn parts_assemble_into_the_canonical_bytes() {
        let recs = records();
        let units: Vec<AppendUnit> = vec![vec![StreamWrite {
            stream: "ticket-T-1".into(),
            expected: counterfoil_core::ExpectedRevision::Any,
            records: recs.clone(),
        }]];
        // Encoded into a buffer another request used before: nothing of it remains.
        let buffers = Buffers::default();
        let mut other = units.clone();
        other[0][0].records.reverse();
        buffers.give(prepare(&other, &buffers).unwrap());
        let p = prepare(&units, &buffers).unwrap();
        assert_eq!(p.spans.len(), 2);
        // The first record's fields start right after its one-byte map header.
        assert_eq!(p.spans[0][0], 1, "the reused buffer starts empty");
        let now = chrono::Utc::now();
        let mut ra = Vec::new();
        recorded_at(&mut ra, &now).unwrap();
        for (k, (new, (position, revision))) in recs
            .into_iter()
            .zip([(0u64, 0u64), (70_000, 300)])
            .enumerate()
        {
            let (mid, tail) = p.parts(k).unwrap();
            let mut bytes = Vec::new();
            head(&mut bytes, position, "ticket-T-1", revision);
            bytes.extend_from_slice(mid);
            bytes.extend_from_slice(&ra);
            bytes.extend_from_slice(tail);
            let mut scratch = Vec::new();
            StoredRecord::seal(
                new,
                "ticket-T-1",
                revision,
                position,
                now,
                &Hash::GENESIS,
                &mut scratch,
            )
            .unwrap();
            assert_eq!(bytes, scratch, "record {k}");
        }
    }
}
