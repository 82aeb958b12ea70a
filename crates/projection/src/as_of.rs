//! Building a read model "as it was": a fresh fold from position 0 up to a position or
//! a time, in memory, without reading or writing the persisted projection. Because
//! projectors are deterministic folds in position order, the state as of N is exactly
//! the state the live projection had right after folding record N.

use std::fmt;
use std::str::FromStr;

use counterfoil_core::{Store, StoredRecord, Timestamp};

use crate::many::READ_CHUNK;
use crate::{ProjectionError, Projector, Result};

/// Where a historical fold stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// The records at positions `<= N`.
    Position(u64),
    /// The records recorded at or before `T` (`recorded_at <= T`): what a live reader
    /// could have seen at `T`. The store keeps `recorded_at` non-decreasing along
    /// positions, so the fold stops at the first record after `T`.
    Time(Timestamp),
}

impl AsOf {
    /// True when `record` belongs to the state as of `self`.
    pub fn includes(&self, record: &StoredRecord) -> bool {
        match *self {
            AsOf::Position(n) => record.position <= n,
            AsOf::Time(t) => record.recorded_at <= t,
        }
    }
}

impl fmt::Display for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsOf::Position(n) => write!(f, "pos:{n}"),
            AsOf::Time(t) => f.write_str(&crate::csv_time(Some(t))),
        }
    }
}

/// Parses `pos:N` or an RFC 3339 time (the CLI's `--as-of`).
impl FromStr for AsOf {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Some(n) = s.strip_prefix("pos:") {
            return n.parse().map(AsOf::Position).map_err(|e| {
                format!("{s:?}: the position after \"pos:\" must be a whole number: {e}")
            });
        }
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| AsOf::Time(t.to_utc()))
            .map_err(|e| format!("{s:?} is neither pos:N nor an RFC 3339 time: {e}"))
    }
}

/// Folds a fresh `P` (default settings) over the log up to `as_of`. Returns the state
/// and the next position after the last record folded (0 when none was).
pub async fn build_as_of<P: Projector>(store: &dyn Store, as_of: AsOf) -> Result<(P, u64)> {
    build_as_of_with(store, as_of, P::default()).await
}

/// Like [`build_as_of`], starting from `initial.fresh()` (to keep its settings).
pub async fn build_as_of_with<P: Projector>(
    store: &dyn Store,
    as_of: AsOf,
    initial: P,
) -> Result<(P, u64)> {
    let mut state = initial.fresh();
    let mut next = 0u64;
    loop {
        let batch =
            store
                .read_all(next, READ_CHUNK)
                .await
                .map_err(|source| ProjectionError::Store {
                    projection: P::NAME,
                    position: next,
                    source,
                })?;
        if batch.is_empty() {
            return Ok((state, next));
        }
        for record in &batch {
            if !as_of.includes(record) {
                return Ok((state, next));
            }
            state.apply(record);
            next = record.position.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positions_and_times() {
        assert_eq!("pos:12".parse::<AsOf>(), Ok(AsOf::Position(12)));
        let t = "2026-11-21T19:04:05Z".parse::<AsOf>().unwrap();
        assert_eq!(t.to_string(), "2026-11-21T19:04:05Z");
        assert!("pos:x".parse::<AsOf>().is_err());
        assert!("yesterday".parse::<AsOf>().is_err());
    }
}
