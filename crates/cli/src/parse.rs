//! Flag values: the parsers clap runs on report and rebuild flags, and the one place
//! that turns a command-line mistake into `error: --flag: reason` with exit code 1.
//!
//! Exit code 2 means "`append` was refused", so usage errors must not use clap's
//! default of 2; and a user who typed a bad time wants to be told which flag and why,
//! not shown the whole usage.

use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use counterfoil_core::Timestamp;
use counterfoil_core::values::MAX_ID_LEN;
use counterfoil_projection::AsOf;
use counterfoil_projector_owners::MAX_LIMIT;
use counterfoil_projector_shared::Bucket;

/// An RFC 3339 time, or a date (`2026-11-21`, meaning its first instant in UTC).
pub fn time(s: &str) -> Result<Timestamp, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_utc());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err(format!(
        "{s:?} is not an RFC 3339 time (2026-11-21T19:04:05Z) or a date (2026-11-21)"
    ))
}

/// `pos:N` or an RFC 3339 time.
pub fn as_of(s: &str) -> Result<AsOf, String> {
    s.parse::<AsOf>()
}

/// A page size of the owner report: a whole number in `1..=1000`.
pub fn limit(s: &str) -> Result<u64, String> {
    match s.parse::<i128>() {
        Ok(n) if (1..=i128::from(MAX_LIMIT)).contains(&n) => {
            u64::try_from(n).map_err(|e| e.to_string())
        }
        Ok(_) => Err(format!("must be between 1 and {MAX_LIMIT}, got {s}")),
        Err(_) => Err(format!(
            "must be a whole number between 1 and {MAX_LIMIT}, got {s:?}"
        )),
    }
}

/// `day` or `month`.
pub fn bucket(s: &str) -> Result<Bucket, String> {
    s.parse::<Bucket>()
        .map_err(|_| format!("{s:?} is not day or month"))
}

/// An id as the ingest format allows it: non-empty, at most 128 characters.
pub fn id(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("an id cannot be empty".into());
    }
    if s.chars().count() > MAX_ID_LEN {
        return Err(format!("an id has at most {MAX_ID_LEN} characters"));
    }
    Ok(s.to_string())
}

/// Prints a command-line error and gives the exit code: help and version go to
/// stdout with 0; a bad value is `error: --flag: reason`; anything else (a missing
/// or unknown argument) is clap's own message; all errors exit with 1.
pub fn usage_error(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            match bad_value(&e) {
                Some(message) => eprintln!("error: {message}"),
                None => {
                    let _ = e.print();
                }
            }
            ExitCode::FAILURE
        }
        _ => {
            let _ = e.print();
            ExitCode::FAILURE
        }
    }
}

/// `--flag: reason` for a value clap or one of our parsers refused.
fn bad_value(e: &clap::Error) -> Option<String> {
    let arg = match e.get(ContextKind::InvalidArg)? {
        ContextValue::String(s) => s.clone(),
        _ => return None,
    };
    // "--limit <N>" or "[PROJECTION]": the flag's name, or the positional's.
    let name = arg
        .split_whitespace()
        .next()
        .unwrap_or(&arg)
        .trim_matches(|c| matches!(c, '<' | '>' | '[' | ']'))
        .to_string();
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => v.clone(),
        _ => String::new(),
    };
    let reason = if let Some(source) = std::error::Error::source(e) {
        source.to_string()
    } else if value.is_empty() {
        "a value is required".to_string()
    } else if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
        format!("{value:?} is not one of {}", valid.join(", "))
    } else {
        format!("{value:?} is not valid")
    };
    Some(format!("{name}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_dates() {
        assert_eq!(
            time("2026-11-21T20:04:05+01:00").map(|t| t.to_rfc3339()),
            Ok("2026-11-21T19:04:05+00:00".to_string())
        );
        assert_eq!(
            time("2026-11-21").map(|t| t.to_rfc3339()),
            Ok("2026-11-21T00:00:00+00:00".to_string())
        );
        assert!(time("yesterday").is_err());
        assert!(time("2026-13-01").is_err());
    }

    #[test]
    fn limits_are_one_to_a_thousand() {
        assert_eq!(limit("1"), Ok(1));
        assert_eq!(limit("1000"), Ok(1000));
        assert_eq!(
            limit("0"),
            Err("must be between 1 and 1000, got 0".to_string())
        );
        assert!(limit("1001").is_err());
        assert!(limit("-3").is_err());
        assert!(limit("ten").is_err());
    }

    #[test]
    fn buckets_and_ids() {
        assert_eq!(bucket("day"), Ok(Bucket::Day));
        assert_eq!(bucket("week"), Err("\"week\" is not day or month".into()));
        assert!(id("").is_err());
        assert!(id(&"x".repeat(129)).is_err());
        assert_eq!(id("P1"), Ok("P1".to_string()));
    }
}
