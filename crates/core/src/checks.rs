//! Field checks that types alone cannot express (a non-empty name, an email with an
//! `@`, a link scope that matches its performance id, a positive payment amount).
//! They run at parse time, so a malformed record never reaches the rules.
//!
//! (Skeleton: to be completed.)

use crate::catalog::RecordBody;
use crate::error::FieldError;

impl RecordBody {
    /// Checks the fields of `data`; the error's field is a path such as `data.buyer.email`.
    pub fn check_fields(&self) -> Result<(), FieldError> {
        Ok(())
    }
}
