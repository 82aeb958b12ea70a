//! `serve`: the HTTP server over the data folder until SIGTERM or SIGINT. Prints
//! `listening on ADDR` on stdout once bound (the real port when `--addr` asks for port
//! 0), so a supervisor or a test knows where to connect. Also `token create|revoke`,
//! which manage the server's bearer tokens in the data folder.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use counterfoil_log::Durability;
use counterfoil_server::tokens::{self, Role};
use counterfoil_server::{Server, ServerConfig};

use crate::{DurabilityArg, Global, StoreKind};

pub async fn run(g: &Global, addr: SocketAddr) -> anyhow::Result<ExitCode> {
    let mut config = ServerConfig::new(&g.data, addr);
    config.durability = match g.durability {
        DurabilityArg::Strict => Durability::Strict,
        DurabilityArg::Relaxed => Durability::Relaxed,
    };
    let server = if g.store == StoreKind::Eventstore {
        // The records live on the server; tokens and read-model state in --data.
        let es = crate::store::connect_eventstore(g).await?;
        std::fs::create_dir_all(&g.data)
            .with_context(|| format!("creating the data folder {}", g.data.display()))?;
        Server::bind_with_store(config, std::sync::Arc::new(es)).await?
    } else {
        Server::bind(config).await?
    };
    let bound = server.local_addr()?;
    let mut stdout = std::io::stdout();
    if let Some(path) = server.admin_token_file() {
        writeln!(
            stdout,
            "created the first admin token; it is in {}",
            path.display()
        )
        .context("writing to stdout")?;
    }
    writeln!(stdout, "listening on {bound}").context("writing to stdout")?;
    stdout.flush().context("writing to stdout")?;
    tracing::info!(%bound, data = %g.data.display(), "listening");
    server.run(stop_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on the first SIGINT or SIGTERM.
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(%e, "cannot listen for SIGTERM; stopping on SIGINT only");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// `token create --role R`: prints the new token's id and, once, its secret text.
pub fn token_create(g: &Global, role: Role) -> anyhow::Result<ExitCode> {
    let (entry, token) = tokens::create(&g.data, role)
        .with_context(|| format!("creating a token in {}", g.data.display()))?;
    println!("id: {}\nrole: {}\ntoken: {token}", entry.id, entry.role);
    eprintln!("the token is shown only now; keep it secret");
    Ok(ExitCode::SUCCESS)
}

/// `token revoke ID`.
pub fn token_revoke(g: &Global, id: &str) -> anyhow::Result<ExitCode> {
    let entry = tokens::revoke(&g.data, id)
        .with_context(|| format!("revoking a token in {}", g.data.display()))?;
    println!("revoked {} ({})", entry.id, entry.role);
    Ok(ExitCode::SUCCESS)
}
