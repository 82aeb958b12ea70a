//! The three forms of a report: JSON (the nested rows, as the HTTP API answers),
//! CSV (the projectors' flat `csv_header`/`csv_row`), and a table for a terminal.

use std::io::IsTerminal;

use anyhow::Context;
use clap::ValueEnum;
use counterfoil_projection::CsvRow;
use serde::Serialize;

use crate::output::Out;

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns with the key fields.
    Table,
    /// The whole answer, pretty-printed.
    Json,
    /// Every field, one line per row, with a header line.
    Csv,
}

impl ReportFormat {
    /// The asked format, else a table when a person is reading stdout and JSON when a
    /// program is.
    pub fn resolve(asked: Option<Self>) -> Self {
        asked.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                ReportFormat::Table
            } else {
                ReportFormat::Json
            }
        })
    }
}

/// The report's text in `format`; only the asked form is computed.
pub fn render<T: Serialize>(
    format: ReportFormat,
    answer: &T,
    csv: impl FnOnce() -> anyhow::Result<String>,
    table: impl FnOnce() -> String,
) -> anyhow::Result<String> {
    match format {
        ReportFormat::Json => {
            let mut text =
                serde_json::to_string_pretty(answer).context("writing the report as JSON")?;
            text.push('\n');
            Ok(text)
        }
        ReportFormat::Csv => csv(),
        ReportFormat::Table => Ok(table()),
    }
}

/// A header line and one line per row, quoted where CSV needs it.
pub fn csv<R: CsvRow>(rows: &[R]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(R::csv_header())
        .context("writing the report as CSV")?;
    for row in rows {
        w.write_record(row.csv_row())
            .context("writing the report as CSV")?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing the report as CSV: {e}"))?;
    String::from_utf8(bytes).context("writing the report as CSV")
}

/// Prints the text; a reader that goes away early (`| head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = Out::new();
    for line in text.lines() {
        if !out.line(line)? {
            break;
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row(&'static str, &'static str);

    impl CsvRow for Row {
        fn csv_header() -> Vec<&'static str> {
            vec!["name", "note"]
        }
        fn csv_row(&self) -> Vec<String> {
            vec![self.0.to_string(), self.1.to_string()]
        }
    }

    #[test]
    fn csv_quotes_commas_and_quotes() {
        let text = csv(&[Row("Ann", "plain"), Row("Lee, Bob", "say \"hi\"")]).unwrap();
        assert_eq!(
            text,
            "name,note\nAnn,plain\n\"Lee, Bob\",\"say \"\"hi\"\"\"\n"
        );
    }
}
