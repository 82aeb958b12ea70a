//! The flat, CSV-friendly form every report row offers next to its nested JSON form,
//! so the CLI and the HTTP server can write any report as CSV without knowing it.

use counterfoil_core::Timestamp;

/// A report row that can be written as one CSV line.
///
/// Nested objects are flattened into prefixed columns (`performance_id`,
/// `seat_section`, ...); absent values are empty cells; times are RFC 3339 in UTC.
pub trait CsvRow {
    /// Column names, in order; the same for every row of the type.
    fn csv_header() -> Vec<&'static str>;
    /// The cells of this row, as many as [`CsvRow::csv_header`] has columns.
    fn csv_row(&self) -> Vec<String>;
}

/// A time as written in CSV cells and JSON: RFC 3339, UTC with `Z`.
pub fn csv_time(t: Option<&Timestamp>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// An optional value as a cell: empty when absent.
pub fn csv_opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}
