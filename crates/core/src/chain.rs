//! Chained batches ([`Store::append_batch_chained`](crate::Store::append_batch_chained)):
//! a batch that is written only if the batch before it was written whole.
//!
//! A caller that decides batch `n + 1` assuming batch `n` written (the ledger does) can
//! hand both to the store at once: the store writes `n + 1` only after `n`, and only if
//! every unit of `n` was appended with no record a duplicate. Otherwise nothing of
//! `n + 1` is written, nor of anything chained after it, and the caller decides those
//! records again. The embedded log checks the link on its writer thread, so a chained
//! batch can share a write and a sync with the one before it.
//!
//! Every link ends with a verdict: [`Resolver::resolve`], or "not whole" when the
//! resolver is dropped unresolved (the batch was refused before reaching the store, the
//! store closed, the task stopped), so a batch after it never waits forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::Poll;

use futures::task::AtomicWaker;

use crate::error::StoreError;
use crate::store::UnitOutcome;

// A new link is pending: state 0.
const HANDED_OVER: u8 = 1;
const WHOLE: u8 = 2;
const NOT_WHOLE: u8 = 3;

#[derive(Default, Debug)]
struct Cell {
    state: AtomicU8,
    waker: AtomicWaker,
}

impl Cell {
    fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// Moves the state forward to `to` (never back); wakes the waiting task.
    fn advance(&self, to: u8) {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s < to).then_some(to)
            });
        self.waker.wake();
    }

    /// Waits until the state is at least `at_least`. One task may wait at a time.
    async fn reached(&self, at_least: u8) -> u8 {
        futures::future::poll_fn(|cx| {
            let s = self.state();
            if s >= at_least {
                return Poll::Ready(s);
            }
            self.waker.register(cx.waker());
            let s = self.state();
            if s >= at_least {
                Poll::Ready(s)
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// What became of a chained batch, as the batch after it sees it. Cloning gives
/// another handle to the same verdict; one task may wait on it at a time.
#[derive(Clone)]
pub struct Verdict(Arc<Cell>);

impl Verdict {
    /// `Some(true)` once the batch was written whole, `Some(false)` once it is known
    /// that it was not (or will not be), `None` before.
    pub fn get(&self) -> Option<bool> {
        match self.0.state() {
            WHOLE => Some(true),
            NOT_WHOLE => Some(false),
            _ => None,
        }
    }

    /// Waits until the batch reached its store (or has its verdict already): a batch
    /// after it handed over later is seen after it.
    pub async fn handed_over(&self) {
        self.0.reached(HANDED_OVER).await;
    }

    /// Waits for the verdict: true when the batch was written whole.
    pub async fn outcome(&self) -> bool {
        self.0.reached(WHOLE).await == WHOLE
    }
}

impl std::fmt::Debug for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Verdict").field(&self.get()).finish()
    }
}

/// Gives one batch's verdict. Dropped unresolved, it answers "not whole".
pub struct Resolver {
    cell: Arc<Cell>,
    resolved: bool,
}

impl Resolver {
    /// Records that the batch reached its store, so a batch after it may follow.
    pub fn handed_over(&self) {
        self.cell.advance(HANDED_OVER);
    }

    /// A handle that marks the batch handed over once this resolver has moved on
    /// with the batch (into a store's queue, say).
    pub fn hand_over_marker(&self) -> HandOverMarker {
        HandOverMarker(self.cell.clone())
    }

    /// Gives the verdict: `whole` when every unit was appended and no record was a
    /// duplicate.
    pub fn resolve(mut self, whole: bool) {
        self.cell.advance(if whole { WHOLE } else { NOT_WHOLE });
        self.resolved = true;
    }

    /// Resolves from a batch's outcomes: whole when there is one per unit, each
    /// appended, with no record a duplicate.
    pub fn resolve_from(self, outcomes: &[UnitOutcome], units: usize) {
        self.resolve(UnitOutcome::written_whole(outcomes, units));
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        if !self.resolved {
            self.cell.advance(NOT_WHOLE);
        }
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("state", &self.cell.state())
            .finish()
    }
}

/// See [`Resolver::hand_over_marker`].
#[derive(Debug)]
pub struct HandOverMarker(Arc<Cell>);

impl HandOverMarker {
    pub fn mark(self) {
        self.0.advance(HANDED_OVER);
    }
}

/// One batch's link in a chain: the verdict of the batch before it (none for the
/// first batch) and the resolver of its own.
#[derive(Debug)]
pub struct Chain {
    after: Option<Verdict>,
    own: Resolver,
}

impl Chain {
    /// A link after the batch whose verdict is `after` (`None`: nothing before it).
    /// Returns the link and the verdict a batch after this one chains to.
    pub fn after(after: Option<Verdict>) -> (Chain, Verdict) {
        let cell = Arc::new(Cell::default());
        let verdict = Verdict(cell.clone());
        let chain = Chain {
            after,
            own: Resolver {
                cell,
                resolved: false,
            },
        };
        (chain, verdict)
    }

    /// The verdict of the batch before, and this batch's resolver.
    pub fn into_parts(self) -> (Option<Verdict>, Resolver) {
        (self.after, self.own)
    }
    /// Writes a batch of `units` units with `write` once the batch before it was
    /// written whole, and gives this batch's verdict from the outcomes; when the batch
    /// before was not, writes nothing and answers every unit
    /// [`UnitOutcome::NotAttempted`]. For a store that cannot check the link itself.
    pub async fn write_after<F, Fut>(
        self,
        units: usize,
        write: F,
    ) -> Result<Vec<UnitOutcome>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<UnitOutcome>, StoreError>>,
    {
        let (after, own) = self.into_parts();
        if let Some(after) = after
            && !after.outcome().await
        {
            return Ok(UnitOutcome::none_attempted(units));
        }
        own.handed_over();
        let result = write().await;
        if let Ok(outcomes) = &result {
            own.resolve_from(outcomes, units);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AppendOutcome, RecordOutcome};

    #[test]
    fn a_dropped_resolver_answers_not_whole() {
        let (chain, verdict) = Chain::after(None);
        assert_eq!(verdict.get(), None);
        drop(chain);
        assert_eq!(verdict.get(), Some(false));
        assert!(!futures::executor::block_on(verdict.outcome()));
    }

    #[test]
    fn the_verdict_moves_forward_only() {
        let (chain, verdict) = Chain::after(None);
        let (after, own) = chain.into_parts();
        assert!(after.is_none());
        let marker = own.hand_over_marker();
        own.resolve(true);
        // A late hand-over mark does not undo the verdict.
        marker.mark();
        assert_eq!(verdict.get(), Some(true));
        futures::executor::block_on(verdict.handed_over());
        assert!(futures::executor::block_on(verdict.outcome()));
    }

    #[test]
    fn a_waiting_task_is_woken() {
        let (chain, verdict) = Chain::after(None);
        let (_, own) = chain.into_parts();
        let waiter = std::thread::spawn(move || futures::executor::block_on(verdict.outcome()));
        std::thread::sleep(std::time::Duration::from_millis(20));
        own.handed_over();
        std::thread::sleep(std::time::Duration::from_millis(20));
        own.resolve(false);
        assert!(!waiter.join().unwrap());
    }

    #[test]
    fn whole_means_every_unit_appended_and_nothing_duplicate() {
        let rec = |duplicate| RecordOutcome {
            id: uuid::Uuid::nil(),
            stream: "s".into(),
            revision: 0,
            position: 0,
            hash: crate::Hash::default(),
            duplicate,
        };
        let appended = |duplicate| {
            UnitOutcome::Appended(AppendOutcome {
                records: smallvec::smallvec![rec(duplicate)],
            })
        };
        assert!(UnitOutcome::written_whole(&[appended(false)], 1));
        assert!(!UnitOutcome::written_whole(&[appended(true)], 1));
        assert!(!UnitOutcome::written_whole(&[appended(false)], 2));
        assert!(!UnitOutcome::written_whole(
            &[appended(false), UnitOutcome::NotAttempted],
            2
        ));
        assert!(!UnitOutcome::written_whole(
            &[UnitOutcome::Failed(crate::StoreError::Closed)],
            1
        ));
    }
}
