//! Tests of the demo workload through its public API: determinism, well-formed output,
//! coverage of every refusal reason and record type, and bounded state.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]

mod workload;
