//! One tail of the log shared by every live subscriber (`GET /v1/records/live`).
//!
//! Giving each subscriber its own store subscription reads, decodes and serializes
//! every record once per subscriber; with a hundred subscribers that is most of the
//! server's work. Here one task follows the log, serializes each record once into a
//! ready server-sent event and keeps the latest ones in a ring; subscribers copy
//! shared bytes out of it. A subscriber that starts before the ring's window or falls
//! behind it (a slow client) reads from the store with its own subscription until it
//! reaches the window again. Each subscriber tracks the next position it owes its
//! client and only ever hands out exactly that one, so no position is skipped or sent
//! twice whichever way it came.
//!
//! The tail runs only while someone is subscribed, so a server without subscribers
//! pays nothing for it.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use counterfoil_core::{Store, StoreError, StoredRecord, Subscription};
use futures::StreamExt;
use tokio::sync::watch;

/// How many recent events the ring keeps, at most, and how many bytes.
#[derive(Debug, Clone, Copy)]
pub struct RingLimits {
    pub events: usize,
    pub bytes: usize,
}

impl Default for RingLimits {
    fn default() -> Self {
        // About two seconds of a heavy load; a subscriber further behind reads the store.
        Self {
            events: 65_536,
            bytes: 64 * 1024 * 1024,
        }
    }
}

/// The shared tail: the ring of recent events and who is listening.
pub struct Hub {
    store: Arc<dyn Store>,
    ring: RwLock<Ring>,
    /// The ring's end (the next position it will hold), for waiting subscribers.
    end: watch::Sender<u64>,
    /// How many subscribers exist; the tail runs while this is above zero.
    subscribers: watch::Sender<usize>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("ring", &self.ring)
            .field("subscribers", &*self.subscribers.borrow())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Ring {
    /// The position of `events[0]`.
    first: u64,
    events: VecDeque<Bytes>,
    bytes: usize,
    limits: RingLimits,
}

impl Ring {
    fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }
}

/// What the ring holds for a subscriber at `next`.
enum Take {
    /// These events, from `next` on.
    Events(Vec<Bytes>),
    /// Nothing yet: `next` is at or past the ring's end.
    Wait,
    /// `next` is older than the ring's window: read the store.
    Behind,
}

/// The largest chunk handed to the connection at once.
const CHUNK_BYTES: usize = 64 * 1024;
/// A comment sent on an idle stream so proxies and clients see it alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

impl Hub {
    /// A hub over `store`; [`Hub::run`] is its tail.
    pub fn new(store: Arc<dyn Store>, limits: RingLimits) -> Arc<Hub> {
        Arc::new(Hub {
            store,
            ring: RwLock::new(Ring {
                first: 0,
                events: VecDeque::new(),
                bytes: 0,
                limits: RingLimits {
                    events: limits.events.max(1),
                    bytes: limits.bytes.max(1),
                },
            }),
            end: watch::channel(0).0,
            subscribers: watch::channel(0).0,
        })
    }

    /// The tail: while anyone is subscribed, follows the log from its end and
    /// publishes each record as an event. Returns when `stopping` turns true.
    pub async fn run(self: Arc<Self>, mut stopping: watch::Receiver<bool>) {
        let mut count = self.subscribers.subscribe();
        loop {
            tokio::select! {
                _ = stopping.wait_for(|s| *s) => return,
                waited = count.wait_for(|n| *n > 0) => if waited.is_err() { return },
            }
            let followed = tokio::select! {
                _ = stopping.wait_for(|s| *s) => return,
                r = self.follow(&mut count) => r,
            };
            if let Err(e) = followed {
                if *stopping.borrow() {
                    return;
                }
                tracing::error!(%e, "live tail of the log failed; restarting it");
                tokio::select! {
                    _ = stopping.wait_for(|s| *s) => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }

    /// Follows the log until nobody is subscribed (Ok) or the store fails.
    async fn follow(&self, count: &mut watch::Receiver<usize>) -> Result<(), StoreError> {
        let from = self.store.end_position().await?;
        self.reset(from);
        let mut batches = self.store.subscribe_batches(from).await?;
        loop {
            let batch = tokio::select! {
                b = batches.next() => b,
                _ = count.wait_for(|n| *n == 0) => {
                    // Nobody left: drop the tail and the ring until the next subscriber.
                    self.reset(self.end());
                    return Ok(());
                }
            };
            let batch = match batch {
                Some(Ok(b)) => b,
                Some(Err(e)) => return Err(e),
                None => return Err(StoreError::Closed),
            };
            self.publish(
                batch
                    .records()
                    .iter()
                    .map(|r| (r.position, event(r)))
                    .collect(),
            );
        }
    }

    fn end(&self) -> u64 {
        self.ring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .end()
    }

    /// Empties the ring and starts its window at `first`.
    fn reset(&self, first: u64) {
        let mut ring = self.ring.write().unwrap_or_else(PoisonError::into_inner);
        ring.events.clear();
        ring.bytes = 0;
        ring.first = first;
        drop(ring);
        self.end.send_replace(first);
    }

    fn publish(&self, events: Vec<(u64, Bytes)>) {
        if events.is_empty() {
            return;
        }
        let mut ring = self.ring.write().unwrap_or_else(PoisonError::into_inner);
        for (position, bytes) in events {
            let end = ring.end();
            if position < end {
                continue;
            }
            if position > end {
                // Cannot happen with a subscription from the ring's end; if it did,
                // subscribers in the gap read it from the store.
                tracing::warn!(
                    position,
                    end,
                    "live tail skipped positions; restarting the ring"
                );
                ring.events.clear();
                ring.bytes = 0;
                ring.first = position;
            }
            ring.bytes += bytes.len();
            ring.events.push_back(bytes);
            while ring.events.len() > ring.limits.events
                || (ring.bytes > ring.limits.bytes && ring.events.len() > 1)
            {
                if let Some(old) = ring.events.pop_front() {
                    ring.bytes -= old.len();
                    ring.first += 1;
                }
            }
        }
        let end = ring.end();
        drop(ring);
        self.end.send_replace(end);
    }

    fn take(&self, next: u64) -> Take {
        let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
        if next < ring.first {
            return Take::Behind;
        }
        let start = (next - ring.first) as usize;
        if start >= ring.events.len() {
            return Take::Wait;
        }
        let mut taken = Vec::new();
        let mut bytes = 0;
        for e in ring.events.range(start..) {
            if bytes > 0 && bytes + e.len() > CHUNK_BYTES {
                break;
            }
            bytes += e.len();
            taken.push(e.clone());
        }
        Take::Events(taken)
    }

    /// The events from position `from` on, as chunks of server-sent-event text.
    /// Ends with an error only when reading the store fails.
    pub fn events(
        self: &Arc<Self>,
        from: u64,
    ) -> impl futures::Stream<Item = Result<Bytes, StoreError>> + Send + 'static {
        self.subscribers.send_modify(|n| *n += 1);
        let reader = Reader {
            hub: self.clone(),
            next: from,
            end: self.end.subscribe(),
            behind: None,
        };
        // The error, if any, is the last item: the reader is dropped with it.
        futures::stream::unfold(Some(reader), |state| async move {
            let mut r = state?;
            match r.chunk().await {
                Ok(bytes) => Some((Ok(bytes), Some(r))),
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}

/// One subscriber's place in the log.
struct Reader {
    hub: Arc<Hub>,
    /// The next position owed to the client.
    next: u64,
    end: watch::Receiver<u64>,
    /// The store subscription used while behind the ring's window.
    behind: Option<Subscription>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.hub
            .subscribers
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Reader {
    /// The next chunk of events; a keep-alive comment after a quiet while.
    async fn chunk(&mut self) -> Result<Bytes, StoreError> {
        loop {
            // Marked seen before looking, so a publish after the look wakes the wait.
            self.end.borrow_and_update();
            match self.hub.take(self.next) {
                Take::Events(events) => {
                    self.behind = None;
                    self.next += events.len() as u64;
                    if let [one] = events.as_slice() {
                        return Ok(one.clone());
                    }
                    let mut out = BytesMut::with_capacity(events.iter().map(Bytes::len).sum());
                    for e in &events {
                        out.extend_from_slice(e);
                    }
                    return Ok(out.freeze());
                }
                Take::Wait => {
                    self.behind = None;
                    match tokio::time::timeout(KEEP_ALIVE, self.end.changed()).await {
                        Ok(Ok(())) => {}
                        // The hub is gone: the server is stopping.
                        Ok(Err(_)) => return Err(StoreError::Closed),
                        Err(_) => return Ok(Bytes::from_static(b":\n\n")),
                    }
                }
                Take::Behind => return self.catch_up().await,
            }
        }
    }

    /// Events read from the store, from `next` on, up to a chunk.
    async fn catch_up(&mut self) -> Result<Bytes, StoreError> {
        let mut sub = match self.behind.take() {
            Some(s) => s,
            None => self.hub.store.subscribe(self.next).await?,
        };
        let mut out = BytesMut::new();
        loop {
            let item = if out.is_empty() {
                sub.next().await
            } else {
                // More only if it is already there.
                match futures::FutureExt::now_or_never(sub.next()) {
                    Some(item) => item,
                    None => break,
                }
            };
            let record = match item {
                Some(Ok(r)) => r,
                Some(Err(e)) => return Err(e),
                None => return Err(StoreError::Closed),
            };
            if record.position < self.next {
                continue;
            }
            if record.position > self.next {
                return Err(StoreError::Backend(format!(
                    "the log skipped from position {} to {}",
                    self.next, record.position
                )));
            }
            out.extend_from_slice(&event(&record));
            self.next += 1;
            if out.len() >= CHUNK_BYTES {
                break;
            }
        }
        self.behind = Some(sub);
        Ok(out.freeze())
    }
}

/// A record as one server-sent event: `id` its position, `data` the record as JSON.
fn event(r: &StoredRecord) -> Bytes {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"id: ");
    out.extend_from_slice(r.position.to_string().as_bytes());
    out.extend_from_slice(b"\ndata: ");
    let data = out.len();
    if let Err(e) = serde_json::to_writer(&mut out, r) {
        // Serializing a stored record does not fail; if it did, the event says null.
        tracing::error!(position = r.position, %e, "serializing a record for the live feed");
        out.truncate(data);
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use counterfoil_core::NewRecord;
    use counterfoil_ledger::{Ledger, LedgerConfig};
    use counterfoil_log::{Log, LogConfig};
    use futures::{Stream, StreamExt};

    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        log: Log,
        ledger: Ledger,
        hub: Arc<Hub>,
        stop: watch::Sender<bool>,
        tail: tokio::task::JoinHandle<()>,
        purchases: u64,
    }

    /// A log with a performance and a definition, and a hub whose ring keeps only
    /// `ring` events, so a subscriber falls out of its window easily.
    async fn fixture(ring: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = Log::open(LogConfig::new(dir.path().join("data"))).unwrap();
        let store: Arc<dyn Store> = Arc::new(log.clone());
        let ledger = Ledger::open(store.clone(), LedgerConfig::default())
            .await
            .unwrap();
        for line in [
            r#"{"type":"performance.scheduled","occurred_at":"2026-11-01T10:00:00Z","source":"t","actor":"t","data":{"performance_id":"P1","organizer_id":"O","name":"N","starts_at":"2026-12-01T20:00:00Z"}}"#,
            r#"{"type":"definition.created","occurred_at":"2026-11-01T10:00:00Z","source":"t","actor":"t","data":{"definition_id":"D1","performance_id":"P1","name":"G","pricing":{"method":"fixed","price":"25.00"},"currency":"EUR"}}"#,
        ] {
            ledger
                .submit(NewRecord::from_json_str(line).unwrap())
                .await
                .unwrap();
        }
        let hub = Hub::new(
            store,
            RingLimits {
                events: ring,
                bytes: 1 << 20,
            },
        );
        let (stop, stopping) = watch::channel(false);
        let tail = tokio::spawn(hub.clone().run(stopping));
        Fixture {
            _dir: dir,
            log,
            ledger,
            hub,
            stop,
            tail,
            purchases: 0,
        }
    }

    impl Fixture {
        async fn buy(&mut self, n: u64) {
            for _ in 0..n {
                let i = self.purchases;
                self.purchases += 1;
                let line = format!(
                    r#"{{"type":"ticket.purchased","occurred_at":"2026-11-02T10:00:00Z","source":"t","actor":"t","data":{{"ticket_id":"T{i}","order_id":"O{i}","definition_id":"D1","ticket_type":"Adult","buyer":{{"email":"b@example.com"}},"face_price":"25.00","price_paid":"25.00","currency":"EUR","channel":"web"}}}}"#
                );
                self.ledger
                    .submit(NewRecord::from_json_str(&line).unwrap())
                    .await
                    .unwrap();
            }
        }

        async fn stop(self) {
            self.stop.send_replace(true);
            self.tail.await.unwrap();
            self.ledger.shutdown().await;
            self.log.close().await.unwrap();
        }
    }

    /// Reads events until the one at position `last`, checking each is well formed:
    /// returns their ids in the order received.
    async fn read_until(
        events: &mut (impl Stream<Item = Result<Bytes, StoreError>> + Unpin),
        last: u64,
    ) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut text = String::new();
        while ids.last() != Some(&last) {
            let chunk = tokio::time::timeout(Duration::from_secs(10), events.next())
                .await
                .expect("an event within 10 s")
                .expect("the stream goes on")
                .unwrap();
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = text.find("\n\n") {
                let event: String = text.drain(..end + 2).collect();
                let mut lines = event.trim_end().lines();
                let Some(id) = lines.next().and_then(|l| l.strip_prefix("id: ")) else {
                    continue;
                };
                let id: u64 = id.parse().unwrap();
                let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
                let record: serde_json::Value = serde_json::from_str(data).unwrap();
                assert_eq!(record["position"], id);
                ids.push(id);
            }
        }
        assert!(text.is_empty(), "events are whole in each chunk");
        ids
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_subscriber_that_falls_behind_the_ring_still_gets_every_position_once() {
        let mut f = fixture(8).await;
        f.buy(10).await;
        // Positions 0..12 exist; this subscriber starts before the ring's window.
        let mut events = Box::pin(f.hub.events(0));
        assert_eq!(
            read_until(&mut events, 11).await,
            (0..12).collect::<Vec<_>>()
        );
        // Live now; then not read while 50 records go by (the ring keeps 8).
        f.buy(50).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            f.hub.ring.read().unwrap().first > 12,
            "the subscriber is behind the ring"
        );
        f.buy(5).await;
        assert_eq!(
            read_until(&mut events, 66).await,
            (12..67).collect::<Vec<_>>()
        );
        // Back in the window: a record appended now arrives through the ring.
        let mut late = Box::pin(f.hub.events(67));
        f.buy(1).await;
        assert_eq!(read_until(&mut events, 67).await, [67]);
        assert_eq!(read_until(&mut late, 67).await, [67]);
        drop(events);
        drop(late);
        f.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_subscribers_from_different_places_each_get_each_position_once() {
        let mut f = fixture(16).await;
        f.buy(20).await;
        let mut subs: Vec<_> = [0u64, 5, 21, 22, 30]
            .into_iter()
            .map(|from| (from, Box::pin(f.hub.events(from))))
            .collect();
        // 22 is the end now; 30 is ahead of it and waits for the log to get there.
        f.buy(40).await;
        for (from, events) in &mut subs {
            assert_eq!(
                read_until(events, 61).await,
                (*from..62).collect::<Vec<_>>(),
                "subscriber from {from}"
            );
        }
        drop(subs);
        f.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_tail_stops_without_subscribers_and_starts_again_for_a_new_one() {
        let mut f = fixture(8).await;
        let mut first = Box::pin(f.hub.events(0));
        f.buy(3).await;
        assert_eq!(read_until(&mut first, 4).await, [0, 1, 2, 3, 4]);
        drop(first);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while *f.hub.subscribers.borrow() != 0 || !f.hub.ring.read().unwrap().events.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the tail goes idle");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Records written while nobody listens come from the store, then live ones.
        f.buy(20).await;
        let mut second = Box::pin(f.hub.events(3));
        assert_eq!(
            read_until(&mut second, 24).await,
            (3..25).collect::<Vec<_>>()
        );
        f.buy(2).await;
        assert_eq!(read_until(&mut second, 26).await, [25, 26]);
        drop(second);
        f.stop().await;
    }
}
