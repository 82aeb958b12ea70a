//! Given/when/then tests of the links read model (SPEC §6).

mod rules;
mod support;
