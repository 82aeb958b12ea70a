//! Where the read models live and how a command gets one: caught up with the log
//! (state and checkpoint persisted in `<data>/projections/`), or folded in memory as of
//! a past position or time without touching the persisted state.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use counterfoil_core::Store;
use counterfoil_projection::{AsOf, Projection, ProjectionConfig, Projector, build_as_of};

use crate::{Global, output, store};

/// The read models, by the names `rebuild` takes (their state files' names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Name {
    /// Shared tickets (`report shared`, `shared-counts`, `ticket-shares`).
    SharedTickets,
    /// Unsold counts (`report unsold`, `on-sale`).
    UnsoldCounts,
    /// The owner report (`report owners`).
    OwnerReport,
    /// Link attribution (`report links`).
    LinkAttribution,
}

impl Name {
    pub const ALL: [Name; 4] = [
        Name::SharedTickets,
        Name::UnsoldCounts,
        Name::OwnerReport,
        Name::LinkAttribution,
    ];
}

/// How often a catch-up persists. `None` keeps the runtime's defaults; tests of
/// crashes mid-projection ask for small intervals, kept exactly (no spacing by the
/// persists' duration), so that kills land between and during persists.
pub fn config(persist_every_records: Option<u64>) -> ProjectionConfig {
    let mut config = ProjectionConfig::default();
    if let Some(n) = persist_every_records {
        config.persist_every_records = n.max(1);
        config.persist_every = Duration::from_secs(3600);
        config.persist_spacing = 0;
    }
    config
}

/// How `rebuild` persists: once, at the end, unless told an interval (the crash
/// tests, as [`config`]).
pub fn rebuild_config(persist_every_records: Option<u64>) -> ProjectionConfig {
    if persist_every_records.is_some() {
        config(persist_every_records)
    } else {
        ProjectionConfig::at_end()
    }
}

/// `<data>/projections`.
pub fn dir(g: &Global) -> PathBuf {
    g.data.join("projections")
}

/// Opens a persisted projection, telling the operator when its state file could not
/// be trusted and the read model starts from zero (a missing file is not news).
pub async fn open<P: Projector>(
    g: &Global,
    store: Arc<dyn Store>,
    config: ProjectionConfig,
) -> anyhow::Result<Projection<P>> {
    let projection = Projection::<P>::open_with(dir(g), store, P::default(), config)
        .await
        .with_context(|| format!("opening the {} projection", P::NAME))?;
    if !matches!(
        projection.opened(),
        counterfoil_projection::OpenOutcome::Missing
            | counterfoil_projection::OpenOutcome::Resumed { .. }
    ) {
        eprintln!("warning: {}: {}", P::NAME, projection.opened());
    }
    Ok(projection)
}

/// A read model ready to answer: as of `as_of` when given (folded in memory from the
/// start of the log), else the persisted projection caught up with the log's end and
/// persisted. Opens and closes the store.
pub async fn load<P: Projector>(
    g: &Global,
    as_of: Option<AsOf>,
    persist_every_records: Option<u64>,
) -> anyhow::Result<P> {
    let opened = store::open(g).await?;
    let store = opened.store();
    let state = match as_of {
        Some(as_of) => build_as_of::<P>(&*store, as_of)
            .await
            .map(|(state, _)| state)
            .with_context(|| format!("building {} as of {as_of}", P::NAME)),
        None => catch_up::<P>(g, store, config(persist_every_records)).await,
    };
    let closed = opened.close().await;
    let state = state?;
    closed?;
    Ok(state)
}

async fn catch_up<P: Projector>(
    g: &Global,
    store: Arc<dyn Store>,
    config: ProjectionConfig,
) -> anyhow::Result<P> {
    let mut projection = open::<P>(g, store, config).await?;
    let bar = output::progress(Some(0), "records");
    bar.set_message(format!("catching up {}", P::NAME));
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let caught_up = projection.catch_up(&mut progress).await;
    bar.finish_and_clear();
    caught_up.with_context(|| format!("catching up the {} projection with the log", P::NAME))?;
    Ok(projection.into_state())
}
