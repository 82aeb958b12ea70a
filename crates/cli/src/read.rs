//! `read STREAM` and `tail`: stored records on stdout, as JSON Lines (one stored record
//! per line, as a program downstream wants them) or as a table for a person.

use std::process::ExitCode;

use anyhow::Context;
use counterfoil_core::StoredRecord;
use futures::StreamExt;

use crate::output::{Out, Table};
use crate::{Format, Global, store};

/// Records read per store call.
const PAGE: usize = 1024;

pub async fn read(g: &Global, stream: &str, format: Format) -> anyhow::Result<ExitCode> {
    let opened = store::open(g).await?;
    let store = opened.store();
    let mut out = Out::new();
    let mut table = Table::new(&["revision", "position", "occurred_at", "type", "id"]);
    let mut revision = 0;
    let result: anyhow::Result<()> = async {
        loop {
            let page = store
                .read_stream(stream, revision, PAGE)
                .await
                .with_context(|| format!("reading stream {stream} from revision {revision}"))?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            revision = last.revision + 1;
            for r in &page {
                match format {
                    Format::Json => {
                        if !out.line(&serde_json::to_string(r)?)? {
                            return Ok(());
                        }
                    }
                    Format::Table => table.row(vec![
                        r.revision.to_string(),
                        r.position.to_string(),
                        crate::output::time(&r.occurred_at),
                        r.record_type().to_string(),
                        r.id.to_string(),
                    ]),
                }
            }
        }
    }
    .await;
    if result.is_ok() && format == Format::Table {
        for line in table.render().lines() {
            out.line(line)?;
        }
    }
    out.flush()?;
    opened.close().await?;
    result?;
    Ok(ExitCode::SUCCESS)
}

pub async fn tail(
    g: &Global,
    from: u64,
    follow: bool,
    limit: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let opened = store::open(g).await?;
    let store = opened.store();
    let mut out = Out::new();
    let mut printed = 0u64;
    let limit = limit.unwrap_or(u64::MAX);
    let mut print = |r: &StoredRecord, out: &mut Out| -> anyhow::Result<bool> {
        printed += 1;
        Ok(out.line(&serde_json::to_string(r)?)? && printed < limit)
    };
    let result: anyhow::Result<()> = async {
        if limit == 0 {
            return Ok(());
        }
        if follow {
            let mut records = store
                .subscribe(from)
                .await
                .with_context(|| format!("subscribing from position {from}"))?;
            let interrupted = tokio::signal::ctrl_c();
            tokio::pin!(interrupted);
            loop {
                tokio::select! {
                    item = records.next() => match item {
                        Some(r) => {
                            let r = r.context("following the log")?;
                            let more = print(&r, &mut out)?;
                            out.flush()?;
                            if !more {
                                return Ok(());
                            }
                        }
                        None => return Ok(()),
                    },
                    _ = &mut interrupted => return Ok(()),
                }
            }
        }
        let mut position = from;
        loop {
            let page = store
                .read_all(position, PAGE)
                .await
                .with_context(|| format!("reading the log from position {position}"))?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            position = last.position + 1;
            for r in &page {
                if !print(r, &mut out)? {
                    return Ok(());
                }
            }
        }
    }
    .await;
    out.flush()?;
    opened.close().await?;
    result?;
    Ok(ExitCode::SUCCESS)
}
