//! Given/when/then helpers: a synthetic log folded into the projector as it grows.

use counterfoil_core::{StoredRecord, Timestamp};
use counterfoil_projection::{Projector, SyntheticLog, state_file};
use serde_json::Value;

pub struct Given<P> {
    pub log: SyntheticLog,
    pub state: P,
}

impl<P: Projector> Given<P> {
    pub fn new() -> Self {
        Self {
            log: SyntheticLog::new(),
            state: P::default(),
        }
    }

    /// Appends a record (time, type, data) and folds it.
    pub fn rec(&mut self, at: &str, ty: &str, data: Value) -> StoredRecord {
        let r = self.log.push_json(at, ty, data).unwrap().clone();
        self.state.apply(&r);
        r
    }

    /// The state after a trip through the state file's encoding.
    pub fn reloaded(&self) -> P {
        let e = state_file::encode_projector(&self.state, 0, None).unwrap();
        let bytes = e.to_bytes();
        state_file::decode::<P>(&bytes, P::NAME, P::VERSION, "")
            .unwrap()
            .1
    }
}

pub fn t(s: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}
