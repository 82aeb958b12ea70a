//! People as the owner report keeps them: the compact form of a ticket's buyer,
//! injected owner and transfer recipients, and registered owner accounts.

use chrono::NaiveDate;
use counterfoil_core::Timestamp;
use counterfoil_core::catalog::{OwnerRegistered, Person};
use counterfoil_projection::state_file::StateWriter;
use counterfoil_projection::{Packed, time};
use serde::{Deserialize, Serialize};

/// A person carried by a ticket record, packed: customer id, email, first name, last
/// name, phone.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PersonState(Packed);

impl PersonState {
    /// Writes the person as its `Serialize` does through `rmp_serde`.
    pub fn write(&self, w: &mut StateWriter) -> Result<(), String> {
        self.0.write(w)
    }

    pub fn from_person(p: &Person) -> Self {
        Self(Packed::new([
            p.customer_id.as_ref().map(|c| c.as_str()),
            Some(p.email.as_str()),
            p.first_name.as_deref(),
            p.last_name.as_deref(),
            p.phone.as_deref(),
        ]))
    }

    pub fn customer_id(&self) -> Option<&str> {
        self.0.get(0)
    }

    pub fn email(&self) -> &str {
        self.0.get(1).unwrap_or_default()
    }

    pub fn first_name(&self) -> Option<&str> {
        self.0.get(2)
    }

    pub fn last_name(&self) -> Option<&str> {
        self.0.get(3)
    }

    pub fn phone(&self) -> Option<&str> {
        self.0.get(4)
    }

    /// SPEC §4 (as `Person::same_person`): by customer id when both have one, else by
    /// email ignoring case.
    pub fn same_person(&self, other: &PersonState) -> bool {
        match (self.customer_id(), other.customer_id()) {
            (Some(a), Some(b)) => a == b,
            _ => self.email().eq_ignore_ascii_case(other.email()),
        }
    }
}

/// An `owner.registered` account with its consents.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Account {
    pub email: Box<str>,
    pub first_name: Box<str>,
    pub last_name: Box<str>,
    pub phone: Option<Box<str>>,
    pub birth_date: Option<NaiveDate>,
    pub id_number: Option<Box<str>>,
    pub residence_country: Option<Box<str>>,
    /// `None` until an `owner.consent_changed` states it.
    pub allow_promo_email: Option<bool>,
    pub allow_promo_third_party_email: Option<bool>,
    pub allow_tracking: Option<bool>,
    /// Latest `occurred_at` among the account's records.
    #[serde(with = "time::compact_opt")]
    pub last_at: Option<Timestamp>,
}

impl Account {
    pub fn from_registration(d: &OwnerRegistered) -> Self {
        Self {
            email: d.email.as_str().into(),
            first_name: d.first_name.as_str().into(),
            last_name: d.last_name.as_str().into(),
            phone: d.phone.as_deref().map(Into::into),
            birth_date: d.birth_date,
            id_number: d.id_number.as_deref().map(Into::into),
            residence_country: d.residence_country.as_deref().map(Into::into),
            allow_promo_email: None,
            allow_promo_third_party_email: None,
            allow_tracking: None,
            last_at: None,
        }
    }
}

/// The later of two optional times.
pub(crate) fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
