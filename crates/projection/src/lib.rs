//! The projection runtime of Counterfoil (SPEC §6).
//!
//! A read model is a [`Projector`]: a pure, deterministic fold of stored records with
//! no I/O. This crate runs projectors against a [`Store`](counterfoil_core::Store):
//!
//! - [`Projection`] loads `DIR/<NAME>.state` (state and checkpoint in one file), catches
//!   up from the log in chunks, and persists state and checkpoint together by atomic
//!   file replacement, so a crash never applies a record twice or skips one. A missing,
//!   damaged, other-version or other-log state file is rebuilt from zero, never trusted.
//! - [`LiveRunner`] follows the log's subscription and publishes the state behind a
//!   [`LiveState`] for servers.
//! - [`build_as_of`] folds a fresh projector up to a position or a time without
//!   touching the persisted one; [`catch_up_all`] feeds several projections from one
//!   read of the log.
//!
//! It also holds the small building blocks the projector crates share so that
//! millions of tickets stay compact: [`IdTable`] (string ids interned to dense `u32`),
//! [`TicketLife`] (a ticket's status in eight bytes), [`Packed`] (several optional
//! strings in one allocation), compact time encodings
//! ([`time`]) and the [`CsvRow`] trait every report row implements.

mod as_of;
mod chunked;
mod csv;
mod error;
mod ids;
mod keys;
mod life;
mod live;
mod many;
mod packed;
mod runner;
pub mod state_file;
pub mod synthetic;
pub mod time;

pub use as_of::{AsOf, build_as_of, build_as_of_with};
pub use chunked::ChunkedVec;
pub use csv::{CsvRow, csv_opt, csv_time};
pub use error::ProjectionError;
pub use ids::{IdTable, NONE};
pub use keys::{IdKey, Keyer, Keys};
pub use life::TicketLife;
pub use live::{FeedItem, LiveFeed, LiveRunner, LiveState};
pub use many::{DynProjection, catch_up_all, catch_up_threaded, rebuild_all, rebuild_threaded};
pub use packed::Packed;
pub use runner::{OpenOutcome, Projection, ProjectionConfig};
pub use state_file::Rejection;
pub use synthetic::SyntheticLog;

use counterfoil_core::StoredRecord;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Result of the runtime's operations.
pub type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// A read model: a deterministic fold of stored records.
///
/// `apply` must be pure (no I/O, no clock), must never panic whatever the record (a log
/// written without the ledger's rules included), and must depend only on the records
/// folded so far, in position order. The state is persisted with serde (compact
/// MessagePack), so fields must round-trip through a positional encoding: no
/// `skip_serializing_if`, no `flatten`, no internally tagged enums in state types.
pub trait Projector: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The state file is `<NAME>.state`; e.g. `shared-tickets`.
    const NAME: &'static str;
    /// Bump when the fold or the state's shape changes: a persisted state of another
    /// version is rebuilt from zero.
    const VERSION: u32;

    /// Folds one record. Records are given in position order, each exactly once.
    fn apply(&mut self, record: &StoredRecord);

    /// [`Projector::apply`] with the record's keys from a [`Keyer`], for the id tables
    /// ([`IdTable::intern_keyed`]): the same fold, fewer lookups when several read
    /// models fold the same records. The default ignores the keys.
    fn apply_keyed(&mut self, record: &StoredRecord, keys: &Keys) {
        let _ = keys;
        self.apply(record);
    }

    /// Settings that change what the fold computes (e.g. an attribution window),
    /// written into the state file: a persisted state whose settings differ from the
    /// running projector's is rebuilt from zero. Empty by default.
    fn settings(&self) -> String {
        String::new()
    }

    /// An empty state with the same settings as `self`, used to rebuild from zero.
    fn fresh(&self) -> Self {
        Self::default()
    }

    /// Writes the state as its `Serialize` encodes it (the default does just that).
    /// A projector with a large state may encode parts of it on several threads
    /// ([`state_file::StateWriter::seq_parallel`]); the bytes must stay the same.
    fn encode_state(&self, w: &mut state_file::StateWriter) -> Result<(), String> {
        w.value(self)
    }
}
