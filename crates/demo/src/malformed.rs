//! Lines an integrator gets wrong: money as a float, a lower-case currency, an unknown
//! type, a date in the wrong format, a cut-off line, a missing field... Each is built from
//! a purchase that would otherwise be accepted, so the only fault is the one named.

use counterfoil_core::RecordBody;
use counterfoil_core::SharedData;
use serde_json::{Value, json};

use crate::DemoLine;
use crate::sim::Sim;

/// How many kinds of malformed line there are; they come in turn.
const VARIANTS: usize = 10;

impl Sim {
    /// A malformed line at simulated time `at`, with the field its parse error names.
    pub(crate) fn malformed(&mut self, at: i64) -> DemoLine {
        let variant = self.plan.next_malformed % VARIANTS;
        self.plan.next_malformed += 1;
        let ticket_id = crate::ids::id(self.world.fresh("T"));
        let def_id = self
            .world
            .perfs
            .values()
            .find_map(|p| p.defs.first().map(|d| d.id.clone()))
            .unwrap_or_else(|| crate::ids::id(self.world.fresh("D")));
        let purchase = self.scenario_purchase(ticket_id, def_id, "EUR");
        let record = counterfoil_core::NewRecord {
            id: crate::ids::uuid_v7(at, &mut self.rng),
            occurred_at: crate::ids::timestamp(at),
            source: "ticketure".into(),
            actor: "partner-feed".into(),
            correlation_id: None,
            body: RecordBody::TicketPurchased(SharedData::new(purchase)),
        };
        let mut value = serde_json::to_value(&record).unwrap_or(Value::Null);
        let (field, line) = match variant {
            0 => {
                value["data"]["face_price"] = json!(25.5);
                ("data.face_price", None)
            }
            1 => {
                value["data"]["currency"] = json!("eur");
                ("data.currency", None)
            }
            2 => {
                value["type"] = json!("ticket.bought");
                ("type", None)
            }
            3 => {
                value["occurred_at"] = json!("21/11/2026 19:04");
                ("occurred_at", None)
            }
            4 => {
                let text = serde_json::to_string(&value).unwrap_or_default();
                let cut = text.len() / 2;
                let cut = (0..=cut)
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                ("record", Some(text[..cut].to_string()))
            }
            5 => {
                value["data"]["channel"] = json!("phone");
                ("data.channel", None)
            }
            6 => {
                if let Some(data) = value["data"].as_object_mut() {
                    data.remove("ticket_id");
                }
                ("data", None)
            }
            7 => {
                if let Some(buyer) = value["data"]["buyer"].as_object_mut() {
                    buyer.remove("email");
                }
                ("data.buyer", None)
            }
            8 => {
                value["tenant"] = json!("acme");
                ("tenant", None)
            }
            _ => {
                value["id"] = json!("order-12-line-3");
                ("id", None)
            }
        };
        let line = line.unwrap_or_else(|| serde_json::to_string(&value).unwrap_or_default());
        DemoLine::Malformed {
            line,
            field: field.to_string(),
        }
    }
}
