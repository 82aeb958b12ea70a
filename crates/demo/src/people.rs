//! The cast of the workload: organizers with their venues and currencies, the shows they
//! put on, and a pool of customers. A customer is derived from its pool index alone, so
//! the generator keeps no per-person state beyond "has registered an account".

use counterfoil_core::Text;
use counterfoil_core::catalog::Person;

use crate::ids::id;

/// An organizer: who schedules performances, in which venues, for which money.
#[derive(Debug)]
pub(crate) struct Organizer {
    pub id: &'static str,
    pub code: &'static str,
    pub venues: &'static [&'static str],
    pub currency: &'static str,
    pub categories: &'static [&'static str],
    /// Seated venues sell numbered seats; the others are general admission.
    pub seated: bool,
    /// Daytime sessions (exhibitions, family shows) rather than evening shows.
    pub daytime: bool,
}

pub(crate) const ORGANIZERS: &[Organizer] = &[
    Organizer {
        id: "org-harbour-lights",
        code: "HLP",
        venues: &["Harbour Hall", "Quayside Arena"],
        currency: "GBP",
        categories: &["concert", "comedy"],
        seated: true,
        daytime: false,
    },
    Organizer {
        id: "org-teatro-del-sole",
        code: "TDS",
        venues: &["Sala Grande", "Sala Piccola"],
        currency: "EUR",
        categories: &["theatre", "opera"],
        seated: true,
        daytime: false,
    },
    Organizer {
        id: "org-northwind-live",
        code: "NWL",
        venues: &["Northwind Arena", "Riverside Club", "The Loft"],
        currency: "USD",
        categories: &["concert", "festival"],
        seated: false,
        daytime: false,
    },
    Organizer {
        id: "org-alpenklang",
        code: "AKF",
        venues: &["Festival Park", "Kursaal"],
        currency: "CHF",
        categories: &["festival", "concert"],
        seated: false,
        daytime: false,
    },
    Organizer {
        id: "org-museum-moderna",
        code: "MMO",
        venues: &["Main Gallery", "East Wing"],
        currency: "SEK",
        categories: &["exhibition", "family"],
        seated: false,
        daytime: true,
    },
];

pub(crate) const ACTS: &[&str] = &[
    "The Midnight Orchestra",
    "Luna Vega",
    "Kestrel",
    "Bright Harbour Quartet",
    "Marco Ferri",
    "Nadia Okafor",
    "The Paper Lanterns",
    "Glass Animals Revue",
    "Ines Caldeira Trio",
    "Northern Lights Choir",
    "Jonas Weber",
    "Silent Coast",
    "A Midsummer Night's Dream",
    "La Traviata",
    "Modern Masters",
    "Light and Shadow",
];

pub(crate) const TITLES: &[&str] = &[
    "Live",
    "Spring Tour",
    "in Concert",
    "Unplugged",
    "Farewell Night",
    "Anniversary Show",
    "Late Session",
    "Matinee",
];

pub(crate) const PROMOTERS: &[(&str, &str)] = &[
    ("Citybeat Magazine", "partners@citybeat.example.com"),
    ("Mia Laurent", "mia@influence.example.net"),
    ("Student Union", "events@union.example.org"),
    ("Hotel Concierge Desk", "concierge@grandhotel.example.com"),
    ("Radio Nova", "promo@radionova.example.com"),
    ("Kofi Mensah", "kofi@creators.example.net"),
];

pub(crate) const GATEWAYS: &[&str] = &["stripe", "adyen", "paypal"];

const FIRST: &[&str] = &[
    "Ana", "Ben", "Chiara", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ines", "Jonas", "Kofi",
    "Lena", "Mateo", "Nora", "Oskar", "Priya", "Quentin", "Rosa", "Sami", "Tara", "Ugo", "Vera",
    "Wen", "Ximena", "Yusuf", "Zoe", "Liam", "Maya", "Noah", "Aisha", "Emil", "Freya",
];

const LAST: &[&str] = &[
    "Andersen", "Bianchi", "Costa", "Dubois", "Eriksson", "Fischer", "Garcia", "Hughes", "Ivanova",
    "Jensen", "Kowalski", "Laurent", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Umar", "Valdez", "Weber", "Xu", "Yilmaz", "Zhang", "Murphy", "Novak",
    "Silva",
];

const DOMAINS: &[&str] = &["example.com", "example.org", "mail.example.net"];

const COUNTRIES: &[&str] = &["GB", "IT", "US", "CH", "SE", "DE", "FR", "ES"];

/// Customers of the pool: every fifth one checks out as a guest (no customer id).
#[derive(Debug)]
pub(crate) struct Pool {
    tag: String,
    registered: Vec<bool>,
}

impl Pool {
    pub fn new(tag: &str, size: usize) -> Self {
        Self {
            tag: tag.to_string(),
            registered: vec![false; size.max(1)],
        }
    }

    pub fn size(&self) -> u32 {
        u32::try_from(self.registered.len()).unwrap_or(u32::MAX)
    }

    pub fn has_account(index: u32) -> bool {
        !index.is_multiple_of(5)
    }

    pub fn customer_id(&self, index: u32) -> Option<String> {
        Self::has_account(index).then(|| format!("C-{}-{index:06}", self.tag))
    }

    pub fn first_name(index: u32) -> &'static str {
        FIRST[index as usize % FIRST.len()]
    }

    pub fn last_name(index: u32) -> &'static str {
        LAST[(index as usize / FIRST.len() + index as usize) % LAST.len()]
    }

    pub fn email(index: u32) -> String {
        format!(
            "{}.{}{}@{}",
            Self::first_name(index).to_lowercase(),
            Self::last_name(index).to_lowercase(),
            index,
            DOMAINS[index as usize % DOMAINS.len()]
        )
    }

    pub fn phone(index: u32) -> Option<String> {
        index
            .is_multiple_of(3)
            .then(|| format!("+44 7700 9{:05}", index % 100_000))
    }

    pub fn birth_date(index: u32) -> Option<chrono::NaiveDate> {
        if index.is_multiple_of(4) {
            return None;
        }
        chrono::NaiveDate::from_ymd_opt(
            1950 + (index % 55) as i32,
            1 + index % 12,
            1 + (index / 7) % 28,
        )
    }

    pub fn country(index: u32) -> &'static str {
        COUNTRIES[index as usize % COUNTRIES.len()]
    }

    /// The person as carried by a ticket. With `shout`, the email is written with
    /// capitals: people are matched case-insensitively, and integrators do send that.
    pub fn person(&self, index: u32, shout: bool) -> Person {
        let email = Self::email(index);
        Person {
            customer_id: self.customer_id(index).map(id),
            email: if shout {
                capitalize_local(&email).into()
            } else {
                email.into()
            },
            first_name: Some(Self::first_name(index).into()),
            last_name: Some(Self::last_name(index).into()),
            phone: Self::phone(index).map(Text::from),
        }
    }

    pub fn is_registered(&self, index: u32) -> bool {
        self.registered
            .get(index as usize)
            .copied()
            .unwrap_or(false)
    }

    pub fn set_registered(&mut self, index: u32) {
        if let Some(r) = self.registered.get_mut(index as usize) {
            *r = true;
        }
    }
}

fn capitalize_local(email: &str) -> String {
    email
        .split('@')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.split('.')
                    .map(|w| {
                        let mut c = w.chars();
                        match c.next() {
                            Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                            None => String::new(),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(".")
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("@")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shouted_emails_match_case_insensitively() {
        let pool = Pool::new("t", 10);
        let quiet = pool.person(7, false);
        let loud = pool.person(7, true);
        assert_ne!(quiet.email, loud.email);
        assert!(quiet.email.eq_ignore_ascii_case(&loud.email));
    }

    #[test]
    fn every_fifth_customer_is_a_guest() {
        let pool = Pool::new("t", 10);
        assert!(pool.customer_id(5).is_none());
        assert!(pool.customer_id(6).is_some());
    }
}
