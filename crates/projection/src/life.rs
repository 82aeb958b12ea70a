//! A ticket's status as the read models see it: the ledger's own
//! [`counterfoil_core::rules::Lifecycle`] (eight serializable bytes), so "status",
//! "holds a seat" and "scanned" mean one thing in the rules and in every report.

/// Standing redemptions and the terminal facts of one ticket.
pub type TicketLife = counterfoil_core::rules::Lifecycle;
