//! `counterfoil`: the command-line tool (SPEC §7). Parses the command line, opens the
//! store once, runs one command and closes the store cleanly (closing writes the index
//! snapshot). Every failure prints `error: ...` with its context and exits non-zero.
//!
//! Exit codes: 0 success; 1 an error (a command-line mistake included), or `verify`
//! found damage; 2 `append` was refused.

mod append;
mod demo;
mod history;
mod import;
mod output;
mod parse;
mod projections;
mod read;
mod rebuild;
mod report;
mod serve;
mod store;
mod verify;

/// mimalloc: the import pipeline allocates records on parser threads and frees them
/// on the ledger's; glibc's allocator spends more time on that than on the work.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Counterfoil, an event-sourced ticket ledger: import, append, read and verify records,
/// and ask the read models for reports.
#[derive(Debug, Parser)]
#[command(name = "counterfoil", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// The data folder of the file store.
    #[arg(
        long,
        global = true,
        default_value = "./counterfoil-data",
        env = "COUNTERFOIL_DATA"
    )]
    pub data: PathBuf,
    /// Which store to use.
    #[arg(long = "store", global = true, value_enum, default_value_t = StoreKind::File)]
    pub store: StoreKind,
    /// Address of the KurrentDB / EventStoreDB server, for `--store eventstore`, e.g.
    /// `esdb://localhost:2113?tls=false` or `esdb://a:2113,b:2113,c:2113` (a cluster).
    #[arg(long, global = true, env = "COUNTERFOIL_EVENTSTORE_URL")]
    pub eventstore_url: Option<String>,
    /// When an append counts as done: `strict` syncs to disk before acknowledging;
    /// `relaxed` (bulk loads only) may lose the latest records in a crash.
    #[arg(long, global = true, value_enum, default_value_t = DurabilityArg::Strict)]
    pub durability: DurabilityArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The embedded log in `--data`.
    File,
    /// KurrentDB / EventStoreDB.
    Eventstore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    Strict,
    Relaxed,
}

/// How a command prints its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// JSON (JSON Lines for lists of records).
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryKind {
    Ticket,
    Order,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import a JSON Lines file of records. Refused lines go to FILE.rejects.jsonl.
    Import {
        /// The file to import, one JSON record per line.
        file: PathBuf,
        /// How to print the summary (`json`: {"accepted":N,"duplicates":N,"refused":N}).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// After each durable chunk, append the highest acknowledged line number to
        /// this file (for crash tests).
        #[arg(long, hide = true)]
        ack_log: Option<PathBuf>,
        /// Lines handed to the ledger at once (smaller chunks acknowledge more often).
        #[arg(long, hide = true, default_value_t = import::CHUNK_LINES)]
        chunk_lines: usize,
    },
    /// Append one JSON record read from stdin; prints where it was stored.
    Append,
    /// Print the records of one stream, e.g. `ticket-T1`.
    Read {
        stream: String,
        /// `json`: one stored record per line; `table`: one row per record.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
    /// Print the log from a position as JSON Lines.
    Tail {
        /// The first position to print.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Keep printing new records as they are stored, until interrupted.
        #[arg(long)]
        follow: bool,
        /// Print at most this many records.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Each record of a ticket or an order, with the state after it.
    History {
        #[arg(value_enum)]
        kind: HistoryKind,
        id: String,
        /// Only what the ledger knew then: an RFC 3339 time or `pos:N`.
        #[arg(long)]
        as_of: Option<String>,
        /// `json`: one {"record", "state"} object per line.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Recheck every frame checksum, every stream's hash chain and the indexes.
    Verify,
    /// Ask a read model: owners, unsold, on-sale, shared, shared-counts, ticket-shares,
    /// links. The read model is first brought up to date with the log.
    Report(report::ReportArgs),
    /// Build read models again from the whole log, in one pass: one of them, or all.
    Rebuild {
        /// Which one (default: all four).
        #[arg(value_enum)]
        projection: Option<projections::Name>,
        /// Persist after this many records (for crash tests).
        #[arg(long, hide = true)]
        persist_every_records: Option<u64>,
    },
    /// Run the HTTP server (docs/http.md) until SIGTERM or SIGINT.
    Serve {
        /// Where to listen; port 0 picks a free port (printed as `listening on ADDR`).
        #[arg(long, default_value = "127.0.0.1:7070")]
        addr: std::net::SocketAddr,
    },
    /// Manage the server's bearer tokens (stored hashed in `<data>/tokens.json`).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Generate a realistic, seeded sample workload; import it unless --out is given.
    Demo {
        /// How many lines to generate.
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Write the workload to this JSON Lines file instead of importing it.
        #[arg(long)]
        out: Option<PathBuf>,
        /// How to print the import summary.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; prints its id and its text, which is shown only this once.
    Create {
        /// `ingest`, `read`, `audit` or `admin`.
        #[arg(long, value_parser = |s: &str| s.parse::<counterfoil_server::tokens::Role>())]
        role: counterfoil_server::tokens::Role,
    },
    /// Revoke a token by its id; a running server refuses it from its next request.
    Revoke { id: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse::usage_error(e),
    };
    // The server reports starting and stopping; one-shot commands only their errors.
    // The KurrentDB client logs each failed connection attempt itself; the command's
    // own error (and, for serve, the adapter's warnings) already say what failed, with
    // the URL.
    let default_filter = if matches!(cli.command, Command::Serve { .. }) {
        "info,eventstore=off"
    } else {
        "error,eventstore=off"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Import {
            file,
            format,
            ack_log,
            chunk_lines,
        } => import::run(g, &file, format, ack_log.as_deref(), chunk_lines).await,
        Command::Append => append::run(g).await,
        Command::Read { stream, format } => read::read(g, &stream, format).await,
        Command::Tail {
            from,
            follow,
            limit,
        } => read::tail(g, from, follow, limit).await,
        Command::History {
            kind,
            id,
            as_of,
            format,
        } => history::run(g, kind, &id, as_of.as_deref(), format).await,
        Command::Verify => verify::run(g).await,
        Command::Report(args) => report::run(g, args).await,
        Command::Rebuild {
            projection,
            persist_every_records,
        } => rebuild::run(g, projection, persist_every_records).await,
        Command::Serve { addr } => serve::run(g, addr).await,
        Command::Token(TokenCommand::Create { role }) => serve::token_create(g, role),
        Command::Token(TokenCommand::Revoke { id }) => serve::token_revoke(g, &id),
        Command::Demo {
            events,
            seed,
            out,
            format,
        } => demo::run(g, events, seed, out.as_deref(), format).await,
    }
}
