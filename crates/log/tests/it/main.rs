//! Integration tests of the embedded log: the shared conformance suite, recovery from
//! torn tails and damage, injected I/O faults, index snapshots, segment rolling,
//! `verify`, and a property test against an in-memory model.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

mod common;
mod conformance;
mod crash;
mod faults;
mod lifecycle;
mod model;
mod recovery;
mod snapshots;
mod tail;
mod verify;
