//! Tests of the projection runtime against the real embedded store, and property tests
//! of the four read models over generated workloads.

mod live;
mod properties;
mod runtime;
mod support;
mod workload;
