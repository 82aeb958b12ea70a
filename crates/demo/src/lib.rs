//! A seeded, realistic sample workload of ticketing records.
//!
//! [`generate`] streams [`DemoLine`]s: organizers schedule performances with ticket
//! definitions and tracking links, visitors click and buy, tickets go through their
//! lifecycle (deliveries, wallet steps, transfers, shares, refunds, reschedules, scans at
//! the gate, deletions), orders are paid and refunded, and owners register and change
//! their consents. A small fraction of lines must be refused, each with the reason the
//! ledger has to give; every refusal reason appears once the workload has 2,000 lines.
//!
//! The generator is pure: no I/O and no wall clock. Everything (ids included) comes from
//! a ChaCha RNG seeded with [`DemoConfig::seed`], so one seed always yields the same
//! lines. It simulates time with an event queue and keeps state only for the
//! performances still open, so its memory does not grow with the number of lines.

mod ids;
mod malformed;
mod orders;
mod people;
mod refusals;
mod shows;
mod sim;
mod tickets;
mod world;

use counterfoil_core::{NewRecord, RefusalReason};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoConfig {
    /// How many lines (records and malformed lines) to produce.
    pub events: u64,
    /// The RNG seed: the same seed gives the same lines.
    pub seed: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            events: 10_000,
            seed: 42,
        }
    }
}

/// One line of the workload, with the outcome the ledger must give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoLine {
    /// A well-formed record.
    Record {
        record: NewRecord,
        /// `None`: the ledger must accept it. `Some(reason)`: it must refuse it so.
        expect: Option<RefusalReason>,
        /// True for an exact resend of a record accepted earlier: accepting it must
        /// append nothing (an idempotent duplicate).
        duplicate: bool,
    },
    /// A line that does not parse as a record; parsing it must name `field`.
    Malformed { line: String, field: String },
}

/// The outcome a line must get, as an importer counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expectation {
    Accepted,
    Duplicate,
    Refused(RefusalReason),
}

impl DemoLine {
    /// The line as JSON Lines text, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        match self {
            DemoLine::Record { record, .. } => serde_json::to_string(record).unwrap_or_default(),
            DemoLine::Malformed { line, .. } => line.clone(),
        }
    }

    pub fn expectation(&self) -> Expectation {
        match self {
            DemoLine::Record {
                expect: Some(reason),
                ..
            } => Expectation::Refused(*reason),
            DemoLine::Record {
                duplicate: true, ..
            } => Expectation::Duplicate,
            DemoLine::Record { .. } => Expectation::Accepted,
            DemoLine::Malformed { .. } => Expectation::Refused(RefusalReason::InvalidField),
        }
    }

    /// The record, unless the line is malformed.
    /// The record of a line the ledger must accept (not a resend, a refusal or a
    /// malformed line): what a benchmark appends straight to a store.
    pub fn into_valid_record(self) -> Option<NewRecord> {
        match self {
            DemoLine::Record {
                record,
                expect: None,
                duplicate: false,
            } => Some(record),
            _ => None,
        }
    }

    pub fn record(&self) -> Option<&NewRecord> {
        match self {
            DemoLine::Record { record, .. } => Some(record),
            DemoLine::Malformed { .. } => None,
        }
    }
}

/// Streams the workload described by `config`.
pub fn generate(config: &DemoConfig) -> DemoGenerator {
    DemoGenerator {
        sim: sim::Sim::new(config),
    }
}

/// The iterator [`generate`] returns.
#[derive(Debug)]
pub struct DemoGenerator {
    sim: sim::Sim,
}

impl DemoGenerator {
    /// How much simulation state is held now (open performances, live tickets, planned
    /// events, lines waiting to be handed out). Stays bounded however many lines are
    /// generated.
    pub fn footprint(&self) -> Footprint {
        self.sim.footprint()
    }
}

/// Sizes of the generator's state; see [`DemoGenerator::footprint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    pub performances: usize,
    pub tickets: usize,
    pub planned_events: usize,
    pub buffered_lines: usize,
}

impl Footprint {
    /// A single figure to compare footprints by.
    pub fn total(&self) -> usize {
        self.performances + self.tickets + self.planned_events + self.buffered_lines
    }
}

impl Iterator for DemoGenerator {
    type Item = DemoLine;

    fn next(&mut self) -> Option<DemoLine> {
        self.sim.next_line()
    }
}
