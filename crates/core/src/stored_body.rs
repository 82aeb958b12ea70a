//! The data of every record type a demo log holds more than a few of, read straight
//! from a stored record's canonical bytes, field by field, instead of through serde's
//! visitors: a purchase (17 fields, with the buyer, seat and fees nested) cost about
//! four times an average record that way, the ticket steps that carry only a ticket
//! id are a third of a demo log, and the tenth of it left to serde (registrations,
//! injections, transfers, consents, shares, refunds) took a tenth of the reading.
//! The catalogue's rarer types (performances, definitions, links) are left to serde.
//!
//! Like the envelope's reader ([`crate::msgpack::Cursor`]) this reads only the one
//! layout [`crate::compact`] writes and answers `None` for anything else, leaving the
//! caller to read the body through serde, which accepts and refuses exactly as before
//! and says why. So it can only be faster, never different: a test decodes every
//! record type both ways, and the store's damage test changes every byte.

use crate::SharedData;
use crate::catalog::{
    Channel, Fees, LinkClicked, OwnerConsentChanged, OwnerRegistered, PaymentCaptured,
    PaymentRefunded, Person, RecordBody, RecordType, Seat, TicketDeleted, TicketInjected,
    TicketInvalidated, TicketPurchased, TicketRedeemed, TicketRef, TicketRefunded,
    TicketRescheduled, TicketShared, TicketTransferred,
};
use crate::compact::ABSENT;
use crate::msgpack::{Cursor, printable_ascii};
use crate::values::{Amount, Currency, Id, Text};

/// The data of a record whose type this reads, positioned at the body (the
/// `[type, data]` pair); `None` for any other type or layout.
pub(crate) fn read(c: &mut Cursor<'_>) -> Option<RecordBody> {
    if c.array_len()? != 2 {
        return None;
    }
    let ty = RecordType::from_name(c.str()?)?;
    let body = match ty {
        RecordType::TicketPurchased => RecordBody::TicketPurchased(SharedData::new(purchase(c)?)),
        RecordType::TicketRedeemed => RecordBody::TicketRedeemed(redeemed(c)?),
        RecordType::PaymentCaptured => RecordBody::PaymentCaptured(SharedData::new(capture(c)?)),
        RecordType::LinkClicked => {
            fields(c, 2)?;
            RecordBody::LinkClicked(LinkClicked {
                link_id: id(c)?,
                visitor_id: id(c)?,
            })
        }
        RecordType::TicketDelivered => RecordBody::TicketDelivered(ticket_ref(c)?),
        RecordType::TicketDownloaded => RecordBody::TicketDownloaded(ticket_ref(c)?),
        RecordType::TicketActivated => RecordBody::TicketActivated(ticket_ref(c)?),
        RecordType::TicketControlled => RecordBody::TicketControlled(ticket_ref(c)?),
        RecordType::TicketKeptByOwner => RecordBody::TicketKeptByOwner(ticket_ref(c)?),
        RecordType::TicketUnredeemed => RecordBody::TicketUnredeemed(ticket_ref(c)?),
        RecordType::TicketRevalidated => RecordBody::TicketRevalidated(ticket_ref(c)?),
        RecordType::OwnerRegistered => RecordBody::OwnerRegistered(SharedData::new(registered(c)?)),
        RecordType::TicketInjected => {
            fields(c, 2)?;
            RecordBody::TicketInjected(SharedData::new(TicketInjected {
                ticket_id: id(c)?,
                initial_owner: person(c)?,
            }))
        }
        RecordType::TicketTransferred => {
            fields(c, 2)?;
            RecordBody::TicketTransferred(SharedData::new(TicketTransferred {
                ticket_id: id(c)?,
                to: person(c)?,
            }))
        }
        RecordType::OwnerConsentChanged => {
            fields(c, 4)?;
            RecordBody::OwnerConsentChanged(OwnerConsentChanged {
                customer_id: id(c)?,
                allow_promo_email: opt(c, |c| c.bool())?,
                allow_promo_third_party_email: opt(c, |c| c.bool())?,
                allow_tracking: opt(c, |c| c.bool())?,
            })
        }
        RecordType::TicketShared => {
            fields(c, 3)?;
            RecordBody::TicketShared(TicketShared {
                ticket_id: id(c)?,
                shared_by: id(c)?,
                recipient_email: text(c)?,
            })
        }
        RecordType::TicketRefunded => {
            fields(c, 3)?;
            RecordBody::TicketRefunded(TicketRefunded {
                ticket_id: id(c)?,
                amount: opt(c, amount)?,
                reason: opt(c, text)?,
            })
        }
        RecordType::TicketInvalidated => {
            fields(c, 2)?;
            RecordBody::TicketInvalidated(TicketInvalidated {
                ticket_id: id(c)?,
                reason: opt(c, text)?,
            })
        }
        RecordType::TicketRescheduled => {
            fields(c, 2)?;
            RecordBody::TicketRescheduled(TicketRescheduled {
                ticket_id: id(c)?,
                to_definition_id: id(c)?,
            })
        }
        RecordType::TicketDeleted => {
            fields(c, 2)?;
            RecordBody::TicketDeleted(TicketDeleted {
                ticket_id: id(c)?,
                reason: text(c)?,
            })
        }
        RecordType::PaymentRefunded => {
            fields(c, 6)?;
            RecordBody::PaymentRefunded(SharedData::new(PaymentRefunded {
                order_id: id(c)?,
                gateway: text(c)?,
                token: id(c)?,
                related_token: id(c)?,
                amount: amount(c)?,
                currency: currency(c)?,
            }))
        }
        _ => return None,
    };
    Some(body)
}

/// MessagePack's `nil`.
const NIL: u8 = 0xc0;

/// A struct of `n` fields starts here (the compact writer writes every field).
fn fields(c: &mut Cursor<'_>, n: usize) -> Option<()> {
    (c.array_len()? == n).then_some(())
}

/// An id as [`Id::new`] reads it; printable ASCII (nearly every id) needs only its
/// length checked.
fn id(c: &mut Cursor<'_>) -> Option<Id> {
    let bytes = c.str_bytes()?;
    match printable_ascii(bytes) {
        Some(s) => Id::from_printable_ascii(s),
        None => Id::new(std::str::from_utf8(bytes).ok()?).ok(),
    }
}

fn text(c: &mut Cursor<'_>) -> Option<Text> {
    c.str().map(Text::from)
}

/// An optional field: left out ([`crate::compact::ABSENT`]) or `nil` is `None`.
fn opt<T>(
    c: &mut Cursor<'_>,
    read: impl FnOnce(&mut Cursor<'_>) -> Option<T>,
) -> Option<Option<T>> {
    if c.skip(ABSENT)? || c.skip(NIL)? {
        return Some(None);
    }
    read(c).map(Some)
}

/// The packed form the binary encodings write (text, written only for amounts of
/// 2^61 digits or more, is left to serde).
fn amount(c: &mut Cursor<'_>) -> Option<Amount> {
    Amount::from_packed_bytes(c.bin_bytes()?).ok()
}

fn currency(c: &mut Cursor<'_>) -> Option<Currency> {
    c.str()?.parse().ok()
}

fn person(c: &mut Cursor<'_>) -> Option<Person> {
    fields(c, 5)?;
    Some(Person {
        customer_id: opt(c, id)?,
        email: text(c)?,
        first_name: opt(c, text)?,
        last_name: opt(c, text)?,
        phone: opt(c, text)?,
    })
}

fn ticket_ref(c: &mut Cursor<'_>) -> Option<TicketRef> {
    fields(c, 1)?;
    Some(TicketRef { ticket_id: id(c)? })
}

fn redeemed(c: &mut Cursor<'_>) -> Option<TicketRedeemed> {
    fields(c, 4)?;
    Some(TicketRedeemed {
        ticket_id: id(c)?,
        // Left out when false; unlike an optional field, `nil` is no boolean.
        forced: if c.skip(ABSENT)? { false } else { c.bool()? },
        gate: opt(c, text)?,
        device: opt(c, text)?,
    })
}

fn purchase(c: &mut Cursor<'_>) -> Option<TicketPurchased> {
    fields(c, 17)?;
    Some(TicketPurchased {
        ticket_id: id(c)?,
        order_id: id(c)?,
        order_number: opt(c, text)?,
        cart_number: opt(c, text)?,
        definition_id: id(c)?,
        ticket_type: text(c)?,
        ticket_group: opt(c, text)?,
        buyer: person(c)?,
        face_price: amount(c)?,
        discount: opt(c, amount)?,
        price_paid: amount(c)?,
        currency: currency(c)?,
        fees: opt(c, |c| {
            fields(c, 4)?;
            Some(Fees {
                inside_fixed: amount(c)?,
                inside_percent: amount(c)?,
                outside_fixed: amount(c)?,
                outside_percent: amount(c)?,
            })
        })?,
        channel: match c.str()? {
            "web" => Channel::Web,
            "pos" => Channel::Pos,
            "cms" => Channel::Cms,
            "app" => Channel::App,
            _ => return None,
        },
        seller: opt(c, text)?,
        seat: opt(c, |c| {
            fields(c, 8)?;
            Some(Seat {
                section: opt(c, text)?,
                row: opt(c, text)?,
                seat: opt(c, text)?,
                area: opt(c, text)?,
                level: opt(c, text)?,
                block: opt(c, text)?,
                gate: opt(c, text)?,
                entrance: opt(c, text)?,
            })
        })?,
        visitor_id: opt(c, id)?,
    })
}

fn registered(c: &mut Cursor<'_>) -> Option<OwnerRegistered> {
    fields(c, 8)?;
    Some(OwnerRegistered {
        customer_id: id(c)?,
        email: text(c)?,
        first_name: text(c)?,
        last_name: text(c)?,
        phone: opt(c, text)?,
        // As chrono's serde reads it: the ISO 8601 text.
        birth_date: opt(c, |c| c.str()?.parse().ok())?,
        id_number: opt(c, text)?,
        residence_country: opt(c, text)?,
    })
}

fn capture(c: &mut Cursor<'_>) -> Option<PaymentCaptured> {
    fields(c, 8)?;
    Some(PaymentCaptured {
        order_id: id(c)?,
        gateway: text(c)?,
        gl_code: opt(c, text)?,
        payment_identifier: opt(c, text)?,
        payment_name: opt(c, text)?,
        token: id(c)?,
        amount: amount(c)?,
        currency: currency(c)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewRecord;

    fn body(ty: &str, data: &str) -> RecordBody {
        let line = format!(
            r#"{{"id":"0193a000-0000-7000-8000-000000000001","type":"{ty}","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{data}}}"#
        );
        NewRecord::from_json_str(&line)
            .unwrap_or_else(|e| panic!("{ty} {data}: {e}"))
            .body
    }

    /// What this reader gives for the body's compact bytes, checked against serde's
    /// reading of the same bytes.
    fn fast(body: &RecordBody) -> Option<RecordBody> {
        let bytes = crate::compact::to_vec(body).unwrap();
        let general: RecordBody = crate::msgpack::from_slice(&bytes).unwrap();
        assert_eq!(&general, body);
        let mut c = Cursor::new(&bytes);
        let read = read(&mut c);
        if read.is_some() {
            assert!(c.at_end(), "{body:?} read to its end");
        }
        read
    }

    const FULL_PURCHASE: &str = r#"{"ticket_id":"T-1001","order_id":"O-501","order_number":"501","cart_number":"77",
        "definition_id":"D-ADULT","ticket_type":"Adult","ticket_group":"Stalls",
        "buyer":{"customer_id":"C-42","email":"maria@example.com","first_name":"Maria","last_name":"Rossi","phone":"+39 055 123456"},
        "face_price":"45.00","discount":"5.00","price_paid":"40.00","currency":"EUR",
        "fees":{"inside_fixed":"1.00","inside_percent":"0","outside_fixed":"0.50","outside_percent":"2.5"},
        "channel":"CHANNEL","seller":"web-shop",
        "seat":{"section":"Stalls","row":"F","seat":"12","area":"A","level":"1","block":"B","gate":"3","entrance":"North"},
        "visitor_id":"V-8f2c"}"#;

    const LEAN_PURCHASE: &str = r#"{"ticket_id":"T-1","order_id":"O-1","definition_id":"D-1","ticket_type":"Child",
        "buyer":{"email":"a@example.com"},"face_price":"0","price_paid":"0","currency":"USD","channel":"pos",
        "seat":{"row":"A long row name past twenty-four bytes"}}"#;

    #[test]
    fn the_types_it_reads_come_out_as_serde_reads_them() {
        let mut bodies = Vec::new();
        for channel in ["web", "pos", "cms", "app"] {
            bodies.push(body(
                "ticket.purchased",
                &FULL_PURCHASE.replace("CHANNEL", channel),
            ));
        }
        bodies.push(body("ticket.purchased", LEAN_PURCHASE));
        bodies.push(body(
            "ticket.redeemed",
            r#"{"ticket_id":"T-1","forced":true,"gate":"North","device":"scanner-7"}"#,
        ));
        bodies.push(body("ticket.redeemed", r#"{"ticket_id":"T-1"}"#));
        bodies.push(body(
            "payment.captured",
            r#"{"order_id":"O-1","gateway":"stripe","gl_code":"4000","payment_identifier":"pi_1","payment_name":"Visa","token":"tok-1","amount":"12.345","currency":"EUR"}"#,
        ));
        bodies.push(body(
            "payment.captured",
            r#"{"order_id":"O-1","gateway":"stripe","token":"tok-1","amount":"99999999999.999999","currency":"EUR"}"#,
        ));
        bodies.push(body(
            "link.clicked",
            r#"{"link_id":"L-1","visitor_id":"V-1"}"#,
        ));
        for ty in [
            "ticket.delivered",
            "ticket.downloaded",
            "ticket.activated",
            "ticket.controlled",
            "ticket.kept_by_owner",
            "ticket.unredeemed",
            "ticket.revalidated",
        ] {
            bodies.push(body(ty, r#"{"ticket_id":"T-1"}"#));
        }
        let person_full = r#"{"customer_id":"C-9","email":"Zoe@Example.com","first_name":"Zoë","last_name":"Ng","phone":"+44 20"}"#;
        let person_lean = r#"{"email":"z@example.com"}"#;
        for p in [person_full, person_lean] {
            bodies.push(body(
                "ticket.injected",
                &format!(r#"{{"ticket_id":"T-1","initial_owner":{p}}}"#),
            ));
            bodies.push(body(
                "ticket.transferred",
                &format!(r#"{{"ticket_id":"T-1","to":{p}}}"#),
            ));
        }
        bodies.push(body(
            "owner.registered",
            r#"{"customer_id":"C-1","email":"a@example.com","first_name":"Ann","last_name":"Lee","phone":"+1 555","birth_date":"1990-02-28","id_number":"X1","residence_country":"FR"}"#,
        ));
        bodies.push(body(
            "owner.registered",
            r#"{"customer_id":"C-1","email":"a@example.com","first_name":"Ann","last_name":"Lee"}"#,
        ));
        bodies.push(body(
            "owner.consent_changed",
            r#"{"customer_id":"C-1","allow_promo_email":true,"allow_promo_third_party_email":false,"allow_tracking":true}"#,
        ));
        bodies.push(body(
            "owner.consent_changed",
            r#"{"customer_id":"C-1","allow_tracking":false}"#,
        ));
        bodies.push(body(
            "ticket.shared",
            r#"{"ticket_id":"T-1","shared_by":"C-1","recipient_email":"friend@example.com"}"#,
        ));
        bodies.push(body(
            "ticket.refunded",
            r#"{"ticket_id":"T-1","amount":"12.50","reason":"cancelled show"}"#,
        ));
        bodies.push(body("ticket.refunded", r#"{"ticket_id":"T-1"}"#));
        bodies.push(body(
            "ticket.invalidated",
            r#"{"ticket_id":"T-1","reason":"duplicate"}"#,
        ));
        bodies.push(body("ticket.invalidated", r#"{"ticket_id":"T-1"}"#));
        bodies.push(body(
            "ticket.rescheduled",
            r#"{"ticket_id":"T-1","to_definition_id":"D-2"}"#,
        ));
        bodies.push(body(
            "ticket.deleted",
            r#"{"ticket_id":"T-1","reason":"fraud"}"#,
        ));
        bodies.push(body(
            "payment.refunded",
            r#"{"order_id":"O-1","gateway":"stripe","token":"tok-2","related_token":"tok-1","amount":"12.345","currency":"EUR"}"#,
        ));
        for b in bodies {
            assert_eq!(fast(&b).as_ref(), Some(&b), "read directly");
        }
    }

    #[test]
    fn other_types_are_left_to_serde() {
        let b = body("definition.deleted", r#"{"definition_id":"D-1"}"#);
        assert_eq!(fast(&b), None);
    }

    #[test]
    fn a_birth_date_that_is_no_date_is_left_to_serde() {
        let registered = crate::compact::to_vec(&body(
            "owner.registered",
            r#"{"customer_id":"C-1","email":"a@x.com","first_name":"A","last_name":"B","birth_date":"1990-02-28"}"#,
        ))
        .unwrap();
        let at = registered
            .windows(10)
            .position(|w| w == b"1990-02-28")
            .unwrap();
        let mut bad = registered.clone();
        bad[at + 5..at + 7].copy_from_slice(b"13");
        assert!(crate::msgpack::from_slice::<RecordBody>(&bad).is_err());
        assert_eq!(read(&mut Cursor::new(&bad)), None);
    }

    #[test]
    fn what_serde_would_refuse_is_left_to_serde() {
        let redeemed =
            crate::compact::to_vec(&body("ticket.redeemed", r#"{"ticket_id":"T-1"}"#)).unwrap();
        // `forced` left out, then as `nil`: no boolean, which serde refuses.
        let at = redeemed
            .iter()
            .position(|&b| b == crate::compact::ABSENT)
            .unwrap();
        let mut with_nil = redeemed.clone();
        with_nil[at] = 0xc0;
        assert!(crate::msgpack::from_slice::<RecordBody>(&with_nil).is_err());
        assert_eq!(read(&mut Cursor::new(&with_nil)), None);

        // A required id left out.
        let reference =
            crate::compact::to_vec(&body("ticket.delivered", r#"{"ticket_id":"T-1"}"#)).unwrap();
        let mut absent = reference[..reference.len() - 4].to_vec();
        absent.push(crate::compact::ABSENT);
        assert!(crate::msgpack::from_slice::<RecordBody>(&absent).is_err());
        assert_eq!(read(&mut Cursor::new(&absent)), None);

        // An unknown channel.
        let purchase = crate::compact::to_vec(&body("ticket.purchased", LEAN_PURCHASE)).unwrap();
        let pos = purchase.windows(4).position(|w| w == b"\xa3pos").unwrap();
        let mut other = purchase.clone();
        other[pos + 1..pos + 4].copy_from_slice(b"tv!");
        assert!(crate::msgpack::from_slice::<RecordBody>(&other).is_err());
        assert_eq!(read(&mut Cursor::new(&other)), None);
    }
}
