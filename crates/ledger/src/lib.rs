//! The command layer: every record goes through here on its way into a [`Store`]. It
//! checks idempotency (a record id already stored answers its original position), the
//! rules of SPEC §4 against the ledger's state, and writes accepted records with the
//! stream revisions it decided against, so that racing submissions never oversell.
//!
//! One decider task per ledger owns the state (see `decider`); [`Ledger`] is a cheap
//! handle that queues submissions to it. [`history`] rebuilds the past of a ticket or
//! an order straight from the store.
//!
//! Invariant without reservations: open one ledger per store. Rules that span streams
//! (capacity: a purchase writes only its ticket's stream, the seats held live in the
//! ledger's state) hold because a single decider sees every accepted record. Another
//! writer's records are noticed only when they touch a stream this ledger writes (the
//! store answers a conflict, the ledger rebuilds its state from the log and decides
//! again). The embedded log's folder lock keeps other processes out; within a process,
//! share one `Ledger` by cloning it.
//!
//! With reservations ([`Reservations`], on by default exactly when the store cannot
//! append to several streams atomically), a request that takes seats of a definition
//! or writes several streams is committed by a `ledger.reserved` record on the
//! definition's stream first (see `reserve`), so several ledgers may share one store.

mod decider;
mod error;
pub mod history;
mod reserve;

use std::fmt;
use std::sync::Arc;

use counterfoil_core::{Id, NewRecord, Store, StoreError};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::decider::{Decider, Job, Reply, Request};
pub use crate::error::{AtomicError, LedgerError, SubmitError};
use crate::history::{AsOf, HistoryEntry};
pub use crate::reserve::Reservations;

/// How the ledger batches and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerConfig {
    /// Most records decided and written together (one store sync for all).
    pub max_batch: usize,
    /// How often records are decided again after a conflict with another writer.
    pub retries: usize,
    /// When requests are committed by a reservation record first (see
    /// [`Reservations`]). `Auto` by default.
    pub reservations: Reservations,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            max_batch: 8192,
            retries: 3,
            reservations: Reservations::Auto,
        }
    }
}

/// Where an accepted record was written, or, for a duplicate, where it already was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submitted {
    pub id: Uuid,
    pub position: u64,
    /// Held inline up to 24 bytes: the ledger answers every record of an import with one.
    pub stream: counterfoil_core::Text,
    pub revision: u64,
    /// True when the record was already stored with the same content: nothing was written.
    pub duplicate: bool,
}

/// A handle on the ledger; clones share one decider.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Request>,
    store: Arc<dyn Store>,
    max_batch: usize,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger")
            .field("max_batch", &self.inner.max_batch)
            .finish_non_exhaustive()
    }
}

/// Requests waiting for the decider before submitters wait for room.
const QUEUE: usize = 1024;

impl Ledger {
    /// Folds the whole log into the ledger's state, writes the records of any
    /// reservation not yet all stored (a crash between a reservation and its records),
    /// and starts the decider. Must be called within a Tokio runtime.
    pub async fn open(store: Arc<dyn Store>, config: LedgerConfig) -> Result<Ledger, LedgerError> {
        let mut state = decider::fold_log(&*store).await?;
        reserve::roll_forward(&*store, &mut state)
            .await
            .map_err(LedgerError::RollForward)?;
        let max_batch = config.max_batch.max(1);
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(Decider::new(store.clone(), state, config).run(rx));
        Ok(Ledger {
            inner: Arc::new(Inner {
                tx,
                store,
                max_batch,
                task: std::sync::Mutex::new(Some(task)),
            }),
        })
    }

    /// Submits one record.
    pub async fn submit(&self, record: NewRecord) -> Result<Submitted, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Submit(Job {
            records: vec![record],
            reply: Reply::One(tx),
        }))
        .await?;
        rx.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Submits records that are each accepted or refused on their own, decided in
    /// order (a later record sees the earlier accepted ones). One answer per record.
    pub async fn submit_many(
        &self,
        records: Vec<NewRecord>,
    ) -> Vec<Result<Submitted, SubmitError>> {
        let total = records.len();
        let mut waiting = Vec::new();
        // Records are large: a request that fits one batch is queued as it is, not
        // copied into a new vector.
        let chunks: Vec<Vec<NewRecord>> = if total <= self.inner.max_batch {
            vec![records]
        } else {
            let mut records = records.into_iter().peekable();
            let mut chunks = Vec::new();
            while records.peek().is_some() {
                chunks.push(records.by_ref().take(self.inner.max_batch).collect());
            }
            chunks
        };
        // All chunks are queued before waiting, so a large import fills every batch.
        for chunk in chunks {
            let n = chunk.len();
            let (tx, rx) = oneshot::channel();
            let sent = self
                .send(Request::Submit(Job {
                    records: chunk,
                    reply: Reply::Many(tx),
                }))
                .await;
            waiting.push((n, sent.map(|()| rx)));
        }
        let mut out = Vec::with_capacity(total);
        for (n, rx) in waiting {
            let answers = match rx {
                Ok(rx) => rx.await.ok(),
                Err(_) => None,
            };
            match answers {
                Some(a) => out.extend(a),
                None => out.extend((0..n).map(|_| Err(closed()))),
            }
        }
        out
    }

    /// Submits records that are all written or none: if one is refused, nothing is
    /// written and the error names it. Records already stored count as written (an
    /// atomic request can be retried safely).
    pub async fn submit_atomic(
        &self,
        records: Vec<NewRecord>,
    ) -> Result<Vec<Submitted>, AtomicError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let (tx, rx) = oneshot::channel();
        self.send(Request::Submit(Job {
            records,
            reply: Reply::Atomic(tx),
        }))
        .await
        .map_err(|error| AtomicError { index: 0, error })?;
        rx.await.unwrap_or_else(|_| {
            Err(AtomicError {
                index: 0,
                error: closed(),
            })
        })
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    /// The tickets purchased in an order, from the ledger's state.
    pub async fn tickets_of_order(&self, order_id: &str) -> Result<Vec<Id>, LedgerError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Request::TicketsOfOrder {
                order_id: order_id.to_string(),
                reply: tx,
            })
            .await
            .map_err(|_| LedgerError::Closed)?;
        rx.await.map_err(|_| LedgerError::Closed)?
    }

    /// A ticket's records, each with the ticket's state after it.
    pub async fn ticket_history(
        &self,
        ticket_id: &str,
        as_of: Option<AsOf>,
    ) -> Result<Vec<HistoryEntry>, LedgerError> {
        history::ticket_history(&*self.inner.store, ticket_id, as_of).await
    }

    /// Like [`history::order_history`], but finds the order's tickets in the ledger's
    /// state instead of scanning the log.
    pub async fn order_history(
        &self,
        order_id: &str,
        as_of: Option<AsOf>,
    ) -> Result<Vec<HistoryEntry>, LedgerError> {
        let tickets = self.tickets_of_order(order_id).await?;
        history::order_history_of(&*self.inner.store, order_id, &tickets, as_of).await
    }

    /// Stops the decider once the submissions already queued are answered. Later
    /// submissions fail with [`StoreError::Closed`]. The store is not closed.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.tx.send(Request::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let task = match self.inner.task.lock() {
            Ok(mut t) => t.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the ledger's decider task ended abnormally");
        }
    }

    async fn send(&self, req: Request) -> Result<(), SubmitError> {
        self.inner.tx.send(req).await.map_err(|_| closed())
    }
}

fn closed() -> SubmitError {
    SubmitError::Store(StoreError::Closed)
}
