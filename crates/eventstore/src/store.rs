//! [`Store`] over KurrentDB.
//!
//! Appends: one unit is one stream (several writes to the same stream are merged into
//! one append, which the server applies atomically); a unit spanning several streams
//! is refused with [`StoreError::Unsupported`], since the client has no multi-stream
//! atomic append. Before writing, ids are looked up in the [`IdIndex`]: all stored
//! with the same content is a duplicate answer, other content is `IdConflict`, a mix is
//! `PartialDuplicate`. The caller's expectations are checked against the stream's last
//! record, read just before; the append then goes to the server with the exact
//! revision that was read (or `NoStream`), so that the previous hash written into the
//! append is the one the server will chain on. If the server answers a wrong expected
//! version, a caller who said `Exact`/`NoStream` gets the conflict; one who said
//! `Any`/`StreamExists` is retried on the new last record (bounded).
//!
//! Reads decode events and compute hashes (see [`crate::mapping`]), fetching the
//! start of an append when a read begins inside one; the last hash seen per stream is
//! cached so sequential reads do not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use counterfoil_core::{
    AppendOutcome, AppendUnit, ExpectedRevision, Hash, Position, RecordOutcome, Store, StoreError,
    StoredRecord, Subscription,
};
use eventstore as es;
use futures::StreamExt;
use uuid::Uuid;

use crate::connection::{ConnectConfig, Connection};
use crate::error::EventstoreError;
use crate::index::IdIndex;
use crate::mapping::{
    self, Decoded, EventParts, decode_event, from_position, is_system_event, seal_hash, seal_run,
    to_client_expected, to_position,
};

/// The longest stream name accepted, as for the embedded log.
const MAX_STREAM_NAME: usize = 1024;
/// Events read from `$all` per request while refreshing the index or catching up.
const PAGE: usize = 2048;
/// Retries of an `Any`/`StreamExists` append that lost a race.
const RACE_RETRIES: usize = 32;
/// Streams whose last hash is cached; the cache is cleared beyond.
const HASH_CACHE: usize = 100_000;

/// What [`EventStore::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub records: u64,
    pub streams: u64,
    /// The first break in a chain, if any.
    pub first_mismatch: Option<String>,
}

/// The storage trait over KurrentDB / EventStoreDB. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Connection,
    index: tokio::sync::Mutex<IdIndex>,
    hashes: Mutex<HashMap<String, (u64, Hash)>>,
}

impl EventStore {
    /// Connects and checks that the server answers (with retries and backoff).
    pub async fn connect(config: ConnectConfig) -> Result<EventStore, EventstoreError> {
        let conn = Connection::new(config).await?;
        let store = EventStore {
            inner: Arc::new(Inner {
                conn,
                index: tokio::sync::Mutex::new(IdIndex::default()),
                hashes: Mutex::new(HashMap::new()),
            }),
        };
        store.last_all_position().await?;
        Ok(store)
    }

    /// The server's connection string.
    pub fn url(&self) -> &str {
        self.inner.conn.url()
    }

    /// Rechecks every stream's hash chain by reading `$all` from the start: revisions
    /// follow each other, and the previous hash stored with the first record of each
    /// append is the hash computed from the records before it. `progress` gets the
    /// number of records checked so far.
    pub async fn verify(
        &self,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<VerifyReport, StoreError> {
        let mut chains: HashMap<String, (u64, Hash)> = HashMap::new();
        let mut report = VerifyReport::default();
        let mut cursor = es::StreamPosition::Start;
        let mut after: Option<es::Position> = None;
        let mut scratch = Vec::new();
        loop {
            let page = self.all_events(cursor, PAGE, false).await?;
            let n = page.len();
            for e in page {
                if after.is_some_and(|a| e.position <= a) {
                    continue;
                }
                after = Some(e.position);
                if is_system_event(&e.stream_id, &e.event_type) {
                    continue;
                }
                let d = decode_event(EventParts::of(&e))?;
                let r = &d.record;
                let before = chains.get(r.stream.as_str()).copied();
                let expected_revision = before.map_or(0, |(rev, _)| rev + 1);
                let previous = before.map_or(Hash::GENESIS, |(_, h)| h);
                if r.revision != expected_revision {
                    report.first_mismatch = Some(format!(
                        "stream {} at position {}: revision {} follows revision {}",
                        r.stream,
                        r.position,
                        r.revision,
                        before.map_or("none".to_string(), |(rev, _)| rev.to_string())
                    ));
                    return Ok(report);
                }
                if let Some(stored) = d.previous
                    && stored != previous
                {
                    report.first_mismatch = Some(format!(
                        "stream {} revision {} at position {}: the append chains on {stored}, \
                         but the records before it hash to {previous}",
                        r.stream, r.revision, r.position
                    ));
                    return Ok(report);
                }
                let hash = seal_hash(r, &previous, d.form, &mut scratch)?;
                if before.is_none() {
                    report.streams += 1;
                }
                chains.insert(r.stream.to_string(), (r.revision, hash));
                report.records += 1;
                progress(report.records);
            }
            match after {
                Some(a) if n == PAGE => cursor = es::StreamPosition::Position(a),
                _ => return Ok(report),
            }
        }
    }

    fn conn(&self) -> &Connection {
        &self.inner.conn
    }

    /// Events of a stream (none when it does not exist).
    async fn stream_events(
        &self,
        stream: &str,
        from: es::StreamPosition<u64>,
        max: usize,
        backwards: bool,
    ) -> Result<Vec<es::RecordedEvent>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let what = format!("reading stream {stream}");
        self.conn()
            .run(&what, None, |client| {
                let mut opts = es::ReadStreamOptions::default()
                    .position(from)
                    .max_count(max);
                opts = if backwards {
                    opts.backwards()
                } else {
                    opts.forwards()
                };
                let stream = stream.to_string();
                async move {
                    let mut rs = match client.read_stream(stream.as_str(), &opts).await {
                        Ok(rs) => rs,
                        Err(es::Error::ResourceNotFound) => return Ok(Vec::new()),
                        Err(e) => return Err(e),
                    };
                    let mut out = Vec::new();
                    loop {
                        match rs.next().await {
                            Ok(Some(ev)) => out.extend(ev.event),
                            Ok(None) => return Ok(out),
                            Err(es::Error::ResourceNotFound) => return Ok(Vec::new()),
                            Err(e) => return Err(e),
                        }
                    }
                }
            })
            .await
    }

    /// Events of `$all` (system events included).
    async fn all_events(
        &self,
        from: es::StreamPosition<es::Position>,
        max: usize,
        backwards: bool,
    ) -> Result<Vec<es::RecordedEvent>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.conn()
            .run("reading $all", None, |client| {
                let mut opts = es::ReadAllOptions::default().position(from).max_count(max);
                opts = if backwards {
                    opts.backwards()
                } else {
                    opts.forwards()
                };
                async move {
                    let mut rs = client.read_all(&opts).await?;
                    let mut out = Vec::new();
                    while let Some(ev) = rs.next().await? {
                        out.extend(ev.event);
                    }
                    Ok(out)
                }
            })
            .await
    }

    /// The position of the last event of `$all`, system events included.
    async fn last_all_position(&self) -> Result<Option<es::Position>, StoreError> {
        let last = self.all_events(es::StreamPosition::End, 1, true).await?;
        Ok(last.first().map(|e| e.position))
    }

    /// Reads `$all` from the index's checkpoint to the end.
    async fn refresh<'a>(
        &self,
        ix: &mut tokio::sync::MutexGuard<'a, IdIndex>,
    ) -> Result<(), StoreError> {
        loop {
            let from = match ix.checkpoint {
                Some(p) => es::StreamPosition::Position(p),
                None => es::StreamPosition::Start,
            };
            let page = self.all_events(from, PAGE, false).await?;
            let mut advanced = false;
            for e in &page {
                if ix.checkpoint.is_some_and(|c| e.position <= c) {
                    continue;
                }
                advanced = true;
                ix.checkpoint = Some(e.position);
                if !is_system_event(&e.stream_id, &e.event_type) {
                    ix.add(e.id, to_position(e.position));
                }
            }
            if !advanced || page.len() < PAGE {
                return Ok(());
            }
        }
    }

    fn cached_hash(&self, stream: &str, revision: u64) -> Option<Hash> {
        let cache = self.inner.hashes.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(stream) {
            Some(&(r, h)) if r == revision => Some(h),
            _ => None,
        }
    }

    fn remember_hashes(&self, seen: HashMap<String, (u64, Hash)>) {
        let mut cache = self.inner.hashes.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() + seen.len() > HASH_CACHE {
            cache.clear();
        }
        for (stream, (revision, hash)) in seen {
            match cache.get(&stream) {
                Some(&(r, _)) if r > revision => {}
                _ => {
                    cache.insert(stream, (revision, hash));
                }
            }
        }
    }

    /// The hash of `stream` at `revision`, where `revision` is inside an append that
    /// started `offset_of_next - 1` records before it.
    async fn hash_inside_append(
        &self,
        stream: &str,
        revision: u64,
        offset_of_next: u32,
    ) -> Result<Hash, StoreError> {
        let start = (revision + 1).saturating_sub(u64::from(offset_of_next));
        let count = usize::try_from(revision - start + 1).unwrap_or(usize::MAX);
        let events = self
            .stream_events(stream, es::StreamPosition::Position(start), count, false)
            .await?;
        let run = events
            .iter()
            .map(|e| decode_event(EventParts::of(e)))
            .collect::<Result<Vec<_>, _>>()?;
        let sealed = seal_run(run)?;
        match sealed.last() {
            Some(r) if r.revision == revision => Ok(r.hash),
            _ => Err(StoreError::Encoding(format!(
                "stream {stream}: revision {revision} is missing while computing its hash"
            ))),
        }
    }

    /// Computes the hashes of decoded records, in the order given.
    async fn seal(&self, decoded: Vec<Decoded>) -> Result<Vec<StoredRecord>, StoreError> {
        let mut seen: HashMap<String, (u64, Hash)> = HashMap::new();
        let mut out = Vec::with_capacity(decoded.len());
        let mut scratch = Vec::new();
        for d in decoded {
            let mut record = d.record;
            let previous = match d.previous {
                Some(p) => p,
                None => {
                    let want = record.revision.saturating_sub(1);
                    let local = seen
                        .get(record.stream.as_str())
                        .filter(|(r, _)| *r == want)
                        .map(|(_, h)| *h);
                    match local.or_else(|| self.cached_hash(&record.stream, want)) {
                        Some(h) => h,
                        None => {
                            self.hash_inside_append(&record.stream, want, d.offset)
                                .await?
                        }
                    }
                }
            };
            record.hash = seal_hash(&record, &previous, d.form, &mut scratch)?;
            seen.insert(record.stream.to_string(), (record.revision, record.hash));
            out.push(record);
        }
        self.remember_hashes(seen);
        Ok(out)
    }

    async fn decode_and_seal(
        &self,
        events: &[es::RecordedEvent],
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let decoded = events
            .iter()
            .filter(|e| !is_system_event(&e.stream_id, &e.event_type))
            .map(|e| decode_event(EventParts::of(e)))
            .collect::<Result<Vec<_>, _>>()?;
        self.seal(decoded).await
    }

    /// The stream's last record, with its hash.
    async fn last_record(&self, stream: &str) -> Result<Option<StoredRecord>, StoreError> {
        let events = self
            .stream_events(stream, es::StreamPosition::End, 1, true)
            .await?;
        Ok(self.decode_and_seal(&events).await?.pop())
    }

    /// The record at an exact `$all` position, if it is the one with `id`.
    async fn record_at(
        &self,
        position: Position,
        id: Uuid,
    ) -> Result<Option<StoredRecord>, StoreError> {
        let events = self
            .all_events(
                es::StreamPosition::Position(from_position(position)),
                1,
                false,
            )
            .await?;
        let found: Vec<es::RecordedEvent> = events.into_iter().filter(|e| e.id == id).collect();
        Ok(self.decode_and_seal(&found).await?.pop())
    }

    /// The stored records among `ids`, by id, after bringing the index up to date.
    async fn stored(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, StoredRecord>, StoreError> {
        let positions: Vec<(Uuid, Position)> = {
            let mut ix = self.inner.index.lock().await;
            self.refresh(&mut ix).await?;
            ids.iter()
                .filter_map(|id| ix.ids.get(id).map(|&p| (*id, p)))
                .collect()
        };
        let mut out = HashMap::new();
        for (id, p) in positions {
            if let Some(r) = self.record_at(p, id).await? {
                out.insert(id, r);
            }
        }
        Ok(out)
    }

    async fn append_unit(&self, unit: AppendUnit) -> Result<AppendOutcome, StoreError> {
        let total: usize = unit.iter().map(|w| w.records.len()).sum();
        if total == 0 {
            return Err(StoreError::InvalidAppend(
                "an append needs at least one record".into(),
            ));
        }
        for w in &unit {
            check_stream_name(&w.stream)?;
        }
        let mut ids = Vec::with_capacity(total);
        let mut seen = std::collections::HashSet::with_capacity(total);
        for r in unit.iter().flat_map(|w| w.records.iter()) {
            if !seen.insert(r.id) {
                return Err(StoreError::InvalidAppend(format!(
                    "record id {} appears twice in one append",
                    r.id
                )));
            }
            ids.push(r.id);
        }
        let stream = unit[0].stream.clone();
        if let Some(other) = unit.iter().find(|w| w.stream != stream) {
            return Err(StoreError::Unsupported {
                what: format!(
                    "an atomic append to several streams ({stream}, {}): KurrentDB has no \
                     multi-stream atomic append",
                    other.stream
                ),
            });
        }

        // Idempotency first, as the embedded log does.
        let stored = self.stored(&ids).await?;
        let mut duplicates = Vec::new();
        for r in unit.iter().flat_map(|w| w.records.iter()) {
            if let Some(s) = stored.get(&r.id) {
                if s.stream != stream || !r.same_content(s) {
                    return Err(StoreError::IdConflict {
                        id: r.id,
                        position: s.position,
                    });
                }
                duplicates.push(outcome(s, true));
            }
        }
        if duplicates.len() == total {
            return Ok(AppendOutcome {
                records: duplicates.into(),
            });
        }
        if !duplicates.is_empty() {
            return Err(StoreError::PartialDuplicate {
                duplicates: duplicates.len(),
            });
        }

        let flexible = unit.iter().all(|w| {
            matches!(
                w.expected,
                ExpectedRevision::Any | ExpectedRevision::StreamExists
            )
        });
        let mut tries = 0;
        let first_revision = loop {
            tries += 1;
            let last = self.last_record(&stream).await?;
            let current = last.as_ref().map(|r| r.revision);
            let mut at = current;
            for w in &unit {
                w.expected.check(&stream, at)?;
                let n = w.records.len() as u64;
                at = match at {
                    Some(r) => Some(r + n),
                    None => n.checked_sub(1),
                };
            }
            let previous = last.as_ref().map_or(Hash::GENESIS, |r| r.hash);
            let recorded_at = chrono::Utc::now();
            let mut events = Vec::with_capacity(total);
            for (i, r) in unit.iter().flat_map(|w| w.records.iter()).enumerate() {
                let offset = u32::try_from(i).map_err(|_| {
                    StoreError::InvalidAppend(format!("an append of {total} records is too large"))
                })?;
                let prev = (i == 0).then_some(previous);
                events.push(mapping::encode_event(r, recorded_at, prev, offset)?.into_event_data());
            }
            let sent = ExpectedRevision::from_current(current);
            let options =
                es::AppendToStreamOptions::default().expected_revision(to_client_expected(sent));
            let what = format!("appending to stream {stream}");
            let result = self
                .conn()
                .run(&what, Some((&stream, unit[0].expected)), |client| {
                    let events = events.clone();
                    let stream = stream.clone();
                    let options = options.clone();
                    async move {
                        client
                            .append_to_stream(stream.as_str(), &options, events)
                            .await
                    }
                })
                .await;
            match result {
                // The server checked `sent`: the append starts right after `current`.
                Ok(_) => break current.map_or(0, |c| c + 1),
                Err(e) if e.is_conflict() && flexible && tries < RACE_RETRIES => continue,
                Err(e) => return Err(e),
            }
        };

        // Read the append back for the positions the server gave it.
        let events = self
            .stream_events(
                &stream,
                es::StreamPosition::Position(first_revision),
                total,
                false,
            )
            .await?;
        let records = self.decode_and_seal(&events).await?;
        let mut by_id: HashMap<Uuid, &StoredRecord> = records.iter().map(|r| (r.id, r)).collect();
        let mut out = Vec::with_capacity(total);
        for id in &ids {
            match by_id.remove(id) {
                Some(r) => out.push(outcome(r, false)),
                None => {
                    return Err(StoreError::Backend(format!(
                        "KurrentDB at {}: record {id} is not at its place in stream {stream} \
                         right after its append",
                        self.url()
                    )));
                }
            }
        }
        let mut ix = self.inner.index.lock().await;
        for r in &records {
            ix.ids.insert(r.id, r.position);
        }
        Ok(AppendOutcome {
            records: out.into(),
        })
    }

    async fn stream_revision_inner(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let last = self
            .stream_events(stream, es::StreamPosition::End, 1, true)
            .await?;
        Ok(last.first().map(|e| e.revision))
    }

    /// Live part of a subscription: from after `after` (exclusive), or from the start.
    async fn follow(
        self,
        after: Option<es::Position>,
        from: Position,
        last_sent: Option<Position>,
        tx: tokio::sync::mpsc::Sender<Result<StoredRecord, StoreError>>,
    ) {
        let mut after = after;
        let mut last_sent = last_sent;
        let mut failures = 0u32;
        loop {
            let start = match after {
                Some(p) => es::StreamPosition::Position(p),
                None => es::StreamPosition::Start,
            };
            let (_, client) = self.inner.conn.current_client();
            let mut sub = client
                .subscribe_to_all(&es::SubscribeToAllOptions::default().position(start))
                .await;
            loop {
                match sub.next().await {
                    Ok(resolved) => {
                        failures = 0;
                        let Some(e) = resolved.event else { continue };
                        after = Some(e.position);
                        let position = to_position(e.position);
                        if is_system_event(&e.stream_id, &e.event_type)
                            || position < from
                            || last_sent.is_some_and(|l| position <= l)
                        {
                            continue;
                        }
                        let item = self.decode_and_seal(std::slice::from_ref(&e)).await;
                        let stop = item.is_err();
                        let item = item.and_then(|mut v| {
                            v.pop().ok_or_else(|| {
                                StoreError::Encoding(format!("event at position {position}"))
                            })
                        });
                        if tx.send(item).await.is_err() || stop {
                            return;
                        }
                        last_sent = Some(position);
                    }
                    Err(e)
                        if mapping::is_transient(&e) && failures < self.inner.conn.attempts() =>
                    {
                        failures += 1;
                        tracing::warn!(url = %self.url(), cause = %e, "subscription to $all dropped; resubscribing");
                        tokio::time::sleep(self.inner.conn.backoff_after(failures)).await;
                        self.inner.conn.renew_current();
                        break;
                    }
                    Err(e) => {
                        let _ = tx
                            .send(Err(mapping::map_error(
                                e,
                                self.url(),
                                "following $all",
                                None,
                            )))
                            .await;
                        return;
                    }
                }
            }
        }
    }
}

fn outcome(r: &StoredRecord, duplicate: bool) -> RecordOutcome {
    RecordOutcome {
        id: r.id,
        stream: r.stream.clone(),
        revision: r.revision,
        position: r.position,
        hash: r.hash,
        duplicate,
    }
}

fn check_stream_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::InvalidAppend("the stream name is empty".into()));
    }
    if name.len() > MAX_STREAM_NAME {
        return Err(StoreError::InvalidAppend(format!(
            "the stream name is {} bytes; at most {MAX_STREAM_NAME}",
            name.len()
        )));
    }
    if name.starts_with('$') {
        return Err(StoreError::InvalidAppend(format!(
            "the stream name {name:?} starts with '$', which KurrentDB keeps for system streams"
        )));
    }
    if counterfoil_core::values::has_control_chars(name) {
        return Err(StoreError::InvalidAppend(format!(
            "the stream name {name:?} contains control characters"
        )));
    }
    Ok(())
}

#[async_trait]
impl Store for EventStore {
    async fn append_multi(&self, unit: AppendUnit) -> Result<AppendOutcome, StoreError> {
        self.append_unit(unit).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let events = self
            .stream_events(
                stream,
                es::StreamPosition::Position(from_revision),
                max,
                false,
            )
            .await?;
        self.decode_and_seal(&events).await
    }

    async fn stream_revision(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        self.stream_revision_inner(stream).await
    }

    async fn read_all(&self, from: Position, max: usize) -> Result<Vec<StoredRecord>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let start = if from == 0 {
            None
        } else {
            let mut ix = self.inner.index.lock().await;
            self.refresh(&mut ix).await?;
            ix.start_for(from)
        };
        let mut cursor = match start {
            Some(p) => es::StreamPosition::Position(from_position(p)),
            None => es::StreamPosition::Start,
        };
        let mut after: Option<es::Position> = None;
        let mut out = Vec::new();
        loop {
            let want = (max - out.len()).saturating_add(1).min(PAGE);
            let page = self.all_events(cursor, want, false).await?;
            let n = page.len();
            let fresh: Vec<es::RecordedEvent> = page
                .into_iter()
                .filter(|e| after.is_none_or(|a| e.position > a))
                .collect();
            if let Some(last) = fresh.last() {
                after = Some(last.position);
                cursor = es::StreamPosition::Position(last.position);
            }
            let wanted: Vec<es::RecordedEvent> = fresh
                .into_iter()
                .filter(|e| to_position(e.position) >= from)
                .collect();
            out.extend(self.decode_and_seal(&wanted).await?);
            if out.len() >= max || n < want || after.is_none() {
                out.truncate(max);
                return Ok(out);
            }
        }
    }

    async fn find_by_id(&self, id: Uuid) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self.stored(&[id]).await?.remove(&id))
    }

    async fn find_ids(&self, ids: &[Uuid]) -> Result<Vec<StoredRecord>, StoreError> {
        Ok(self.stored(ids).await?.into_values().collect())
    }

    /// One past the last record; the server's own events after it (statistics, ...)
    /// do not move it, so it changes only when a record is appended.
    async fn end_position(&self) -> Result<Position, StoreError> {
        let mut cursor = es::StreamPosition::End;
        loop {
            let page = self.all_events(cursor, 64, true).await?;
            if let Some(e) = page
                .iter()
                .find(|e| !is_system_event(&e.stream_id, &e.event_type))
            {
                return Ok(to_position(e.position).saturating_add(1));
            }
            match page.last() {
                Some(e) if page.len() == 64 => cursor = es::StreamPosition::Position(e.position),
                _ => return Ok(0),
            }
        }
    }

    async fn subscribe(&self, from: Position) -> Result<Subscription, StoreError> {
        // The end of `$all` before catching up: a live subscription from there misses
        // nothing the catch-up did not read.
        let end_before = self.last_all_position().await?;
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let store = self.clone();
        tokio::spawn(async move {
            let mut next = from;
            let mut last: Option<StoredRecord> = None;
            loop {
                match store.read_all(next, PAGE).await {
                    Ok(page) => {
                        let n = page.len();
                        for r in page {
                            next = r.position.saturating_add(1);
                            let keep = r.clone();
                            if tx.send(Ok(r)).await.is_err() {
                                return;
                            }
                            last = Some(keep);
                        }
                        if n < PAGE {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            let after = match &last {
                Some(r) => Some(from_position(r.position)),
                None => end_before,
            };
            store
                .follow(after, from, last.map(|r| r.position), tx)
                .await;
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(stream.boxed())
    }

    fn atomic_multi_stream(&self) -> bool {
        false
    }
}
