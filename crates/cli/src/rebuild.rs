//! `rebuild [PROJECTION]`: forgets the persisted state of one read model, or of all
//! four, and folds the whole log again in one pass (each record is read once and fed
//! to every projection being rebuilt), with a progress bar and the rate at the end.
//! Each state file is replaced once, when its read model is rebuilt whole
//! ([`ProjectionConfig::at_end`](counterfoil_projection::ProjectionConfig::at_end)).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use counterfoil_core::Store;
use counterfoil_projection::{DynProjection, Projection, ProjectionConfig, rebuild_threaded};
use counterfoil_projector_links::LinkAttribution;
use counterfoil_projector_owners::OwnerReport;
use counterfoil_projector_shared::SharedTickets;
use counterfoil_projector_unsold::UnsoldCounts;

use crate::output::{self, thousands};
use crate::projections::{self, Name};
use crate::{Global, store};

pub async fn run(
    g: &Global,
    name: Option<Name>,
    persist_every_records: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let names: Vec<Name> = match name {
        Some(n) => vec![n],
        None => Name::ALL.to_vec(),
    };
    let opened = store::open(g).await?;
    let started = Instant::now();
    let rebuilt = rebuild(
        g,
        opened.store(),
        &names,
        projections::rebuild_config(persist_every_records),
    )
    .await;
    let elapsed = started.elapsed();
    let closed = opened.close().await;
    let records = rebuilt?;
    closed?;
    let list: Vec<&str> = names.iter().map(|n| name_of(*n)).collect();
    println!(
        "rebuilt {} from {} record(s) in {:.2} s ({} records/s)",
        list.join(", "),
        thousands(records),
        elapsed.as_secs_f64(),
        thousands(output::rate(records, elapsed))
    );
    Ok(ExitCode::SUCCESS)
}

fn name_of(n: Name) -> &'static str {
    use counterfoil_projection::Projector;
    match n {
        Name::SharedTickets => SharedTickets::NAME,
        Name::UnsoldCounts => UnsoldCounts::NAME,
        Name::OwnerReport => OwnerReport::NAME,
        Name::LinkAttribution => LinkAttribution::NAME,
    }
}

/// Rebuilds the named projections together; returns the records read.
async fn rebuild(
    g: &Global,
    store: Arc<dyn Store>,
    names: &[Name],
    config: ProjectionConfig,
) -> anyhow::Result<u64> {
    async fn open_if<P: counterfoil_projection::Projector>(
        wanted: bool,
        g: &Global,
        store: &Arc<dyn Store>,
        config: &ProjectionConfig,
    ) -> anyhow::Result<Option<Projection<P>>> {
        if !wanted {
            return Ok(None);
        }
        Projection::<P>::fresh(
            projections::dir(g),
            store.clone(),
            P::default(),
            config.clone(),
        )
        .map(Some)
        .with_context(|| format!("opening the {} projection", P::NAME))
    }
    let wants = |n: Name| names.contains(&n);
    let mut list: Vec<Box<dyn DynProjection>> = Vec::new();
    if let Some(p) =
        open_if::<SharedTickets>(wants(Name::SharedTickets), g, &store, &config).await?
    {
        list.push(Box::new(p));
    }
    if let Some(p) = open_if::<UnsoldCounts>(wants(Name::UnsoldCounts), g, &store, &config).await? {
        list.push(Box::new(p));
    }
    if let Some(p) = open_if::<OwnerReport>(wants(Name::OwnerReport), g, &store, &config).await? {
        list.push(Box::new(p));
    }
    if let Some(p) =
        open_if::<LinkAttribution>(wants(Name::LinkAttribution), g, &store, &config).await?
    {
        list.push(Box::new(p));
    }

    let bar = output::progress(Some(0), "records");
    bar.set_message("rebuilding");
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    // Each read model folds and persists on a thread of its own, which frees the
    // rebuilt state afterwards without holding up the exit.
    let read = rebuild_threaded(&*store, list, &mut progress).await;
    bar.finish_and_clear();
    read.context("rebuilding from the log")
}
