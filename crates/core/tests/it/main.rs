//! Integration tests of the core crate: encoding round trips, parsing errors.

mod encoding;
mod schemas;
