//! The single task that owns the ledger's state. Submissions queue on a channel; the
//! task drains what is waiting (up to `max_batch` records), decides every record in
//! arrival order against the state (accepted ones are folded in at once, so later
//! records of the batch see them), and hands the whole batch to the store as one
//! append (one sync for all). It does not wait for that write: the next batches are
//! decided meanwhile, each chained after the one before
//! (`Store::append_batch_chained`), so the store writes a batch only if every batch
//! its decisions assumed was written whole. Answers go out oldest batch first.
//!
//! One decider per store means decisions never race each other. Another process
//! writing to the same store shows up as a conflict: the state is rebuilt from the log
//! and the records that were not written are decided again, up to `retries` times. Any
//! other store failure stops the ledger: its state may be ahead of the log, so every
//! later submission gets the store error until the ledger is reopened.

use std::collections::HashMap as StdHashMap;
use std::collections::VecDeque;

type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use counterfoil_core::rules::LedgerState;
use counterfoil_core::{
    AppendUnit, Chain, ExpectedRevision, Id, NewRecord, Refusal, RefusalReason, Store, StoreError,
    StoredRecord, StreamWrite, UnitOutcome, Verdict,
};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::error::{AtomicError, LedgerError, SubmitError, replicate};
use crate::reserve::{self, Plan};
use crate::{LedgerConfig, Submitted};

/// Records read per `read_all` call when folding the log.
const FOLD_CHUNK: usize = 4096;

pub(crate) enum Request {
    Submit(Job),
    TicketsOfOrder {
        order_id: String,
        reply: oneshot::Sender<Result<Vec<Id>, LedgerError>>,
    },
    Shutdown(oneshot::Sender<()>),
}

pub(crate) struct Job {
    pub(crate) records: Vec<NewRecord>,
    pub(crate) reply: Reply,
}

pub(crate) enum Reply {
    One(oneshot::Sender<Result<Submitted, SubmitError>>),
    Many(oneshot::Sender<Vec<Result<Submitted, SubmitError>>>),
    Atomic(oneshot::Sender<Result<Vec<Submitted>, AtomicError>>),
}

/// Folds the whole log into a fresh state.
pub(crate) async fn fold_log(store: &dyn Store) -> Result<LedgerState, LedgerError> {
    let mut state = LedgerState::new();
    let mut from = 0;
    loop {
        let chunk =
            store
                .read_all(from, FOLD_CHUNK)
                .await
                .map_err(|source| LedgerError::ReadLog {
                    position: from,
                    source,
                })?;
        let Some(last) = chunk.last() else {
            return Ok(state);
        };
        from = last.position.saturating_add(1);
        for r in &chunk {
            state.fold_record(r.id, &r.body);
        }
    }
}

/// Folds the whole log, answering the store's error.
async fn rebuild_state(store: &dyn Store) -> Result<LedgerState, StoreError> {
    fold_log(store).await.map_err(|e| match e {
        LedgerError::ReadLog { source, .. } | LedgerError::ReadStream { source, .. } => source,
        other => StoreError::Backend(other.to_string()),
    })
}

pub(crate) struct Decider {
    store: Arc<dyn Store>,
    state: LedgerState,
    config: LedgerConfig,
    /// Set after a store failure other than a conflict: the state can no longer be
    /// trusted, so every later submission answers this error.
    failed: Option<StoreError>,
    /// Counts rebuilds of the state from the log: decisions taken before a rebuild
    /// are void.
    rebuilds: u64,
    /// Reservation mode (see `reserve`): seat-taking and multi-stream requests are
    /// committed by a `ledger.reserved` record first.
    reserve: bool,
    /// The roll-forward started after the last rebuild, if still running.
    rolling: Option<tokio::task::JoinHandle<()>>,
}

/// A job being worked on: its answers so far.
struct Work {
    job: Job,
    atomic: bool,
    results: Vec<Option<Result<Submitted, SubmitError>>>,
    atomic_error: Option<AtomicError>,
}

impl Work {
    fn new(job: Job) -> Self {
        let atomic = matches!(job.reply, Reply::Atomic(_));
        let results = job.records.iter().map(|_| None).collect();
        Self {
            job,
            atomic,
            results,
            atomic_error: None,
        }
    }

    fn is_done(&self) -> bool {
        self.atomic_error.is_some() || self.results.iter().all(Option::is_some)
    }

    /// Forgets the answers of `rec` (or of the whole atomic job) so they are decided
    /// again in the next attempt.
    fn reset(&mut self, rec: usize) {
        if self.atomic {
            self.atomic_error = None;
            self.results.iter_mut().for_each(|r| *r = None);
        } else if let Some(slot) = self.results.get_mut(rec) {
            *slot = None;
        }
    }

    /// Forgets every answer: the job is decided again from scratch.
    fn reset_all(&mut self) {
        self.atomic_error = None;
        self.results.iter_mut().for_each(|r| *r = None);
    }

    /// Which answers are settled: one flag per record, all of them when the atomic job
    /// is refused.
    fn settled(&self) -> Vec<bool> {
        let refused = self.atomic_error.is_some();
        self.results
            .iter()
            .map(|r| refused || r.is_some())
            .collect()
    }

    /// Answers `e` for every record not settled in `before`; an atomic job with any
    /// unsettled record fails whole.
    fn fail_unsettled(&mut self, e: &StoreError, before: &[bool]) {
        let unsettled = |i: usize| !before.get(i).copied().unwrap_or(false);
        if self.atomic {
            if (0..self.results.len()).any(unsettled) {
                self.results.iter_mut().for_each(|r| *r = None);
                self.atomic_error = Some(AtomicError {
                    index: 0,
                    error: SubmitError::Store(replicate(e)),
                });
            }
            return;
        }
        for (i, slot) in self.results.iter_mut().enumerate() {
            if unsettled(i) {
                *slot = Some(Err(SubmitError::Store(replicate(e))));
            }
        }
    }

    fn answer(self) {
        let Work {
            job,
            results,
            atomic_error,
            ..
        } = self;
        let mut results = results.into_iter().map(|r| {
            r.unwrap_or_else(|| {
                Err(SubmitError::Store(StoreError::Backend(
                    "the record was not decided".into(),
                )))
            })
        });
        // A caller that stopped waiting is no error of ours.
        match job.reply {
            Reply::One(tx) => {
                let r = results.next().unwrap_or_else(|| {
                    Err(SubmitError::Store(StoreError::InvalidAppend(
                        "no record".into(),
                    )))
                });
                let _ = tx.send(r);
            }
            Reply::Many(tx) => {
                let _ = tx.send(results.collect());
            }
            Reply::Atomic(tx) => {
                let r = match atomic_error {
                    Some(e) => Err(e),
                    None => results
                        .enumerate()
                        .map(|(index, r)| r.map_err(|error| AtomicError { index, error }))
                        .collect(),
                };
                let _ = tx.send(r);
            }
        }
    }
}

/// An answer that depends on the state as it was after `units_before` units of the
/// attempt were decided: if one of those units is not written, it must be decided again.
struct Provisional {
    job: usize,
    rec: usize,
    units_before: usize,
}

/// What to do with one record of an independent job.
enum Action {
    /// Answered from the store's lookup, whatever the state.
    Final(Result<Submitted, SubmitError>),
    /// Same id and content as a record accepted earlier in the batch.
    Duplicate(Placed),
    Refuse(Refusal),
    /// The id is in the batch being written: answered once it is stored.
    Defer,
    /// Accepted: the write, and its reservation in reservation mode.
    Write(Uuid, StreamWrite, Option<StreamWrite>),
}

/// A record answered as a duplicate of a record written by a unit of this same batch.
struct BatchDuplicate {
    job: usize,
    rec: usize,
    unit: usize,
    index_in_unit: usize,
}

/// Where an accepted record of this attempt sits.
#[derive(Clone, Copy)]
struct Placed {
    job: usize,
    rec: usize,
    unit: usize,
    index_in_unit: usize,
}

/// A decided batch ready for the store.
struct Prepared {
    units: Vec<AppendUnit>,
    /// In reservation mode, each unit's reservation (if it needs one); empty otherwise.
    reservations: Vec<Option<StreamWrite>>,
    meta: Meta,
}

/// What it takes to match the store's answers to a prepared batch's records.
struct Meta {
    unit_count: usize,
    unit_records: Vec<Vec<Placed>>,
    /// The ids this batch writes: a later batch decided while this one is in flight
    /// must not decide them again (the store does not know them yet).
    in_batch: HashMap<Uuid, Placed>,
    provisional: Vec<Provisional>,
    batch_dups: Vec<BatchDuplicate>,
}

type WriteTask = tokio::task::JoinHandle<Result<Vec<UnitOutcome>, StoreError>>;

/// A decided batch whose answers wait for the store: its write (chained after the
/// batches decided before it, so it is written only if they were written whole), or,
/// when it writes nothing, only for those batches to come back as decided.
struct InFlight {
    jobs: Vec<Work>,
    /// The write and what it takes to match its answers; none when nothing of the
    /// batch is written (every record refused or answered from the store).
    write: Option<(Meta, WriteTask)>,
    /// The write's answer, once taken while waiting for it.
    done: Option<WriteAnswer>,
    /// Which answers were settled before this batch was decided.
    before: Vec<Vec<bool>>,
    /// Records whose id an earlier batch in flight writes: answered from the store
    /// once this batch is next (job and record index).
    deferred: Vec<(usize, usize)>,
    records: usize,
}

impl InFlight {
    /// True when a record of an atomic job of `jobs` has an id this batch writes: the
    /// job's answer (duplicate or conflict) depends on this batch's outcome, so it
    /// waits for it. A single record with such an id is deferred instead (see
    /// [`Decider::settle_deferred`]).
    fn writes_any_of_atomic(&self, jobs: &[Work]) -> bool {
        let Some((meta, _)) = &self.write else {
            return false;
        };
        jobs.iter()
            .filter(|w| w.atomic)
            .flat_map(|w| &w.job.records)
            .any(|r| meta.in_batch.contains_key(&r.id))
    }

    /// True when its answer can be matched without waiting.
    fn is_ready(&self) -> bool {
        self.done.is_some() || self.write.as_ref().is_none_or(|(_, w)| w.is_finished())
    }
}

/// The store's answer to a batch's write: taken already while waiting, or awaited now.
async fn answer_of(
    write: WriteTask,
    done: Option<WriteAnswer>,
) -> Result<Vec<UnitOutcome>, StoreError> {
    let answer = match done {
        Some(done) => done,
        None => write.await,
    };
    answer.unwrap_or_else(|e| Err(StoreError::Backend(format!("the append task failed: {e}"))))
}

type WriteAnswer = Result<Result<Vec<UnitOutcome>, StoreError>, tokio::task::JoinError>;

/// At most this many decided batches wait for the store at once.
const MAX_IN_FLIGHT: usize = 16;

/// Least number of retries in reservation mode, where several ledgers may share the
/// store and conflicts are ordinary.
const RESERVATION_RETRIES: usize = 12;

/// How long to wait before attempt `attempt` (from 1): a random time below a ceiling
/// that doubles from 1 ms up to 64 ms.
fn backoff(attempt: usize) -> std::time::Duration {
    use std::hash::BuildHasher;
    let ceiling_us = 1000u64 << attempt.saturating_sub(1).min(6);
    let noise = std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now());
    std::time::Duration::from_micros(noise % ceiling_us)
}

/// After one attempt: done, or decide again.
enum Next {
    Done,
    Retry(StoreError),
}

impl Decider {
    pub(crate) fn new(store: Arc<dyn Store>, state: LedgerState, config: LedgerConfig) -> Self {
        let reserve = config.reservations.enabled(&*store);
        let mut config = config;
        if reserve {
            // Ledgers sharing a store lose races to each other as a matter of course.
            config.retries = config.retries.max(RESERVATION_RETRIES);
        }
        Self {
            store,
            state,
            config,
            failed: None,
            rebuilds: 0,
            reserve,
            rolling: None,
        }
    }

    /// Writes the records of reservations found not all stored by the last rebuild,
    /// in the background: most belong to another ledger that is writing them at this
    /// moment, and waiting here would let that ledger win every next race for the
    /// definition's stream. Expected revisions keep the two from writing twice.
    fn roll_forward_in_background(&mut self) {
        let reservations = self.state.pending_reservations();
        if reservations.is_empty() || self.rolling.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let pending = self.state.pending_records().into_iter().collect();
        let store = self.store.clone();
        self.rolling = Some(tokio::spawn(async move {
            if let Err(e) = reserve::roll_forward_pending(&*store, &reservations, pending).await {
                tracing::error!(error = %e, "rolling reserved records forward failed; retried after the next rebuild");
            }
        }));
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let max_batch = self.config.max_batch.max(1);
        // Batches handed to the store and not yet answered, oldest first. Each was
        // decided against the state that assumes every batch before it written, and
        // is chained after the one before it, so the store writes it only if that one
        // was written whole; otherwise it and everything after it are decided again.
        // Deciding never waits for a write: the store's group commit gathers the
        // batches queued meanwhile into one write and one sync.
        let mut inflight: VecDeque<InFlight> = VecDeque::new();
        // The verdict of the newest batch written, which the next one chains to.
        let mut last_verdict: Option<Verdict> = None;
        loop {
            // Answer the batches already back, oldest first.
            while inflight.front().is_some_and(InFlight::is_ready) {
                self.finish_oldest(&mut inflight).await;
            }
            if inflight.is_empty() {
                last_verdict = None;
            }
            let in_flight_records: usize = inflight.iter().map(|f| f.records).sum();
            let first = if inflight.is_empty() {
                match rx.recv().await {
                    Some(r) => r,
                    None => return,
                }
            } else if inflight.len() >= MAX_IN_FLIGHT
                || in_flight_records >= max_batch.saturating_mul(2)
            {
                self.finish_oldest(&mut inflight).await;
                continue;
            } else {
                match rx.try_recv() {
                    Ok(r) => r,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        self.drain(&mut inflight).await;
                        return;
                    }
                    Err(mpsc::error::TryRecvError::Empty) => {
                        // Nothing queued: wait for a request or for the oldest write.
                        let Some(front) = inflight.front_mut() else {
                            continue;
                        };
                        let Some((_, write)) = front.write.as_mut() else {
                            continue;
                        };
                        tokio::select! {
                            biased;
                            done = write => {
                                front.done = Some(done);
                                continue;
                            }
                            r = rx.recv() => match r {
                                Some(r) => r,
                                None => {
                                    self.drain(&mut inflight).await;
                                    return;
                                }
                            },
                        }
                    }
                }
            };
            let mut jobs = Vec::new();
            let mut queries = Vec::new();
            let mut shutdown = None;
            let mut records = 0usize;
            let mut next = Some(first);
            while let Some(req) = next.take() {
                match req {
                    Request::Submit(job) => {
                        records = records.saturating_add(job.records.len());
                        jobs.push(Work::new(job));
                    }
                    Request::TicketsOfOrder { order_id, reply } => queries.push((order_id, reply)),
                    Request::Shutdown(tx) => {
                        shutdown = Some(tx);
                        break;
                    }
                }
                if records < max_batch {
                    next = rx.try_recv().ok();
                }
            }
            // Not in reservation mode: a ledger that always has its next batch in
            // flight starves the other ledgers reserving on the same definition (they
            // learn of each batch only by losing to it).
            let speculate = !self.reserve
                && queries.is_empty()
                && shutdown.is_none()
                && self.failed.is_none()
                && !jobs.is_empty()
                && !inflight.iter().any(|f| f.writes_any_of_atomic(&jobs));
            if speculate {
                let before: Vec<Vec<bool>> = jobs.iter().map(Work::settled).collect();
                let writing: Vec<&HashMap<Uuid, Placed>> = inflight
                    .iter()
                    .filter_map(|f| f.write.as_ref().map(|(m, _)| &m.in_batch))
                    .collect();
                let (prepared, deferred) = self.prepare(&mut jobs, &writing).await;
                let write = prepared.map(|p| {
                    let (chain, verdict) = Chain::after(last_verdict.take());
                    last_verdict = Some(verdict);
                    let write = tokio::spawn(reserve::write_batch_chained(
                        self.store.clone(),
                        p.units,
                        p.reservations,
                        chain,
                    ));
                    (p.meta, write)
                });
                let started = write.is_some();
                inflight.push_back(InFlight {
                    jobs,
                    write,
                    done: None,
                    before,
                    deferred,
                    records,
                });
                if started {
                    // The write task sits in this worker's next-task slot, which other
                    // workers do not steal from: let it start before deciding more.
                    tokio::task::yield_now().await;
                }
                continue;
            }
            // Nothing is in flight after this, so the next batch starts a new chain.
            self.drain(&mut inflight).await;
            if !jobs.is_empty() {
                self.process(&mut jobs).await;
            }
            for work in jobs {
                work.answer();
            }
            for (order_id, reply) in queries {
                let answer = match &self.failed {
                    Some(e) => Err(LedgerError::Stopped(replicate(e))),
                    None => Ok(self.state.tickets_of_order(&order_id).to_vec()),
                };
                let _ = reply.send(answer);
            }
            if let Some(tx) = shutdown {
                let _ = tx.send(());
                return;
            }
        }
    }

    /// Answers every batch in flight, oldest first.
    async fn drain(&mut self, inflight: &mut VecDeque<InFlight>) {
        while !inflight.is_empty() {
            self.finish_oldest(inflight).await;
        }
    }

    /// Answers the oldest batch in flight. When it did not come back as decided, the
    /// batches after it (which the store did not write: their chain is broken) are
    /// decided again, from the state rebuilt from the log, and answered too.
    async fn finish_oldest(&mut self, inflight: &mut VecDeque<InFlight>) {
        let Some(f) = inflight.pop_front() else {
            return;
        };
        if self.finish(f).await {
            return;
        }
        let mut again = Vec::new();
        for f in inflight.drain(..) {
            let InFlight {
                mut jobs,
                write,
                done,
                before,
                ..
            } = f;
            if let Some((meta, write)) = write {
                match answer_of(write, done).await {
                    Ok(outcomes)
                        if outcomes
                            .iter()
                            .all(|o| matches!(o, UnitOutcome::NotAttempted)) => {}
                    // Not expected (the chain was broken), but if the store answered
                    // anything else, it is matched like any batch's answer.
                    result => {
                        let result = match result {
                            Ok(outcomes) => self.complete(&mut jobs, meta, outcomes).await,
                            Err(e) => Err(e),
                        };
                        let _ = self.after_attempt(&mut jobs, &before, result);
                        again.extend(jobs);
                        continue;
                    }
                }
            }
            // Decided against a state that assumed the broken batch written.
            for w in &mut jobs {
                w.reset_all();
            }
            again.extend(jobs);
        }
        if !again.is_empty() {
            self.process(&mut again).await;
        }
        for work in again {
            work.answer();
        }
    }

    /// Answers the deferred records of a batch, matches the answers of its write,
    /// retries what must be, and answers its submitters. True when it was written
    /// exactly as decided (or writes nothing).
    async fn finish(&mut self, inflight: InFlight) -> bool {
        let InFlight {
            mut jobs,
            write,
            done,
            before,
            deferred,
            ..
        } = inflight;
        // Every batch before this one came back as decided, so the ids these records
        // waited for are stored.
        self.settle_deferred(&mut jobs, &deferred).await;
        let rebuilds = self.rebuilds;
        let mut clean = true;
        if let Some((meta, write)) = write {
            let result = match answer_of(write, done).await {
                Ok(outcomes) => self.complete(&mut jobs, meta, outcomes).await,
                Err(e) => Err(e),
            };
            clean = matches!(result, Ok(None));
            if let Next::Retry(conflict) = self.after_attempt(&mut jobs, &before, result) {
                clean = false;
                self.attempts(&mut jobs, 1, Some(conflict)).await;
            }
        }
        for work in jobs {
            work.answer();
        }
        clean && self.rebuilds == rebuilds && self.failed.is_none()
    }

    async fn process(&mut self, jobs: &mut [Work]) {
        self.attempts(jobs, 0, None).await;
    }

    /// Attempts `start..=retries`; `last_conflict` is what made an earlier one retry.
    async fn attempts(
        &mut self,
        jobs: &mut [Work],
        start: usize,
        mut last_conflict: Option<StoreError>,
    ) {
        for attempt in start..=self.config.retries {
            if let Some(e) = &self.failed {
                for w in jobs.iter_mut() {
                    let settled = w.settled();
                    w.fail_unsettled(e, &settled);
                }
                return;
            }
            if jobs.iter().all(Work::is_done) {
                return;
            }
            if attempt > 0 {
                tracing::debug!(attempt, "deciding again after a write conflict");
                // Another writer won: let it finish before trying again, with jitter
                // so that racing ledgers do not collide in lockstep.
                tokio::time::sleep(backoff(attempt)).await;
            }
            // Answers settled by earlier attempts stand whatever happens to this one.
            let before: Vec<Vec<bool>> = jobs.iter().map(Work::settled).collect();
            let result = self.attempt(jobs).await;
            match self.after_attempt(jobs, &before, result) {
                Next::Done => return,
                Next::Retry(conflict) => last_conflict = Some(conflict),
            }
        }
        let e = last_conflict.unwrap_or_else(|| {
            StoreError::Backend("conflicting writers: retries exhausted".into())
        });
        for w in jobs.iter_mut() {
            let settled = w.settled();
            w.fail_unsettled(&e, &settled);
        }
    }

    /// Settles the outcome of one attempt: done, or decide again after a conflict. A
    /// store failure stops the ledger: everything decided in that attempt may rest on
    /// records that were not written, so all of it answers the error.
    fn after_attempt(
        &mut self,
        jobs: &mut [Work],
        before: &[Vec<bool>],
        result: Result<Option<StoreError>, StoreError>,
    ) -> Next {
        match result {
            Ok(None) => Next::Done,
            Ok(Some(conflict)) => Next::Retry(conflict),
            Err(e) => {
                tracing::error!(error = %e, "store failure; the ledger stops accepting records");
                for (w, before) in jobs.iter_mut().zip(before) {
                    w.fail_unsettled(&e, before);
                }
                self.failed = Some(e);
                Next::Done
            }
        }
    }

    /// One round: look up ids, decide, write, match answers. Answers `Some(conflict)`
    /// when some records must be decided again (the state was rebuilt), `Err` on a
    /// failure that stops the ledger.
    async fn attempt(&mut self, jobs: &mut [Work]) -> Result<Option<StoreError>, StoreError> {
        let Some(prepared) = self.prepare(jobs, &[]).await.0 else {
            return Ok(None);
        };
        let outcomes =
            reserve::write_batch(self.store.clone(), prepared.units, prepared.reservations).await?;
        self.complete(jobs, prepared.meta, outcomes).await
    }

    /// Looks up ids and decides every undecided record, folding the accepted ones into
    /// the state. `None` when nothing is to be written.
    ///
    /// `writing` holds the ids of the batch in flight, when this one is decided while
    /// it is written: a single record with such an id is not decided now but deferred
    /// (returned as job and record index), since whether it is a duplicate or an
    /// `id_conflict` can be told only once that batch is stored.
    async fn prepare(
        &mut self,
        jobs: &mut [Work],
        writing: &[&HashMap<Uuid, Placed>],
    ) -> (Option<Prepared>, Vec<(usize, usize)>) {
        // Sized for every record accepted: growing them was a few per cent of deciding.
        let records: usize = jobs.iter().map(|w| w.job.records.len()).sum();
        let found = self.lookup(jobs, records).await;
        let mut deferred = Vec::new();

        let mut units: Vec<AppendUnit> = Vec::with_capacity(records);
        let mut unit_records: Vec<Vec<Placed>> = Vec::with_capacity(records);
        let mut in_batch: HashMap<Uuid, Placed> =
            HashMap::with_capacity_and_hasher(records, Default::default());
        let mut provisional: Vec<Provisional> = Vec::new();
        let mut batch_dups: Vec<BatchDuplicate> = Vec::new();
        let mut reservations: Vec<Option<StreamWrite>> = Vec::new();

        for j in 0..jobs.len() {
            if jobs[j].is_done() {
                continue;
            }
            if jobs[j].atomic {
                self.decide_atomic(
                    j,
                    jobs,
                    &found,
                    &mut units,
                    &mut unit_records,
                    &mut in_batch,
                    &mut provisional,
                    &mut batch_dups,
                    &mut reservations,
                );
                continue;
            }
            for r in 0..jobs[j].job.records.len() {
                if jobs[j].results[r].is_some() {
                    continue;
                }
                let action = {
                    let record = &jobs[j].job.records[r];
                    if let Some(answer) = stored_answer(record, &found) {
                        Action::Final(answer)
                    } else if writing.iter().any(|w| w.contains_key(&record.id)) {
                        Action::Defer
                    } else if let Some(&p) = in_batch.get(&record.id) {
                        if jobs[p.job].job.records[p.rec] == *record {
                            Action::Duplicate(p)
                        } else {
                            Action::Refuse(id_conflict_in_batch(record.id))
                        }
                    } else {
                        match self.state.decide(record) {
                            Err(refusal) => Action::Refuse(refusal),
                            Ok(decision) => {
                                self.state.fold(&record.body);
                                let write = StreamWrite {
                                    stream: decision.stream,
                                    expected: decision.expected,
                                    records: vec![record.clone()],
                                };
                                let reservation = if self.reserve {
                                    self.reserve_for(
                                        reserve::plan([record]),
                                        std::slice::from_ref(&write),
                                    )
                                } else {
                                    None
                                };
                                Action::Write(record.id, write, reservation)
                            }
                        }
                    }
                };
                match action {
                    Action::Final(answer) => jobs[j].results[r] = Some(answer),
                    Action::Defer => deferred.push((j, r)),
                    Action::Duplicate(p) => batch_dups.push(BatchDuplicate {
                        job: j,
                        rec: r,
                        unit: p.unit,
                        index_in_unit: p.index_in_unit,
                    }),
                    Action::Refuse(refusal) => {
                        jobs[j].results[r] = Some(Err(refusal.into()));
                        provisional.push(Provisional {
                            job: j,
                            rec: r,
                            units_before: units.len(),
                        });
                    }
                    Action::Write(id, write, reservation) => {
                        let placed = Placed {
                            job: j,
                            rec: r,
                            unit: units.len(),
                            index_in_unit: 0,
                        };
                        in_batch.insert(id, placed);
                        units.push(vec![write]);
                        unit_records.push(vec![placed]);
                        if self.reserve {
                            reservations.push(reservation);
                        }
                    }
                }
            }
        }

        if units.is_empty() {
            return (None, deferred);
        }
        let unit_count = units.len();
        let prepared = Prepared {
            units,
            reservations,
            meta: Meta {
                unit_count,
                unit_records,
                in_batch,
                provisional,
                batch_dups,
            },
        };
        (Some(prepared), deferred)
    }

    /// Answers the records [`Decider::prepare`] deferred, once the batch they waited
    /// for came back written as decided: each is now answered from the store, as a
    /// duplicate of the stored copy or an `id_conflict`.
    async fn settle_deferred(&self, jobs: &mut [Work], deferred: &[(usize, usize)]) {
        if deferred.is_empty() {
            return;
        }
        let ids: Vec<Uuid> = deferred
            .iter()
            .map(|&(j, r)| jobs[j].job.records[r].id)
            .collect();
        let found = self.find(&ids).await;
        for &(j, r) in deferred {
            let record = &jobs[j].job.records[r];
            let answer = stored_answer(record, &found).unwrap_or_else(|| {
                // The batch written as decided held this id, so the store has it.
                Err(SubmitError::Store(StoreError::Backend(format!(
                    "record {} was written by the batch before but is not found",
                    record.id
                ))))
            });
            jobs[j].results[r] = Some(answer);
        }
    }

    /// Matches the store's answers to the records of a prepared batch. Answers
    /// `Some(conflict)` when some records must be decided again (the state was rebuilt).
    async fn complete(
        &mut self,
        jobs: &mut [Work],
        meta: Meta,
        outcomes: Vec<UnitOutcome>,
    ) -> Result<Option<StoreError>, StoreError> {
        let Meta {
            unit_count,
            unit_records,
            provisional,
            batch_dups,
            ..
        } = meta;
        let mut first_unwritten = None;
        let mut rebuild = false;
        let mut conflict = None;
        for (u, placed) in unit_records.iter().enumerate() {
            let outcome = outcomes.get(u);
            match outcome {
                Some(UnitOutcome::Appended(o)) => {
                    for (k, p) in placed.iter().enumerate() {
                        let Some(rec) = o.records.get(k) else {
                            rebuild = true;
                            jobs[p.job].results[p.rec] =
                                Some(Err(SubmitError::Store(StoreError::Backend(format!(
                                    "the store answered no outcome for record {k} of a unit"
                                )))));
                            continue;
                        };
                        // Written by someone else between our lookup and our append:
                        // the state counted it twice.
                        rebuild |= rec.duplicate;
                        jobs[p.job].results[p.rec] = Some(Ok(submitted(rec)));
                    }
                }
                Some(UnitOutcome::Failed(e)) if retryable(e) => {
                    first_unwritten.get_or_insert(u);
                    rebuild = true;
                    conflict = Some(replicate(e));
                    for p in placed {
                        jobs[p.job].reset(p.rec);
                    }
                }
                Some(UnitOutcome::Failed(e)) => {
                    first_unwritten.get_or_insert(u);
                    rebuild = true;
                    for p in placed {
                        let w = &mut jobs[p.job];
                        if w.atomic {
                            w.atomic_error = Some(AtomicError {
                                index: p.rec,
                                error: SubmitError::Store(replicate(e)),
                            });
                            break;
                        }
                        w.results[p.rec] = Some(Err(SubmitError::Store(replicate(e))));
                    }
                }
                Some(UnitOutcome::NotAttempted) | None => {
                    first_unwritten.get_or_insert(u);
                    rebuild = true;
                    for p in placed {
                        jobs[p.job].reset(p.rec);
                    }
                }
            }
        }
        if outcomes.len() != unit_count {
            tracing::warn!(
                units = unit_count,
                outcomes = outcomes.len(),
                "store answered a different number of outcomes"
            );
        }

        // Answers that saw an unwritten unit are decided again.
        if let Some(f) = first_unwritten {
            for p in provisional.iter().filter(|p| p.units_before > f) {
                jobs[p.job].reset(p.rec);
            }
        }
        for d in &batch_dups {
            let written = match outcomes.get(d.unit) {
                Some(UnitOutcome::Appended(o)) => o.records.get(d.index_in_unit),
                _ => None,
            };
            match written {
                Some(rec) => {
                    let mut s = submitted(rec);
                    s.duplicate = true;
                    jobs[d.job].results[d.rec] = Some(Ok(s));
                }
                None => jobs[d.job].reset(d.rec),
            }
        }

        if rebuild {
            tracing::warn!("rebuilding the ledger state from the log after a write conflict");
            self.rebuilds += 1;
            match rebuild_state(&*self.store).await {
                Ok(state) => {
                    self.state = state;
                    self.roll_forward_in_background();
                }
                Err(e) => {
                    // The records answered above are written; the rest cannot be
                    // decided without a state.
                    tracing::error!(error = %e, "rebuilding the state failed; the ledger stops accepting records");
                    for w in jobs.iter_mut() {
                        let settled = w.settled();
                        w.fail_unsettled(&e, &settled);
                    }
                    self.failed = Some(e);
                    return Ok(None);
                }
            }
        }
        Ok(if jobs.iter().all(Work::is_done) {
            None
        } else {
            Some(conflict.unwrap_or_else(|| {
                StoreError::Backend("a record of the batch was not written".into())
            }))
        })
    }

    /// Decides an atomic job: all records accepted (one unit) or none (the state is
    /// put back as it was).
    #[allow(
        clippy::too_many_arguments,
        reason = "the attempt's bookkeeping, passed explicitly"
    )]
    fn decide_atomic(
        &mut self,
        j: usize,
        jobs: &mut [Work],
        found: &Found,
        units: &mut Vec<AppendUnit>,
        unit_records: &mut Vec<Vec<Placed>>,
        in_batch: &mut HashMap<Uuid, Placed>,
        provisional: &mut Vec<Provisional>,
        batch_dups: &mut Vec<BatchDuplicate>,
        reservations: &mut Vec<Option<StreamWrite>>,
    ) {
        let unit = units.len();
        let mut undos = Vec::new();
        // In reservation mode the reservation's stream moves first, so records of the
        // request on that same stream are decided after it.
        let mut reservation: Option<(String, ExpectedRevision)> = None;
        if self.reserve {
            let unstored = jobs[j].job.records.iter().filter(|r| match found {
                Ok(map) => !map.contains_key(&r.id),
                Err(_) => true,
            });
            match reserve::plan(unstored) {
                Plan::Direct => {}
                Plan::Reserve(stream) => {
                    let expected =
                        ExpectedRevision::from_current(self.state.stream_revision(&stream));
                    undos.push(self.state.reserve(&stream));
                    reservation = Some((stream, expected));
                }
                Plan::Unsupported(what) => {
                    jobs[j].atomic_error = Some(AtomicError {
                        index: 0,
                        error: SubmitError::Store(StoreError::Unsupported { what }),
                    });
                    return;
                }
            }
        }
        let mut writes: Vec<StreamWrite> = Vec::new();
        let mut placed: Vec<Placed> = Vec::new();
        let mut dups: Vec<BatchDuplicate> = Vec::new();
        let mut failure: Option<(usize, SubmitError)> = None;
        let mut results: Vec<Option<Result<Submitted, SubmitError>>> =
            jobs[j].job.records.iter().map(|_| None).collect();

        for (r, record) in jobs[j].job.records.iter().enumerate() {
            match stored_answer(record, found) {
                Some(Ok(s)) => {
                    results[r] = Some(Ok(s));
                    continue;
                }
                Some(Err(e)) => {
                    failure = Some((r, e));
                    break;
                }
                None => {}
            }
            let earlier = in_batch.get(&record.id).copied().or_else(|| {
                placed
                    .iter()
                    .find(|p| jobs[j].job.records[p.rec].id == record.id)
                    .copied()
            });
            if let Some(p) = earlier {
                if jobs[p.job].job.records[p.rec] == *record {
                    dups.push(BatchDuplicate {
                        job: j,
                        rec: r,
                        unit: p.unit,
                        index_in_unit: p.index_in_unit,
                    });
                    continue;
                }
                failure = Some((r, id_conflict_in_batch(record.id).into()));
                break;
            }
            match self.state.decide(record) {
                Err(refusal) => {
                    failure = Some((r, refusal.into()));
                    break;
                }
                Ok(decision) => {
                    undos.push(self.state.apply(&record.body));
                    placed.push(Placed {
                        job: j,
                        rec: r,
                        unit,
                        index_in_unit: writes.len(),
                    });
                    writes.push(StreamWrite {
                        stream: decision.stream,
                        expected: decision.expected,
                        records: vec![record.clone()],
                    });
                }
            }
        }

        if let Some((index, error)) = failure {
            for undo in undos.into_iter().rev() {
                self.state.undo(undo);
            }
            jobs[j].atomic_error = Some(AtomicError { index, error });
            provisional.push(Provisional {
                job: j,
                rec: index,
                units_before: units.len(),
            });
            return;
        }
        jobs[j].results = results;
        batch_dups.extend(dups);
        if writes.is_empty() {
            // Everything was stored already: nothing to reserve either.
            for undo in undos.into_iter().rev() {
                self.state.undo(undo);
            }
            return;
        }
        for p in &placed {
            in_batch.insert(jobs[j].job.records[p.rec].id, *p);
        }
        if self.reserve {
            reservations.push(
                reservation
                    .map(|(stream, expected)| reserve::reservation(stream, expected, &writes)),
            );
        }
        units.push(writes);
        unit_records.push(placed);
    }

    /// The reservation of an independent record already folded into the state, and
    /// the state moved past it.
    fn reserve_for(&mut self, plan: Plan, writes: &[StreamWrite]) -> Option<StreamWrite> {
        let Plan::Reserve(stream) = plan else {
            return None;
        };
        let expected = ExpectedRevision::from_current(self.state.stream_revision(&stream));
        self.state.reserve(&stream);
        Some(reserve::reservation(stream, expected, writes))
    }

    /// Finds which ids of the undecided records are already stored, with one batched
    /// lookup (an id never seen before is the common case). `records`, how many records
    /// the jobs hold, sizes it.
    async fn lookup(&self, jobs: &[Work], records: usize) -> Found {
        let mut ids = Vec::with_capacity(records);
        let mut seen: std::collections::HashSet<Uuid, foldhash::fast::RandomState> =
            std::collections::HashSet::with_capacity_and_hasher(records, Default::default());
        for w in jobs.iter().filter(|w| !w.is_done()) {
            for (r, record) in w.job.records.iter().enumerate() {
                if (w.atomic || w.results[r].is_none()) && seen.insert(record.id) {
                    ids.push(record.id);
                }
            }
        }
        self.find(&ids).await
    }

    /// The stored records of `ids`, by id.
    async fn find(&self, ids: &[Uuid]) -> Found {
        self.store
            .find_ids(ids)
            .await
            .map(|found| found.into_iter().map(|r| (r.id, r)).collect())
    }
}

/// What the batched id lookup found: the stored records by id, or the store's error
/// (then every record of the batch answers it).
type Found = Result<HashMap<Uuid, StoredRecord>, StoreError>;

/// The answer for a record whose id is already stored: a duplicate when the content
/// is the same, `id_conflict` otherwise. `None` when the id is not stored. A failed
/// lookup answers the store error.
fn stored_answer(record: &NewRecord, found: &Found) -> Option<Result<Submitted, SubmitError>> {
    let found = match found {
        Err(e) => return Some(Err(SubmitError::Store(replicate(e)))),
        Ok(map) => map.get(&record.id)?,
    };
    if record.same_content(found) {
        Some(Ok(Submitted {
            id: found.id,
            position: found.position,
            stream: found.stream.clone(),
            revision: found.revision,
            duplicate: true,
        }))
    } else {
        Some(Err(SubmitError::Refused(Refusal::new(
            RefusalReason::IdConflict,
            format!(
                "record {} already exists at position {} (stream {}) with other content",
                found.id, found.position, found.stream
            ),
        ))))
    }
}

fn id_conflict_in_batch(id: Uuid) -> Refusal {
    Refusal::new(
        RefusalReason::IdConflict,
        format!("record {id} was submitted twice at once with different content"),
    )
}

fn submitted(rec: &counterfoil_core::RecordOutcome) -> Submitted {
    Submitted {
        id: rec.id,
        position: rec.position,
        stream: rec.stream.clone(),
        revision: rec.revision,
        duplicate: rec.duplicate,
    }
}

/// Failures that another writer can cause; deciding again against the rebuilt state
/// resolves them (the ids now stored are found by the lookup).
fn retryable(e: &StoreError) -> bool {
    e.is_conflict()
        || matches!(
            e,
            StoreError::IdConflict { .. } | StoreError::PartialDuplicate { .. }
        )
}
