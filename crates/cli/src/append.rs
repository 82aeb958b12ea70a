//! `append`: one JSON record from stdin through the ledger. Prints where it was stored;
//! a refusal goes to stderr as JSON naming the reason (and the field) and exits 2, so
//! scripts can tell "you sent something wrong" from "something broke".

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use counterfoil_core::{NewRecord, Refusal};
use counterfoil_ledger::SubmitError;

use crate::{Global, store};

/// Exit code of a refused record.
const REFUSED: u8 = 2;

pub async fn run(g: &Global) -> anyhow::Result<ExitCode> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the record from stdin")?;
    let record = match NewRecord::from_json_str(text.trim()) {
        Ok(r) => r,
        Err(e) => return Ok(refused(&Refusal::from(e))),
    };
    let (opened, ledger) = store::open_ledger(g).await?;
    let answer = ledger.submit(record).await;
    ledger.shutdown().await;
    let closed = opened.close().await;
    let code = match answer {
        Ok(submitted) => {
            println!("{}", serde_json::to_string(&submitted)?);
            ExitCode::SUCCESS
        }
        Err(SubmitError::Refused(r)) => refused(&r),
        Err(e) => return Err(anyhow::Error::new(e).context("appending the record")),
    };
    closed?;
    Ok(code)
}

fn refused(r: &Refusal) -> ExitCode {
    let body = serde_json::json!({ "error": "refused", "reason": r.reason.code(), "field": r.field, "message": r.message });
    eprintln!("{body}");
    ExitCode::from(REFUSED)
}
