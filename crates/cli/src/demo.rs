//! `demo`: the seeded sample workload of `counterfoil-demo`, written to a file or
//! imported through the same pipeline as `import`, checking that the ledger gives every
//! line the outcome the workload expects of it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use counterfoil_demo::{DemoConfig, DemoLine, Expectation, generate};

use crate::import::{self, Options, Source};
use crate::output::thousands;
use crate::{Format, Global, store};

pub async fn run(
    g: &Global,
    events: u64,
    seed: u64,
    out: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let config = DemoConfig { events, seed };
    if let Some(path) = out {
        return write(&config, path);
    }
    let (opened, ledger) = store::open_ledger(g).await?;
    let was_empty = opened.is_empty().await?;
    let report = import::pipeline(
        &ledger,
        Source::Demo(config),
        Options {
            rejects: None,
            ack_log: None,
            duplicates_match_accepted: !was_empty,
            chunk_lines: import::CHUNK_LINES,
        },
    )
    .await;
    ledger.shutdown().await;
    let closed = opened.close().await;
    let mut report = report?;
    import::print_summary(
        &report,
        format,
        &format!("demo workload (seed {seed}) into {}", g.data.display()),
    )?;
    if let Some(failure) = report.failure.take() {
        return Err(failure.context("the demo import stopped"));
    }
    closed?;
    if report.mismatches == 0 {
        if format == Format::Table {
            println!("every line got the outcome the workload expects");
        }
    } else {
        eprintln!(
            "warning: {} line(s) did not get the outcome the workload expects",
            thousands(report.mismatches)
        );
        for example in &report.mismatch_examples {
            eprintln!("  {example}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write(config: &DemoConfig, path: &Path) -> anyhow::Result<ExitCode> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let (mut accepted, mut resends, mut refused, mut malformed) = (0u64, 0u64, 0u64, 0u64);
    for line in generate(config) {
        match (&line, line.expectation()) {
            (DemoLine::Malformed { .. }, _) => malformed += 1,
            (_, Expectation::Accepted) => accepted += 1,
            (_, Expectation::Duplicate) => resends += 1,
            (_, Expectation::Refused(_)) => refused += 1,
        }
        writeln!(w, "{}", line.to_json_line())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "wrote {} lines to {}: {} to be accepted, {} resends (duplicates), {} to be refused, {} malformed",
        thousands(accepted + resends + refused + malformed),
        path.display(),
        thousands(accepted),
        thousands(resends),
        thousands(refused),
        thousands(malformed)
    );
    Ok(ExitCode::SUCCESS)
}
