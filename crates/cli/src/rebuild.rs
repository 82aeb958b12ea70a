//! `rebuild [PROJECTION]`: forgets the persisted state of one read model, or of all
//! four, and folds the whole log again in one pass (each record is read once and fed
//! to every projection being rebuilt), with a progress bar and the rate at the end.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use counterfoil_core::Store;
use counterfoil_projection::{DynProjection, Projection, ProjectionConfig, rebuild_all};
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
        projections::config(persist_every_records),
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
    let mut shared =
        open_if::<SharedTickets>(wants(Name::SharedTickets), g, &store, &config).await?;
    let mut unsold = open_if::<UnsoldCounts>(wants(Name::UnsoldCounts), g, &store, &config).await?;
    let mut owners = open_if::<OwnerReport>(wants(Name::OwnerReport), g, &store, &config).await?;
    let mut links =
        open_if::<LinkAttribution>(wants(Name::LinkAttribution), g, &store, &config).await?;
    let mut list: Vec<&mut dyn DynProjection> = Vec::new();
    if let Some(p) = shared.as_mut() {
        list.push(p);
    }
    if let Some(p) = unsold.as_mut() {
        list.push(p);
    }
    if let Some(p) = owners.as_mut() {
        list.push(p);
    }
    if let Some(p) = links.as_mut() {
        list.push(p);
    }

    let bar = output::progress(Some(0), "records");
    bar.set_message("rebuilding");
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let read = rebuild_all(&*store, &mut list, &mut progress).await;
    bar.finish_and_clear();
    drop(list);
    // The rebuilt states are persisted; freeing millions of entries takes a while and
    // nobody waits for it.
    std::thread::spawn(move || drop((shared, unsold, owners, links)));
    read.context("rebuilding from the log")
}
