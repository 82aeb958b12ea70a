//! Terminal output: aligned tables, readable numbers, progress bars that show only on
//! a terminal, and stdout writes that end quietly when the reader goes away
//! (`counterfoil tail | head`).

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Rows of text cells printed with aligned columns. Columns whose cells all look
/// like numbers, and columns named in [`Table::align_right`], are right-aligned.
#[derive(Debug)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_string()).collect(),
            rows: Vec::new(),
            right: vec![false; headers.len()],
        }
    }

    /// Right-aligns these columns whatever their cells (money, counts that may read
    /// `unlimited`).
    pub fn align_right(mut self, columns: &[&str]) -> Self {
        for (i, h) in self.headers.iter().enumerate() {
            if columns.contains(&h.as_str()) {
                self.right[i] = true;
            }
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let numeric: Vec<bool> = (0..columns)
            .map(|i| {
                self.right[i]
                    || (!self.rows.is_empty()
                        && self.rows.iter().all(|r| {
                            r.get(i).is_none_or(|c| {
                                !c.is_empty()
                                    && c.chars()
                                        .all(|ch| ch.is_ascii_digit() || ",.-".contains(ch))
                            })
                        }))
            })
            .collect();
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let pad = width.saturating_sub(cell.chars().count());
                if i > 0 {
                    text.push_str("  ");
                }
                if numeric[i] {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.headers, &mut out);
        for row in &self.rows {
            line(row, &mut out);
        }
        out
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A timestamp as RFC 3339 in UTC with a `Z`, to the second.
pub fn time(t: &counterfoil_core::Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Per second, guarding against a zero duration.
pub fn rate(count: u64, elapsed: Duration) -> u64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        count
    } else {
        (count as f64 / secs) as u64
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub fn progress(total: Option<u64>, unit: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = match (total, unit) {
        (Some(_), "bytes") => {
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}"
        }
        (Some(_), _) => {
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({per_sec}, eta {eta}) {msg}"
        }
        (None, _) => "{spinner} [{elapsed_precise}] {human_pos} ({per_sec}) {msg}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Stdout, buffered, for commands that print many lines.
pub struct Out {
    inner: io::BufWriter<io::Stdout>,
    /// Set once the reader went away; later writes are dropped.
    closed: bool,
}

impl Out {
    pub fn new() -> Self {
        Self {
            inner: io::BufWriter::with_capacity(1 << 16, io::stdout()),
            closed: false,
        }
    }

    /// Writes one line. Answers false once stdout is closed by its reader (a broken
    /// pipe is how `head` says it has seen enough: not an error).
    pub fn line(&mut self, text: &str) -> anyhow::Result<bool> {
        if self.closed {
            return Ok(false);
        }
        match writeln!(self.inner, "{text}") {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(false)
            }
            Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
        }
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let mut t = Table::new(&["name", "count"]);
        t.row(vec!["accepted".into(), "1,200".into()]);
        t.row(vec!["refused".into(), "3".into()]);
        assert_eq!(
            t.render(),
            "name      count\naccepted  1,200\nrefused       3\n"
        );
    }

    #[test]
    fn named_columns_align_right_whatever_their_cells() {
        let mut t =
            Table::new(&["definition", "capacity", "price"]).align_right(&["capacity", "price"]);
        t.row(vec!["D1".into(), "100".into(), "EUR 40.00".into()]);
        t.row(vec!["D2".into(), "unlimited".into(), "EUR 5.00".into()]);
        assert_eq!(
            t.render(),
            "definition   capacity      price\nD1                100  EUR 40.00\nD2          unlimited   EUR 5.00\n"
        );
    }
}
