//! Opening the store the global options name, once per command, and closing it
//! cleanly. Opening reports a torn tail it cut off, so an operator learns of it.

use std::sync::Arc;

use anyhow::{Context, bail};
use counterfoil_core::{Store, StoreError};
use counterfoil_ledger::{Ledger, LedgerConfig};
use counterfoil_log::{Durability, Log, LogConfig, OpenReport};

use crate::{DurabilityArg, Global, StoreKind};

/// An open store and what opening it found.
pub struct Opened {
    pub log: Log,
    pub report: OpenReport,
}

impl Opened {
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.log.clone())
    }

    /// Finishes pending appends, syncs and writes the index snapshot.
    pub async fn close(self) -> anyhow::Result<()> {
        self.log
            .close()
            .await
            .context("closing the store (pending appends, index snapshot)")
    }
}

/// Opens the store; a damaged log comes back as the [`StoreError`] itself so that
/// `verify` can report it as a finding.
pub fn open_raw(g: &Global) -> anyhow::Result<Result<Opened, StoreError>> {
    if g.store == StoreKind::Eventstore {
        bail!(
            "the eventstore store is not available yet{}; use --store file",
            g.eventstore_url
                .as_deref()
                .map(|u| format!(" (asked for {u})"))
                .unwrap_or_default()
        );
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
        Opened { log, report }
    }))
}

/// Opens the store, with the data folder in the error's context.
pub fn open(g: &Global) -> anyhow::Result<Opened> {
    open_raw(g)?.with_context(|| format!("opening the store in {}", g.data.display()))
}

/// Opens the store and the ledger on it (which folds the log into the rules' state).
/// If the ledger cannot open, the store is closed before the error is returned.
pub async fn open_ledger(g: &Global) -> anyhow::Result<(Opened, Ledger)> {
    let opened = open(g)?;
    match Ledger::open(opened.store(), LedgerConfig::default()).await {
        Ok(ledger) => Ok((opened, ledger)),
        Err(e) => {
            let _ = opened.close().await;
            Err(anyhow::Error::new(e).context("opening the ledger (reading the log)"))
        }
    }
}
