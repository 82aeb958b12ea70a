//! `import` (and `demo` without `--out`): JSON Lines into the ledger, fast and without
//! losing anything.
//!
//! The pipeline: a reader thread cuts the source into chunks of [`CHUNK_LINES`] lines;
//! parser threads (one per core) turn them into records, chunk `k` going to parser
//! `k % n` so that results can be taken back in order by visiting the parsers in turn;
//! the async side hands each chunk's records to `Ledger::submit_many`, keeping
//! [`IN_FLIGHT`] chunks queued so the ledger always has the next batch waiting, and
//! settles their answers in file order: counts, rejects file, acknowledgement log,
//! progress.
//!
//! A refused line never stops the import. A store failure does: chunks already in
//! flight are settled, nothing more is sent, and the error is returned; every record
//! acknowledged before it is durable, so running the import again finishes the job
//! (what was stored comes back as duplicates).

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::mpsc as std_mpsc;
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use counterfoil_core::{NewRecord, RefusalReason, StoreError};
use counterfoil_demo::{DemoConfig, Expectation};
use counterfoil_ledger::{Ledger, SubmitError, Submitted};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::output::{self, Table, rate, thousands};
use crate::{Format, Global, store};

/// Lines per chunk handed to the ledger at once.
pub const CHUNK_LINES: usize = 4096;
/// Chunks queued with the ledger before the oldest one's answers are awaited.
const IN_FLIGHT: usize = 8;

/// Where the lines come from.
#[derive(Debug, Clone)]
pub enum Source {
    File { path: PathBuf, bytes: u64 },
    Demo(DemoConfig),
}

/// How to run the pipeline.
#[derive(Debug)]
pub struct Options<'a> {
    /// Where refused lines go; none for the demo, whose refusals are expected.
    pub rejects: Option<PathBuf>,
    pub ack_log: Option<&'a Path>,
    /// A line expected to be accepted that comes back as a duplicate still matches
    /// (the workload was imported into this folder before).
    pub duplicates_match_accepted: bool,
    /// Lines per chunk; [`CHUNK_LINES`] unless told otherwise.
    pub chunk_lines: usize,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Report {
    pub accepted: u64,
    pub duplicates: u64,
    pub refused: u64,
    pub by_reason: BTreeMap<&'static str, u64>,
    pub elapsed: Duration,
    /// Lines whose outcome differs from the demo workload's expectation.
    pub mismatches: u64,
    pub mismatch_examples: Vec<String>,
    /// Set when refused lines were written.
    pub rejects_written: Option<PathBuf>,
    /// The failure that stopped the import, if one did.
    pub failure: Option<anyhow::Error>,
}

impl Report {
    pub fn decided(&self) -> u64 {
        self.accepted + self.duplicates + self.refused
    }
}

/// The `--format json` summary: exactly these three fields.
#[derive(Debug, Serialize)]
pub struct JsonSummary {
    pub accepted: u64,
    pub duplicates: u64,
    pub refused: u64,
}

pub async fn run(
    g: &Global,
    file: &Path,
    format: Format,
    ack_log: Option<&Path>,
    chunk_lines: usize,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    let rejects = rejects_path(file);
    let (opened, ledger) = store::open_ledger(g).await?;
    let report = pipeline(
        &ledger,
        Source::File {
            path: file.to_path_buf(),
            bytes,
        },
        Options {
            rejects: Some(rejects),
            ack_log,
            duplicates_match_accepted: false,
            chunk_lines,
        },
    )
    .await;
    ledger.shutdown().await;
    let closed = opened.close().await;
    let mut report = report?;
    print_summary(&report, format, &file.display().to_string())?;
    if let Some(failure) = report.failure.take() {
        return Err(failure.context(format!(
            "the import of {} stopped after {} line(s); every acknowledged record is stored, so importing the file again finishes the job",
            file.display(),
            thousands(report.decided())
        )));
    }
    closed?;
    Ok(ExitCode::SUCCESS)
}

/// `FILE.rejects.jsonl` beside `FILE`.
pub fn rejects_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".rejects.jsonl");
    PathBuf::from(name)
}

pub fn print_summary(report: &Report, format: Format, what: &str) -> anyhow::Result<()> {
    let mut out = output::Out::new();
    match format {
        Format::Json => {
            let summary = JsonSummary {
                accepted: report.accepted,
                duplicates: report.duplicates,
                refused: report.refused,
            };
            out.line(&serde_json::to_string(&summary)?)?;
        }
        Format::Table => {
            let decided = report.decided();
            out.line(&format!(
                "imported {what}: {} line(s) in {:.2} s ({} records/s)",
                thousands(decided),
                report.elapsed.as_secs_f64(),
                thousands(rate(decided, report.elapsed))
            ))?;
            out.line("")?;
            let mut t = Table::new(&["outcome", "lines"]);
            t.row(vec!["accepted".into(), thousands(report.accepted)]);
            t.row(vec!["duplicates".into(), thousands(report.duplicates)]);
            t.row(vec!["refused".into(), thousands(report.refused)]);
            for l in t.render().lines() {
                out.line(l)?;
            }
            if !report.by_reason.is_empty() {
                out.line("")?;
                let mut t = Table::new(&["refused because", "lines"]);
                for (reason, n) in &report.by_reason {
                    t.row(vec![(*reason).to_string(), thousands(*n)]);
                }
                for l in t.render().lines() {
                    out.line(l)?;
                }
            }
            if let Some(path) = &report.rejects_written {
                out.line("")?;
                out.line(&format!("refused lines are in {}", path.display()))?;
            }
        }
    }
    out.flush()
}

/// Lines as read, before parsing.
struct RawChunk {
    first_line: u64,
    /// How many lines `text` holds (the last one may lack its `\n`).
    lines: usize,
    text: Vec<u8>,
    /// How far through the source this chunk ends (bytes for a file, lines for a demo).
    progress: u64,
    expectations: Option<Vec<Expectation>>,
}

/// A line that is not a record.
struct Bad {
    line: u64,
    id: Option<String>,
    reason: RefusalReason,
    message: String,
}

/// A chunk after parsing.
struct ParsedChunk {
    first_line: u64,
    last_line: u64,
    records: Vec<NewRecord>,
    record_lines: Vec<u64>,
    bad: Vec<Bad>,
    progress: u64,
    expectations: Option<Vec<Expectation>>,
}

/// The ledger's answers to one chunk, one per record.
type Answers = Vec<Result<Submitted, SubmitError>>;

/// A chunk whose records the ledger is deciding.
struct InFlight {
    chunk: ParsedChunk,
    ids: Vec<uuid::Uuid>,
    answers: Pin<Box<dyn Future<Output = Answers> + Send>>,
    early: Option<Answers>,
}

/// The outcome of one non-blank line.
enum Outcome {
    Accepted,
    Duplicate,
    Refused {
        reason: RefusalReason,
        id: Option<String>,
        message: String,
    },
}

#[derive(Serialize)]
struct RejectLine<'a> {
    line: u64,
    id: Option<&'a str>,
    reason: &'static str,
    message: &'a str,
}

/// Runs the pipeline to the end of the source or to the first store failure (which
/// lands in [`Report::failure`]). `Err` only when the pipeline could not start.
pub async fn pipeline(
    ledger: &Ledger,
    source: Source,
    options: Options<'_>,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let size = SourceSize::of(&source);
    let (progress_total, unit) = match size {
        SourceSize::Bytes(n) => (n, "bytes"),
        SourceSize::Records(n) => (n, "lines"),
    };
    let bar = output::progress(Some(progress_total), unit);

    let workers = std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .clamp(1, 4);
    let mut to_parsers = Vec::with_capacity(workers);
    // Parsers hand each chunk's text buffer back to the reader, which fills it again:
    // a few buffers go round instead of a fresh megabyte or two per chunk (fresh
    // memory costs a page fault per 4 KiB on first touch).
    let (spent_text, recycled_text) = std_mpsc::channel::<Vec<u8>>();
    let mut from_parsers = Vec::with_capacity(workers);
    let mut parsers = Vec::with_capacity(workers);
    for i in 0..workers {
        let (tx, rx) = std_mpsc::sync_channel::<RawChunk>(2);
        let (otx, orx) = mpsc::channel::<ParsedChunk>(2);
        let spent = spent_text.clone();
        let handle = std::thread::Builder::new()
            .name(format!("import-parse-{i}"))
            .spawn(move || parse_worker(&rx, &otx, &spent))
            .context("starting a parser thread")?;
        to_parsers.push(tx);
        from_parsers.push(orx);
        parsers.push(handle);
    }
    let chunk_lines = options.chunk_lines.max(1);
    let reader: JoinHandle<anyhow::Result<()>> = std::thread::Builder::new()
        .name("import-read".into())
        .spawn(move || read_source(&source, chunk_lines, &to_parsers, &recycled_text))
        .context("starting the reader thread")?;

    let mut settle = Settle::new(options)?;
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut next = 0usize;
    let mut reading = true;
    loop {
        if reading && settle.report.failure.is_none() && in_flight.len() < IN_FLIGHT {
            match from_parsers[next % workers].recv().await {
                Some(mut chunk) => {
                    if next == 0 {
                        ledger.store().reserve(expected_records(size, &chunk));
                    }
                    next += 1;
                    let records = std::mem::take(&mut chunk.records);
                    let ids = records.iter().map(|r| r.id).collect();
                    let handle = ledger.clone();
                    let mut answers: Pin<Box<dyn Future<Output = _> + Send>> =
                        Box::pin(async move { handle.submit_many(records).await });
                    // Polling once queues the records with the ledger's decider
                    // (`submit_many` sends before it waits), and the decider takes
                    // submissions in queue order: so chunks are decided in file order
                    // however many are in flight.
                    let early = match futures::poll!(answers.as_mut()) {
                        Poll::Ready(a) => Some(a),
                        Poll::Pending => None,
                    };
                    in_flight.push_back(InFlight {
                        chunk,
                        ids,
                        answers,
                        early,
                    });
                    continue;
                }
                None => reading = false,
            }
        }
        let Some(f) = in_flight.pop_front() else {
            break;
        };
        let answers = match f.early {
            Some(a) => a,
            None => f.answers.await,
        };
        let progress = f.chunk.progress;
        settle.chunk(f.chunk, &f.ids, answers);
        bar.set_position(progress);
        bar.set_message(format!("{} records", thousands(settle.report.decided())));
    }
    // Stops the parsers and, through them, the reader, when the import ended early.
    drop(from_parsers);
    for p in parsers {
        let _ = p.join();
    }
    let read = reader
        .join()
        .unwrap_or_else(|_| Err(anyhow!("the reader thread panicked")));
    bar.finish_and_clear();
    let mut report = settle.finish();
    if report.failure.is_none()
        && let Err(e) = read
    {
        report.failure = Some(e);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// What is known of a source's size before reading it.
#[derive(Debug, Clone, Copy)]
enum SourceSize {
    /// A file of this many bytes.
    Bytes(u64),
    /// The demo's events.
    Records(u64),
}

impl SourceSize {
    fn of(source: &Source) -> Self {
        match source {
            Source::File { bytes, .. } => Self::Bytes(*bytes),
            Source::Demo(c) => Self::Records(c.events),
        }
    }
}

/// How many records the whole source should hold, judged from its first chunk: a
/// file's size over the first chunk's bytes per line (every line counts, blank and
/// refused ones too, so this errs high), or the demo's event count.
fn expected_records(size: SourceSize, first: &ParsedChunk) -> u64 {
    match size {
        SourceSize::Records(n) => n,
        SourceSize::Bytes(bytes) => {
            let lines = first.last_line.saturating_sub(first.first_line) + 1;
            match first.progress {
                0 => lines,
                read => (u128::from(bytes) * u128::from(lines) / u128::from(read))
                    .try_into()
                    .unwrap_or(u64::MAX),
            }
        }
    }
}

/// Reads the source into chunks, chunk `k` to parser `k % n`.
fn read_source(
    source: &Source,
    chunk_lines: usize,
    parsers: &[std_mpsc::SyncSender<RawChunk>],
    recycled: &std_mpsc::Receiver<Vec<u8>>,
) -> anyhow::Result<()> {
    // A buffer a parser handed back, emptied, or a new one of `capacity`.
    let buffer = |capacity: usize| {
        let mut text = recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(capacity));
        text.clear();
        text
    };
    let mut k = 0usize;
    let mut send = |chunk: RawChunk| -> bool {
        let ok = parsers[k % parsers.len()].send(chunk).is_ok();
        k += 1;
        ok
    };
    match source {
        Source::File { path, .. } => {
            let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let mut cutter = LineCutter::new(file, chunk_lines);
            let mut line = 0u64;
            let mut offset = 0u64;
            loop {
                let mut text = buffer(1 << 20);
                let lines = cutter
                    .next_chunk(&mut text)
                    .with_context(|| format!("reading {} after line {line}", path.display()))?;
                if lines == 0 {
                    return Ok(());
                }
                let first_line = line + 1;
                line += lines as u64;
                offset += text.len() as u64;
                let chunk = RawChunk {
                    first_line,
                    lines,
                    text,
                    progress: offset,
                    expectations: None,
                };
                if !send(chunk) {
                    return Ok(());
                }
            }
        }
        Source::Demo(config) => {
            let mut lines = counterfoil_demo::generate(config);
            let mut line = 0u64;
            loop {
                let mut text = buffer(chunk_lines * 400);
                let mut expectations = Vec::with_capacity(chunk_lines);
                for demo_line in lines.by_ref().take(chunk_lines) {
                    text.extend_from_slice(demo_line.to_json_line().as_bytes());
                    text.push(b'\n');
                    expectations.push(demo_line.expectation());
                }
                if expectations.is_empty() {
                    return Ok(());
                }
                let first_line = line + 1;
                line += expectations.len() as u64;
                let chunk = RawChunk {
                    first_line,
                    lines: expectations.len(),
                    text,
                    progress: line,
                    expectations: Some(expectations),
                };
                if !send(chunk) {
                    return Ok(());
                }
            }
        }
    }
}

/// Most bytes asked of the source per read: what a chunk reads past its last line is
/// copied to the next chunk, so reads are kept small against a chunk (about 1.3 MB
/// for 4,096 lines of a demo file).
const READ_BLOCK: usize = 256 << 10;

/// Cuts a byte source into chunks of a given number of lines. It reads large blocks
/// straight into the chunk's buffer and moves the bytes past the chunk's last line
/// to the next one, instead of copying every line out of a `BufReader` (a line is
/// `\n`-terminated, or the source's last bytes when they lack one).
struct LineCutter<R> {
    source: R,
    chunk_lines: usize,
    /// Bytes read past the end of the last chunk.
    carry: Vec<u8>,
    at_end: bool,
}

impl<R: std::io::Read> LineCutter<R> {
    fn new(source: R, chunk_lines: usize) -> Self {
        Self {
            source,
            chunk_lines: chunk_lines.max(1),
            carry: Vec::new(),
            at_end: false,
        }
    }

    /// Fills `text` (emptied first) with the next chunk; returns its number of lines,
    /// 0 at the end of the source.
    fn next_chunk(&mut self, text: &mut Vec<u8>) -> std::io::Result<usize> {
        text.clear();
        text.append(&mut self.carry);
        let mut lines = 0usize;
        let mut scanned = 0usize;
        loop {
            for newline in memchr::memchr_iter(b'\n', &text[scanned..]) {
                lines += 1;
                if lines == self.chunk_lines {
                    let end = scanned + newline + 1;
                    self.carry.extend_from_slice(&text[end..]);
                    text.truncate(end);
                    return Ok(lines);
                }
            }
            scanned = text.len();
            if self.at_end {
                if text.last().is_some_and(|&b| b != b'\n') {
                    lines += 1;
                }
                return Ok(lines);
            }
            // Into the buffer's room where it has some (a recycled buffer's pages are
            // already in memory), else into new room.
            if text.capacity() - text.len() < 4096 {
                text.reserve(READ_BLOCK);
            }
            let room = (text.capacity() - text.len()).min(READ_BLOCK);
            let read = std::io::Read::read_to_end(
                &mut std::io::Read::take(&mut self.source, room as u64),
                text,
            )?;
            if read == 0 {
                self.at_end = true;
            }
        }
    }
}

/// The niceness of the parser threads. The log's writer thread is the import's
/// critical path: every record goes through it, one group at a time. Parsing runs ahead
/// of it (two chunks per parser, two batches in the ledger), so parsers that take a
/// core from the writer only make it wait. At a lower priority they run on what the
/// writer and the ledger leave, which on two cores made a 1,000,000-line import about
/// 15 % faster (`docs/benchmarks.md`). Another process's threads of normal priority
/// also come first, which is what `nice` asks for.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const PARSER_NICE: i32 = 15;

/// Lowers this thread's priority to [`PARSER_NICE`], never raising it: a process
/// started nicer than that keeps its own. Linux gives each thread its own niceness
/// (`setpriority` with a thread id); failing to lower it changes nothing but the speed.
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    use rustix::process::{getpriority_process, setpriority_process};
    let me = Some(rustix::thread::gettid());
    if getpriority_process(me).is_ok_and(|now| now >= PARSER_NICE) {
        return;
    }
    if let Err(e) = setpriority_process(me, PARSER_NICE) {
        tracing::debug!("could not lower the priority of a parser thread: {e}");
    }
}

/// Elsewhere a thread's priority is left as it is.
#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

fn parse_worker(
    rx: &std_mpsc::Receiver<RawChunk>,
    tx: &mpsc::Sender<ParsedChunk>,
    spent: &std_mpsc::Sender<Vec<u8>>,
) {
    lower_this_threads_priority();
    while let Ok(mut raw) = rx.recv() {
        let parsed = parse_chunk(&mut raw);
        // The reader may have stopped; then the buffer is simply freed.
        let _ = spent.send(raw.text);
        if tx.blocking_send(parsed).is_err() {
            return;
        }
    }
}

/// Parses a chunk's lines; leaves its text for the caller to reuse.
fn parse_chunk(raw: &mut RawChunk) -> ParsedChunk {
    // Records are large: sized once, the vector never moves them to grow.
    let lines = raw.lines;
    let mut records = Vec::with_capacity(lines);
    let mut record_lines = Vec::with_capacity(lines);
    let mut bad = Vec::new();
    let mut line = raw.first_line;
    for text in split_lines(&raw.text) {
        let no = line;
        line += 1;
        let text = text.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let parsed = std::str::from_utf8(text)
            .map_err(|e| {
                counterfoil_core::FieldError::new("record", format!("the line is not UTF-8: {e}"))
            })
            .and_then(NewRecord::from_json_str);
        match parsed {
            Ok(record) => {
                records.push(record);
                record_lines.push(no);
            }
            Err(e) => bad.push(Bad {
                line: no,
                id: stated_id(text),
                reason: RefusalReason::InvalidField,
                message: e.to_string(),
            }),
        }
    }
    ParsedChunk {
        first_line: raw.first_line,
        last_line: line.saturating_sub(1),
        records,
        record_lines,
        bad,
        progress: raw.progress,
        expectations: raw.expectations.take(),
    }
}

/// The lines of `text`, as `split_inclusive` on `\n` gives them, found with `memchr`
/// (a byte-by-byte split was a fifth of the parsing threads' time).
fn split_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

/// The `id` a malformed line states, when it is JSON with a string id.
fn stated_id(text: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(text).ok()?;
    value.get("id")?.as_str().map(str::to_string)
}

/// Settles answers in line order: counts, rejects, expectations, acknowledgements.
struct Settle<'a> {
    report: Report,
    options: Options<'a>,
    rejects: Option<BufWriter<File>>,
    ack: Option<File>,
}

impl<'a> Settle<'a> {
    fn new(options: Options<'a>) -> anyhow::Result<Self> {
        if let Some(path) = &options.rejects {
            // Rejects of an earlier import of this file would be mistaken for this one's.
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("removing the old rejects file {}", path.display())));
                }
            }
        }
        let ack =
            match options.ack_log {
                Some(path) => Some(File::create(path).with_context(|| {
                    format!("creating the acknowledgement log {}", path.display())
                })?),
                None => None,
            };
        Ok(Self {
            report: Report::default(),
            options,
            rejects: None,
            ack,
        })
    }

    fn chunk(
        &mut self,
        chunk: ParsedChunk,
        ids: &[uuid::Uuid],
        answers: Vec<Result<Submitted, SubmitError>>,
    ) {
        // Acknowledgements stop at the first failure: nothing after it is known durable.
        let failed_before = self.report.failure.is_some();
        let mut acked = chunk.last_line;
        if answers.len() != chunk.record_lines.len() {
            let first = chunk
                .record_lines
                .first()
                .copied()
                .unwrap_or(chunk.first_line);
            acked = acked.min(first.saturating_sub(1));
            self.fail(anyhow!(
                "the ledger answered {} of {} records from line {first}",
                answers.len(),
                chunk.record_lines.len()
            ));
        }
        let expectations = chunk.expectations;
        let expect = |line: u64| {
            expectations.as_ref().and_then(|e| {
                e.get(usize::try_from(line - chunk.first_line).ok()?)
                    .copied()
            })
        };
        let mut bad = chunk.bad.into_iter().peekable();
        for ((answer, &line), id) in answers.into_iter().zip(&chunk.record_lines).zip(ids) {
            while let Some(b) = bad.next_if(|b| b.line < line) {
                let expected = expect(b.line);
                self.outcome(
                    b.line,
                    expected,
                    Outcome::Refused {
                        reason: b.reason,
                        id: b.id,
                        message: b.message,
                    },
                );
            }
            let outcome = match answer {
                Ok(s) if s.duplicate => Outcome::Duplicate,
                Ok(_) => Outcome::Accepted,
                Err(SubmitError::Refused(r)) => Outcome::Refused {
                    reason: r.reason,
                    id: Some(id.to_string()),
                    message: r.message,
                },
                Err(SubmitError::Store(e @ StoreError::IdConflict { .. })) => Outcome::Refused {
                    reason: RefusalReason::IdConflict,
                    id: Some(id.to_string()),
                    message: e.to_string(),
                },
                Err(e) => {
                    if self.report.failure.is_none() {
                        acked = acked.min(line.saturating_sub(1));
                    }
                    self.fail(anyhow::Error::new(e).context(format!("line {line} (record {id})")));
                    continue;
                }
            };
            self.outcome(line, expect(line), outcome);
        }
        for b in bad {
            let expected = expect(b.line);
            self.outcome(
                b.line,
                expected,
                Outcome::Refused {
                    reason: b.reason,
                    id: b.id,
                    message: b.message,
                },
            );
        }
        if let Some(ack) = self.ack.as_mut().filter(|_| !failed_before) {
            // Everything up to `acked` is decided and, when accepted, durable.
            if let Err(e) = writeln!(ack, "{acked}") {
                self.fail(anyhow::Error::new(e).context("writing the acknowledgement log"));
            }
        }
    }

    fn fail(&mut self, e: anyhow::Error) {
        if self.report.failure.is_none() {
            self.report.failure = Some(e);
        }
    }

    fn outcome(&mut self, line: u64, expected: Option<Expectation>, outcome: Outcome) {
        let got = match &outcome {
            Outcome::Accepted => Expectation::Accepted,
            Outcome::Duplicate => Expectation::Duplicate,
            Outcome::Refused { reason, .. } => Expectation::Refused(*reason),
        };
        if let Some(expected) = expected {
            let matches = expected == got
                || (self.options.duplicates_match_accepted
                    && expected == Expectation::Accepted
                    && got == Expectation::Duplicate);
            if !matches {
                self.report.mismatches += 1;
                if self.report.mismatch_examples.len() < 5 {
                    let detail = match &outcome {
                        Outcome::Refused { message, .. } => format!(" ({message})"),
                        _ => String::new(),
                    };
                    self.report.mismatch_examples.push(format!(
                        "line {line}: expected {}, got {}{detail}",
                        describe(expected),
                        describe(got)
                    ));
                }
            }
        }
        match outcome {
            Outcome::Accepted => self.report.accepted += 1,
            Outcome::Duplicate => self.report.duplicates += 1,
            Outcome::Refused {
                reason,
                id,
                message,
            } => {
                self.report.refused += 1;
                *self.report.by_reason.entry(reason.code()).or_default() += 1;
                if let Err(e) = self.reject(line, id.as_deref(), reason, &message) {
                    self.fail(e);
                }
            }
        }
    }

    fn reject(
        &mut self,
        line: u64,
        id: Option<&str>,
        reason: RefusalReason,
        message: &str,
    ) -> anyhow::Result<()> {
        let Some(path) = &self.options.rejects else {
            return Ok(());
        };
        if self.rejects.is_none() {
            let file = File::create(path)
                .with_context(|| format!("creating the rejects file {}", path.display()))?;
            self.rejects = Some(BufWriter::new(file));
            self.report.rejects_written = Some(path.clone());
        }
        if let Some(w) = &mut self.rejects {
            let text = serde_json::to_string(&RejectLine {
                line,
                id,
                reason: reason.code(),
                message,
            })?;
            writeln!(w, "{text}")
                .with_context(|| format!("writing the rejects file {}", path.display()))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Report {
        if let Some(mut w) = self.rejects.take()
            && let Err(e) = w.flush()
        {
            self.fail(anyhow::Error::new(e).context("writing the rejects file"));
        }
        self.report
    }
}

fn describe(e: Expectation) -> String {
    match e {
        Expectation::Accepted => "accepted".into(),
        Expectation::Duplicate => "duplicate".into(),
        Expectation::Refused(r) => format!("refused {}", r.code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str, first_line: u64) -> RawChunk {
        RawChunk {
            first_line,
            lines: text.lines().count(),
            text: text.as_bytes().to_vec(),
            progress: 0,
            expectations: None,
        }
    }

    /// A source that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// Every chunk the cutter gives, with its line count.
    fn cut(source: &[u8], chunk_lines: usize, step: usize) -> Vec<(String, usize)> {
        let mut cutter = LineCutter::new(
            Trickle {
                bytes: source,
                step,
            },
            chunk_lines,
        );
        let mut chunks = Vec::new();
        loop {
            let mut text = b"left over from the last use".to_vec();
            let lines = cutter.next_chunk(&mut text).unwrap();
            if lines == 0 {
                assert!(text.is_empty());
                return chunks;
            }
            chunks.push((String::from_utf8(text).unwrap(), lines));
        }
    }

    #[test]
    fn the_line_cutter_gives_chunks_of_whole_lines_however_the_source_is_read() {
        let sources = [
            "",
            "\n",
            "one",
            "one\n",
            "one\ntwo\nthree\n",
            "one\ntwo\nthree",
            "a\n\n\nb\r\nc\n\n",
        ];
        for source in sources {
            let lines: Vec<&str> = source.split_inclusive('\n').collect();
            for chunk_lines in [1, 2, 3, 10] {
                let expected: Vec<(String, usize)> = lines
                    .chunks(chunk_lines)
                    .map(|c| (c.concat(), c.len()))
                    .collect();
                for step in [1, 2, 5, 1 << 20] {
                    assert_eq!(
                        cut(source.as_bytes(), chunk_lines, step),
                        expected,
                        "{source:?} in chunks of {chunk_lines} lines, read {step} bytes at a time"
                    );
                }
            }
        }
    }

    #[test]
    fn the_line_cutter_carries_lines_longer_than_a_read_block() {
        let long = "x".repeat(READ_BLOCK * 2 + 17);
        let source = format!("{long}\nshort\n{long}");
        let chunks = cut(source.as_bytes(), 1, 1 << 20);
        assert_eq!(
            chunks,
            vec![
                (format!("{long}\n"), 1),
                ("short\n".to_string(), 1),
                (long.clone(), 1)
            ]
        );
    }

    #[test]
    fn a_read_error_reaches_the_caller() {
        struct Failing;
        impl std::io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("the disk is gone"))
            }
        }
        let mut cutter = LineCutter::new(Failing, 4);
        let e = cutter.next_chunk(&mut Vec::new()).unwrap_err();
        assert_eq!(e.to_string(), "the disk is gone");
    }

    const RECORD: &str = r#"{"id":"0193a000-0000-7000-8000-000000000001","type":"link.clicked","occurred_at":"2026-11-21T19:04:05Z","source":"s","actor":"a","data":{"link_id":"L1","visitor_id":"v1"}}"#;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_parser_thread_lowers_its_own_priority_and_no_other() {
        use rustix::process::getpriority_process;
        use rustix::thread::gettid;
        let before = getpriority_process(Some(gettid())).unwrap();
        let (parser, sibling) = std::thread::scope(|s| {
            let parser = s.spawn(|| {
                lower_this_threads_priority();
                getpriority_process(Some(gettid())).unwrap()
            });
            let parser = parser.join().unwrap();
            let sibling = s
                .spawn(|| getpriority_process(Some(gettid())).unwrap())
                .join()
                .unwrap();
            (parser, sibling)
        });
        // A process already at 15 or nicer keeps its own.
        assert_eq!(parser, PARSER_NICE.max(before));
        assert_eq!(sibling, before);
        assert_eq!(getpriority_process(Some(gettid())).unwrap(), before);
    }

    #[test]
    fn the_records_to_expect_scale_the_first_chunk_to_the_whole_file() {
        let chunk = |first_line, last_line, progress| ParsedChunk {
            first_line,
            last_line,
            records: Vec::new(),
            record_lines: Vec::new(),
            bad: Vec::new(),
            progress,
            expectations: None,
        };
        let file = |bytes| {
            SourceSize::of(&Source::File {
                path: PathBuf::from("x.jsonl"),
                bytes,
            })
        };
        // 4,096 lines in 1,351,680 bytes (330 a line) of a 330 MB file.
        assert_eq!(
            expected_records(file(330_000_000), &chunk(1, 4096, 1_351_680)),
            1_000_000
        );
        // A file read whole in its first chunk.
        assert_eq!(expected_records(file(700), &chunk(1, 7, 700)), 7);
        // Nothing read (an empty source): the chunk's own lines.
        assert_eq!(expected_records(file(0), &chunk(1, 1, 0)), 1);
        let demo = DemoConfig {
            events: 12_345,
            ..DemoConfig::default()
        };
        let demo = SourceSize::of(&Source::Demo(demo));
        assert_eq!(expected_records(demo, &chunk(1, 10, 10)), 12_345);
    }

    #[test]
    fn lines_split_as_split_inclusive_splits_them() {
        for text in [
            "",
            "\n",
            "a",
            "a\n",
            "a\nb",
            "\n\nab\r\n\nc\n",
            "ab\ncd\n\n",
        ] {
            let ours: Vec<&[u8]> = split_lines(text.as_bytes()).collect();
            let theirs: Vec<&[u8]> = text.as_bytes().split_inclusive(|&b| b == b'\n').collect();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }

    #[test]
    fn lines_are_numbered_across_blank_lines_and_crlf() {
        let text = format!("\n{RECORD}\r\n   \nnot json\n{RECORD}");
        let parsed = parse_chunk(&mut raw(&text, 10));
        assert_eq!(parsed.record_lines, [11, 14]);
        assert_eq!(parsed.first_line, 10);
        assert_eq!(parsed.last_line, 14);
        assert_eq!(parsed.bad.len(), 1);
        assert_eq!(parsed.bad[0].line, 13);
        assert_eq!(parsed.bad[0].id, None);
        assert!(
            parsed.bad[0].message.starts_with("record:"),
            "{}",
            parsed.bad[0].message
        );
    }

    #[test]
    fn a_malformed_line_keeps_the_id_it_states() {
        let line = RECORD.replace(r#""visitor_id":"v1""#, r#""visitor_id":7"#);
        let parsed = parse_chunk(&mut raw(&line, 1));
        assert!(parsed.records.is_empty());
        assert_eq!(
            parsed.bad[0].id.as_deref(),
            Some("0193a000-0000-7000-8000-000000000001")
        );
        assert!(
            parsed.bad[0].message.contains("data.visitor_id"),
            "{}",
            parsed.bad[0].message
        );
    }

    #[test]
    fn the_reader_fills_a_recycled_buffer_from_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        std::fs::write(&path, "l1\nl2\nl3\nl4\nl5").unwrap();
        let source = Source::File { path, bytes: 14 };
        let (to_parser, chunks) = std_mpsc::sync_channel::<RawChunk>(10);
        let (give_back, recycled) = std_mpsc::channel::<Vec<u8>>();
        let mut old = Vec::with_capacity(4096);
        old.extend_from_slice(b"left over from the last chunk");
        let reused = old.as_ptr();
        give_back.send(old).unwrap();
        read_source(&source, 2, &[to_parser], &recycled).unwrap();
        let got: Vec<RawChunk> = chunks.try_iter().collect();
        let texts: Vec<&[u8]> = got.iter().map(|c| c.text.as_slice()).collect();
        assert_eq!(texts, [&b"l1\nl2\n"[..], b"l3\nl4\n", b"l5"]);
        assert_eq!(
            got.iter().map(|c| c.first_line).collect::<Vec<_>>(),
            [1, 3, 5]
        );
        assert_eq!(
            got[0].text.as_ptr(),
            reused,
            "the first chunk went into the recycled buffer"
        );
        assert_eq!(got.last().map(|c| c.progress), Some(14));
    }

    #[test]
    fn rejects_sit_beside_the_imported_file() {
        assert_eq!(
            rejects_path(Path::new("/tmp/in/orders.jsonl")),
            PathBuf::from("/tmp/in/orders.jsonl.rejects.jsonl")
        );
    }
}
