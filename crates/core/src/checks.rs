//! Field checks that types alone cannot express (a non-empty name, an email with an
//! `@`, a link scope that matches its performance id, a positive payment amount).
//! They run at parse time, so a malformed record never reaches the rules, and again
//! in [`crate::rules::LedgerState::decide`] for records built in code.
//!
//! Each check names the offending field as a path below `data` (`data.buyer.email`)
//! and says what is wrong. The list is documented in `docs/records.md`.

use std::collections::HashSet;

use crate::catalog::{LinkScope, Pricing, RecordBody};
use crate::error::FieldError;
use crate::values::{Amount, Timestamp};

impl RecordBody {
    /// Checks the fields of `data`; the error's field is a path such as `data.buyer.email`.
    pub fn check_fields(&self) -> Result<(), FieldError> {
        use RecordBody as B;
        match self {
            B::PerformanceScheduled(d) => {
                required_text("data.name", &d.name)?;
                not_before(
                    "data.ends_at",
                    d.ends_at,
                    "data.starts_at",
                    Some(d.starts_at),
                )
            }
            B::DefinitionCreated(d) => {
                required_text("data.name", &d.name)?;
                pricing("data.pricing", &d.pricing)?;
                not_before(
                    "data.sale_ends_at",
                    d.sale_ends_at,
                    "data.sale_starts_at",
                    d.sale_starts_at,
                )?;
                max_redemptions("data.max_redemptions", d.max_redemptions)
            }
            B::DefinitionUpdated(d) => {
                if let Some(name) = &d.name {
                    required_text("data.name", name)?;
                }
                if let Some(p) = &d.pricing {
                    pricing("data.pricing", p)?;
                }
                // Only when the update sets both ends; a window that mixes an updated
                // end with a stored one is checked by the rules.
                if let (Some(starts), Some(ends)) = (d.sale_starts_at, d.sale_ends_at) {
                    not_before("data.sale_ends_at", ends, "data.sale_starts_at", starts)?;
                }
                max_redemptions("data.max_redemptions", d.max_redemptions.flatten())
            }
            B::DefinitionDeleted(_) | B::LinkClicked(_) => Ok(()),
            B::LinkCreated(d) => {
                required_text("data.owner_name", &d.owner_name)?;
                email("data.owner_email", &d.owner_email)?;
                match (d.scope, &d.performance_id) {
                    (LinkScope::Performance, None) => Err(FieldError::new(
                        "data.performance_id",
                        "required when scope is \"performance\"",
                    )),
                    (LinkScope::Client, Some(_)) => Err(FieldError::new(
                        "data.performance_id",
                        "must be absent when scope is \"client\" (a client link covers every performance of the organizer)",
                    )),
                    _ => Ok(()),
                }
            }
            B::TicketPurchased(d) => {
                required_text("data.ticket_type", &d.ticket_type)?;
                email("data.buyer.email", &d.buyer.email)
            }
            B::TicketTransferred(d) => email("data.to.email", &d.to.email),
            B::TicketInjected(d) => email("data.initial_owner.email", &d.initial_owner.email),
            B::TicketShared(d) => email("data.recipient_email", &d.recipient_email),
            B::TicketDeleted(d) => required_text("data.reason", &d.reason),
            B::TicketRedeemed(_)
            | B::TicketUnredeemed(_)
            | B::TicketRefunded(_)
            | B::TicketInvalidated(_)
            | B::TicketRevalidated(_)
            | B::TicketRescheduled(_)
            | B::TicketDelivered(_)
            | B::TicketDownloaded(_)
            | B::TicketActivated(_)
            | B::TicketControlled(_)
            | B::TicketKeptByOwner(_) => Ok(()),
            B::PaymentCaptured(d) => {
                required_text("data.gateway", &d.gateway)?;
                positive("data.amount", d.amount)
            }
            B::PaymentRefunded(d) => {
                required_text("data.gateway", &d.gateway)?;
                positive("data.amount", d.amount)
            }
            B::OwnerRegistered(d) => {
                email("data.email", &d.email)?;
                required_text("data.first_name", &d.first_name)?;
                required_text("data.last_name", &d.last_name)
            }
            B::OwnerConsentChanged(_) => Ok(()),
            B::LedgerReserved(_) => Err(FieldError::new(
                "type",
                format!(
                    "\"{}\" {}",
                    self.record_type(),
                    crate::catalog::INTERNAL_TYPE_REFUSAL
                ),
            )),
        }
    }
}

/// An email address as far as a ledger can tell without sending mail: exactly one
/// `@`, with text on both sides.
pub(crate) fn is_plausible_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@'),
        None => false,
    }
}

fn required_text(field: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        Err(FieldError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn email(field: &str, value: &str) -> Result<(), FieldError> {
    if is_plausible_email(value) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("{value:?} is not an email address (exactly one '@' with text on both sides)"),
        ))
    }
}

fn pricing(field: &str, p: &Pricing) -> Result<(), FieldError> {
    let Pricing::Optional { options } = p else {
        return Ok(());
    };
    if options.is_empty() {
        return Err(FieldError::new(
            format!("{field}.options"),
            "an optional price needs at least one option",
        ));
    }
    let mut seen = HashSet::with_capacity(options.len());
    for (i, o) in options.iter().enumerate() {
        let name_field = format!("{field}.options[{i}].name");
        required_text(&name_field, &o.name)?;
        if !seen.insert(o.name.as_str()) {
            return Err(FieldError::new(
                name_field,
                format!("option name {:?} is used twice", o.name),
            ));
        }
    }
    Ok(())
}

fn not_before(
    field: &str,
    end: Option<Timestamp>,
    start_field: &str,
    start: Option<Timestamp>,
) -> Result<(), FieldError> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => Err(FieldError::new(
            field,
            format!(
                "{} is before {start_field} ({})",
                e.to_rfc3339(),
                s.to_rfc3339()
            ),
        )),
        _ => Ok(()),
    }
}

fn max_redemptions(field: &str, value: Option<u32>) -> Result<(), FieldError> {
    if value == Some(0) {
        Err(FieldError::new(field, "must be at least 1"))
    } else {
        Ok(())
    }
}

fn positive(field: &str, amount: Amount) -> Result<(), FieldError> {
    if amount.is_zero() {
        Err(FieldError::new(field, "must be greater than 0"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_one_at_with_text_around_it() {
        assert!(is_plausible_email("a@b"));
        assert!(is_plausible_email("first.last+tag@example.com"));
        assert!(!is_plausible_email("ab"));
        assert!(!is_plausible_email("@b"));
        assert!(!is_plausible_email("a@"));
        assert!(!is_plausible_email("a@b@c"));
        assert!(!is_plausible_email(""));
    }
}
