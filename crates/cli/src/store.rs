//! Opening the store the global options name, once per command, and closing it
//! cleanly: the embedded log in `--data` (the default), or KurrentDB with
//! `--store eventstore --eventstore-url esdb://...`. Opening the log reports a torn
//! tail it cut off, so an operator learns of it.

use std::sync::Arc;

use anyhow::{Context, bail};
use counterfoil_core::{Store, StoreError};
use counterfoil_eventstore::{ConnectConfig, EventStore};
use counterfoil_ledger::{Ledger, LedgerConfig};
use counterfoil_log::{Durability, Log, LogConfig, OpenReport};

use crate::{DurabilityArg, Global, StoreKind};

/// An open store.
pub enum Opened {
    /// The embedded log, and what opening it found.
    Log { log: Log, report: OpenReport },
    /// A KurrentDB / EventStoreDB server.
    Eventstore(EventStore),
}

impl Opened {
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Opened::Log { log, .. } => Arc::new(log.clone()),
            Opened::Eventstore(es) => Arc::new(es.clone()),
        }
    }

    /// True when the store holds no record yet.
    pub async fn is_empty(&self) -> anyhow::Result<bool> {
        match self {
            Opened::Log { report, .. } => Ok(report.records == 0),
            Opened::Eventstore(es) => Ok(es
                .end_position()
                .await
                .with_context(|| format!("reading the end of $all on {}", es.url()))?
                == 0),
        }
    }

    /// Finishes pending appends, syncs and writes the index snapshot (the log);
    /// nothing to do for KurrentDB, whose appends are acknowledged durable.
    pub async fn close(self) -> anyhow::Result<()> {
        match self {
            Opened::Log { log, .. } => log
                .close()
                .await
                .context("closing the store (pending appends, index snapshot)"),
            Opened::Eventstore(_) => Ok(()),
        }
    }
}

/// The `--eventstore-url`, or an error saying it is needed.
pub fn eventstore_url(g: &Global) -> anyhow::Result<&str> {
    match g.eventstore_url.as_deref() {
        Some(u) if !u.trim().is_empty() => Ok(u),
        _ => bail!(
            "--store eventstore needs --eventstore-url (e.g. --eventstore-url \
             esdb://localhost:2113?tls=false, or the COUNTERFOIL_EVENTSTORE_URL variable)"
        ),
    }
}

/// Connects to KurrentDB, retrying with backoff; the error names the URL.
pub async fn connect_eventstore(g: &Global) -> anyhow::Result<EventStore> {
    let url = eventstore_url(g)?;
    EventStore::connect(ConnectConfig::new(url))
        .await
        .with_context(|| format!("opening the eventstore store at {url}"))
}

/// Opens the store; a damaged log comes back as the [`StoreError`] itself so that
/// `verify` can report it as a finding.
pub async fn open_raw(g: &Global) -> anyhow::Result<Result<Opened, StoreError>> {
    if g.store == StoreKind::Eventstore {
        return Ok(Ok(Opened::Eventstore(connect_eventstore(g).await?)));
    }
    let mut config = LogConfig::new(&g.data);
    config.durability = match g.durability {
        DurabilityArg::Strict => Durability::Strict,
        DurabilityArg::Relaxed => Durability::Relaxed,
    };
    Ok(Log::open(config).map(|(log, report)| {
        if let Some(torn) = &report.torn_tail {
            eprintln!("warning: the last append was incomplete and was cut off: {torn}");
        }
        Opened::Log { log, report }
    }))
}

/// Opens the store, with the data folder in the error's context.
pub async fn open(g: &Global) -> anyhow::Result<Opened> {
    open_raw(g)
        .await?
        .with_context(|| format!("opening the store in {}", g.data.display()))
}

/// Opens the store and the ledger on it (which folds the log into the rules' state).
/// If the ledger cannot open, the store is closed before the error is returned.
pub async fn open_ledger(g: &Global) -> anyhow::Result<(Opened, Ledger)> {
    let opened = open(g).await?;
    match Ledger::open(opened.store(), LedgerConfig::default()).await {
        Ok(ledger) => Ok((opened, ledger)),
        Err(e) => {
            let _ = opened.close().await;
            Err(anyhow::Error::new(e).context("opening the ledger (reading the log)"))
        }
    }
}
