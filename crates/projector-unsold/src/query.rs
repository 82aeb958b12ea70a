//! Queries of the unsold-counts model and the rows they answer with.
//!
//! Definitions are sorted by performance id then definition id, performances by id,
//! the on-sale list by sale start then definition id. Deleted definitions and
//! definitions never created are not shown and do not count in performance sums.

use counterfoil_core::{Amount, Timestamp};
use counterfoil_projection::{CsvRow, csv_opt, csv_time};
use serde::Serialize;

use crate::UnsoldError;
use crate::fold::{Def, Price, UnsoldCounts};

/// Which definitions and performances a report covers, and the time `on_sale` is
/// evaluated at (the caller's "now", or the as-of time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsoldQuery {
    pub performance_id: Option<String>,
    pub definition_id: Option<String>,
    pub at: Timestamp,
}

impl UnsoldQuery {
    /// Every definition and performance, `on_sale` evaluated at `at`.
    pub fn at(at: Timestamp) -> Self {
        Self {
            performance_id: None,
            definition_id: None,
            at,
        }
    }
}

/// The answer of [`UnsoldCounts::report`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsoldReport {
    pub definitions: Vec<DefinitionRow>,
    pub performances: Vec<PerformanceRow>,
}

/// One ticket definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefinitionRow {
    pub definition_id: String,
    pub performance_id: String,
    pub name: String,
    pub group: Option<String>,
    pub pricing: PricingRow,
    pub currency: Option<String>,
    /// `None` = unlimited.
    pub capacity: Option<u32>,
    /// Distinct tickets ever purchased for it or rescheduled into it.
    pub sold: u64,
    /// Tickets holding a seat of it now (issued or redeemed).
    pub held: u64,
    /// `sold - held`: refunded, invalidated, deleted or rescheduled away.
    pub returned: u64,
    /// `capacity - held`; `None` when unlimited.
    pub unsold: Option<i64>,
    /// No seat left (never true when unlimited).
    pub sold_out: bool,
    pub sale_starts_at: Option<Timestamp>,
    pub sale_ends_at: Option<Timestamp>,
    /// Inside the sale window at the query's time: `sale_starts_at <= at <
    /// sale_ends_at`, an absent bound being open. Independent of `sold_out`.
    pub on_sale: bool,
}

/// `{"method":"fixed","price":"25.00"}` or
/// `{"method":"optional","options":[{"name":"Supporter","price":"50.00"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricingRow {
    pub method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Amount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<PriceOptionRow>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceOptionRow {
    pub name: String,
    pub price: Amount,
}

/// The sums over a performance's shown definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PerformanceRow {
    pub performance_id: String,
    /// `None` when the performance was never scheduled in the log.
    pub name: Option<String>,
    pub starts_at: Option<Timestamp>,
    /// Shown definitions counted.
    pub definitions: u32,
    /// `None` when any definition is unlimited.
    pub capacity: Option<u64>,
    pub sold: u64,
    pub held: u64,
    pub returned: u64,
    /// `None` when any definition is unlimited.
    pub unsold: Option<i64>,
    /// Some definition is on sale at the query's time.
    pub on_sale: bool,
}

impl CsvRow for DefinitionRow {
    fn csv_header() -> Vec<&'static str> {
        vec![
            "definition_id",
            "performance_id",
            "name",
            "group",
            "pricing_method",
            "price",
            "options",
            "currency",
            "capacity",
            "sold",
            "held",
            "returned",
            "unsold",
            "sold_out",
            "sale_starts_at",
            "sale_ends_at",
            "on_sale",
        ]
    }

    fn csv_row(&self) -> Vec<String> {
        let options = self.pricing.options.as_ref().map(|o| {
            o.iter()
                .map(|o| format!("{}={}", o.name, o.price))
                .collect::<Vec<_>>()
                .join(";")
        });
        vec![
            self.definition_id.clone(),
            self.performance_id.clone(),
            self.name.clone(),
            csv_opt(self.group.as_ref()),
            self.pricing.method.to_string(),
            csv_opt(self.pricing.price),
            csv_opt(options),
            csv_opt(self.currency.as_ref()),
            csv_opt(self.capacity),
            self.sold.to_string(),
            self.held.to_string(),
            self.returned.to_string(),
            csv_opt(self.unsold),
            self.sold_out.to_string(),
            csv_time(self.sale_starts_at.as_ref()),
            csv_time(self.sale_ends_at.as_ref()),
            self.on_sale.to_string(),
        ]
    }
}

impl CsvRow for PerformanceRow {
    fn csv_header() -> Vec<&'static str> {
        vec![
            "performance_id",
            "name",
            "starts_at",
            "definitions",
            "capacity",
            "sold",
            "held",
            "returned",
            "unsold",
            "on_sale",
        ]
    }

    fn csv_row(&self) -> Vec<String> {
        vec![
            self.performance_id.clone(),
            csv_opt(self.name.as_ref()),
            csv_time(self.starts_at.as_ref()),
            self.definitions.to_string(),
            csv_opt(self.capacity),
            self.sold.to_string(),
            self.held.to_string(),
            self.returned.to_string(),
            csv_opt(self.unsold),
            self.on_sale.to_string(),
        ]
    }
}

impl UnsoldCounts {
    /// Definitions and performances, narrowed by the query's performance or
    /// definition. With a definition, `performances` holds its performance's sums.
    pub fn report(&self, q: &UnsoldQuery) -> UnsoldReport {
        let defs = self.definitions_matching(q);
        let by_perf = self.shown_by_performance();
        let mut perfs: Vec<u32> = match (&q.performance_id, &q.definition_id) {
            (None, None) => (0..self.performance.len() as u32).collect(),
            (_, Some(_)) => defs
                .iter()
                .filter_map(|&d| self.definition.get(d as usize))
                .map(|d| d.performance)
                .collect(),
            (Some(p), None) => self.performances.get(p).into_iter().collect(),
        };
        perfs.dedup();
        let mut performances: Vec<PerformanceRow> = perfs
            .into_iter()
            .filter_map(|p| {
                let defs = by_perf.get(p as usize).map_or(&[][..], Vec::as_slice);
                self.performance_row(p, defs, q.at)
            })
            .collect();
        performances.sort_by(|a, b| a.performance_id.cmp(&b.performance_id));
        let mut definitions: Vec<DefinitionRow> = defs
            .into_iter()
            .filter_map(|d| self.definition_row(d, q.at))
            .collect();
        definitions.sort_by(|a, b| {
            (&a.performance_id, &a.definition_id).cmp(&(&b.performance_id, &b.definition_id))
        });
        UnsoldReport {
            definitions,
            performances,
        }
    }

    /// One definition; `None` if it does not exist or was deleted.
    pub fn definition(&self, definition_id: &str, at: Timestamp) -> Option<DefinitionRow> {
        let ix = self.definitions.get(definition_id)?;
        self.definition_row(ix, at)
    }

    /// One performance's sums; `None` if the log never named it.
    pub fn performance(&self, performance_id: &str, at: Timestamp) -> Option<PerformanceRow> {
        let ix = self.performances.get(performance_id)?;
        let defs: Vec<u32> = (0..self.definition.len() as u32)
            .filter(|&d| {
                self.definition
                    .get(d as usize)
                    .is_some_and(|def| shown(def) && def.performance == ix)
            })
            .collect();
        self.performance_row(ix, &defs, at)
    }

    /// The shown definitions whose sale starts in `[from, to)`, by sale start then id
    /// (for on-sale notifications); `on_sale` is evaluated at `at`.
    pub fn sale_starting(
        &self,
        from: Timestamp,
        to: Timestamp,
        at: Timestamp,
    ) -> Result<Vec<DefinitionRow>, UnsoldError> {
        if to < from {
            return Err(UnsoldError::EmptyWindow {
                from: csv_time(Some(&from)),
                to: csv_time(Some(&to)),
            });
        }
        let mut rows: Vec<DefinitionRow> = (0..self.definition.len() as u32)
            .filter(|&d| {
                self.definition.get(d as usize).is_some_and(|def| {
                    shown(def) && def.sale_starts_at.is_some_and(|s| from <= s && s < to)
                })
            })
            .filter_map(|d| self.definition_row(d, at))
            .collect();
        rows.sort_by(|a, b| {
            (a.sale_starts_at, &a.definition_id).cmp(&(b.sale_starts_at, &b.definition_id))
        });
        Ok(rows)
    }

    fn definitions_matching(&self, q: &UnsoldQuery) -> Vec<u32> {
        let perf = match &q.performance_id {
            Some(p) => match self.performances.get(p) {
                Some(ix) => Some(ix),
                None => return Vec::new(),
            },
            None => None,
        };
        let candidates: Vec<u32> = match &q.definition_id {
            Some(d) => self.definitions.get(d).into_iter().collect(),
            None => (0..self.definition.len() as u32).collect(),
        };
        candidates
            .into_iter()
            .filter(|&d| {
                self.definition
                    .get(d as usize)
                    .is_some_and(|def| shown(def) && perf.is_none_or(|p| def.performance == p))
            })
            .collect()
    }

    /// The shown definitions of each performance, indexed like `performance`.
    fn shown_by_performance(&self) -> Vec<Vec<u32>> {
        let mut by_perf = vec![Vec::new(); self.performance.len()];
        for (d, def) in self.definition.iter().enumerate() {
            if shown(def)
                && let Some(v) = by_perf.get_mut(def.performance as usize)
            {
                v.push(d as u32);
            }
        }
        by_perf
    }

    fn definition_row(&self, d: u32, at: Timestamp) -> Option<DefinitionRow> {
        let def = self.definition.get(d as usize).filter(|def| shown(def))?;
        let pricing = match &def.price {
            Price::Fixed(p) => PricingRow {
                method: "fixed",
                price: Some(*p),
                options: None,
            },
            Price::Optional(options) => PricingRow {
                method: "optional",
                price: None,
                options: Some(
                    options
                        .iter()
                        .map(|(name, price)| PriceOptionRow {
                            name: name.to_string(),
                            price: *price,
                        })
                        .collect(),
                ),
            },
            Price::Unknown => PricingRow {
                method: "unknown",
                price: None,
                options: None,
            },
        };
        let unsold = def.capacity.map(|c| i64::from(c) - held_i64(def.held));
        Some(DefinitionRow {
            definition_id: self.definitions.name(d).to_string(),
            performance_id: self.performances.name(def.performance).to_string(),
            name: def.name.to_string(),
            group: def.group.as_deref().map(str::to_string),
            pricing,
            currency: def.currency.map(|c| c.to_string()),
            capacity: def.capacity,
            sold: def.sold,
            held: def.held,
            returned: def.sold.saturating_sub(def.held),
            unsold,
            sold_out: unsold.is_some_and(|u| u <= 0),
            sale_starts_at: def.sale_starts_at,
            sale_ends_at: def.sale_ends_at,
            on_sale: on_sale(def, at),
        })
    }

    /// `None` for a performance neither scheduled nor carrying a shown definition.
    fn performance_row(&self, p: u32, defs: &[u32], at: Timestamp) -> Option<PerformanceRow> {
        let perf = self.performance.get(p as usize).filter(|x| x.scheduled);
        if perf.is_none() && defs.is_empty() {
            return None;
        }
        let mut row = PerformanceRow {
            performance_id: self.performances.name(p).to_string(),
            name: perf.map(|x| x.name.to_string()),
            starts_at: perf.and_then(|x| x.starts_at),
            definitions: 0,
            capacity: Some(0),
            sold: 0,
            held: 0,
            returned: 0,
            unsold: Some(0),
            on_sale: false,
        };
        for def in defs.iter().filter_map(|&d| self.definition.get(d as usize)) {
            row.definitions += 1;
            row.capacity = row
                .capacity
                .zip(def.capacity)
                .map(|(sum, c)| sum + u64::from(c));
            row.unsold = row
                .unsold
                .zip(def.capacity)
                .map(|(sum, c)| sum + i64::from(c) - held_i64(def.held));
            row.sold += def.sold;
            row.held += def.held;
            row.returned += def.sold.saturating_sub(def.held);
            row.on_sale |= on_sale(def, at);
        }
        Some(row)
    }
}

fn shown(def: &Def) -> bool {
    def.created && !def.deleted
}

fn on_sale(def: &Def, at: Timestamp) -> bool {
    shown(def)
        && def.sale_starts_at.is_none_or(|s| s <= at)
        && def.sale_ends_at.is_none_or(|e| at < e)
}

fn held_i64(held: u64) -> i64 {
    i64::try_from(held).unwrap_or(i64::MAX)
}
