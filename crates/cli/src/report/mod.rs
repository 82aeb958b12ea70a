//! `report`: the four read models of SPEC §6 asked from the command line, under the
//! names and parameters the HTTP API uses. Each report first catches its projection up
//! with the log (persisting state and checkpoint in `<data>/projections/`), or with
//! `--as-of` folds it in memory up to a past position or time, then prints the answer
//! as a table, JSON or CSV ([`emit`]).

mod emit;
mod tables;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use counterfoil_core::Timestamp;
use counterfoil_projection::AsOf;
use counterfoil_projector_links::{LinkAttribution, LinkQuery};
use counterfoil_projector_owners::{OwnerQuery, OwnerReport, OwnersError};
use counterfoil_projector_shared::{
    Bucket, ShareCounts, ShareFilter, SharedTickets, Shares, TicketShares,
};
use counterfoil_projector_unsold::{DefinitionRow, UnsoldCounts, UnsoldQuery};
use serde::Serialize;

pub use emit::ReportFormat;

use crate::{Global, parse, projections};

/// `counterfoil report [--format F] [--as-of T] <which> [filters]`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    which: Which,
}

/// Options of every report (also accepted after the report's name).
#[derive(Debug, Args)]
struct Common {
    /// `table` (aligned columns), `json` or `csv`; default: table on a terminal, else
    /// json.
    #[arg(long, global = true, value_enum)]
    format: Option<ReportFormat>,
    /// The report as it was: `pos:N` (after the record at position N) or an RFC 3339
    /// time (what was recorded by then). Folds the log in memory; the persisted read
    /// model is left as it is.
    #[arg(long, global = true, value_name = "T|pos:N", value_parser = parse::as_of)]
    as_of: Option<AsOf>,
    /// Persist the projection after this many records while catching up (for crash
    /// tests).
    #[arg(long, global = true, hide = true)]
    persist_every_records: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// One row per ticket of some performances, with its owner: {"total", "result"}.
    Owners {
        /// One or several performance ids, comma-separated.
        #[arg(long, required = true, value_name = "ID[,ID...]", value_delimiter = ',', value_parser = parse::id)]
        performance: Vec<String>,
        /// Rows per page, 1 to 1000.
        #[arg(long, value_name = "N", value_parser = parse::limit, allow_hyphen_values = true)]
        limit: u64,
        /// Rows to skip.
        #[arg(long, value_name = "N", default_value_t = 0)]
        offset: u64,
        /// Leave deleted tickets out.
        #[arg(long)]
        exclude_deleted: bool,
        /// Only tickets updated at or after this time.
        #[arg(long, value_name = "T", value_parser = parse::time)]
        last_updated_since: Option<Timestamp>,
        /// Only tickets updated strictly before this time.
        #[arg(long, value_name = "T", value_parser = parse::time)]
        last_updated_before: Option<Timestamp>,
    },
    /// Capacity, sold, held, returned and unsold per definition and per performance.
    /// CSV has one line per definition.
    Unsold {
        /// Only this performance's definitions.
        #[arg(long, value_name = "ID", conflicts_with = "definition", value_parser = parse::id)]
        performance: Option<String>,
        /// Only this definition (and its performance's sums).
        #[arg(long, value_name = "ID", value_parser = parse::id)]
        definition: Option<String>,
        /// When `on_sale` is evaluated (default: the --as-of time, else now).
        #[arg(long, value_name = "T", value_parser = parse::time)]
        at: Option<Timestamp>,
    },
    /// Definitions whose sale starts in [--from, --to), by sale start.
    OnSale {
        #[arg(long, value_name = "T", value_parser = parse::time)]
        from: Timestamp,
        #[arg(long, value_name = "T", value_parser = parse::time)]
        to: Timestamp,
        /// When `on_sale` is evaluated (default: the --as-of time, else now).
        #[arg(long, value_name = "T", value_parser = parse::time)]
        at: Option<Timestamp>,
    },
    /// Ticket shares, with the performance and seat as they were when shared.
    Shared {
        #[command(flatten)]
        filter: ShareArgs,
    },
    /// The number of shares per UTC day or month.
    SharedCounts {
        /// `day` or `month` (UTC).
        #[arg(long, value_name = "day|month", value_parser = parse::bucket)]
        bucket: Bucket,
        #[command(flatten)]
        filter: ShareArgs,
    },
    /// Who a ticket was shared with, and when.
    TicketShares {
        #[arg(value_parser = parse::id)]
        ticket: String,
    },
    /// Purchases attributed to tracking links, per link and ticket type, with totals.
    Links {
        /// Only sales of this performance, and the links that cover it.
        #[arg(long, value_name = "ID", value_parser = parse::id)]
        performance: Option<String>,
    },
}

/// Filters of the shared-tickets search; all optional, combined with "and".
#[derive(Debug, Args)]
struct ShareArgs {
    /// Shared at or after this time.
    #[arg(long, value_name = "T", value_parser = parse::time)]
    from: Option<Timestamp>,
    /// Shared strictly before this time.
    #[arg(long, value_name = "T", value_parser = parse::time)]
    to: Option<Timestamp>,
    /// The sharer's customer id.
    #[arg(long, value_name = "CUSTOMER")]
    shared_by: Option<String>,
    /// Text in the recipient's email, ignoring case.
    #[arg(long, value_name = "TEXT")]
    recipient: Option<String>,
    /// The ticket's order id.
    #[arg(long, value_name = "ORDER")]
    order: Option<String>,
    /// The performance the ticket admitted to when shared.
    #[arg(long, value_name = "PERFORMANCE")]
    performance: Option<String>,
}

impl ShareArgs {
    fn filter(self) -> ShareFilter {
        ShareFilter {
            from: self.from,
            to: self.to,
            shared_by: self.shared_by,
            recipient: self.recipient,
            order_id: self.order,
            performance_id: self.performance,
            ticket_id: None,
        }
    }
}

/// `{"definitions": [...]}`.
#[derive(Debug, Serialize)]
struct OnSale {
    definitions: Vec<DefinitionRow>,
}

pub async fn run(g: &Global, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let Common {
        format,
        as_of,
        persist_every_records,
    } = args.common;
    let format = ReportFormat::resolve(format);
    let persist = persist_every_records;
    // `on_sale` as it was then, when the report is as of a time.
    let at_default = |at: Option<Timestamp>| {
        at.or(match as_of {
            Some(AsOf::Time(t)) => Some(t),
            _ => None,
        })
        .unwrap_or_else(chrono::Utc::now)
    };
    let text = match args.which {
        Which::Owners {
            performance,
            limit,
            offset,
            exclude_deleted,
            last_updated_since,
            last_updated_before,
        } => {
            let query = OwnerQuery {
                performances: performance,
                limit,
                offset,
                exclude_deleted,
                last_updated_since,
                last_updated_before,
            };
            let model = projections::load::<OwnerReport>(g, as_of, persist).await?;
            let page = model.query(&query).map_err(|e| match e {
                OwnersError::NoPerformance => anyhow::anyhow!("--performance: {e}"),
                OwnersError::LimitOutOfRange { .. } => anyhow::anyhow!("--limit: {e}"),
                e => anyhow::anyhow!("the owner report refused the query: {e}"),
            })?;
            emit::render(
                format,
                &page,
                || emit::csv(&page.result),
                || tables::owners(&page, &query),
            )?
        }
        Which::Unsold {
            performance,
            definition,
            at,
        } => {
            let query = UnsoldQuery {
                performance_id: performance,
                definition_id: definition,
                at: at_default(at),
            };
            let model = projections::load::<UnsoldCounts>(g, as_of, persist).await?;
            let report = model.report(&query);
            emit::render(
                format,
                &report,
                || emit::csv(&report.definitions),
                || tables::unsold(&report),
            )?
        }
        Which::OnSale { from, to, at } => {
            if to < from {
                anyhow::bail!(
                    "--to: the window ends ({}) before it starts ({})",
                    crate::output::time(&to),
                    crate::output::time(&from)
                );
            }
            let at = at_default(at);
            let model = projections::load::<UnsoldCounts>(g, as_of, persist).await?;
            let definitions = model
                .sale_starting(from, to, at)
                .map_err(|e| anyhow::anyhow!("--to: {e}"))?;
            let answer = OnSale { definitions };
            emit::render(
                format,
                &answer,
                || emit::csv(&answer.definitions),
                || tables::on_sale(&answer.definitions, from, to),
            )?
        }
        Which::Shared { filter } => {
            let model = projections::load::<SharedTickets>(g, as_of, persist).await?;
            let shares = model.search(&filter.filter());
            let answer = Shares { shares };
            emit::render(
                format,
                &answer,
                || emit::csv(&answer.shares),
                || tables::shares(&answer.shares, "no shares match"),
            )?
        }
        Which::SharedCounts { bucket, filter } => {
            let model = projections::load::<SharedTickets>(g, as_of, persist).await?;
            let counts = model.counts(&filter.filter(), bucket);
            let answer = ShareCounts { bucket, counts };
            emit::render(
                format,
                &answer,
                || emit::csv(&answer.counts),
                || tables::counts(&answer.counts),
            )?
        }
        Which::TicketShares { ticket } => {
            let model = projections::load::<SharedTickets>(g, as_of, persist).await?;
            let shares = model.ticket_shares(&ticket);
            let answer = TicketShares {
                ticket_id: ticket,
                shares,
            };
            emit::render(
                format,
                &answer,
                || emit::csv(&answer.shares),
                || {
                    tables::shares(
                        &answer.shares,
                        &format!("ticket {} was never shared", answer.ticket_id),
                    )
                },
            )?
        }
        Which::Links { performance } => {
            let model = projections::load::<LinkAttribution>(g, as_of, persist).await?;
            let report = model.report(&LinkQuery {
                performance_id: performance,
            });
            emit::render(
                format,
                &report,
                || emit::csv(&report.csv_rows()),
                || tables::links(&report),
            )?
        }
    };
    emit::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
