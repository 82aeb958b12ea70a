//! The record catalog of SPEC §4 as Rust types: one struct per record type's `data`,
//! the [`RecordBody`] enum that ties a type name to its data, and stream routing.
//!
//! Field names are the wire names; every struct refuses unknown fields so that a typo
//! in an integrator's payload is an error, not silently dropped data.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::record::NewRecord;
use crate::shared_data::SharedData;
use crate::values::{Amount, Currency, Id, Text, Timestamp};

/// A person as carried by a ticket: buyer, transfer recipient, initial owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Person {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<Id>,
    pub email: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Text>,
}

impl Person {
    /// SPEC §4: people are matched by customer_id when both have one, else by email
    /// (case-insensitive).
    pub fn same_person(&self, other: &Person) -> bool {
        match (&self.customer_id, &other.customer_id) {
            (Some(a), Some(b)) => a == b,
            _ => self.email.eq_ignore_ascii_case(&other.email),
        }
    }
}

/// Where a ticket sits. Every part is optional: general admission has none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Seat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrance: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerformanceScheduled {
    pub performance_id: Id,
    pub organizer_id: Id,
    pub name: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Text>,
    #[serde(deserialize_with = "crate::values::deserialize_timestamp")]
    pub starts_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<Text>,
}

/// One choice of an optional-price definition ("Pay what you can": 10, 20, 50).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceOption {
    pub name: Text,
    pub price: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pricing {
    Fixed { price: Amount },
    Optional { options: Vec<PriceOption> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionCreated {
    pub definition_id: Id,
    pub performance_id: Id,
    pub name: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Text>,
    pub pricing: Pricing,
    pub currency: Currency,
    /// Absent means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_starts_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_ends_at: Option<Timestamp>,
    /// Absent means 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redemptions: Option<u32>,
}

/// A partial update: an absent field is unchanged. For the optional fields of
/// [`DefinitionCreated`], an explicit `null` clears the value (`"capacity": null`
/// makes the definition unlimited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionUpdated {
    pub definition_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub group: Option<Option<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub capacity: Option<Option<u32>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub sale_starts_at: Option<Option<Timestamp>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub sale_ends_at: Option<Option<Timestamp>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub max_redemptions: Option<Option<u32>>,
}

/// Present-but-null becomes `Some(None)`; absent stays `None` through `default`.
fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionDeleted {
    pub definition_id: Id,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkScope {
    /// Every performance of the organizer.
    Client,
    /// One performance only.
    Performance,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkCreated {
    pub link_id: Id,
    pub organizer_id: Id,
    pub owner_name: Text,
    pub owner_email: Text,
    pub scope: LinkScope,
    /// Required when scope is `performance`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkClicked {
    pub link_id: Id,
    pub visitor_id: Id,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fees {
    pub inside_fixed: Amount,
    pub inside_percent: Amount,
    pub outside_fixed: Amount,
    pub outside_percent: Amount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    Pos,
    Cms,
    App,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPurchased {
    pub ticket_id: Id,
    pub order_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_number: Option<Text>,
    pub definition_id: Id,
    /// e.g. "Adult", "Child".
    pub ticket_type: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_group: Option<Text>,
    pub buyer: Person,
    pub face_price: Amount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Amount>,
    pub price_paid: Amount,
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fees: Option<Fees>,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<Seat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRedeemed {
    pub ticket_id: Id,
    /// A forced scan skips the time-window check (staff override at the gate).
    #[serde(default, skip_serializing_if = "is_false")]
    pub forced: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Text>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Data of the ticket records that carry nothing but the ticket id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRef {
    pub ticket_id: Id,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRefunded {
    pub ticket_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketInvalidated {
    pub ticket_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketTransferred {
    pub ticket_id: Id,
    pub to: Person,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRescheduled {
    pub ticket_id: Id,
    pub to_definition_id: Id,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketShared {
    pub ticket_id: Id,
    /// Customer id of the sharer.
    pub shared_by: Id,
    pub recipient_email: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketInjected {
    pub ticket_id: Id,
    pub initial_owner: Person,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketDeleted {
    pub ticket_id: Id,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentCaptured {
    pub order_id: Id,
    pub gateway: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gl_code: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_identifier: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_name: Option<Text>,
    pub token: Id,
    pub amount: Amount,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRefunded {
    pub order_id: Id,
    pub gateway: Text,
    pub token: Id,
    /// The token of the capture this refund returns money from.
    pub related_token: Id,
    pub amount: Amount,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerRegistered {
    pub customer_id: Id,
    pub email: Text,
    pub first_name: Text,
    pub last_name: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<chrono::NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_country: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerConsentChanged {
    pub customer_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_promo_email: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_promo_third_party_email: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_tracking: Option<bool>,
}

/// Internal: the commit point of one request on a store that cannot append to several
/// streams atomically (reservation mode of the command layer; see `docs/eventstore.md`).
/// Written by the ledger itself before the request's records, on the stream of the
/// definition whose seats the request takes (else on the request's first stream), with
/// the revision the ledger decided against. It carries the request's records whole, so
/// that a crash before they are all written is repaired by writing the rest.
///
/// Never accepted from outside: parsing an ingest line of this type fails on `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LedgerReserved {
    /// The stream this record is written to, e.g. `definition-D1`.
    pub stream: Text,
    /// The request's records in order, as decided.
    pub records: Vec<ReservedRecord>,
}

/// One record of a reserved request: the ingest envelope and the revision its stream
/// was decided against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservedRecord {
    pub id: uuid::Uuid,
    pub occurred_at: Timestamp,
    pub source: Text,
    pub actor: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Text>,
    /// The stream's last revision when the record was decided; absent when the stream
    /// did not exist. The record is written with exactly this expectation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<u64>,
    /// `{"type": ..., "data": ...}` of the record.
    pub record: RecordBody,
}

impl ReservedRecord {
    /// The record as the ledger decided it, with the revision its stream was at.
    pub fn new(record: &NewRecord, expected_revision: Option<u64>) -> Self {
        Self {
            id: record.id,
            occurred_at: record.occurred_at,
            source: record.source.clone(),
            actor: record.actor.clone(),
            correlation_id: record.correlation_id.clone(),
            expected_revision,
            record: record.body.clone(),
        }
    }

    /// The record to append.
    pub fn to_new(&self) -> NewRecord {
        NewRecord {
            id: self.id,
            occurred_at: self.occurred_at,
            source: self.source.as_str().into(),
            actor: self.actor.as_str().into(),
            correlation_id: self.correlation_id.as_deref().map(Into::into),
            body: self.record.clone(),
        }
    }
}

/// Why an internal record type cannot be submitted.
pub const INTERNAL_TYPE_REFUSAL: &str = "is written by the ledger itself and cannot be submitted";

macro_rules! catalog {
    (
        public { $( $variant:ident = $name:literal => $data:ty ),* $(,)? }
        internal { $( $ivariant:ident = $iname:literal => $idata:ty ),* $(,)? }
    ) => {
        /// A record's type and data. Serialized adjacently tagged, as
        /// `{"type": "ticket.purchased", "data": {...}}`.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "type", content = "data")]
        pub enum RecordBody {
            $( #[serde(rename = $name)] $variant($data), )*
            $( #[serde(rename = $iname)] $ivariant($idata), )*
        }

        /// The type of a record without its data.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RecordType {
            $( $variant, )*
            $( $ivariant, )*
        }

        impl RecordType {
            /// Every record type an integrator may submit, in catalog order.
            pub const ALL: &'static [RecordType] = &[$( RecordType::$variant, )*];

            /// The record types only the ledger writes (refused at ingest).
            pub const INTERNAL: &'static [RecordType] = &[$( RecordType::$ivariant, )*];

            /// The wire name, e.g. `ticket.purchased`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( RecordType::$variant => $name, )*
                    $( RecordType::$ivariant => $iname, )*
                }
            }

            /// True for a type only the ledger writes.
            pub fn is_internal(self) -> bool {
                match self {
                    $( RecordType::$variant => false, )*
                    $( RecordType::$ivariant => true, )*
                }
            }

            /// Any type by its wire name, internal ones included (for readers of a
            /// stored log). Ingest goes through [`FromStr`], which refuses internal ones.
            pub fn from_name(s: &str) -> Option<RecordType> {
                match s {
                    $( $name => Some(RecordType::$variant), )*
                    $( $iname => Some(RecordType::$ivariant), )*
                    _ => None,
                }
            }
        }

        impl FromStr for RecordType {
            type Err = String;
            /// A type an integrator may submit; an internal type is an error that says so.
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $( $name => Ok(RecordType::$variant), )*
                    $( $iname => Err(format!("{s:?} {}", INTERNAL_TYPE_REFUSAL)), )*
                    other => Err(format!("unknown record type {other:?}")),
                }
            }
        }

        impl RecordBody {
            pub fn record_type(&self) -> RecordType {
                match self {
                    $( RecordBody::$variant(_) => RecordType::$variant, )*
                    $( RecordBody::$ivariant(_) => RecordType::$ivariant, )*
                }
            }

            /// Parses `data` for the named type; the error path names the field.
            pub fn from_json_data(ty: RecordType, data: serde_json::Value) -> Result<Self, crate::error::FieldError> {
                match ty {
                    $( RecordType::$variant => serde_path_to_error::deserialize::<_, $data>(data)
                        .map(RecordBody::$variant)
                        .map_err(|e| crate::error::FieldError::from_path("data", e)), )*
                    $( RecordType::$ivariant => serde_path_to_error::deserialize::<_, $idata>(data)
                        .map(RecordBody::$ivariant)
                        .map_err(|e| crate::error::FieldError::from_path("data", e)), )*
                }
            }

            /// Reads `data` of the named type from a deserializer that is already at
            /// it: the import's one-pass envelope reader, which needs no second scan
            /// of the data's text. Only an object is read (serde would also read a
            /// struct from an array).
            pub(crate) fn deserialize_data<'de, D: Deserializer<'de>>(
                ty: RecordType,
                d: D,
            ) -> Result<Self, D::Error> {
                let d = crate::record::ObjectOnly(d);
                match ty {
                    $( RecordType::$variant => <$data>::deserialize(d).map(RecordBody::$variant), )*
                    $( RecordType::$ivariant => <$idata>::deserialize(d).map(RecordBody::$ivariant), )*
                }
            }

            /// Parses the raw JSON text of `data` (an object) for the named type,
            /// without building an intermediate JSON tree.
            pub fn from_json_data_str(ty: RecordType, data: &str) -> Result<Self, crate::error::FieldError> {
                // Fast path without path tracking; on failure, parse again with it so
                // the error names the field.
                let mut de = serde_json::Deserializer::from_str(data);
                if let Ok(body) = Self::deserialize_data(ty, &mut de)
                    && de.end().is_ok()
                {
                    return Ok(body);
                }
                let mut de = serde_json::Deserializer::from_str(data);
                let mut track = serde_path_to_error::Track::new();
                Self::deserialize_data(ty, serde_path_to_error::Deserializer::new(&mut de, &mut track))
                    .map_err(|e| {
                        let e = serde_path_to_error::Error::new(track.path(), e);
                        crate::error::FieldError::from_path("data", e)
                    })
            }

            /// JSON Schema of one type's data, for `schemas/`.
            pub fn data_schema(ty: RecordType) -> schemars::schema::RootSchema {
                match ty {
                    $( RecordType::$variant => schemars::schema_for!($data), )*
                    $( RecordType::$ivariant => schemars::schema_for!($idata), )*
                }
            }
        }
    };
}

catalog! {
    public {
    PerformanceScheduled = "performance.scheduled" => SharedData<PerformanceScheduled>,
    DefinitionCreated = "definition.created" => SharedData<DefinitionCreated>,
    DefinitionUpdated = "definition.updated" => SharedData<DefinitionUpdated>,
    DefinitionDeleted = "definition.deleted" => DefinitionDeleted,
    LinkCreated = "link.created" => SharedData<LinkCreated>,
    LinkClicked = "link.clicked" => LinkClicked,
    TicketPurchased = "ticket.purchased" => SharedData<TicketPurchased>,
    TicketRedeemed = "ticket.redeemed" => TicketRedeemed,
    TicketUnredeemed = "ticket.unredeemed" => TicketRef,
    TicketRefunded = "ticket.refunded" => TicketRefunded,
    TicketInvalidated = "ticket.invalidated" => TicketInvalidated,
    TicketRevalidated = "ticket.revalidated" => TicketRef,
    TicketTransferred = "ticket.transferred" => SharedData<TicketTransferred>,
    TicketRescheduled = "ticket.rescheduled" => TicketRescheduled,
    TicketShared = "ticket.shared" => TicketShared,
    TicketInjected = "ticket.injected" => SharedData<TicketInjected>,
    TicketDelivered = "ticket.delivered" => TicketRef,
    TicketDownloaded = "ticket.downloaded" => TicketRef,
    TicketActivated = "ticket.activated" => TicketRef,
    TicketControlled = "ticket.controlled" => TicketRef,
    TicketKeptByOwner = "ticket.kept_by_owner" => TicketRef,
    TicketDeleted = "ticket.deleted" => TicketDeleted,
    PaymentCaptured = "payment.captured" => SharedData<PaymentCaptured>,
    PaymentRefunded = "payment.refunded" => SharedData<PaymentRefunded>,
    OwnerRegistered = "owner.registered" => SharedData<OwnerRegistered>,
    OwnerConsentChanged = "owner.consent_changed" => OwnerConsentChanged,
    }
    internal {
    LedgerReserved = "ledger.reserved" => LedgerReserved,
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RecordType {
    /// Version of this type's data schema. Bumped when a type's shape changes; stored
    /// with every record so readers can upcast old ones.
    pub fn schema_version(self) -> u16 {
        1
    }
}

impl RecordBody {
    /// The stream this record belongs to (SPEC §4 routing, fixed by type).
    pub fn stream(&self) -> String {
        use RecordBody as B;
        // Joined by hand: `format!` goes through the formatting machinery, a
        // noticeable share of deciding a record.
        fn named(prefix: &str, id: &Id) -> String {
            let id = id.as_str();
            let mut s = String::with_capacity(prefix.len() + id.len());
            s.push_str(prefix);
            s.push_str(id);
            s
        }
        match self {
            B::PerformanceScheduled(d) => named("performance-", &d.performance_id),
            B::DefinitionCreated(d) => named("definition-", &d.definition_id),
            B::DefinitionUpdated(d) => named("definition-", &d.definition_id),
            B::DefinitionDeleted(d) => named("definition-", &d.definition_id),
            B::LinkCreated(d) => named("link-", &d.link_id),
            B::LinkClicked(d) => named("link-", &d.link_id),
            B::PaymentCaptured(d) => named("order-", &d.order_id),
            B::PaymentRefunded(d) => named("order-", &d.order_id),
            B::OwnerRegistered(d) => named("owner-", &d.customer_id),
            B::OwnerConsentChanged(d) => named("owner-", &d.customer_id),
            B::LedgerReserved(d) => d.stream.to_string(),
            other => match other.ticket_id() {
                Some(t) => named("ticket-", t),
                None => String::new(),
            },
        }
    }

    /// The ticket a `ticket.*` record is about.
    pub fn ticket_id(&self) -> Option<&Id> {
        use RecordBody as B;
        Some(match self {
            B::TicketPurchased(d) => &d.ticket_id,
            B::TicketRedeemed(d) => &d.ticket_id,
            B::TicketUnredeemed(d)
            | B::TicketRevalidated(d)
            | B::TicketDelivered(d)
            | B::TicketDownloaded(d)
            | B::TicketActivated(d)
            | B::TicketControlled(d)
            | B::TicketKeptByOwner(d) => &d.ticket_id,
            B::TicketRefunded(d) => &d.ticket_id,
            B::TicketInvalidated(d) => &d.ticket_id,
            B::TicketTransferred(d) => &d.ticket_id,
            B::TicketRescheduled(d) => &d.ticket_id,
            B::TicketShared(d) => &d.ticket_id,
            B::TicketInjected(d) => &d.ticket_id,
            B::TicketDeleted(d) => &d.ticket_id,
            _ => return None,
        })
    }
}
