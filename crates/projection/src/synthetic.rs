//! Stored records made without a store, for folding projectors directly: in tests,
//! in examples and in tools that replay a hand-written history. Positions are dense
//! from 0, revisions count per stream, `recorded_at` equals `occurred_at` unless set,
//! and hashes are chained per stream exactly as a store would chain them.

use std::collections::HashMap;

use counterfoil_core::{Hash, NewRecord, RecordBody, RecordType, StoredRecord, Timestamp};

use crate::ProjectionError;

/// An in-memory sequence of stored records.
#[derive(Debug, Default)]
pub struct SyntheticLog {
    records: Vec<StoredRecord>,
    streams: HashMap<String, (u64, Hash)>,
    scratch: Vec<u8>,
}

impl SyntheticLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a record that occurred (and was recorded) at `occurred_at`.
    pub fn push(
        &mut self,
        occurred_at: Timestamp,
        body: RecordBody,
    ) -> Result<&StoredRecord, ProjectionError> {
        self.push_recorded(occurred_at, occurred_at, body)
    }

    /// Appends a record given as in the ingest format: an RFC 3339 time, a type name
    /// and the `data` object, e.g.
    /// `log.push_json("2026-11-21T19:04:05Z", "ticket.redeemed", json!({"ticket_id": "T1"}))`.
    pub fn push_json(
        &mut self,
        occurred_at: &str,
        record_type: &str,
        data: serde_json::Value,
    ) -> Result<&StoredRecord, ProjectionError> {
        let bad = |reason: String| ProjectionError::BadRecord {
            position: self.records.len() as u64,
            reason,
        };
        let at = chrono::DateTime::parse_from_rfc3339(occurred_at)
            .map_err(|e| bad(format!("occurred_at {occurred_at:?}: {e}")))?
            .to_utc();
        let ty: RecordType = record_type.parse().map_err(bad)?;
        let body = RecordBody::from_json_data(ty, data).map_err(|e| bad(e.to_string()))?;
        self.push(at, body)
    }

    /// Appends a record with distinct occurrence and recording times.
    pub fn push_recorded(
        &mut self,
        occurred_at: Timestamp,
        recorded_at: Timestamp,
        body: RecordBody,
    ) -> Result<&StoredRecord, ProjectionError> {
        let position = self.records.len() as u64;
        let stream = body.stream();
        let (revision, previous) = match self.streams.get(&stream) {
            Some(&(r, h)) => (r + 1, h),
            None => (0, Hash::GENESIS),
        };
        let new = NewRecord {
            id: uuid::Uuid::from_u128(u128::from(position) + 1),
            occurred_at,
            source: "synthetic".into(),
            actor: "synthetic".into(),
            correlation_id: None,
            body,
        };
        let record = StoredRecord::seal(
            new,
            stream.clone(),
            revision,
            position,
            recorded_at,
            &previous,
            &mut self.scratch,
        )
        .map_err(|e| ProjectionError::BadRecord {
            position,
            reason: e.to_string(),
        })?;
        self.streams.insert(stream, (revision, record.hash));
        self.records.push(record);
        Ok(&self.records[self.records.len() - 1])
    }

    pub fn records(&self) -> &[StoredRecord] {
        &self.records
    }

    pub fn into_records(self) -> Vec<StoredRecord> {
        self.records
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}
